// Loader for the popup (inline scripts are forbidden by the extension CSP).
import init, { runPopup } from './pkg/popup.js';

init({ module_or_path: new URL('./pkg/popup_bg.wasm', import.meta.url) })
  .then(() => runPopup())
  .catch((e) => {
    console.error('[cobrowse-agent] popup init failed', e);
    document.body.textContent = String(e);
  });
