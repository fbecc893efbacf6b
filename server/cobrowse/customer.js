// The customer's side of Co-browse, configured the Genesys way:
//
//   window._genesys = { cobrowse: { primaryMedia: adapter } };
//   <script src="/cobrowse/vendor/record.min.js"></script>
//   <script src="/cobrowse/customer.js"></script>
//
// `primaryMedia` is Genesys' External Media Adapter for the site's own chat:
// `initializeAsync(done)`, `isAgentConnected()` (an agent is on this customer's chat) and
// `sendCbSessionToken(token)` (pass the token to that agent through the chat); plus our
// addition `getChatIdentity()` → `{chatId, userId, secureKey}`, with which the session is bound
// to the chat, so the agent's desk can prove the token belongs to it.
//
// On chat with an agent, one click on Co-browse creates the bound session and passes the token:
// nothing to read out. Not on chat, it shows the nine digits to read to the agent. The page is
// recorded with rrweb in pointer mode (passwords, `data-private` values and text masked in the
// browser, `data-block` elements left out) and streamed to the server; the co-browse follows the
// customer to other pages of the site (the session lives in sessionStorage of this tab).
(() => {
  const STORE = 'genesys-cobrowse-session';
  const MASKED = '[data-private]';
  let session = null; // { sessionToken, customerToken, bound }
  let ws = null;
  let stopRecording = null;
  let seq = 0;
  let queue = [];
  let connected = false;
  let ended = false;
  let retryMs = 500;

  const config = () => (window._genesys && window._genesys.cobrowse) || {};
  const media = () => config().primaryMedia || null;

  // ---- the built-in UI (text only, styled through the CSSOM: no inline-style CSP issue) ----
  const ui = document.createElement('div');
  ui.id = 'cb-ui';
  ui.setAttribute('role', 'region');
  ui.setAttribute('aria-label', 'Co-browse');
  const button = document.createElement('button');
  button.id = 'cb-start';
  button.type = 'button';
  button.textContent = 'Co-browse';
  const status = document.createElement('p');
  status.id = 'cb-status';
  status.setAttribute('role', 'status');
  const code = document.createElement('p');
  code.id = 'cb-code';
  code.hidden = true;
  const end = document.createElement('button');
  end.id = 'cb-end';
  end.type = 'button';
  end.textContent = 'End co-browse';
  end.hidden = true;
  ui.append(button, status, code, end);
  for (const [k, v] of Object.entries({ position: 'fixed', right: '1rem', top: '1rem', zIndex: '2147483646', background: '#fff', border: '1px solid #ccd', borderRadius: '.5rem', padding: '.5rem .75rem', maxWidth: '18rem', font: '14px/1.4 system-ui, sans-serif', boxShadow: '0 2px 8px rgba(0,0,0,.15)' })) ui.style[k] = v;

  // The agent's pointer: a 0×0 fixed host left out of the recording (no feedback loop).
  const host = document.createElement('div');
  host.id = 'cb-agent-pointer';
  for (const [k, v] of Object.entries({ position: 'fixed', left: '0', top: '0', width: '0', height: '0', zIndex: '2147483647', pointerEvents: 'none' })) host.style[k] = v;
  const dot = document.createElement('div');
  dot.id = 'cb-agent-dot';
  for (const [k, v] of Object.entries({ position: 'absolute', width: '18px', height: '18px', margin: '-9px 0 0 -9px', borderRadius: '50%', background: 'rgba(230,30,90,.85)', display: 'none', transition: 'box-shadow .3s' })) dot.style[k] = v;
  host.append(dot);

  function say(text) { status.textContent = text; status.dataset.text = text; }
  function setState(state) { ui.dataset.state = state; }

  function save() {
    if (session) sessionStorage.setItem(STORE, JSON.stringify(session));
    else sessionStorage.removeItem(STORE);
  }

  // ---- recording ----
  function mask(text, el) {
    const secret = (el && (el.type === 'password' || (el.closest && el.closest(MASKED)))) ||
      /cc-|password/.test((el && el.autocomplete) || '');
    return secret ? '*'.repeat(text.length) : text;
  }

  function send(frame) {
    const text = JSON.stringify(frame);
    if (connected && ws && ws.readyState === 1) ws.send(text);
    else if (queue.length < 2000) queue.push(text);
  }

  function record() {
    if (stopRecording || !window.rrwebRecord) return;
    stopRecording = window.rrwebRecord.record({
      emit(e) { send({ t: 'ev', seq: ++seq, e }); },
      // Every input goes through `mask`: passwords, payment fields and anything inside
      // [data-private] leave the browser as stars; rrweb's default would let e-mail through.
      maskAllInputs: true,
      maskInputFn: mask,
      maskTextSelector: MASKED,
      blockSelector: '#cb-agent-pointer, #cb-ui, [data-block]',
      sampling: { mousemove: 50, mousemoveCallback: 100, scroll: 100 },
      checkoutEveryNms: 10 * 60 * 1000,
      slimDOMOptions: 'all',
      recordCanvas: false,
    });
  }

  function stop() {
    if (stopRecording) { try { stopRecording(); } catch { /* stopped */ } }
    stopRecording = null;
  }

  // ---- the stream ----
  function connect() {
    if (!session || ended) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${location.host}/cobrowse/ws/customer`);
    connected = false;
    ws.onopen = () => {
      ws.send(JSON.stringify({ t: 'hello', sessionToken: session.sessionToken, customerToken: session.customerToken, href: location.href }));
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.t === 'hello') {
        connected = true;
        retryMs = 500;
        seq = 0;
        if (stopRecording) {
          // Back after a drop: the server starts over from a fresh full snapshot.
          queue = [];
          window.rrwebRecord.record.takeFullSnapshot(true);
        } else {
          record();
        }
        for (const t of queue.splice(0)) ws.send(t);
        showState(msg.state === 'active' ? 'joined' : 'waiting');
      } else if (msg.t === 'agent-joined') showState('joined');
      else if (msg.t === 'snap' && stopRecording) window.rrwebRecord.record.takeFullSnapshot(true);
      else if (msg.t === 'ptr') {
        dot.style.display = msg.vis === false ? 'none' : 'block';
        dot.style.transform = `translate(${Number(msg.x) || 0}px, ${Number(msg.y) || 0}px)`;
        if (msg.click) { dot.style.boxShadow = '0 0 0 14px rgba(230,30,90,.35)'; setTimeout(() => { dot.style.boxShadow = 'none'; }, 300); }
        dot.dataset.x = String(msg.x);
        dot.dataset.y = String(msg.y);
      } else if (msg.t === 'end') finish('The co-browse has ended.');
    };
    ws.onclose = (c) => {
      connected = false;
      if (ended) return;
      if (c.code === 4403 || c.code === 4410 || c.code === 1000) return finish('The co-browse has ended.');
      if (c.code === 4409) return; // this tab's co-browse went on in another page
      say('Reconnecting…');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }

  function showState(state) {
    setState(state);
    button.hidden = true;
    end.hidden = false;
    if (state === 'joined') {
      say('The agent can see this page and points with the red dot. They cannot type or click for you.');
      code.hidden = true;
    } else if (session.bound) say('Waiting for the agent to join…');
    else say('Read this code to the agent:');
  }

  function finish(text) {
    ended = true;
    stop();
    session = null;
    save();
    try { ws && ws.close(1000, 'ended'); } catch { /* closed */ }
    dot.style.display = 'none';
    setState('ended');
    say(text);
    code.hidden = true;
    end.hidden = true;
    button.hidden = false;
    button.disabled = false;
  }

  async function start() {
    button.disabled = true;
    ended = false;
    const adapter = media();
    const onChat = !!(adapter && adapter.isAgentConnected && adapter.isAgentConnected());
    const identity = onChat && adapter.getChatIdentity ? adapter.getChatIdentity() : null;
    try {
      const r = await fetch('/cobrowse/rest/live/sessions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(identity || {}),
      });
      const json = await r.json().catch(() => ({}));
      if (!r.ok || !json.sessionToken) throw new Error(json.statusMessage || `HTTP ${r.status}`);
      session = { sessionToken: json.sessionToken, customerToken: json.customerToken, bound: !!identity };
      save();
      if (identity) {
        // The agent's desk gets the token through the chat: nothing to read out.
        adapter.sendCbSessionToken(json.sessionToken);
      } else {
        code.textContent = json.sessionToken.replace(/(\d{3})(\d{3})(\d{3})/, '$1 $2 $3');
        code.hidden = false;
      }
      showState('waiting');
      connect();
    } catch (e) {
      say(`Co-browse could not start: ${e.message}`);
      button.disabled = false;
    }
  }

  button.addEventListener('click', start);
  end.addEventListener('click', () => {
    if (stopRecording) window.rrwebRecord.record.addCustomEvent('cobrowse-end', { reason: 'customer' });
    send({ t: 'end', reason: 'customer' });
    setTimeout(() => finish('You ended the co-browse.'), 50);
  });

  function mount() {
    document.body.append(ui);
    document.documentElement.append(host);
    const adapter = media();
    const ready = () => {
      try { session = JSON.parse(sessionStorage.getItem(STORE) || 'null'); } catch { session = null; }
      if (session && session.sessionToken) {
        showState('waiting');
        connect();
      } else {
        setState('off');
      }
    };
    if (adapter && adapter.initializeAsync) adapter.initializeAsync(ready);
    else ready();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mount);
  else mount();
})();
