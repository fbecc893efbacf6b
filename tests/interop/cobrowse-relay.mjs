// A minimal co-browse relay on Node's `ws`, for `cargo xtask bench cobrowse` to measure ours
// against: it serves the same pages (the demo's checkout page, our customer script and agent
// view, rrweb's bundles from node_modules) and speaks the same frames as our relay
// (server/src/cobrowse/relay.rs), with the same checkpoint cache, but no sessions, tickets or
// limits. Agents name their session with `?s=<token>` (one session when absent).
//
//   node tests/interop/cobrowse-relay.mjs --port 0 [--deflate]   → prints `LISTENING <port>`
//   GET /stats → {"bytesRead", "framesIn", "framesOut"}: what customers sent, on the wire
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : process.argv[i + 1]; };
const port = Number(arg('--port', '0'));
const deflate = process.argv.includes('--deflate');

const files = {
  '/checkout.html': ['server/demo/checkout.html', 'text/html'],
  '/': ['server/demo/index.html', 'text/html'],
  '/demo/shop.css': ['server/demo/shop.css', 'text/css'],
  '/demo/chat-widget.js': ['server/demo/chat-widget.js', 'text/javascript'],
  '/cobrowse/agent.html': ['server/cobrowse/agent.html', 'text/html'],
  '/cobrowse/agent.js': ['server/cobrowse/agent.js', 'text/javascript'],
  '/cobrowse/agent.css': ['server/cobrowse/agent.css', 'text/css'],
  '/cobrowse/customer.js': ['server/cobrowse/customer.js', 'text/javascript'],
  '/cobrowse/vendor/record.min.js': ['node_modules/@rrweb/record/umd/record.min.js', 'text/javascript'],
  '/cobrowse/vendor/replay.min.js': ['node_modules/@rrweb/replay/umd/replay.min.js', 'text/javascript'],
  '/cobrowse/vendor/replay.css': ['node_modules/@rrweb/replay/dist/style.min.css', 'text/css'],
};

const stats = { bytesRead: 0, framesIn: 0, framesOut: 0 };
const customerSockets = new Set(); // live TCP sockets of customers (their bytes count in /stats)
let closedBytes = 0;
const sessions = new Map(); // token → { customer, agents: Set, cache: [], complete, lastAt }
let latest = '';
const session = (token) => {
  if (!sessions.has(token)) sessions.set(token, { customer: null, agents: new Set(), cache: [], complete: false, lastAt: 0 });
  return sessions.get(token);
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/stats') {
    stats.bytesRead = closedBytes + [...customerSockets].reduce((n, sock) => n + sock.bytesRead, 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(stats));
  }
  const file = files[url.pathname];
  if (!file) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { 'content-type': `${file[1]}; charset=utf-8` });
  res.end(fs.readFileSync(path.join(root, file[0])));
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: deflate, maxPayload: 4 * 1024 * 1024 });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/cobrowse/ws/customer') customer(ws, socket);
    else if (url.pathname === '/cobrowse/ws/agent') agent(ws, url.searchParams.get('s') ?? '');
    else ws.close(1008, 'unknown path');
  });
});

function customer(ws, socket) {
  let s = null;
  customerSockets.add(socket);
  ws.on('message', (data) => {
    const text = data.toString();
    stats.framesIn += 1;
    let msg;
    try { msg = JSON.parse(text); } catch { return ws.close(1007, 'not JSON'); }
    if (!s) {
      if (msg.t !== 'hello') return ws.close(1008, 'say hello first');
      latest = String(msg.sessionToken ?? '');
      s = session(latest);
      if (s.customer) s.customer.close(4409, 'another page');
      s.customer = ws;
      s.cache = [];
      s.complete = false;
      return ws.send(JSON.stringify({ t: 'hello', state: s.agents.size ? 'active' : 'idle', agents: s.agents.size }));
    }
    if (msg.t === 'ev') {
      for (const a of s.agents) { a.send(text); stats.framesOut += 1; }
      if (msg.e?.type === 4) { s.cache = []; s.complete = true; }
      if (s.complete) { s.cache.push(text); s.lastAt = Date.now(); }
    }
  });
  ws.on('close', () => {
    customerSockets.delete(socket);
    closedBytes += socket.bytesRead;
    if (s && s.customer === ws) s.customer = null;
  });
}

function agent(ws, token) {
  const s = session(token || latest);
  s.agents.add(ws);
  if (s.customer) s.customer.send(JSON.stringify({ t: 'agent-joined', agents: s.agents.size }));
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data.toString()); } catch { return; }
    if (msg.t === 'join') {
      const frames = s.complete ? s.cache : [];
      ws.send(JSON.stringify({ t: 'cache-begin', n: frames.length }));
      for (const f of frames) ws.send(f);
      ws.send(JSON.stringify({ t: 'cache-end', sinceLastMs: frames.length ? Date.now() - s.lastAt : 0 }));
      if (!frames.length && s.customer) s.customer.send(JSON.stringify({ t: 'snap' }));
    } else if (msg.t === 'ptr' && s.customer) {
      s.customer.send(JSON.stringify({ t: 'ptr', x: msg.x, y: msg.y, vis: msg.vis, click: !!msg.click }));
    }
  });
  ws.on('close', () => s.agents.delete(ws));
}

server.listen(port, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
