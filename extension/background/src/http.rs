//! `fetch` from the background (a worker in Chrome, an event page in Firefox: only what both
//! globals have). Host permission for the server's origin lets it through CORS.

use cobrowse_agent::gws::{Cookies, HttpReply};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::global::{self, js_err};

/// The reply's headers as name/value pairs (`Headers` is iterable as `[name, value]`).
fn headers_of(response: &JsValue) -> Vec<(String, String)> {
    let Ok(headers) = js_sys::Reflect::get(response, &"headers".into()) else {
        return Vec::new();
    };
    let Ok(Some(entries)) = js_sys::try_iter(&headers) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pair: js_sys::Array = entry.ok()?.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// One HTTP request with a deadline. Any status comes back as an [`HttpReply`]; only network
/// failures and timeouts are errors.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout_ms: u64,
    cookies: Cookies,
) -> Result<HttpReply, String> {
    let global = js_sys::global();
    let fetch = global::function("fetch").ok_or("no fetch in this global")?;
    let init = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&init, &k.into(), v).map_err(js_err);
    set("method", &method.into())?;
    if let Some(b) = body {
        set("body", &b.into())?;
    }
    let credentials = match cookies {
        Cookies::Include => "include",
        Cookies::Omit => "omit",
    };
    set("credentials", &credentials.into())?;
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
    let headers = headers_of(&response);
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
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}
