//! `runtime.Port`: a long-lived channel between a page and the background. It closes when
//! either side goes away, including when the browser stops the background worker.

use cobrowse_agent::sender::MessageSender;
use wasm_bindgen::prelude::*;

use crate::{json, Event, Listener, Result, WebExtError};

#[wasm_bindgen]
extern "C" {
    #[derive(Clone)]
    type JsPort;
    #[wasm_bindgen(method, getter)]
    fn name(this: &JsPort) -> String;
    #[wasm_bindgen(method, getter)]
    fn sender(this: &JsPort) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message(this: &JsPort, message: &JsValue) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn disconnect(this: &JsPort);
    #[wasm_bindgen(method, getter, js_name = onMessage)]
    fn on_message(this: &JsPort) -> Event;
    #[wasm_bindgen(method, getter, js_name = onDisconnect)]
    fn on_disconnect(this: &JsPort) -> Event;
}

#[derive(Clone)]
pub struct Port {
    inner: JsPort,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Port({:?})", self.inner.name())
    }
}

impl Port {
    /// Wraps a port handed over by `runtime.onConnect` (registered in background.js).
    pub fn from_js(value: JsValue) -> Port {
        Port {
            inner: value.unchecked_into(),
        }
    }

    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// Who opened the port (only set on the receiving side).
    pub fn sender(&self) -> MessageSender {
        json::from_js(&self.inner.sender()).unwrap_or_default()
    }

    /// Posts a JSON-serialisable value. Fails if the other side is gone.
    pub fn post<T: serde::Serialize>(&self, message: &T) -> Result<()> {
        let value = json::to_js(message)?;
        self.inner
            .post_message(&value)
            .map_err(|e| WebExtError::from_js("Port.postMessage", e))
    }

    pub fn disconnect(&self) {
        self.inner.disconnect();
    }

    /// Calls `f` with each message's JSON text, while the returned [`Listener`] lives.
    pub fn on_message(&self, mut f: impl FnMut(String) + 'static) -> Listener {
        Listener::add(self.inner.on_message(), move |msg| {
            if let Ok(text) = json::stringify(&msg) {
                f(text)
            }
        })
    }

    /// Calls `f` once the port closed, while the returned [`Listener`] lives.
    pub fn on_disconnect(&self, mut f: impl FnMut() + 'static) -> Listener {
        Listener::add(self.inner.on_disconnect(), move |_| f())
    }

    /// Whether two wrappers hold the same JS port.
    pub fn is_same(&self, other: &Port) -> bool {
        JsValue::from(self.inner.clone()) == JsValue::from(other.inner.clone())
    }
}

/// A port a page's loader opened before its module was ready, with what it kept meanwhile:
/// the loader's `{port, messages, disconnected, release}` (see `extension/pages/static/popup.js`).
pub struct EarlyPort {
    loader: JsValue,
    pub port: Port,
}

impl EarlyPort {
    /// The loader's port, if it opened one.
    pub fn from_js(loader: JsValue) -> Option<EarlyPort> {
        let port = js_sys::Reflect::get(&loader, &JsValue::from_str("port"))
            .ok()
            .filter(JsValue::is_object)?;
        Some(EarlyPort {
            loader,
            port: Port::from_js(port),
        })
    }

    /// Removes the loader's listeners; what they kept (each message's JSON text, in order)
    /// and whether the port closed meanwhile. Call it after adding your own listeners, in the
    /// same task, so that nothing falls between the two.
    pub fn release(self) -> (Vec<String>, bool) {
        let get = |name: &str| js_sys::Reflect::get(&self.loader, &JsValue::from_str(name)).ok();
        if let Some(release) = get("release").and_then(|r| r.dyn_into::<js_sys::Function>().ok()) {
            let _ = release.call0(&self.loader);
        }
        let messages = get("messages")
            .and_then(|m| m.dyn_into::<js_sys::Array>().ok())
            .map(|list| {
                list.iter()
                    .filter_map(|m| json::stringify(&m).ok())
                    .collect()
            })
            .unwrap_or_default();
        (
            messages,
            get("disconnected").and_then(|d| d.as_bool()) == Some(true),
        )
    }
}
