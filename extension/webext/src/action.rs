//! `action`: the toolbar button's badge.

use wasm_bindgen::prelude::*;

use crate::{await_promise, json, namespace, Result};

#[wasm_bindgen]
extern "C" {
    type Action;
    #[wasm_bindgen(method, catch, js_name = setBadgeText)]
    fn set_badge_text(
        this: &Action,
        details: &JsValue,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setBadgeBackgroundColor)]
    fn set_badge_background_color(
        this: &Action,
        details: &JsValue,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

fn action() -> Result<Action> {
    namespace("action", "action")
}

/// Sets the badge text (empty string clears it).
pub async fn set_badge_text(text: &str) -> Result<()> {
    let details = json::to_js(&serde_json::json!({ "text": text }))?;
    await_promise("action.setBadgeText", action()?.set_badge_text(&details)).await?;
    Ok(())
}

/// Sets the badge colour (CSS colour string).
pub async fn set_badge_color(color: &str) -> Result<()> {
    let details = json::to_js(&serde_json::json!({ "color": color }))?;
    await_promise(
        "action.setBadgeBackgroundColor",
        action()?.set_badge_background_color(&details),
    )
    .await?;
    Ok(())
}
