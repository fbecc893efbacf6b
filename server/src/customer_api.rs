//! The customer API: GMS Chat API v2 over REST, form-encoded, identity (`userId`, `secureKey`,
//! `alias`) on every call after the request. Replies always carry `statusCode`, `chatEnded`,
//! `chatId`, `userId`, `secureKey`, `alias`, `nextPosition` and `messages`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::{json, Map, Value};

use crate::hub::{now_ms, ApiError, ApiResult, CustomerInput, Hub};
use crate::model::{gms_message, ChatRow};
use crate::AppState;

type Params = Vec<(String, String)>;

/// Chats one client address may request per minute, unless configured otherwise.
pub const CHAT_REQUESTS_PER_IP_PER_MINUTE: u32 = 20;
/// Writes (messages, typing, notices…) one chat may make per 10 s, unless configured otherwise.
pub const WRITES_PER_CHAT_PER_10_S: u32 = 30;
/// The longest customer nickname, at a chat request and on `updateNickname`.
pub const MAX_NICKNAME_CHARS: usize = 128;

/// Fixed-window counters, per key.
#[derive(Debug, Default)]
pub struct RateLimits {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimits {
    /// Counts one event for `key`; false once more than `limit` happened in the current window.
    pub fn allow(&self, key: &str, limit: u32, window_ms: i64) -> bool {
        let now = now_ms();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < window_ms);
        }
        let w = windows.entry(key.to_owned()).or_insert((now, 0));
        if now - w.0 >= window_ms {
            *w = (now, 0);
        }
        w.1 += 1;
        w.1 <= limit
    }
}

fn too_many() -> ApiError {
    // statusCode 1: the client may try again (later).
    ApiError::new(429, 4, "too many requests, try again later")
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/genesys/2/chat/{service}", post(request_chat))
        .route(
            "/genesys/2/chat/{service}/{chat_id}/{operation}",
            post(chat_operation),
        )
}

/// A body the form extractor refused (too large, not form-encoded) as a Genesys error a GMS
/// client can read, not axum's plain text.
fn form_refused(rejection: FormRejection) -> Response {
    let http = rejection.status().as_u16();
    let message = if http == 413 {
        format!(
            "the request body is larger than {} KiB",
            crate::MAX_BODY_BYTES / 1024
        )
    } else {
        format!("the request body is not a form: {}", rejection.body_text())
    };
    error_response(ApiError::new(http, 2, message), None)
}

fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn required<'a>(p: &'a Params, name: &str) -> ApiResult<&'a str> {
    param(p, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing(name))
}

fn bounded(p: &Params, name: &str) -> ApiResult<String> {
    let v = required(p, name)?;
    if v.len() > cobrowse_agent::gws::MAX_TEXT_BYTES {
        return Err(ApiError::new(400, 2, format!("{name} is too long")));
    }
    Ok(v.to_owned())
}

/// `userData[key]=value` pairs.
fn user_data(p: &Params) -> Map<String, Value> {
    p.iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("userData[")?.strip_suffix(']')?.to_owned(),
                json!(v),
            ))
        })
        .filter(|(k, _)| !k.is_empty() && k.len() <= 256)
        .collect()
}

fn error_response(e: ApiError, chat: Option<&ChatRow>) -> Response {
    let status =
        axum::http::StatusCode::from_u16(e.http).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    let mut body = json!({
        // GMS: 1 = try again (a server-side failure), 2 = retrying will not help.
        "statusCode": if e.status_code == 4 { 1 } else { 2 },
        "chatEnded": chat.map(Hub::chat_ended_for_customer).unwrap_or(false),
        "messages": [],
        "errors": [{ "code": 100 + e.status_code, "advice": e.message }],
    });
    if let Some(c) = chat {
        body["chatId"] = json!(c.id);
    }
    (status, Json(body)).into_response()
}

/// The common reply, with the transcript from `position` (none when `position` is `None`).
fn reply(hub: &Hub, chat: &ChatRow, position: Option<i64>) -> ApiResult<Value> {
    let chat = hub.store().chat(&chat.id)?;
    let next = hub.store().next_index(&chat.id)?;
    let messages = match position {
        Some(p) => hub.store().messages(&chat.id, p, 1000)?,
        None => Vec::new(),
    };
    let next_position = messages
        .last()
        .map(|m| m.index + 1)
        .unwrap_or(position.unwrap_or(next).min(next));
    Ok(json!({
        "statusCode": 0,
        "chatEnded": Hub::chat_ended_for_customer(&chat),
        "chatId": chat.id,
        "userId": chat.customer_user_id,
        "secureKey": chat.secure_key,
        "alias": chat.alias,
        "nextPosition": next_position,
        "messages": messages.iter().filter_map(gms_message).collect::<Vec<_>>(),
    }))
}

async fn request_chat(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(service): Path<String>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = match form {
        Ok(Form(p)) => p,
        Err(rejection) => return form_refused(rejection),
    };
    let result = (|| -> ApiResult<Value> {
        if !state.limits.allow(
            &format!("ip:{}", peer.ip()),
            state.hub.config.per_address_per_minute,
            60_000,
        ) {
            return Err(too_many());
        }
        if !state.hub.config.services.contains(&service) {
            return Err(ApiError::new(
                404,
                2,
                format!("no chat service named {service}"),
            ));
        }
        let nickname = match (
            param(&p, "nickname"),
            param(&p, "firstName"),
            param(&p, "lastName"),
        ) {
            (Some(n), _, _) if !n.trim().is_empty() => n.trim().to_owned(),
            (_, Some(f), l) if !f.trim().is_empty() => {
                format!("{} {}", f.trim(), l.unwrap_or("").trim())
                    .trim()
                    .to_owned()
            }
            _ => return Err(ApiError::missing("nickname")),
        };
        if nickname.chars().count() > MAX_NICKNAME_CHARS {
            return Err(ApiError::new(400, 2, "nickname is too long"));
        }
        let subject: String = param(&p, "subject")
            .unwrap_or("")
            .chars()
            .take(256)
            .collect();
        let email: String = param(&p, "emailAddress")
            .unwrap_or("")
            .chars()
            .take(256)
            .collect();
        let (chat, messages) =
            state
                .hub
                .request_chat(&service, &nickname, &subject, &email, user_data(&p))?;
        Ok(json!({
            "statusCode": 0,
            "alias": chat.alias,
            "userId": chat.customer_user_id,
            "secureKey": chat.secure_key,
            "chatId": chat.id,
            "chatEnded": false,
            "nextPosition": messages.last().map(|m| m.index + 1).unwrap_or(1),
            "messages": messages.iter().filter_map(gms_message).collect::<Vec<_>>(),
        }))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(e, None),
    }
}

async fn chat_operation(
    State(state): State<AppState>,
    Path((service, chat_id, operation)): Path<(String, String, String)>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = match form {
        Ok(Form(p)) => p,
        Err(rejection) => return form_refused(rejection),
    };
    let hub = &state.hub;
    let chat = match (|| -> ApiResult<ChatRow> {
        if !hub.config.services.contains(&service) {
            return Err(ApiError::new(
                404,
                2,
                format!("no chat service named {service}"),
            ));
        }
        let user_id = required(&p, "userId")?;
        let secure_key = required(&p, "secureKey")?;
        let alias = required(&p, "alias")?;
        let chat = hub.customer_chat(&chat_id, user_id, secure_key)?;
        if chat.alias != alias {
            return Err(ApiError::new(400, 2, "alias does not match this chat"));
        }
        Ok(chat)
    })() {
        Ok(c) => c,
        Err(e) => return error_response(e, None),
    };
    let position = param(&p, "transcriptPosition")
        .and_then(|v| v.parse::<i64>().ok())
        .map(|v| v.max(1));
    if operation != "refresh"
        && !state.limits.allow(
            &format!("chat:{}", chat.id),
            hub.config.chat_writes_per_10_s,
            10_000,
        )
    {
        return error_response(too_many(), Some(&chat));
    }
    let result = (|| -> ApiResult<Value> {
        match operation.as_str() {
            "send" => hub.customer_input(&chat, CustomerInput::Text(bounded(&p, "message")?))?,
            "refresh" => return reply(hub, &chat, Some(position.unwrap_or(1))),
            "startTyping" => hub.customer_input(
                &chat,
                CustomerInput::TypingStarted(param(&p, "message").map(str::to_owned)),
            )?,
            "stopTyping" => hub.customer_input(&chat, CustomerInput::TypingStopped)?,
            "disconnect" => hub.customer_disconnect(&chat)?,
            "customNotice" => {
                hub.customer_input(&chat, CustomerInput::CustomNotice(bounded(&p, "message")?))?
            }
            "pushUrl" => {
                hub.customer_input(&chat, CustomerInput::PushUrl(bounded(&p, "pushUrl")?))?
            }
            "updateNickname" => {
                let nickname = bounded(&p, "nickname")?;
                let nickname = nickname.trim();
                if nickname.is_empty() || nickname.chars().count() > MAX_NICKNAME_CHARS {
                    return Err(ApiError::new(
                        400,
                        2,
                        format!("a nickname is 1 to {MAX_NICKNAME_CHARS} characters"),
                    ));
                }
                hub.customer_update_nickname(&chat, nickname)?
            }
            "updateData" => hub.customer_update_data(&chat, user_data(&p))?,
            other => return Err(ApiError::new(404, 2, format!("unknown operation {other}"))),
        }
        reply(hub, &chat, position)
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(e, Some(&chat)),
    }
}
