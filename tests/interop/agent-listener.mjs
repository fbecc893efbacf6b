#!/usr/bin/env node
// The peer of `cargo xtask bench desk`: the OFFICIAL CometD JavaScript client (npm "cometd",
// adapted to Node by "cometd-nodejs-client") subscribed to /v2/me/chats as an agent of the
// reference server, next to that agent's extension, so both receive the same notifications.
//
// Usage:
//   node agent-listener.mjs --server http://127.0.0.1:PORT --agent NAME --password PASSWORD
//        [--transport websocket|long-polling] [--debug]
//
// Signs in like the extension does (GET /api/v2/me with Basic; the reply's
// X-Cobrowse-Notifications-Token is presented in the handshake's ext), forces the transport
// (no fallback), subscribes, then writes to stdout one JSON line {"ready":true,"transport":...}
// and, for every text line of a MessageLogUpdated notification, one line
//   {"text": "...", "at": <ms since the epoch when the client received it, float>}
// The time is read in the subscription callback, the first point a page using this client could
// show the line. Runs until stdin closes or the process is killed. A failed sign-in, handshake or
// subscribe writes {"error": "..."} and exits 1; command-line errors exit 2.

import { adapt } from 'cometd-nodejs-client';
import { CometD } from 'cometd';
import { parseArgs } from 'node:util';

// The CometD client logs through console.log/info/debug: keep stdout for results.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

let opts;
try {
    ({ values: opts } = parseArgs({
        options: {
            server: { type: 'string' },
            agent: { type: 'string' },
            password: { type: 'string' },
            transport: { type: 'string', default: 'websocket' },
            debug: { type: 'boolean', default: false },
        },
    }));
} catch (e) {
    process.stderr.write(`agent-listener: ${e.message}\n`);
    process.exit(2);
}
for (const key of ['server', 'agent', 'password']) {
    if (!opts[key]) {
        process.stderr.write(`agent-listener: --${key} is required\n`);
        process.exit(2);
    }
}
if (!['websocket', 'long-polling'].includes(opts.transport)) {
    process.stderr.write(`agent-listener: --transport must be websocket or long-polling\n`);
    process.exit(2);
}

const nowMs = () => performance.timeOrigin + performance.now();
const out = (value) => process.stdout.write(JSON.stringify(value) + '\n');
const fail = (error) => {
    out({ error: String(error) });
    process.exit(1);
};

adapt();

const basic = 'Basic ' + Buffer.from(`${opts.agent}:${opts.password}`).toString('base64');
const me = await fetch(`${opts.server}/api/v2/me`, { headers: { Authorization: basic } })
    .catch((e) => fail(`GET /api/v2/me: ${e.message}`));
if (!me.ok) {
    fail(`GET /api/v2/me: HTTP ${me.status}`);
}
const token = me.headers.get('X-Cobrowse-Notifications-Token');
if (!token) {
    fail('GET /api/v2/me: no X-Cobrowse-Notifications-Token');
}

const cometd = new CometD('agent-listener');
for (const type of cometd.getTransportTypes()) {
    if (type !== opts.transport) {
        cometd.unregisterTransport(type);
    }
}
cometd.configure({
    url: `${opts.server}/api/v2/notifications`,
    logLevel: opts.debug ? 'debug' : 'warn',
});

const onMessage = (message) => {
    const at = nowMs();
    const data = message.data;
    if (!data || data.messageType !== 'MessageLogUpdated' || !Array.isArray(data.messages)) {
        return;
    }
    for (const line of data.messages) {
        if (typeof line.text === 'string') {
            out({ text: line.text, at });
        }
    }
};

cometd.handshake({ ext: { cobrowse: { token } } }, (reply) => {
    if (!reply.successful) {
        fail(`handshake: ${reply.error ?? JSON.stringify(reply.failure ?? reply)}`);
    }
    cometd.subscribe('/v2/me/chats', onMessage, (subscribed) => {
        if (!subscribed.successful) {
            fail(`subscribe: ${subscribed.error ?? 'refused'}`);
        }
        out({ ready: true, transport: cometd.getTransport().type });
    });
});

process.stdin.on('end', () => {
    cometd.disconnect(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
});
process.stdin.resume();
