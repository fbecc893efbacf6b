//! `fetch` from the background (a worker in Chrome, an event page in Firefox: only what both
//! globals have). Host permission for the server's origin lets it through CORS.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Reply headers, names in lower case (as fetch gives them).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// A reply header by name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

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

/// Whether a request carries (and takes) the browser's cookies for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookies {
    /// The HTTP session cookie goes along (`credentials: "include"`).
    Include,
    /// None sent, none stored: to check a password on its own.
    Omit,
}

/// One HTTP request with a deadline, with cookies. Any status comes back as a [`Response`];
/// only network failures and timeouts are errors.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout_ms: u64,
) -> Result<Response, String> {
    request_with(method, url, headers, body, timeout_ms, Cookies::Include).await
}

/// [`request`], choosing whether cookies go along.
pub async fn request_with(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout_ms: u64,
    cookies: Cookies,
) -> Result<Response, String> {
    let global = js_sys::global();
    let fetch = global_function("fetch").ok_or("no fetch in this global")?;
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
    Ok(Response {
        status,
        headers,
        body,
    })
}
