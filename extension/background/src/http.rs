//! `fetch` from the background (a worker in Chrome, an event page in Firefox: only what both
//! globals have). Host permission for the server's origin lets it through CORS.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

pub fn js_err(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn global_function(name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(&js_sys::global(), &name.into())
        .ok()?
        .dyn_into()
        .ok()
}

/// One HTTP request with a deadline. Any status comes back as a [`Response`]; only network
/// failures and timeouts are errors.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout_ms: u64,
) -> Result<Response, String> {
    let global = js_sys::global();
    let fetch = global_function("fetch").ok_or("no fetch in this global")?;
    let init = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&init, &k.into(), v).map_err(js_err);
    set("method", &method.into())?;
    if let Some(b) = body {
        set("body", &b.into())?;
    }
    set("credentials", &"include".into())?;
    let h = js_sys::Object::new();
    if body.is_some() {
        js_sys::Reflect::set(
            &h,
            &"Content-Type".into(),
            &"application/json;charset=UTF-8".into(),
        )
        .map_err(js_err)?;
    }
    for (k, v) in headers {
        js_sys::Reflect::set(&h, &k.into(), &v.into()).map_err(js_err)?;
    }
    set("headers", &h)?;
    let abort_signal = js_sys::Reflect::get(&global, &"AbortSignal".into()).map_err(js_err)?;
    if let Ok(timeout) = js_sys::Reflect::get(&abort_signal, &"timeout".into())
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    {
        set(
            "signal",
            &timeout
                .call1(&abort_signal, &JsValue::from_f64(timeout_ms as f64))
                .map_err(js_err)?,
        )?;
    }
    let promise: js_sys::Promise = fetch
        .call2(&global, &url.into(), &init)
        .map_err(js_err)?
        .unchecked_into();
    let response = JsFuture::from(promise).await.map_err(js_err)?;
    let status = js_sys::Reflect::get(&response, &"status".into())
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or(0.0) as u16;
    let text_fn: js_sys::Function = js_sys::Reflect::get(&response, &"text".into())
        .map_err(js_err)?
        .dyn_into()
        .map_err(|_| "no text()")?;
    let text_promise: js_sys::Promise = text_fn.call0(&response).map_err(js_err)?.unchecked_into();
    let body = JsFuture::from(text_promise)
        .await
        .map_err(js_err)?
        .as_string()
        .unwrap_or_default();
    Ok(Response { status, body })
}
