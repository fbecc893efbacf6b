//! `tabs`: opening extension pages and links (no `tabs` permission needed for this).

use wasm_bindgen::prelude::*;

use crate::{await_promise, json, namespace, Result};

#[wasm_bindgen]
extern "C" {
    type Tabs;
    #[wasm_bindgen(method, catch)]
    fn create(this: &Tabs, props: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// Opens `url` in a new, active tab.
pub async fn open(url: &str) -> Result<()> {
    let tabs: Tabs = namespace("tabs", "tabs")?;
    let props = json::to_js(&serde_json::json!({ "url": url, "active": true }))?;
    await_promise("tabs.create", tabs.create(&props)).await?;
    Ok(())
}
