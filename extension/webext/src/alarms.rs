//! `alarms`: the background's safety-net timer (a stopped worker is woken by `onAlarm`, which
//! background.js registers).

use wasm_bindgen::prelude::*;

use crate::{await_promise, json, namespace, Result};

#[wasm_bindgen]
extern "C" {
    type Alarms;
    #[wasm_bindgen(method, catch)]
    fn create(this: &Alarms, name: &str, info: &JsValue) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Alarms, name: &str) -> std::result::Result<js_sys::Promise, JsValue>;
}

fn alarms() -> Result<Alarms> {
    namespace("alarms", "alarms")
}

/// Creates (or replaces) a repeating alarm. Packed extensions get at most one fire per 30 s.
pub fn create_repeating(name: &str, period_minutes: f64) -> Result<()> {
    let info = json::to_js(&serde_json::json!({
        "delayInMinutes": period_minutes,
        "periodInMinutes": period_minutes,
    }))?;
    // Chrome returns a promise, Firefox returns undefined; neither carries a value we need.
    alarms()?
        .create(name, &info)
        .map_err(|e| crate::WebExtError::from_js("alarms.create", e))?;
    Ok(())
}

/// Whether an alarm of that name exists.
pub async fn exists(name: &str) -> Result<bool> {
    let alarm = await_promise("alarms.get", alarms()?.get(name)).await?;
    Ok(!alarm.is_undefined() && !alarm.is_null())
}

/// The `name` of an alarm object passed to `alarms.onAlarm`.
pub fn alarm_name(alarm: &JsValue) -> Option<String> {
    js_sys::Reflect::get(alarm, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
}
