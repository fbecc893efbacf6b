//! The agents' verification (our addition, under `/api/v2/me` and authenticated like every
//! agent call, CSRF where on): `POST /api/v2/me/cobrowse/verifications` with
//! `{"chatId", "sessionToken"}` asks "is this token a live session bound to chat C, which I
//! hold?". Only a full match answers:
//!
//! ```json
//! {"statusCode": 0, "cobrowse": {"sessionToken": "…", "chatId": "…", "state": "Idle",
//!  "expiresAt": 1764000300000, "sessionHistoryId": "…",
//!  "joinTicket": "…", "joinTicketExpiresAt": 1764000060000,
//!  "joinUrl": "http://…/cobrowse/agent.html?ticket=…"}}
//! ```
//!
//! Every other case (unknown, ended, unbound, another chat, another agent's chat) gets the same
//! HTTP 404 `{"statusCode": 6, "statusMessage": "no live co-browse session for this chat"}`, so
//! it is no oracle for guessing tokens. An agent may ask [`super::CobrowseConfig`]'s
//! `verifications_per_minute` times a minute; beyond, 429.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::agent_api::with_agent;
use crate::auth::Peer;
use crate::error::{ApiError, ApiResult};
use crate::store::CobrowseState;
use crate::AppState;

pub const PATH: &str = "/api/v2/me/cobrowse/verifications";

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, post(verify))
}

fn no_match() -> ApiError {
    ApiError::new(404, 6, "no live co-browse session for this chat")
}

fn field<'a>(body: &'a Value, name: &str) -> ApiResult<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .ok_or_else(|| ApiError::missing(name))
}

async fn verify(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
    body: Bytes,
) -> Response {
    with_agent(&state, &method, &headers, peer, |agent| {
        let c = &state.cobrowse;
        let limit = c.config.verifications_per_minute;
        if !c
            .limits
            .allow(&format!("verify:{}", agent.agent_id), limit, 60_000)
        {
            return Err(ApiError::new(
                429,
                4,
                "too many co-browse verifications, try again in a minute",
            ));
        }
        let body: Value = serde_json::from_slice(&body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::new(400, 10, "the body must be a JSON object"))?;
        let chat_id = field(&body, "chatId")?;
        let token = field(&body, "sessionToken")?;
        let verified = c
            .verify(&agent.agent_id, chat_id, token)?
            .ok_or_else(no_match)?;
        let s = &verified.session;
        let state = match s.state {
            CobrowseState::Idle => "Idle",
            CobrowseState::Active => "Active",
            CobrowseState::Ended => "Ended",
        };
        Ok(json!({
            "statusCode": 0,
            "cobrowse": {
                "sessionToken": s.token,
                "chatId": chat_id,
                "state": state,
                "expiresAt": (s.state == CobrowseState::Idle).then_some(s.idle_deadline_ms),
                "sessionHistoryId": s.id,
                "joinTicket": verified.ticket,
                "joinTicketExpiresAt": verified.ticket_expires_ms,
                "joinUrl": format!("{}/cobrowse/agent.html?ticket={}", c.hub.config.base_url, verified.ticket),
            }
        }))
    }).await
}
