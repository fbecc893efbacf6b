//! Values cross the JS boundary as JSON: exactly what Chrome's messaging does to them, so what
//! works here works over `runtime.sendMessage` and ports (no `Map`s, no `undefined`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::{Result, WebExtError};

/// The `api` of errors from reading a value into a Rust type.
pub(crate) const DESERIALIZE: &str = "deserialize";

/// `JSON.stringify(value)`; `undefined` becomes `null`.
pub fn stringify(value: &JsValue) -> Result<String> {
    if value.is_undefined() {
        return Ok("null".to_owned());
    }
    js_sys::JSON::stringify(value)
        .map_err(|e| WebExtError::from_js("JSON.stringify", e))?
        .as_string()
        .ok_or_else(|| WebExtError::new("JSON.stringify", "not a string"))
}

/// `JSON.parse(text)`.
pub fn parse(text: &str) -> Result<JsValue> {
    js_sys::JSON::parse(text).map_err(|e| WebExtError::from_js("JSON.parse", e))
}

/// A Rust value as a plain JS object.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    let text =
        serde_json::to_string(value).map_err(|e| WebExtError::new("serialize", e.to_string()))?;
    parse(&text)
}

/// A JS value as a Rust value.
pub fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T> {
    let text = stringify(value)?;
    cobrowse_agent::json::from_str(&text).map_err(|e| WebExtError::new(DESERIALIZE, e.to_string()))
}
