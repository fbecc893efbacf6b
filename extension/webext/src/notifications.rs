//! `notifications`: system notifications. Needs the `notifications` permission, which the
//! manifest requests only once a feature uses it.

use wasm_bindgen::prelude::*;

use crate::{await_promise, json, namespace, Result};

#[wasm_bindgen]
extern "C" {
    type Notifications;
    #[wasm_bindgen(method, catch)]
    fn create(
        this: &Notifications,
        id: &str,
        options: &JsValue,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn clear(this: &Notifications, id: &str) -> std::result::Result<js_sys::Promise, JsValue>;
}

fn notifications() -> Result<Notifications> {
    namespace("notifications", "notifications")
}

/// A basic notification. `icon_path` is relative to the extension root.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BasicNotification<'a> {
    pub title: &'a str,
    pub message: &'a str,
    #[serde(rename = "iconUrl")]
    pub icon_path: &'a str,
}

/// Shows (or replaces) the notification `id`.
pub async fn show(id: &str, n: &BasicNotification<'_>) -> Result<()> {
    let mut options = serde_json::to_value(n).unwrap_or_default();
    options["type"] = "basic".into();
    let options = json::to_js(&options)?;
    await_promise(
        "notifications.create",
        notifications()?.create(id, &options),
    )
    .await?;
    Ok(())
}

/// Removes the notification `id`.
pub async fn clear(id: &str) -> Result<()> {
    await_promise("notifications.clear", notifications()?.clear(id)).await?;
    Ok(())
}
