// Background entry point, shared by Chrome's module service worker and Firefox's module event
// page. JS owns listener registration, Rust owns behaviour: every listener is added here,
// synchronously, during the first evaluation (a worker woken by an event only delivers it to
// listeners registered by then), and each forwards to wasm once init has resolved. No
// top-level await (forbidden in service workers): the init promise is kept instead.
import init, * as wasm from './pkg/background.js';

const api = globalThis.browser ?? globalThis.chrome;

const ready = init({ module_or_path: new URL('./pkg/background_bg.wasm', import.meta.url) })
  .then(() => wasm.start());
ready.catch((e) => console.error('[cobrowse-agent] background init failed', e));

const forward = (name, f) => ready.then(f).catch((e) => console.error(`[cobrowse-agent] ${name}`, e));

api.runtime.onInstalled.addListener((details) => forward('onInstalled', () => wasm.onInstalled(details)));
api.runtime.onStartup.addListener(() => forward('onStartup', () => wasm.onStartup()));
api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  ready
    .then(() => wasm.handleMessage(message, sender))
    .then(sendResponse, (e) => {
      console.error('[cobrowse-agent] onMessage', e);
      sendResponse({ type: 'refused', data: { reason: 'storage_failed', message_key: 'errorInternal', detail: String(e) } });
    });
  return true; // the reply is sent asynchronously
});
api.runtime.onConnect.addListener((port) => forward('onConnect', () => wasm.onConnect(port)));
api.storage.onChanged.addListener((changes, area) => forward('storage.onChanged', () => wasm.onStorageChanged(changes, area)));
api.alarms.onAlarm.addListener((alarm) => forward('onAlarm', () => wasm.onAlarm(alarm)));
api.notifications.onClicked.addListener((id) => forward('notifications.onClicked', () => wasm.onNotificationClicked(id)));
