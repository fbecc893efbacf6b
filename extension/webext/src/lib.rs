//! The only crate that touches the WebExtension APIs (`browser` in Firefox, `chrome` in
//! Chromium).
//!
//! It picks `globalThis.browser ?? globalThis.chrome` at run time, so one wasm build serves
//! both browsers, and it never assumes a `window` (the Chrome background is a service worker).
//! Every call is promise-based and every JS error is converted exactly once, here, into a
//! [`WebExtError`] naming the API that failed. Values cross the boundary as JSON (what Chrome's
//! messaging does anyway): see [`json`]. Nothing in here decides behaviour; callers do.
//!
//! Every wasm module of the extension links this crate, so it also names their memory
//! allocator, once: see [`allocator`].

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

pub mod action;
pub mod alarms;
pub mod allocator;
pub mod i18n;
pub mod json;
pub mod notifications;
pub mod permissions;
pub mod port;
pub mod runtime;
pub mod storage;
pub mod tabs;

/// A failed extension API call: which API, and the browser's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{api}: {message}")]
pub struct WebExtError {
    pub api: &'static str,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, WebExtError>;

impl WebExtError {
    pub(crate) fn new(api: &'static str, message: impl Into<String>) -> WebExtError {
        WebExtError {
            api,
            message: message.into(),
        }
    }

    /// A stored or received value that does not have the shape asked for (e.g. written by an
    /// older build), as opposed to an API that failed.
    pub fn is_unreadable_value(&self) -> bool {
        self.api == json::DESERIALIZE
    }

    /// The one place a thrown/rejected JS value becomes a Rust error.
    pub(crate) fn from_js(api: &'static str, value: JsValue) -> WebExtError {
        let message = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        WebExtError { api, message }
    }
}

/// `globalThis.browser ?? globalThis.chrome`.
fn extension_api() -> Result<JsValue> {
    let global = js_sys::global();
    for name in ["browser", "chrome"] {
        if let Ok(v) = js_sys::Reflect::get(&global, &JsValue::from_str(name)) {
            // A plain web page in Chromium has a `chrome` object without `runtime.id`.
            let has_runtime = js_sys::Reflect::get(&v, &"runtime".into())
                .map(|r| r.is_object())
                .unwrap_or(false);
            if v.is_object() && has_runtime {
                return Ok(v);
            }
        }
    }
    Err(WebExtError::new(
        "extension",
        "no extension API (browser/chrome) in this global",
    ))
}

/// `extension_api()[name]` as the binding type `T`; an error if the API is absent (missing
/// permission, or not an extension context).
fn namespace<T: JsCast>(api: &'static str, name: &str) -> Result<T> {
    let root = extension_api()?;
    let ns = js_sys::Reflect::get(&root, &JsValue::from_str(name))
        .map_err(|e| WebExtError::from_js(api, e))?;
    if ns.is_undefined() || ns.is_null() {
        return Err(WebExtError::new(
            api,
            format!("`{name}` is not available (permission missing?)"),
        ));
    }
    Ok(ns.unchecked_into())
}

/// Awaits a promise returned by an API, converting its rejection.
async fn await_promise(
    api: &'static str,
    promise: std::result::Result<js_sys::Promise, JsValue>,
) -> Result<JsValue> {
    let promise = promise.map_err(|e| WebExtError::from_js(api, e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| WebExtError::from_js(api, e))
}

/// `true` when this code runs in an extension context (the API object exists).
pub fn is_extension_context() -> bool {
    extension_api().is_ok()
}

/// Milliseconds since the epoch (works in a worker, a window and an event page).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Logs to the background's or page's console.
pub fn log(message: &str) {
    web_console(message, false);
}

/// Logs an error to the console.
pub fn log_error(message: &str) {
    web_console(message, true);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(s: &str);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
}

fn web_console(message: &str, error: bool) {
    if error {
        console_error(message);
    } else {
        console_log(message);
    }
}

/// A JS `events.Event` (`addListener` / `removeListener`).
#[wasm_bindgen]
extern "C" {
    pub(crate) type Event;
    #[wasm_bindgen(method, js_name = addListener)]
    fn add_listener(this: &Event, f: &js_sys::Function);
    #[wasm_bindgen(method, js_name = removeListener)]
    fn remove_listener(this: &Event, f: &js_sys::Function);
}

/// Keeps a Rust closure registered on an `events.Event`; dropping it removes the listener, so
/// a closure is never called after it was freed.
pub struct Listener {
    event: Event,
    closure: Closure<dyn FnMut(JsValue)>,
}

impl Listener {
    pub(crate) fn add(event: Event, f: impl FnMut(JsValue) + 'static) -> Listener {
        let closure = Closure::<dyn FnMut(JsValue)>::new(f);
        event.add_listener(closure.as_ref().unchecked_ref());
        Listener { event, closure }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.event
            .remove_listener(self.closure.as_ref().unchecked_ref());
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}
