//! The agent API: a Genesys Web Services API v2 subset (JSON exactly as GWS shapes it).
//! Replies are `{"statusCode": 0, ...}` or an error with `statusMessage`; results of chat
//! operations arrive as CometD notifications on `/v2/me/chats`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use cobrowse_agent::gws::{OperationName as Op, MAX_TEXT_BYTES, NOTIFICATIONS_TOKEN_HEADER};

use crate::auth::{Agent, Caller, Peer};
use crate::customer_api::MAX_NICKNAME_CHARS;
use crate::hub::{AgentOp, ApiError, ApiResult};
use crate::model::{gws_chat, gws_message, AgentChatState};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/me", get(get_me).post(post_me))
        .route("/api/v2/me/channels/{channel}", post(post_channel))
        .route("/api/v2/me/chats", get(get_chats))
        .route("/api/v2/me/chats/{id}", post(post_chat))
        .route("/api/v2/me/chats/{id}/messages", get(get_messages))
}

pub fn error_response(e: ApiError) -> Response {
    let status =
        axum::http::StatusCode::from_u16(e.http).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({ "statusCode": e.status_code, "statusMessage": e.message })),
    )
        .into_response()
}

/// Authenticates (and checks CSRF on writes), runs `f`, and decorates the reply with the
/// session cookie and CSRF headers.
pub(crate) async fn with_agent(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    f: impl FnOnce(&Agent) -> ApiResult<Value>,
) -> Response {
    let agent = match state
        .sessions
        .authenticate(&state.hub, Caller { headers, peer })
        .await
    {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    if *method != Method::GET && !is_json(headers) {
        // A form or text/plain body is what a cross-site page can send without asking.
        return error_response(ApiError::new(
            415,
            10,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    if state.hub.config.csrf && *method != Method::GET {
        let sent = headers.get("X-CSRF-TOKEN").and_then(|v| v.to_str().ok());
        if agent.set_cookie.is_some() || sent != Some(agent.csrf_token.as_str()) {
            tracing::warn!(agent = %agent.agent_id, "write refused: missing or invalid CSRF token");
            return (
                axum::http::StatusCode::FORBIDDEN,
                "Missing or invalid Csrf token",
            )
                .into_response();
        }
    }
    let mut response = match f(&agent) {
        Ok(body) => Json(body).into_response(),
        Err(e) => error_response(e),
    };
    let h = response.headers_mut();
    if let Some(c) = agent
        .set_cookie
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        h.insert(axum::http::header::SET_COOKIE, c);
    }
    if state.hub.config.csrf && *method == Method::GET {
        h.insert("X-CSRF-HEADER", HeaderValue::from_static("X-CSRF-TOKEN"));
        if let Ok(v) = HeaderValue::from_str(&agent.csrf_token) {
            h.insert("X-CSRF-TOKEN", v);
        }
    }
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

fn parse_body(body: &Bytes) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::new(400, 10, "the body must be a JSON object")),
    }
}

fn unsupported(operation: &str) -> ApiError {
    ApiError::new(400, 10, format!("unsupported operationName {operation}"))
}

/// The body's `operationName`: one we know, or the unsupported name.
fn operation(body: &Map<String, Value>) -> ApiResult<Result<Op, &str>> {
    let name = body
        .get("operationName")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("operationName"))?;
    Ok(Op::parse(name).ok_or(name))
}

fn text_param(body: &Map<String, Value>, name: &str) -> ApiResult<String> {
    let text = body
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing(name))?;
    if text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::new(
            400,
            10,
            format!("{name} is longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    if text.trim().is_empty() {
        return Err(ApiError::new(400, 10, format!("{name} is empty")));
    }
    Ok(text.to_owned())
}

async fn get_me(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let subresources = q.iter().any(|(k, v)| k == "subresources" && v == "*");
    let mut token = None;
    let mut response = with_agent(&state, &method, &headers, peer, |agent| {
        let a = state
            .hub
            .store()
            .agent(&agent.agent_id)?
            .ok_or_else(|| ApiError::not_found("user"))?;
        let base = &state.hub.config.base_url;
        let mut user = json!({
            "id": a.id,
            "userName": a.user_name,
            "firstName": a.first_name,
            "lastName": a.last_name,
            "roles": ["ROLE_AGENT"],
            "enabled": true,
            "changePasswordOnFirstLogin": false,
            "uri": format!("{base}/api/v2/users/{}", a.id),
            "path": format!("/users/{}", a.id),
        });
        if subresources {
            let chats = state.hub.agent_chats(&a.id)?;
            user["channels"] = state.hub.channel_states(&a.id)?;
            user["chats"] = json!(chats
                .iter()
                .map(|c| gws_chat(c, AgentChatState::of(c), base))
                .collect::<Vec<_>>());
            user["features"] = json!(["api-multimedia", "api-multimedia-chat"]);
        }
        if state.hub.config.notifications_tokens {
            token = Some(state.sessions.issue_token(&a.id));
        }
        Ok(json!({ "statusCode": 0, "user": user }))
    })
    .await;
    if let Some(v) = token.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(NOTIFICATIONS_TOKEN_HEADER, v);
    }
    response
}

async fn post_me(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
    body: Bytes,
) -> Response {
    let mut ended = None;
    let response = with_agent(&state, &method, &headers, peer, |agent| {
        let body = parse_body(&body)?;
        match operation(&body)? {
            Ok(Op::StartContactCenterSession) => {
                let channels: Vec<&str> = body
                    .get("channels")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !channels.contains(&"chat") {
                    return Err(ApiError::new(
                        400,
                        2,
                        "this server only has the chat channel: include \"chat\" in channels",
                    ));
                }
                state.hub.set_session(&agent.agent_id, true)?;
            }
            Ok(Op::EndContactCenterSession) => {
                state.hub.set_session(&agent.agent_id, false)?;
                ended = Some(agent.agent_id.clone());
            }
            Ok(Op::Ready) => state.hub.set_ready(&agent.agent_id, true)?,
            Ok(Op::NotReady) => state.hub.set_ready(&agent.agent_id, false)?,
            Ok(other) => return Err(unsupported(other.as_str())),
            Err(other) => return Err(unsupported(other)),
        }
        Ok(json!({ "statusCode": 0 }))
    })
    .await;
    if let Some(agent) = ended {
        state.sessions.sign_out(&headers, &agent);
        state.hub.disconnect_agent(&agent);
    }
    response
}

async fn post_channel(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    with_agent(&state, &method, &headers, peer, |agent| {
        if channel != "chat" {
            return Err(ApiError::not_found("channel"));
        }
        let body = parse_body(&body)?;
        match operation(&body)? {
            Ok(Op::Ready) => state.hub.set_ready(&agent.agent_id, true)?,
            Ok(Op::NotReady) => state.hub.set_ready(&agent.agent_id, false)?,
            Ok(other) => return Err(unsupported(other.as_str())),
            Err(other) => return Err(unsupported(other)),
        }
        Ok(json!({ "statusCode": 0 }))
    })
    .await
}

async fn get_chats(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
) -> Response {
    with_agent(&state, &method, &headers, peer, |agent| {
        let chats = state.hub.agent_chats(&agent.agent_id)?;
        let base = &state.hub.config.base_url;
        Ok(
            json!({ "statusCode": 0, "chats": chats.iter().map(|c| gws_chat(c, AgentChatState::of(c), base)).collect::<Vec<_>>() }),
        )
    }).await
}

async fn get_messages(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    with_agent(&state, &method, &headers, peer, |agent| {
        let num = |name: &str, default: i64| -> ApiResult<i64> {
            match q.iter().find(|(k, _)| k == name) {
                None => Ok(default),
                Some((_, v)) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| ApiError::new(400, 10, format!("{name} must be a number"))),
            }
        };
        let start = num("startIndex", 0)?;
        let count = num("count", 1000)?.min(1000);
        let messages = state
            .hub
            .agent_messages(&agent.agent_id, &id, start, count)?;
        Ok(
            json!({ "statusCode": 0, "messages": messages.iter().map(gws_message).collect::<Vec<_>>() }),
        )
    }).await
}

async fn post_chat(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Peer(peer): Peer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    with_agent(&state, &method, &headers, peer, |agent| {
        let body = parse_body(&body)?;
        let op = match operation(&body)? {
            Ok(Op::Accept) => AgentOp::Accept {
                nickname: match body.get("nickname").and_then(Value::as_str) {
                    Some(n) if n.trim().is_empty() || n.chars().count() > MAX_NICKNAME_CHARS => {
                        return Err(ApiError::new(
                            400,
                            10,
                            format!("a nickname is 1 to {MAX_NICKNAME_CHARS} characters"),
                        ))
                    }
                    n => n.map(|n| n.trim().to_owned()),
                },
            },
            Ok(Op::Reject) => AgentOp::Reject,
            Ok(Op::SendMessage) => AgentOp::SendMessage {
                text: text_param(&body, "text")?,
            },
            Ok(Op::SendStartTypingNotification) => AgentOp::StartTyping,
            Ok(Op::SendStopTypingNotification) => AgentOp::StopTyping,
            Ok(Op::SendCustomNotice) => AgentOp::SendCustomNotice {
                text: text_param(&body, "text")?,
            },
            Ok(Op::SendUrl) => AgentOp::SendUrl {
                url: text_param(&body, "url")?,
            },
            Ok(Op::Leave) => AgentOp::Leave,
            Ok(Op::Complete) => AgentOp::Complete,
            Ok(Op::UpdateUserData) => AgentOp::UpdateUserData {
                user_data: body
                    .get("userData")
                    .and_then(Value::as_object)
                    .cloned()
                    .ok_or_else(|| ApiError::missing("userData"))?,
            },
            Ok(Op::RequestChatHistory) => AgentOp::RequestChatHistory,
            Ok(Op::Transfer) => AgentOp::Transfer {
                // `targetUri` is the agent's user URI: `<base>/api/v2/users/<id>`.
                target_agent: body.get("targetUri").and_then(Value::as_str).map(|u| {
                    u.trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_owned()
                }),
                queue: body
                    .get("queueName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            },
            Ok(
                other @ (Op::StartContactCenterSession
                | Op::EndContactCenterSession
                | Op::Ready
                | Op::NotReady),
            ) => return Err(unsupported(other.as_str())),
            Err(other) => return Err(unsupported(other)),
        };
        state.hub.agent_op(&agent.agent_id, &id, op)?;
        Ok(json!({ "statusCode": 0 }))
    })
    .await
}
