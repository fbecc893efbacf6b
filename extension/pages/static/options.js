// Loader for the options page (inline scripts are forbidden by the extension CSP).
import init, { runOptions } from './pkg/options.js';

init({ module_or_path: new URL('./pkg/options_bg.wasm', import.meta.url) })
  .then(() => runOptions())
  .catch((e) => {
    console.error('[cobrowse-agent] options init failed', e);
    document.body.textContent = String(e);
  });
