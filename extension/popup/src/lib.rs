//! `pkg/popup_bg.wasm`: the toolbar popup's module. Everything is in the `pages` crate; this
//! crate only exports the popup's entry point, so the module holds the popup's code and not the
//! options page's.

use wasm_bindgen::prelude::*;

/// Entry point of `popup.html` (see [`pages::run_popup`]).
#[wasm_bindgen(js_name = runPopup)]
pub fn run_popup(early_port: JsValue) {
    pages::run_popup(early_port);
}
