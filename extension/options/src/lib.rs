//! `pkg/options_bg.wasm`: the options page's module. Everything is in the `pages` crate; this
//! crate only exports the options page's entry point, so the module holds the options page's
//! code and not the popup's desk.

use wasm_bindgen::prelude::*;

/// Entry point of `options.html` (see [`pages::run_options`]).
#[wasm_bindgen(js_name = runOptions)]
pub fn run_options() {
    pages::run_options();
}
