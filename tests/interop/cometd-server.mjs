#!/usr/bin/env node
// Runs the OFFICIAL CometD server for Node (cometd-nodejs-server) so that Rust
// tests can check interoperability of the Rust CometD client against it.
//
// Usage:
//   node cometd-server.mjs [--port N] [--host 127.0.0.1] [--timeout-ms 5000]
//                          [--max-interval-ms 10000] [--interval-ms 0]
//                          [--max-sessions-per-browser 1] [--no-ack] [--debug]
//                          [--unofficial-websocket-bridge]
//
// stdout: exactly one line once listening, then nothing else:
//   LISTENING <port> <comma-separated transports>[ ack]
// e.g. "LISTENING 41234 long-polling ack". The 4th token "ack" is present when
// the server-side acknowledgement extension is installed (default; --no-ack
// removes it). Everything else (including the server's debug log) goes to stderr.
//
// The CometD endpoint is http://<host>:<port>/cometd (sub-paths such as
// /cometd/handshake or /cometd/connect, which clients append, are accepted too).
// NB: the official server finds sessions through its BAYEUX_BROWSER cookie (set
// on the first handshake): a request without that cookie gets 402::session_unknown
// even with a valid clientId.
//
// Service channels installed for tests:
//   /service/echo     data X            -> replies to the calling session only with
//                                          {channel:"/service/echo", data:X}
//   /service/publish  {channel, data}   -> the server (sender null) publishes `data`
//                                          to the broadcast `channel`
//   /service/expire   {} | {mode:"..."} -> the server forgets the calling session.
//        mode "expire" (default): the session is removed silently, exactly as the
//          server's own maxInterval sweep would do (removed(timeout=true)); a held
//          /meta/connect is woken up so the client's next /meta/connect gets
//          {"successful":false,"error":"402::session_unknown",
//           "advice":{"reconnect":"handshake","interval":0}}.
//        mode "disconnect": ServerSession.disconnect() (public API): removes the
//          session and sends the client a {"channel":"/meta/disconnect",
//          "successful":true} message (in the /service/expire response; when the
//          session uses the ack extension it is queued for /meta/connect only,
//          so the client never sees it: its next /meta/connect gets 402).
//   Natural expiry also works: a client that sends no /meta/connect for longer
//   than --max-interval-ms (+ the sweep period, ~1 s) is removed by the server.
//
// --unofficial-websocket-bridge: the official server has NO WebSocket transport.
// For self-testing the WebSocket path of cometd-client.mjs only, this flag adds
// a bridge of ours: each WebSocket text frame (a JSON array of messages) is fed
// to the official server's HTTP handler as if it were a POST (with a per-socket
// BAYEUX_BROWSER cookie), its response array is sent back as one frame, and
// "websocket" is added to the handshake reply's supportedConnectionTypes.
// Its wire behaviour is NOT the official one: never use it as a reference.
//
// SIGTERM / SIGINT: closes the server and exits 0.

import http from 'node:http';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cometdLib = require('cometd-nodejs-server');
const { AcknowledgedMessagesExtension } = require('cometd-nodejs-server/ack-extension.js');

// Keep stdout for the single LISTENING line: the library logs with console.log.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

function usage(msg) {
    if (msg) {
        process.stderr.write(`cometd-server: ${msg}\n`);
    }
    process.stderr.write('usage: node cometd-server.mjs [--port N] [--host H] [--timeout-ms N] ' +
        '[--max-interval-ms N] [--interval-ms N] [--max-sessions-per-browser N] [--no-ack] [--debug] ' +
        '[--unofficial-websocket-bridge]\n');
    process.exit(2);
}

function parseArgs(argv) {
    const opts = {
        port: 0,
        host: '127.0.0.1',
        timeoutMs: 5000,
        maxIntervalMs: 10000,
        intervalMs: 0,
        maxSessionsPerBrowser: 1,
        ack: true,
        debug: false,
        wsBridge: false,
    };
    const ints = {
        '--port': 'port',
        '--timeout-ms': 'timeoutMs',
        '--max-interval-ms': 'maxIntervalMs',
        '--interval-ms': 'intervalMs',
        '--max-sessions-per-browser': 'maxSessionsPerBrowser',
    };
    for (let i = 0; i < argv.length; ++i) {
        let arg = argv[i];
        let value;
        const eq = arg.indexOf('=');
        if (arg.startsWith('--') && eq > 0) {
            value = arg.substring(eq + 1);
            arg = arg.substring(0, eq);
        }
        const next = () => {
            if (value !== undefined) {
                return value;
            }
            if (i + 1 >= argv.length) {
                usage(`missing value for ${arg}`);
            }
            return argv[++i];
        };
        if (ints[arg]) {
            const v = next();
            const n = Number(v);
            if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) {
                usage(`${arg} needs an integer, got ${JSON.stringify(v)}`);
            }
            opts[ints[arg]] = n;
        } else if (arg === '--host') {
            opts.host = next();
        } else if (arg === '--no-ack') {
            opts.ack = false;
        } else if (arg === '--ack') {
            opts.ack = true;
        } else if (arg === '--unofficial-websocket-bridge') {
            opts.wsBridge = true;
        } else if (arg === '--debug') {
            opts.debug = true;
        } else if (arg === '--help' || arg === '-h') {
            usage();
        } else {
            usage(`unknown argument ${JSON.stringify(arg)}`);
        }
    }
    if (opts.port < 0 || opts.port > 65535) {
        usage('--port must be in 0..65535');
    }
    return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (...args) => {
    process.stderr.write(`cometd-server: ${args.join(' ')}\n`);
};

const cometd = cometdLib.createCometDServer({
    logLevel: opts.debug ? 'debug' : 'info',
    timeout: opts.timeoutMs,
    maxInterval: opts.maxIntervalMs,
    interval: opts.intervalMs,
    maxSessionsPerBrowser: opts.maxSessionsPerBrowser,
});

if (opts.ack) {
    cometd.addExtension(new AcknowledgedMessagesExtension());
}

// The only transport the official Node server implements (its handshake
// reply always lists supportedConnectionTypes: ["long-polling"]; it has no
// WebSocket support, see its README: "WebSocket not (yet) supported").
const TRANSPORTS = ['long-polling'];
if (opts.wsBridge) {
    TRANSPORTS.push('websocket');
}

cometd.addListener('sessionAdded', session => {
    log('session added', session.id);
});
cometd.addListener('sessionRemoved', (session, timeout) => {
    log('session removed', session.id, timeout ? '(expired)' : '(disconnected)');
});

function fail(message, error) {
    // The server sets reply.successful = true before notifying listeners;
    // turning the reply into a failure is the documented-by-source way for a
    // listener to reject a message while letting the request complete.
    const reply = message.reply;
    if (reply) {
        reply.successful = false;
        reply.error = error;
    }
}

cometd.createServerChannel('/service/echo').addListener('message', (session, channel, message, callback) => {
    session.deliver(null, '/service/echo', message.data, () => callback());
});

cometd.createServerChannel('/service/publish').addListener('message', (session, channel, message, callback) => {
    const data = message.data || {};
    const target = data.channel;
    if (typeof target !== 'string' || !/^\/[^*]/.test(target) ||
        /^\/(meta|service)\//.test(target) || /\/\*\*?$/.test(target)) {
        fail(message, `400::${JSON.stringify(target)} is not a broadcast channel`);
        callback();
        return;
    }
    let serverChannel;
    try {
        serverChannel = cometd.createServerChannel(target);
    } catch (x) {
        fail(message, `400::invalid channel ${JSON.stringify(target)}`);
        callback();
        return;
    }
    serverChannel.publish(null, data.data, failure => {
        if (failure) {
            fail(message, `500::${failure.message || failure}`);
        }
        callback();
    });
});

cometd.createServerChannel('/service/expire').addListener('message', (session, channel, message, callback) => {
    const mode = (message.data && message.data.mode) || 'expire';
    if (mode === 'disconnect') {
        log('disconnecting session', session.id);
        session.disconnect();
    } else if (mode === 'expire') {
        log('expiring session', session.id);
        // Same call the server's sweeper makes when maxInterval elapses.
        cometd._removeServerSession(session, true);
        // Wake up a held /meta/connect (as /meta/disconnect does), so the
        // client sends its next /meta/connect now and gets 402.
        session._flush();
    } else {
        fail(message, `400::unknown mode ${JSON.stringify(mode)}`);
    }
    callback();
});

const httpServer = http.createServer((request, response) => {
    const path = (request.url || '').split('?')[0];
    if (path === '/cometd' || path.startsWith('/cometd/')) {
        cometd.handle(request, response);
    } else {
        response.statusCode = 404;
        response.end();
    }
});
// Long polls are held up to --timeout-ms: keep Node's own timeouts well above.
httpServer.requestTimeout = 0;
httpServer.timeout = 0;

if (opts.wsBridge) {
    await installWebSocketBridge();
} else {
    // The official server has no WebSocket transport: answer upgrades explicitly.
    httpServer.on('upgrade', (request, socket) => {
        log('rejecting WebSocket upgrade for', request.url);
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
}

// See --unofficial-websocket-bridge above. Not official CometD behaviour.
async function installWebSocketBridge() {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ noServer: true });
    httpServer.on('upgrade', (request, socket, head) => {
        const path = (request.url || '').split('?')[0];
        if (path !== '/cometd' && !path.startsWith('/cometd/')) {
            socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
            return;
        }
        wss.handleUpgrade(request, socket, head, ws => wss.emit('connection', ws, request));
    });
    // Advertise "websocket" in handshake replies made over the bridge.
    cometd.addExtension({
        outgoing: (server, sender, session, message, callback) => {
            const request = server.context.request;
            if (message.channel === '/meta/handshake' && message.successful &&
                request && request._wsBridge && Array.isArray(message.supportedConnectionTypes) &&
                !message.supportedConnectionTypes.includes('websocket')) {
                message.supportedConnectionTypes.push('websocket');
            }
            callback(undefined, true);
        }
    });
    wss.on('connection', ws => {
        let cookie = null;
        const socket = { destroyed: false };
        ws.on('close', () => {
            socket.destroyed = true;
        });
        ws.on('message', (frame, isBinary) => {
            if (isBinary) {
                ws.close(1003, 'binary frames not supported');
                return;
            }
            let messages;
            try {
                messages = JSON.parse(frame.toString('utf8'));
            } catch (x) {
                ws.close(1007, 'invalid JSON');
                return;
            }
            if (!Array.isArray(messages)) {
                messages = [messages];
            }
            const request = new EventEmitter();
            request.method = 'POST';
            request.url = '/cometd';
            request.body = messages;
            request.headers = cookie ? { cookie } : {};
            request._wsBridge = true;
            const response = new EventEmitter();
            response.statusCode = 200;
            response.socket = socket;
            response.setHeader = (name, value) => {
                if (/^set-cookie$/i.test(name)) {
                    cookie = String(value).split(';')[0];
                }
            };
            response.end = content => {
                if (content && ws.readyState === ws.OPEN) {
                    ws.send(content);
                }
                setImmediate(() => response.emit('finish'));
            };
            cometd.handle(request, response);
        });
    });
    log('UNOFFICIAL WebSocket bridge enabled (not official CometD wire behaviour)');
}

httpServer.on('error', e => {
    process.stderr.write(`cometd-server: ${e.stack || e}\n`);
    process.exit(1);
});

httpServer.listen(opts.port, opts.host, () => {
    const port = httpServer.address().port;
    let line = `LISTENING ${port} ${TRANSPORTS.join(',')}`;
    if (opts.ack) {
        line += ' ack';
    }
    process.stdout.write(line + '\n');
    log(`listening on http://${opts.host}:${port}/cometd timeout=${opts.timeoutMs}ms ` +
        `maxInterval=${opts.maxIntervalMs}ms ack=${opts.ack}`);
});

let stopping = false;
function stop(signal) {
    if (stopping) {
        return;
    }
    stopping = true;
    log('received', signal, 'stopping');
    cometd.close();
    httpServer.close(() => process.exit(0));
    httpServer.closeAllConnections();
    // Held long polls are already closed above; exit anyway if anything lingers.
    setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
