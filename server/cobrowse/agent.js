// The agent's live view of the customer's page: rrweb's Replayer in live mode, fed by the
// relay. Timing uses the agent's clock only (each event is re-timed on arrival: a customer
// clock that is behind would otherwise freeze the view). A view that joins late starts from
// the relay's cache (the last full snapshot and what followed). The agent's pointer and clicks
// go back to the customer's page (pointer mode). Nothing from the recorded page runs here:
// the replay iframe is sandboxed without scripts and the page's CSP allows only this script.
(() => {
  const $ = (id) => document.getElementById(id);
  const stage = $('cb-stage');
  const root = $('cb-replay');
  let replayer = null;
  let started = false;
  let last = 0;
  let stampShift = 0;
  let scale = 1;
  let size = { width: 0, height: 0 };
  let cached = null;
  let ended = false;
  let ws = null;
  let retryMs = 500;
  let readyAt = null;

  function setState(state, text) {
    const el = $('cb-state');
    el.dataset.state = state;
    el.textContent = text;
  }

  function overlay(text) {
    $('cb-overlay-text').textContent = text ?? '';
    $('cb-overlay').hidden = text == null;
  }

  function fit() {
    if (!size.width || !size.height) return;
    scale = Math.min(stage.clientWidth / size.width, stage.clientHeight / size.height, 1);
    root.style.transform = `scale(${scale})`;
    root.style.width = `${size.width}px`;
    root.style.height = `${size.height}px`;
  }

  function fresh(events) {
    if (replayer) {
      try { replayer.destroy(); } catch { /* already gone */ }
    }
    root.replaceChildren();
    const r = new rrwebReplay.Replayer(events, {
      root, liveMode: true, mouseTail: false, triggerFocus: false, UNSAFE_replayCanvas: false,
    });
    r.on('resize', (d) => { size = { width: d.width, height: d.height }; fit(); });
    r.on('custom-event', (e) => { if (e.data?.tag === 'cobrowse-end') showEnded('The customer ended the co-browse.'); });
    r.on('fullsnapshot-rebuilded', () => { if (readyAt === null) readyAt = performance.now(); });
    replayer = r;
    return r;
  }

  function showEnded(text) {
    if (ended) return;
    ended = true;
    setState('ended', 'Ended');
    overlay(text ?? 'The co-browse has ended.');
    $('cb-end').disabled = true;
    // Events still queued in the replay timer may show first; then stop.
    setTimeout(() => { try { replayer?.pause(); } catch { /* done */ } }, 800);
  }

  function live(e) {
    last = Math.max(last, Date.now() - stampShift);
    e.timestamp = last;
    if (e.type === 4 && started) {
      // A new page (or a checkout): start over, so the replayer keeps no old events.
      fresh([]);
      stampShift = 0;
      last = Date.now();
      e.timestamp = last;
      replayer.startLive();
    } else if (!started) {
      if (e.type !== 4) return; // nothing to build on before the page's first event
      fresh([]);
      replayer.startLive();
      started = true;
    }
    replayer.addEvent(e);
  }

  function joinFromCache(events, sinceLastMs) {
    if (!events.length || events[0].type !== 4) {
      started = false;
      return;
    }
    const shift = Date.now() - sinceLastMs - events[events.length - 1].timestamp;
    for (const e of events) e.timestamp += shift;
    const r = fresh(events);
    const t0 = Date.now();
    r.play(Date.now() - events[0].timestamp);
    stampShift = Date.now() - t0;
    last = Date.now() - stampShift;
    started = true;
  }

  function onFrame(msg) {
    switch (msg.t) {
      case 'cache-begin': cached = []; break;
      case 'cache-end':
        joinFromCache(cached ?? [], msg.sinceLastMs ?? 0);
        cached = null;
        if (!ended) setState(started ? 'live' : 'waiting', started ? 'Live' : 'Waiting for the customer’s page…');
        break;
      case 'ev':
        if (cached) cached.push(msg.e);
        else {
          live(msg.e);
          if (!ended && started) setState('live', 'Live');
        }
        break;
      case 'customer-left': if (!ended) { setState('waiting', 'The customer is changing pages…'); } break;
      case 'customer-back': if (!ended) { setState('live', 'Live'); } break;
      case 'end': showEnded(msg.reason === 'agent-exit' ? 'You ended the co-browse.' : 'The co-browse has ended.'); break;
      default: break;
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${location.host}/cobrowse/ws/agent`);
    ws.onopen = () => { retryMs = 500; ws.send(JSON.stringify({ t: 'join' })); };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      onFrame(msg);
    };
    ws.onclose = (c) => {
      if (ended) return;
      if (c.code === 4410) return showEnded('The co-browse has ended.');
      if (c.code === 4401) return showEnded('Open this co-browse from the agent desk.');
      setState('waiting', 'Connection lost, reconnecting…');
      started = false;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }

  // The agent's pointer, in the customer's viewport coordinates, about 30 times a second.
  let pending = null;
  let timer = null;
  function send(o) { if (ws?.readyState === 1 && !ended) ws.send(JSON.stringify(o)); }
  function flush() { timer = null; if (pending) { send(pending); pending = null; } }
  function pointer(ev, extra) {
    const frame = replayer?.iframe;
    if (!frame) return;
    const r = frame.getBoundingClientRect();
    const o = { t: 'ptr', x: Math.round((ev.clientX - r.left) / scale), y: Math.round((ev.clientY - r.top) / scale), vis: true, ...extra };
    if (extra?.click) { send(o); return; }
    pending = o;
    if (!timer) timer = setTimeout(flush, 33);
  }
  stage.addEventListener('mousemove', (ev) => pointer(ev));
  stage.addEventListener('click', (ev) => pointer(ev, { click: true }));
  stage.addEventListener('mouseleave', () => { pending = null; send({ t: 'ptr', x: 0, y: 0, vis: false }); });
  window.addEventListener('resize', fit);
  $('cb-end').addEventListener('click', () => {
    send({ t: 'end' });
    showEnded('You ended the co-browse.');
  });
  // Test and diagnostic hook: what the view shows (never the customer's data itself).
  // `readyAt`: ms after this page's start when the customer's page was first complete here.
  window.cobrowseView = {
    state: () => $('cb-state').dataset.state,
    document: () => replayer?.iframe?.contentDocument ?? null,
    readyAt: () => readyAt,
  };
  connect();
})();
