//! What both background globals have (Chrome's service worker, Firefox's event page), reached
//! through `js_sys::global()`: never `window`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A function of the global scope (`fetch`, `setTimeout`, …).
pub fn function(name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(&js_sys::global(), &name.into())
        .ok()?
        .dyn_into()
        .ok()
}

/// A thrown or rejected JS value as text.
pub fn js_err(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
