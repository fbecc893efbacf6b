#!/usr/bin/env node
// Load generator using the OFFICIAL CometD JavaScript client (npm "cometd",
// adapted to Node by "cometd-nodejs-client"), for benchmarks comparing Bayeux
// servers and clients.
//
// Usage:
//   node bench-client.mjs --url URL --transport long-polling|websocket
//        --subscribers N --messages M --rate R
//        [--channel /bench/topic] [--timeout-ms 60000] [--debug]
//
// N subscriber clients (each its own CometD instance and server session)
// handshake and subscribe to the channel; once all are subscribed, one more
// client publishes M messages {"seq": i, "sentAt": <ms since the epoch, float>}
// at R messages/s (R=0: as fast as possible, at most 50 publishes awaiting
// their reply at a time). Every subscriber records latency = receive time -
// sentAt for every message. Both times are performance.timeOrigin +
// performance.now() in this same process.
//
// stdout: exactly one JSON line at the end:
//   {"client":"official-js","transport":...,"subscribers":N,"messages":M,
//    "expected":N*M,"delivered":<unique (subscriber,seq) deliveries>,
//    "duplicates":<extra deliveries>,"seconds":<first publish -> last delivery>,
//    "deliveries_per_s":...,"p50_ms":...,"p99_ms":...,"max_ms":...,
//    "connects_per_subscriber":<its /meta/connect replies since the first publish>}
// exit 0; on failure or timeout the same line with an "error" field, exit 1.
// Command-line errors exit 2. Everything else goes to stderr.
//
// Independent sessions: the adapter's XMLHttpRequest keeps server cookies in
// one jar per adapt() call, shared by every CometD instance in the process, so
// all instances would present the same BAYEUX_BROWSER cookie and the official
// server (maxSessionsPerBrowser=1) would let only one of them hold a long poll
// (the others get advice "multiple-clients" and poll). We give each CometD
// instance its own jar through the adapter's public hooks: the long-polling
// transport copies its `context` into every XHR it creates, the adapter passes
// that context to `cookies.retrieveCookies(context, uri, cb)`, and
// `cookies.storeCookie(uri, header, cb)` receives the same per-request URL
// object, which we map back to the context.
// (WebSocket: each instance has its own connection; no cookies are involved.)

import { adapt } from 'cometd-nodejs-client';
import { CometD } from 'cometd';

// The CometD client logs through console.log/info/debug: keep stdout for results.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

const MAX_IN_FLIGHT = 50;

function usage(msg) {
    if (msg) {
        process.stderr.write(`bench-client: ${msg}\n`);
    }
    process.stderr.write('usage: node bench-client.mjs --url URL --transport long-polling|websocket ' +
        '--subscribers N --messages M --rate R [--channel /bench/topic] [--timeout-ms 60000] [--debug]\n');
    process.exit(2);
}

function parseArgs(argv) {
    const opts = {
        url: null,
        transport: null,
        subscribers: null,
        messages: null,
        rate: null,
        channel: '/bench/topic',
        timeoutMs: 60000,
        debug: false,
    };
    const ints = {
        '--subscribers': 'subscribers',
        '--messages': 'messages',
        '--timeout-ms': 'timeoutMs',
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
            if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
                usage(`${arg} needs a non-negative integer, got ${JSON.stringify(v)}`);
            }
            opts[ints[arg]] = Number(v);
        } else if (arg === '--rate') {
            const v = next();
            const n = Number(v);
            if (v.trim() === '' || !Number.isFinite(n) || n < 0) {
                usage(`--rate needs a non-negative number, got ${JSON.stringify(v)}`);
            }
            opts.rate = n;
        } else if (arg === '--url') {
            opts.url = next();
        } else if (arg === '--transport') {
            opts.transport = next();
        } else if (arg === '--channel') {
            opts.channel = next();
        } else if (arg === '--debug') {
            opts.debug = true;
        } else if (arg === '--help' || arg === '-h') {
            usage();
        } else {
            usage(`unknown argument ${JSON.stringify(arg)}`);
        }
    }
    for (const [flag, key] of [['--url', 'url'], ['--transport', 'transport'], ['--subscribers', 'subscribers'],
        ['--messages', 'messages'], ['--rate', 'rate']]) {
        if (opts[key] === null) {
            usage(`${flag} is required`);
        }
    }
    if (!['long-polling', 'websocket'].includes(opts.transport)) {
        usage(`--transport must be long-polling or websocket, got ${JSON.stringify(opts.transport)}`);
    }
    if (opts.subscribers < 1) {
        usage('--subscribers must be >= 1');
    }
    if (!/^\/[^*]/.test(opts.channel) || /^\/(meta|service)\//.test(opts.channel) || opts.channel.includes('*')) {
        usage(`--channel must be a broadcast channel, got ${JSON.stringify(opts.channel)}`);
    }
    return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (...args) => process.stderr.write(`bench-client: ${args.join(' ')}\n`);
const nowMs = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------
// Per-client cookie jars (see the header comment).

const contextByRequestUri = new WeakMap();

function jarOf(context) {
    return context && context.cookieStore;
}

adapt({
    cookies: {
        retrieveCookies(context, uri, callback) {
            const jar = jarOf(context);
            if (!jar) {
                callback(new Error('XHR without a per-client cookie context'), []);
                return;
            }
            contextByRequestUri.set(uri, context);
            callback(null, Object.values(jar[uri.hostname] || {}));
        },
        storeCookie(uri, header, callback) {
            const jar = jarOf(contextByRequestUri.get(uri));
            if (jar) {
                // Like the adapter's default jar: keep name=value, ignore attributes.
                const nameValue = header.split(';')[0].trim();
                const equal = nameValue.indexOf('=');
                if (equal > 0) {
                    (jar[uri.hostname] ??= {})[nameValue.substring(0, equal)] = nameValue;
                }
            } else {
                log('dropping cookie of an unknown request:', header);
            }
            callback(null);
        },
    },
});

function describeFailure(reply) {
    if (!reply) {
        return 'no reply';
    }
    const parts = [];
    if (reply.error) {
        parts.push(reply.error);
    }
    const f = reply.failure;
    if (f) {
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
    return parts.length ? parts.join('; ') : JSON.stringify(reply);
}

function createClient(name) {
    const cometd = new CometD(name);
    // Force the transport: no fallback to another one.
    for (const type of cometd.getTransportTypes()) {
        if (type !== opts.transport) {
            cometd.unregisterTransport(type);
        }
    }
    const transport = cometd.findTransport(opts.transport);
    if (!transport) {
        throw new Error(`transport ${opts.transport} is not available in the CometD client`);
    }
    // Copied by the long-polling transport into each of its XHRs.
    transport.context = { cookieStore: {} };
    cometd.configure({
        url: opts.url,
        logLevel: opts.debug ? 'debug' : 'warn',
        maxBackoff: 1000,
    });
    return cometd;
}

function handshake(cometd) {
    return new Promise((resolve, reject) => {
        cometd.handshake(reply => {
            if (!reply.successful) {
                reject(new Error(`handshake failed: ${describeFailure(reply)}`));
                return;
            }
            const type = cometd.getTransport() && cometd.getTransport().type;
            if (type !== opts.transport) {
                reject(new Error(`negotiated transport ${type}, wanted ${opts.transport}`));
                return;
            }
            resolve(reply);
        });
    });
}

// ---------------------------------------------------------------------------
// State and result.

const M = opts.messages;
const N = opts.subscribers;
const subscribers = []; // { cometd, seen: Uint8Array(M), count }
let publisher = null;
let latencies = new Float64Array(Math.max(1, Math.min(N * M, 1 << 20)));
let delivered = 0;
let duplicates = 0;
let unexpected = 0;
let complete = 0; // subscribers that got all M messages
let firstPublish = null;
let lastDelivery = null;
let published = 0;
let acked = 0;
let phase = 'setup';
let done = null; // resolves the "all delivered" wait
let connects = 0; // /meta/connect replies to the subscribers since the first publish

function record(sub, message) {
    const t = nowMs();
    const data = message.data;
    const seq = data && data.seq;
    if (!Number.isInteger(seq) || seq < 0 || seq >= M || typeof data.sentAt !== 'number') {
        ++unexpected;
        return;
    }
    if (sub.seen[seq]) {
        ++duplicates;
        return;
    }
    sub.seen[seq] = 1;
    if (delivered === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
    }
    latencies[delivered++] = t - data.sentAt;
    lastDelivery = t;
    if (++sub.count === M) {
        if (++complete === N && done) {
            done();
        }
    }
}

const round3 = x => Math.round(x * 1000) / 1000;

function percentile(sorted, n, p) {
    if (n === 0) {
        return null;
    }
    const rank = Math.max(1, Math.ceil(p * n));
    return round3(sorted[Math.min(n, rank) - 1]);
}

function result(error) {
    const sorted = latencies.slice(0, delivered).sort();
    const seconds = firstPublish !== null && lastDelivery !== null ? (lastDelivery - firstPublish) / 1000 : 0;
    const out = {
        client: 'official-js',
        transport: opts.transport,
        subscribers: N,
        messages: M,
        expected: N * M,
        delivered,
        duplicates,
        seconds: round3(seconds),
        deliveries_per_s: seconds > 0 ? Math.round(delivered / seconds * 10) / 10 : null,
        p50_ms: percentile(sorted, delivered, 0.50),
        p99_ms: percentile(sorted, delivered, 0.99),
        max_ms: delivered ? round3(sorted[delivered - 1]) : null,
        connects_per_subscriber: Math.round(connects / N * 10) / 10,
    };
    if (error) {
        out.error = error;
        out.phase = phase;
        out.published = published;
        out.acked = acked;
        out.subscribers_complete = complete;
    }
    if (unexpected) {
        out.unexpected = unexpected;
    }
    return out;
}

// ---------------------------------------------------------------------------
// Publishing.

function publishAll() {
    return new Promise((resolve, reject) => {
        let next = 0;
        let inFlight = 0;
        let failed = false;
        const interval = opts.rate > 0 ? 1000 / opts.rate : 0;
        let start;

        const publishOne = () => {
            const seq = next++;
            ++inFlight;
            const sentAt = nowMs();
            if (firstPublish === null) {
                firstPublish = sentAt;
            }
            ++published;
            publisher.publish(opts.channel, { seq, sentAt }, reply => {
                --inFlight;
                if (failed) {
                    return;
                }
                if (!reply.successful) {
                    failed = true;
                    reject(new Error(`publish #${seq} failed: ${describeFailure(reply)}`));
                    return;
                }
                ++acked;
                if (acked === M) {
                    resolve();
                } else if (interval === 0) {
                    pump();
                }
            });
        };

        // R = 0: keep at most MAX_IN_FLIGHT publishes awaiting their reply.
        const pump = () => {
            while (!failed && next < M && inFlight < MAX_IN_FLIGHT) {
                publishOne();
            }
        };

        // R > 0: message i is due at start + i / R (open loop, catching up if late).
        const tick = () => {
            if (failed) {
                return;
            }
            const elapsed = performance.now() - start;
            while (next < M && next * interval <= elapsed) {
                publishOne();
            }
            if (next < M) {
                setTimeout(tick, Math.max(0, next * interval - (performance.now() - start)));
            }
        };

        if (M === 0) {
            resolve();
        } else if (interval === 0) {
            pump();
        } else {
            start = performance.now();
            tick();
        }
    });
}

// ---------------------------------------------------------------------------

function disconnectAll(ms) {
    const clients = subscribers.map(s => s.cometd);
    if (publisher) {
        clients.push(publisher);
    }
    const all = clients.map(c => new Promise(resolve => {
        try {
            if (c.isDisconnected()) {
                resolve();
                return;
            }
            c.disconnect(() => resolve());
        } catch (e) {
            resolve();
        }
    }));
    return Promise.race([Promise.all(all), new Promise(resolve => setTimeout(resolve, ms))]);
}

let finished = false;
async function finish(code, error) {
    if (finished) {
        return;
    }
    finished = true;
    process.stdout.write(JSON.stringify(result(error)) + '\n');
    phase = 'disconnect';
    await disconnectAll(3000);
    process.exit(code);
}

async function main() {
    const timer = setTimeout(() => {
        finish(1, `timed out after ${opts.timeoutMs} ms (phase ${phase})`);
    }, opts.timeoutMs);
    process.on('uncaughtException', e => finish(1, `uncaught exception: ${e && e.stack || e}`));
    process.on('unhandledRejection', e => finish(1, `unhandled rejection: ${e && e.stack || e}`));

    try {
        phase = 'subscribe';
        const t0 = performance.now();
        const subscribed = [];
        for (let i = 0; i < N; ++i) {
            const sub = { cometd: createClient(`sub${i}`), seen: new Uint8Array(M), count: 0, clientId: null };
            subscribers.push(sub);
            // Round trips while the messages flow: each /meta/connect reply ends one.
            sub.cometd.addListener('/meta/connect', () => {
                if (firstPublish !== null) {
                    ++connects;
                }
            });
            sub.cometd.addListener('/meta/handshake', m => {
                if (m.successful && sub.clientId && m.clientId !== sub.clientId && !finished) {
                    // The client drops its subscriptions on re-handshake.
                    log(`subscriber ${i} re-handshook (${sub.clientId} -> ${m.clientId}): its subscription is lost`);
                }
            });
            subscribed.push(handshake(sub.cometd).then(reply => {
                sub.clientId = reply.clientId;
                return new Promise((resolve, reject) => {
                    sub.cometd.subscribe(opts.channel, m => record(sub, m), r => {
                        if (r.successful) {
                            resolve();
                        } else {
                            reject(new Error(`subscriber ${i}: subscribe failed: ${describeFailure(r)}`));
                        }
                    });
                });
            }));
        }
        await Promise.all(subscribed);
        const ids = new Set(subscribers.map(s => s.clientId));
        if (ids.size !== N) {
            throw new Error(`only ${ids.size} distinct clientIds for ${N} subscribers`);
        }
        if (M === 0) {
            complete = N;
        }
        log(`${N} subscribers subscribed to ${opts.channel} in ${Math.round(performance.now() - t0)} ms`);

        phase = 'publisher-handshake';
        publisher = createClient('publisher');
        await handshake(publisher);

        phase = 'publish';
        const allDelivered = new Promise(resolve => {
            done = resolve;
            if (complete === N) {
                resolve();
            }
        });
        await publishAll();
        log(`published ${M} messages in ${Math.round(nowMs() - (firstPublish ?? nowMs()))} ms`);
        phase = 'deliver';
        await allDelivered;
        clearTimeout(timer);
        await finish(0, null);
    } catch (e) {
        await finish(1, e instanceof Error ? e.message : String(e));
    }
}

main();
