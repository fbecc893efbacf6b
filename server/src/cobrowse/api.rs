//! The Genesys Co-browse REST API: live sessions (`/cobrowse/rest/live`), health, and history.
//!
//! - `POST /cobrowse/rest/live/sessions` creates a session → `{"sessionToken",
//!   "sessionServerName", "customerToken"}`; with `chatId`, `userId`, `secureKey` (a JSON
//!   object or a form) it is bound to that chat, or refused if they do not match one.
//! - `GET /cobrowse/rest/live/sessions/{token}` → `{"sessionToken", "sessionServerName",
//!   "sessionServerUrl"}` while it lives.
//! - `GET /cobrowse/rest/live/users/{userToken}/session/stop` → `{"activationTime",
//!   "deactivationTime"}`: a controller stops its session.
//! - `GET /cobrowse/health`.
//! - `GET /cobrowse/rest/history/sessions/{id}` (an agent of the session or of its chat) →
//!   `{"id", "sessionToken", "creationTime", "activationTime", "deactivationTime", "pages"}`.
//!
//! Creating and looking up are rate-limited per client address (`--per-address-limit`
//! a minute, lookups three times that).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::{ChatIdentity, Cobrowse, SERVER_NAME};
use crate::agent_api::error_response;
use crate::auth::{Caller, Peer};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;

pub fn routes() -> Router<Arc<Cobrowse>> {
    Router::new()
        .route("/cobrowse/rest/live/sessions", post(create))
        .route("/cobrowse/rest/live/sessions/{token}", get(lookup))
        .route(
            "/cobrowse/rest/live/users/{user_token}/session/stop",
            get(stop),
        )
        .route("/cobrowse/rest/history/sessions/{id}", get(history))
        .route(
            "/cobrowse/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
}

fn respond(result: ApiResult<Value>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(e),
    }
}

fn too_many() -> ApiError {
    ApiError::new(429, 4, "too many requests, try again later")
}

/// The chat identity in a JSON object or a form body (or none).
fn binding(headers: &HeaderMap, body: &Bytes) -> ApiResult<Option<ChatIdentity>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let fields: Map<String, Value> = if json {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => return Err(ApiError::new(400, 10, "the body must be a JSON object")),
        }
    } else {
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    };
    ChatIdentity::from_fields(|k| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| v.len() <= 256)
            .map(str::to_owned)
    })
}

async fn create(
    State(c): State<Arc<Cobrowse>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        if !c.limits.allow(
            &format!("create:{}", peer.ip()),
            c.hub.config.per_address_per_minute,
            60_000,
        ) {
            return Err(too_many());
        }
        let s = c.create(binding(&headers, &body)?)?;
        Ok(json!({
            "sessionToken": s.token,
            "sessionServerName": SERVER_NAME,
            "customerToken": s.customer_token,
        }))
    })();
    let mut response = respond(result);
    if response.status().is_success() {
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "gcbSessionServer=cobrowse-server; Path=/cobrowse; SameSite=Lax",
            ),
        );
    }
    response
}

async fn lookup(
    State(c): State<Arc<Cobrowse>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> Response {
    respond((|| {
        if !c.limits.allow(
            &format!("lookup:{}", peer.ip()),
            c.hub.config.per_address_per_minute.saturating_mul(3),
            60_000,
        ) {
            return Err(too_many());
        }
        let s = c.live(&token)?;
        Ok(json!({
            "sessionToken": s.token,
            "sessionServerName": SERVER_NAME,
            "sessionServerUrl": format!("{}/cobrowse/cometd", c.hub.config.base_url),
        }))
    })())
}

async fn stop(State(c): State<Arc<Cobrowse>>, Path(user_token): Path<String>) -> Response {
    respond((|| {
        let s = c.stop(&user_token)?;
        Ok(json!({
            "activationTime": s.activated_ms,
            "deactivationTime": s.deactivated_ms,
        }))
    })())
}

async fn history(
    State(c): State<Arc<Cobrowse>>,
    headers: HeaderMap,
    Peer(peer): Peer,
    Path(id): Path<String>,
) -> Response {
    let agent = c
        .sessions
        .agent_from(
            &c.hub,
            Caller {
                headers: &headers,
                peer,
            },
        )
        .await;
    respond((|| {
        let agent = agent
            .ok_or_else(|| ApiError::new(401, 20, "Access denied: authentication required"))?;
        let not_found = || ApiError::new(404, 6, "no such co-browse session");
        let s = c.hub.store().cobrowse(&id).map_err(|_| not_found())?;
        let chat_agent = s
            .chat_id
            .as_deref()
            .and_then(|chat| c.hub.store().chat(chat).ok())
            .and_then(|chat| chat.agent_id);
        if s.agent_id.as_deref() != Some(agent.as_str())
            && chat_agent.as_deref() != Some(agent.as_str())
        {
            return Err(not_found());
        }
        let pages = c.hub.store().cobrowse_pages(&s.id)?;
        let end = s.deactivated_ms.unwrap_or_else(now_ms);
        let pages: Vec<Value> = pages
            .iter()
            .enumerate()
            .map(|(i, (entered, url))| {
                let left = pages.get(i + 1).map(|(t, _)| *t).unwrap_or(end);
                json!({ "url": url, "enteredTimestamp": entered, "duration": (left - entered).max(0) / 1000 })
            })
            .collect();
        Ok(json!({
            "id": s.id,
            "sessionToken": s.token,
            "creationTime": s.created_ms,
            "activationTime": s.activated_ms,
            "deactivationTime": s.deactivated_ms,
            "pages": pages,
        }))
    })())
}
