#!/usr/bin/env node
// Runs the OFFICIAL CometD JavaScript client (npm "cometd", adapted to Node by
// "cometd-nodejs-client") against a CometD server, so that Rust tests can check
// interoperability of the Rust CometD server with it.
//
// Usage:
//   node cometd-client.mjs --url http://127.0.0.1:PORT/cometd
//        [--transport long-polling|websocket] [--ack] [--timeout-ms 20000]
//        [--steps handshake,connect,subscribe,publish,echo,disconnect] [--debug]
//
// stdout: one JSON object per line per step, e.g.
//   {"step":"handshake","ok":true,"clientId":"...","transport":"long-polling",...}
// then {"step":"done","ok":true} and exit 0; on failure (or after the overall
// --timeout-ms) a line {"step":"<step>","ok":false,"error":"..."} and exit 1.
// Command-line errors exit 2. Logs (also --debug) go to stderr.
//
// --transport forces the transport: the other transports are unregistered, so
// there is no fallback. --ack registers the official AckExtension and requires
// the server to confirm it (handshake reply ext.ack === true).
//
// Steps (default: handshake,connect,subscribe,publish,echo,disconnect):
//   handshake       handshake; reports clientId, negotiated transport, server's
//                   supportedConnectionTypes, advice and whether ack is on
//   connect         waits for the first successful /meta/connect reply
//   subscribe       subscribes to /test/interop
//   publish         publishes {"n":i}, i=1..5, to /test/interop; all 5 must come
//                   back in order (and every publish must be acknowledged)
//   echo            publishes X to /service/echo; the server must deliver a
//                   message on /service/echo with data deep-equal to X
//   server-publish  publishes {channel:"/test/interop",data:Y} to /service/publish;
//                   Y must arrive on the /test/interop subscription
//   expire          publishes to /service/expire; the client must be told its
//                   session is unknown and handshake again with a new clientId
//                   (then it subscribes to /test/interop again)
//   disconnect      disconnects; the reply must be successful
// New steps: add an entry to STEPS below.

import { adapt } from 'cometd-nodejs-client';
import { CometD, AckExtension } from 'cometd';
import { isDeepStrictEqual } from 'node:util';

// The CometD client logs through console.log/info/debug: keep stdout for results.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

const TEST_CHANNEL = '/test/interop';
const DEFAULT_STEPS = ['handshake', 'connect', 'subscribe', 'publish', 'echo', 'disconnect'];

function usage(msg) {
    if (msg) {
        process.stderr.write(`cometd-client: ${msg}\n`);
    }
    process.stderr.write('usage: node cometd-client.mjs --url URL [--transport long-polling|websocket] ' +
        '[--ack] [--timeout-ms N] [--steps a,b,c] [--debug]\n' +
        `steps: ${Object.keys(STEPS).join(',')}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const opts = {
        url: null,
        transport: 'long-polling',
        ack: false,
        timeoutMs: 20000,
        steps: DEFAULT_STEPS,
        debug: false,
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
        switch (arg) {
            case '--url':
                opts.url = next();
                break;
            case '--transport':
                opts.transport = next();
                break;
            case '--ack':
                opts.ack = true;
                break;
            case '--timeout-ms': {
                const v = next();
                if (!/^\d+$/.test(v)) {
                    usage(`--timeout-ms needs a positive integer, got ${JSON.stringify(v)}`);
                }
                opts.timeoutMs = Number(v);
                break;
            }
            case '--steps':
                opts.steps = next().split(',').map(s => s.trim()).filter(s => s);
                break;
            case '--debug':
                opts.debug = true;
                break;
            case '--help':
            case '-h':
                usage();
                break;
            default:
                usage(`unknown argument ${JSON.stringify(arg)}`);
        }
    }
    if (!opts.url) {
        usage('--url is required');
    }
    if (!['long-polling', 'websocket'].includes(opts.transport)) {
        usage(`--transport must be long-polling or websocket, got ${JSON.stringify(opts.transport)}`);
    }
    for (const s of opts.steps) {
        if (!STEPS[s]) {
            usage(`unknown step ${JSON.stringify(s)}`);
        }
    }
    return opts;
}

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

class StepError extends Error {
}

// Resolves with the first value passed to `resolve`, rejects after `ms`.
function waitFor(what, ms, executor) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new StepError(`timed out after ${ms} ms waiting for ${what}`)), ms);
        executor(v => {
            clearTimeout(timer);
            resolve(v);
        }, e => {
            clearTimeout(timer);
            reject(e instanceof Error ? e : new StepError(String(e)));
        });
    });
}

function describeFailure(reply) {
    if (!reply) {
        return 'no reply';
    }
    const parts = [];
    if (reply.error) {
        parts.push(reply.error);
    }
    if (reply.failure) {
        const f = reply.failure;
        if (f.reason) {
            parts.push(String(f.reason));
        }
        if (f.httpCode) {
            parts.push(`HTTP ${f.httpCode}`);
        }
        if (f.exception) {
            parts.push(String(f.exception));
        }
        if (f.websocketCode) {
            parts.push(`WebSocket close ${f.websocketCode}`);
        }
    }
    if (parts.length === 0) {
        parts.push(JSON.stringify(reply));
    }
    return parts.join('; ');
}

// ---------------------------------------------------------------------------
// Scenario steps. Each step is async (ctx) => object; the object is merged into
// the step's output line. Throw to fail the step (and the scenario).
// ctx: { cometd, opts, stepMs, received: [messages on TEST_CHANNEL], ... }

function subscribeTestChannel(ctx) {
    return waitFor(`/meta/subscribe reply for ${TEST_CHANNEL}`, ctx.stepMs, (resolve, reject) => {
        ctx.subscription = ctx.cometd.subscribe(TEST_CHANNEL, m => {
            ctx.received.push(m);
            ctx.onTestMessage?.(m);
        }, reply => {
            if (reply.successful) {
                resolve({ subscription: reply.subscription });
            } else {
                reject(new StepError(`subscribe failed: ${describeFailure(reply)}`));
            }
        });
    });
}

function publishAndAck(ctx, channel, data) {
    return new Promise((resolve, reject) => {
        ctx.cometd.publish(channel, data, reply => {
            if (reply.successful) {
                resolve(reply);
            } else {
                reject(new StepError(`publish to ${channel} failed: ${describeFailure(reply)}`));
            }
        });
    });
}

// Waits until a message with the given data arrives on TEST_CHANNEL.
function waitTestMessage(ctx, what, predicate, trigger) {
    return waitFor(what, ctx.stepMs, (resolve, reject) => {
        ctx.onTestMessage = m => {
            if (predicate(m)) {
                ctx.onTestMessage = null;
                resolve(m);
            }
        };
        trigger().catch(reject);
    });
}

const STEPS = {
    async handshake(ctx) {
        const { cometd, opts } = ctx;
        const reply = await waitFor('/meta/handshake reply', ctx.stepMs, (resolve, reject) => {
            cometd.handshake(r => {
                if (r.successful) {
                    resolve(r);
                } else {
                    reject(new StepError(`handshake failed: ${describeFailure(r)}`));
                }
            });
        });
        const serverAck = !!(reply.ext && (reply.ext.ack === true ||
            (typeof reply.ext.ack === 'object' && reply.ext.ack.enabled === true)));
        if (opts.ack && !serverAck) {
            throw new StepError(`--ack: server did not enable acknowledgements (handshake ext: ${JSON.stringify(reply.ext)})`);
        }
        const transport = cometd.getTransport().type;
        if (transport !== opts.transport) {
            throw new StepError(`negotiated transport ${transport}, wanted ${opts.transport}`);
        }
        ctx.clientId = reply.clientId;
        return {
            clientId: reply.clientId,
            transport,
            supportedConnectionTypes: reply.supportedConnectionTypes,
            advice: reply.advice,
            ack: serverAck,
        };
    },

    async connect(ctx) {
        if (ctx.firstConnect === undefined) {
            await waitFor('first successful /meta/connect reply', ctx.stepMs, resolve => {
                ctx.onFirstConnect = resolve;
            });
        }
        const m = ctx.firstConnect;
        const out = { advice: m.advice };
        if (m.ext && m.ext.ack !== undefined) {
            out.ackBatch = m.ext.ack;
        }
        return out;
    },

    async subscribe(ctx) {
        return subscribeTestChannel(ctx);
    },

    async publish(ctx) {
        const start = ctx.received.length;
        const expected = [1, 2, 3, 4, 5];
        await waitFor(`${expected.length} messages on ${TEST_CHANNEL}`, ctx.stepMs, (resolve, reject) => {
            const check = () => {
                const got = ctx.received.slice(start);
                if (got.length >= expected.length) {
                    resolve();
                }
            };
            ctx.onTestMessage = check;
            for (const n of expected) {
                publishAndAck(ctx, TEST_CHANNEL, { n }).catch(reject);
            }
            check();
        });
        ctx.onTestMessage = null;
        const got = ctx.received.slice(start).map(m => m.data);
        const want = expected.map(n => ({ n }));
        if (!isDeepStrictEqual(got, want)) {
            throw new StepError(`received ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
        }
        const channels = [...new Set(ctx.received.slice(start).map(m => m.channel))];
        if (channels.length !== 1 || channels[0] !== TEST_CHANNEL) {
            throw new StepError(`messages arrived on ${JSON.stringify(channels)}`);
        }
        return { received: got };
    },

    async echo(ctx) {
        const payload = { text: 'hello from the official CometD client', nonce: Math.random().toString(36).slice(2), list: [1, 'two', null, true] };
        let listener;
        try {
            const message = await waitFor('/service/echo reply', ctx.stepMs, (resolve, reject) => {
                listener = ctx.cometd.addListener('/service/echo', m => {
                    if (isDeepStrictEqual(m.data, payload)) {
                        resolve(m);
                    } else {
                        reject(new StepError(`echo data ${JSON.stringify(m.data)} != sent ${JSON.stringify(payload)}`));
                    }
                });
                publishAndAck(ctx, '/service/echo', payload).catch(reject);
            });
            return { data: message.data };
        } finally {
            if (listener) {
                ctx.cometd.removeListener(listener);
            }
        }
    },

    async 'server-publish'(ctx) {
        const data = { fromServer: true, nonce: Math.random().toString(36).slice(2) };
        const m = await waitTestMessage(ctx, `server-side publish on ${TEST_CHANNEL}`,
            msg => isDeepStrictEqual(msg.data, data),
            () => publishAndAck(ctx, '/service/publish', { channel: TEST_CHANNEL, data }));
        return { data: m.data };
    },

    async expire(ctx) {
        const oldClientId = ctx.cometd.getClientId();
        let handshakeListener;
        let unknown = null;
        let connectListener;
        try {
            const reply = await waitFor('re-handshake after /service/expire', ctx.stepMs, (resolve, reject) => {
                connectListener = ctx.cometd.addListener('/meta/connect', m => {
                    if (!m.successful && unknown === null) {
                        unknown = { error: m.error, advice: m.advice };
                    }
                });
                handshakeListener = ctx.cometd.addListener('/meta/handshake', m => {
                    if (m.successful) {
                        resolve(m);
                    } else {
                        reject(new StepError(`re-handshake failed: ${describeFailure(m)}`));
                    }
                });
                publishAndAck(ctx, '/service/expire', {}).catch(reject);
            });
            if (reply.clientId === oldClientId) {
                throw new StepError(`re-handshake kept the old clientId ${oldClientId}`);
            }
            if (!unknown) {
                throw new StepError('no unsuccessful /meta/connect before the re-handshake');
            }
            ctx.clientId = reply.clientId;
        } finally {
            if (handshakeListener) {
                ctx.cometd.removeListener(handshakeListener);
            }
            if (connectListener) {
                ctx.cometd.removeListener(connectListener);
            }
        }
        // The client drops its subscriptions on re-handshake: subscribe again.
        await subscribeTestChannel(ctx);
        return { oldClientId, clientId: ctx.clientId, connectFailure: unknown };
    },

    async disconnect(ctx) {
        const reply = await waitFor('/meta/disconnect reply', ctx.stepMs, (resolve, reject) => {
            ctx.cometd.disconnect(r => {
                if (r.successful) {
                    resolve(r);
                } else {
                    reject(new StepError(`disconnect failed: ${describeFailure(r)}`));
                }
            });
        });
        return { successful: reply.successful };
    },
};

function createClient(opts) {
    adapt();
    const cometd = new CometD();
    // Force the transport: no fallback to another one.
    for (const type of cometd.getTransportTypes()) {
        if (type !== opts.transport) {
            cometd.unregisterTransport(type);
        }
    }
    if (!cometd.getTransportTypes().includes(opts.transport)) {
        throw new Error(`transport ${opts.transport} is not available in the CometD client`);
    }
    if (opts.ack) {
        cometd.registerExtension('ack', new AckExtension());
    }
    cometd.configure({
        url: opts.url,
        logLevel: opts.debug ? 'debug' : 'warn',
        // A handshake failure is reported at once; the client retries with backoff.
        maxBackoff: 1000,
    });
    return cometd;
}

// Runs the named steps in order; emits one line per step. Throws on failure
// with err.step set to the failing step.
export async function runScenario(ctx, stepNames) {
    for (const name of stepNames) {
        ctx.currentStep = name;
        let result;
        try {
            result = await STEPS[name](ctx);
        } catch (e) {
            e.step = name;
            throw e;
        }
        emit({ step: name, ok: true, ...result });
    }
    ctx.currentStep = 'done';
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const ctx = {
        opts,
        cometd: null,
        received: [],
        currentStep: 'setup',
        // Every wait inside a step is bounded by the overall timeout anyway.
        stepMs: opts.timeoutMs,
    };
    let finished = false;
    const finish = (code, line) => {
        if (finished) {
            return;
        }
        finished = true;
        emit(line);
        process.exit(code);
    };
    setTimeout(() => {
        finish(1, { step: ctx.currentStep, ok: false, error: `overall timeout after ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    process.on('uncaughtException', e => {
        finish(1, { step: ctx.currentStep, ok: false, error: `uncaught exception: ${e && e.stack || e}` });
    });
    process.on('unhandledRejection', e => {
        finish(1, { step: ctx.currentStep, ok: false, error: `unhandled rejection: ${e && e.stack || e}` });
    });

    try {
        ctx.cometd = createClient(opts);
        ctx.cometd.addListener('/meta/connect', m => {
            if (m.successful && ctx.firstConnect === undefined) {
                ctx.firstConnect = m;
                ctx.onFirstConnect?.(m);
            }
        });
        await runScenario(ctx, opts.steps);
    } catch (e) {
        finish(1, { step: e.step || ctx.currentStep, ok: false, error: e instanceof StepError ? e.message : String(e && e.stack || e) });
        return;
    }
    finish(0, { step: 'done', ok: true });
}

main();
