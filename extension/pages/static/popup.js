// Loader for the popup (inline scripts are forbidden by the extension CSP).
import init, { runPopup } from './pkg/popup.js';

// The events port opens before the wasm is compiled, so the background reads the desk's
// snapshot meanwhile (and a stopped worker starts meanwhile). What arrives is kept until the
// popup takes the port over (`backend.rs`); the port's name is `EVENTS_PORT_NAME`.
function openEarlyPort() {
  const ext = globalThis.browser ?? globalThis.chrome;
  try {
    const port = ext.runtime.connect({ name: 'events' });
    const early = { port, messages: [], disconnected: false };
    const keep = (message) => early.messages.push(message);
    const gone = () => { early.disconnected = true; };
    port.onMessage.addListener(keep);
    port.onDisconnect.addListener(gone);
    early.release = () => {
      port.onMessage.removeListener(keep);
      port.onDisconnect.removeListener(gone);
    };
    return early;
  } catch (e) {
    // The popup opens its own port and says what is wrong.
    return null;
  }
}

const early = openEarlyPort();
init({ module_or_path: new URL('./pkg/popup_bg.wasm', import.meta.url) })
  .then(() => runPopup(early))
  .catch((e) => {
    console.error('[cobrowse-agent] popup init failed', e);
    document.body.textContent = String(e);
  });
