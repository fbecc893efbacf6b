//! `permissions`: optional host permissions for the configured server.
//!
//! Firefox treats MV3 host permissions as optional and grants them only from a user gesture,
//! before any `await`: [`request_origins`] therefore starts the request synchronously and
//! returns a future for its answer. Call it first thing in a click handler.

use std::future::Future;

use wasm_bindgen::prelude::*;

use crate::{await_promise, json, namespace, Result, WebExtError};

#[wasm_bindgen]
extern "C" {
    type Permissions;
    #[wasm_bindgen(method, catch)]
    fn request(
        this: &Permissions,
        perms: &JsValue,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn contains(
        this: &Permissions,
        perms: &JsValue,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

fn origins_value(patterns: &[String]) -> Result<JsValue> {
    json::to_js(&serde_json::json!({ "origins": patterns }))
}

/// Asks for host permission on `patterns`. The request is issued before this returns (inside
/// the user gesture); the future resolves to whether it was granted.
pub fn request_origins(patterns: &[String]) -> impl Future<Output = Result<bool>> {
    let started = namespace::<Permissions>("permissions", "permissions")
        .and_then(|p| Ok(p.request(&origins_value(patterns)?)));
    async move {
        let granted = await_promise("permissions.request", started?).await?;
        granted
            .as_bool()
            .ok_or_else(|| WebExtError::new("permissions.request", "not a boolean"))
    }
}

/// Whether host permission on `patterns` is held.
pub async fn contains_origins(patterns: &[String]) -> Result<bool> {
    let p: Permissions = namespace("permissions", "permissions")?;
    let held = await_promise(
        "permissions.contains",
        p.contains(&origins_value(patterns)?),
    )
    .await?;
    Ok(held.as_bool().unwrap_or(false))
}
