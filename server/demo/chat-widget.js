// Demo chat widget: the customer side of GMS Chat API v2 over REST (form-encoded), as the
// Genesys chat widgets use it; it builds its own markup, so a page only includes the script. It restores the chat after a reload or a navigation (the
// widget's restoreChat / autoRestore behaviour) from localStorage, and shows every text from
// the server as text (textContent, never innerHTML).
const SERVICE = 'customer-support';
const BASE = `/genesys/2/chat/${SERVICE}`;
const STORE_KEY = 'cobrowse-demo-chat';
const POLL_MS = 1000;

/// What a custom notice carrying a co-browse token starts with (the reference server's
/// documented marker; the agent's desk looks for it).
const COBROWSE_NOTICE_MARKER = 'cobrowse-token:';

const $ = (id) => document.getElementById(id);

/// The widget's markup, built here so that every page of the shop gets the same one.
function mountMarkup() {
  if ($('chat')) return;
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v;
      else if (v === true) e.setAttribute(k, '');
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  };
  const aside = el('aside', { id: 'chat', class: 'chat', 'aria-label': 'Chat with us' },
    el('button', { id: 'chat-open', type: 'button', class: 'chat-open', text: 'Chat with us' }),
    el('section', { id: 'chat-panel', class: 'chat-panel', hidden: true },
      el('header', { class: 'chat-title' }, 'Customer support ',
        el('button', { id: 'chat-close', type: 'button', 'aria-label': 'Minimise', text: '–' })),
      el('form', { id: 'chat-register', class: 'chat-register' },
        el('label', { for: 'chat-name', text: 'Your name' }),
        el('input', { id: 'chat-name', name: 'nickname', required: true, maxlength: '64', autocomplete: 'name' }),
        el('label', { for: 'chat-subject', text: 'Subject' }),
        el('input', { id: 'chat-subject', name: 'subject', maxlength: '128' }),
        el('button', { id: 'chat-start', type: 'submit', text: 'Start chat' })),
      el('div', { id: 'chat-session', class: 'chat-session', hidden: true },
        el('ol', { id: 'chat-log', class: 'chat-log', 'aria-live': 'polite' }),
        el('p', { id: 'chat-typing', class: 'chat-typing', hidden: true }),
        el('form', { id: 'chat-compose', class: 'chat-compose' },
          el('textarea', { id: 'chat-input', rows: '2', maxlength: '4000', placeholder: 'Type a message' }),
          el('button', { id: 'chat-send', type: 'submit', text: 'Send' })),
        el('button', { id: 'chat-end', type: 'button', class: 'chat-end', text: 'End chat' })),
      el('p', { id: 'chat-status', class: 'chat-status', role: 'status' })));
  document.body.append(aside);
}
mountMarkup();
let chat = null; // { chatId, userId, secureKey, alias, nextPosition, agents }
let pollTimer = null;
let typingSent = 0;
let typingStopTimer = null;
const shown = new Set();

function save() {
  if (chat) localStorage.setItem(STORE_KEY, JSON.stringify(chat));
  else localStorage.removeItem(STORE_KEY);
}

function status(text) { $('chat-status').textContent = text; }

async function post(path, params) {
  const body = new URLSearchParams(params);
  const response = await fetch(path, { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const json = await response.json().catch(() => ({}));
  if (!response.ok || json.statusCode !== 0) {
    const advice = json.errors?.[0]?.advice ?? `HTTP ${response.status}`;
    const error = new Error(advice);
    error.chatEnded = json.chatEnded === true;
    throw error;
  }
  return json;
}

function identity() {
  return { userId: chat.userId, secureKey: chat.secureKey, alias: chat.alias };
}

function describe(m) {
  const who = m.from?.nickname ?? '';
  switch (m.type) {
    case 'Message': return { text: m.text ?? '', system: false };
    case 'ParticipantJoined': return { text: m.from?.type === 'Client' ? 'You joined the chat' : `${who} joined the chat`, system: true };
    case 'ParticipantLeft': return { text: m.from?.type === 'Client' ? 'You left the chat' : `${who} left the chat`, system: true };
    case 'PushUrl': return { text: m.text ?? '', system: false, url: m.text };
    case 'Notice': return { text: m.text ?? '', system: true };
    case 'NicknameUpdated': return { text: m.from?.type === 'Client' ? `You are now ${who}` : `${m.text ?? ''} is now ${who}`, system: true };
    default: return null;
  }
}

function render(messages) {
  for (const m of messages) {
    // Who is on the chat: the co-browse adapter asks whether an agent is.
    if (m.from?.type === 'Agent' && !shown.has(m.index)) {
      if (m.type === 'ParticipantJoined') chat.agents = (chat.agents ?? 0) + 1;
      if (m.type === 'ParticipantLeft') chat.agents = Math.max(0, (chat.agents ?? 1) - 1);
    }
    if (m.type === 'TypingStarted' && m.from?.type === 'Agent') {
      $('chat-typing').textContent = `${m.from.nickname} is typing…`;
      $('chat-typing').hidden = false;
      continue;
    }
    if ((m.type === 'TypingStopped' || m.type === 'Message') && m.from?.type === 'Agent') $('chat-typing').hidden = true;
    if (shown.has(m.index)) continue;
    const d = describe(m);
    if (!d) continue;
    shown.add(m.index);
    const li = document.createElement('li');
    li.dataset.index = String(m.index);
    li.dataset.from = m.from?.type ?? 'External';
    if (d.system) li.className = 'system';
    if (!d.system) {
      // Who wrote it, and when: every piece as text.
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = m.from?.type === 'Client' ? 'You' : (m.from?.nickname ?? '');
      li.append(who);
    }
    if (d.url && /^https?:\/\//i.test(d.url)) {
      const a = document.createElement('a');
      a.href = d.url;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      a.textContent = d.url;
      li.append(a);
    } else {
      const body = document.createElement('span');
      body.className = 'body';
      body.dir = 'auto';
      body.textContent = d.text;
      li.append(body);
    }
    if (typeof m.utcTime === 'number') {
      const at = document.createElement('time');
      at.className = 'at';
      at.dateTime = new Date(m.utcTime).toISOString();
      at.textContent = new Date(m.utcTime).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      li.append(at);
    }
    $('chat-log').append(li);
  }
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}

function ended(text) {
  clearTimeout(pollTimer);
  chat = null;
  save();
  $('chat-compose').hidden = true;
  $('chat-end').hidden = true;
  status(text);
}

async function poll() {
  if (!chat) return;
  try {
    const r = await post(`${BASE}/${chat.chatId}/refresh`, { ...identity(), transcriptPosition: chat.nextPosition });
    render(r.messages ?? []);
    chat.nextPosition = r.nextPosition ?? chat.nextPosition;
    if (r.alias) chat.alias = r.alias;
    save();
    status('');
    if (r.chatEnded) return ended('The chat has ended.');
  } catch (e) {
    if (e.chatEnded) return ended('The chat has ended.');
    status(`Connection problem: ${e.message}. Retrying…`);
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

function showSession() {
  $('chat-panel').hidden = false;
  $('chat-open').hidden = true;
  $('chat-register').hidden = true;
  $('chat-session').hidden = false;
  $('chat-compose').hidden = false;
  $('chat-end').hidden = false;
}

async function start(event) {
  event.preventDefault();
  const nickname = $('chat-name').value.trim();
  if (!nickname) return status('Please enter your name.');
  $('chat-start').disabled = true;
  try {
    const r = await post(BASE, { nickname, subject: $('chat-subject').value.trim(), 'userData[_genesys_source]': 'web' });
    chat = { chatId: r.chatId, userId: r.userId, secureKey: r.secureKey, alias: r.alias, nextPosition: 1 };
    save();
    showSession();
    poll();
  } catch (e) {
    status(`Could not start the chat: ${e.message}`);
  } finally {
    $('chat-start').disabled = false;
  }
}

async function send(event) {
  event?.preventDefault();
  const text = $('chat-input').value;
  if (!chat || !text.trim()) return;
  $('chat-input').value = '';
  clearTimeout(typingStopTimer);
  typingSent = 0;
  try {
    await post(`${BASE}/${chat.chatId}/send`, { ...identity(), message: text });
    clearTimeout(pollTimer);
    poll();
  } catch (e) {
    $('chat-input').value = text; // nothing is lost
    status(`Not sent: ${e.message}`);
  }
}

function typing() {
  if (!chat) return;
  const now = Date.now();
  if (now - typingSent > 3000) {
    typingSent = now;
    post(`${BASE}/${chat.chatId}/startTyping`, identity()).catch(() => {});
  }
  clearTimeout(typingStopTimer);
  typingStopTimer = setTimeout(() => {
    typingSent = 0;
    if (chat) post(`${BASE}/${chat.chatId}/stopTyping`, identity()).catch(() => {});
  }, 2000);
}

async function end() {
  if (!chat) return;
  try { await post(`${BASE}/${chat.chatId}/disconnect`, identity()); } catch { /* ended anyway */ }
  ended('You ended the chat.');
}

$('chat-open').addEventListener('click', () => { $('chat-panel').hidden = false; $('chat-open').hidden = true; $('chat-name').focus(); });
$('chat-close').addEventListener('click', () => { $('chat-panel').hidden = true; $('chat-open').hidden = false; });
$('chat-register').addEventListener('submit', start);
$('chat-compose').addEventListener('submit', send);
$('chat-input').addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) send(e); });
$('chat-input').addEventListener('input', typing);
$('chat-end').addEventListener('click', end);

// The External Media Adapter for Genesys Co-browse (`primaryMedia`): Co-browse asks it whether
// an agent is on this customer's chat and passes the session token through it, as a custom
// notice with the documented marker. `getChatIdentity` is the reference server's addition: the
// session is created bound to this chat.
window._genesys = window._genesys ?? {};
window._genesys.cobrowse = Object.assign(window._genesys.cobrowse ?? {}, {
  primaryMedia: {
    initializeAsync(done) { done(); },
    isAgentConnected() { return !!chat && (chat.agents ?? 0) > 0; },
    sendCbSessionToken(token) {
      if (!chat) return;
      post(`${BASE}/${chat.chatId}/customNotice`, { ...identity(), message: `${COBROWSE_NOTICE_MARKER}${token}` })
        .catch((e) => status(`Could not pass the co-browse code: ${e.message}`));
    },
    getChatIdentity() {
      return chat ? { chatId: chat.chatId, userId: chat.userId, secureKey: chat.secureKey } : null;
    },
  },
});

// Restore a chat that was going on before this page loaded.
try { chat = JSON.parse(localStorage.getItem(STORE_KEY) ?? 'null'); } catch { chat = null; }
if (chat?.chatId) {
  chat.nextPosition = 1; // repaint the whole transcript
  chat.agents = 0; // counted again from the transcript
  showSession();
  poll();
}
