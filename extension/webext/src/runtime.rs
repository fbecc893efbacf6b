//! `runtime`: identity, one-shot messages, ports, the options page.

use cobrowse_agent::sender::OwnExtension;
use wasm_bindgen::prelude::*;

use crate::port::Port;
use crate::{await_promise, json, namespace, Result, WebExtError};

#[wasm_bindgen]
extern "C" {
    type Runtime;
    #[wasm_bindgen(method, getter)]
    fn id(this: &Runtime) -> Option<String>;
    #[wasm_bindgen(method, js_name = getURL)]
    fn get_url(this: &Runtime, path: &str) -> String;
    #[wasm_bindgen(method, catch, js_name = sendMessage)]
    fn send_message(
        this: &Runtime,
        message: &JsValue,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn connect(this: &Runtime, info: &JsValue) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = openOptionsPage)]
    fn open_options_page(this: &Runtime) -> std::result::Result<js_sys::Promise, JsValue>;
}

fn runtime() -> Result<Runtime> {
    namespace("runtime", "runtime")
}

/// This extension's id and base URL, as the browser reports them.
pub fn own_extension() -> Result<OwnExtension> {
    let rt = runtime()?;
    let id = rt
        .id()
        .ok_or_else(|| WebExtError::new("runtime.id", "missing"))?;
    Ok(OwnExtension {
        id,
        base_url: rt.get_url(""),
    })
}

/// `runtime.getURL(path)`.
pub fn url(path: &str) -> Result<String> {
    Ok(runtime()?.get_url(path))
}

/// Sends `message` (JSON-serialised) to the background and returns its JSON reply.
pub async fn send_message<Req: serde::Serialize, Reply: serde::de::DeserializeOwned>(
    message: &Req,
) -> Result<Reply> {
    let value = json::to_js(message)?;
    let reply = await_promise("runtime.sendMessage", runtime()?.send_message(&value)).await?;
    json::from_js(&reply)
}

/// Opens a named port to the background (wakes the worker if it is stopped).
pub fn connect(name: &str) -> Result<Port> {
    let info = json::to_js(&serde_json::json!({ "name": name }))?;
    let port = runtime()?
        .connect(&info)
        .map_err(|e| WebExtError::from_js("runtime.connect", e))?;
    Ok(Port::from_js(port))
}

/// Opens the options page (in a tab or the add-ons manager, as the browser prefers).
pub async fn open_options_page() -> Result<()> {
    await_promise("runtime.openOptionsPage", runtime()?.open_options_page()).await?;
    Ok(())
}
