//! The agent's chat session in the background: sign-in, the CometD connection to the Genesys
//! notifications endpoint, and every change to the stored [`Desk`].
//!
//! State lives in storage, not here: each change loads the desk, applies a core reducer and
//! stores it, one change at a time ([`serialized`]). In memory are only the live connection
//! (rebuilt on every wake-up from the credentials in `storage.session`) and whether this
//! worker instance has resynced yet (a fresh instance treats sends in flight as unknown).

use std::cell::{Cell, RefCell};
use std::future::Future;

use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use cobrowse_agent::chat::{Desk, Effect};
use cobrowse_agent::gws::{basic_authorization, ChatsReply, MessagesReply, Notification, Status};
use cobrowse_agent::protocol::{AgentStatus, ChatAction, Credentials, Refusal, RefusalReason};
use cobrowse_agent::settings::Settings;
use cobrowse_agent::storage_keys;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use webext::storage::{self, Area};

use crate::bayeux_link::BayeuxLink;
use crate::http;

const REST_TIMEOUT_MS: u64 = 15_000;
/// Finished chats kept on the desk, and entries kept per transcript.
const KEEP_FINISHED_CHATS: usize = 30;
const MAX_LINES_PER_CHAT: usize = 1000;

thread_local! {
    static LINK: RefCell<Option<BayeuxLink>> = const { RefCell::new(None) };
    static TAIL: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
    static RESYNCED: Cell<bool> = const { Cell::new(false) };
}

fn refusal(reason: RefusalReason, key: &str, detail: impl Into<String>) -> Refusal {
    Refusal::new(reason, key, detail)
}

fn storage_failed(e: webext::WebExtError) -> Refusal {
    refusal(RefusalReason::StorageFailed, "errorStorage", e.to_string())
}

/// Runs `f` after every earlier serialized job has finished.
pub(crate) async fn serialized<T>(f: impl Future<Output = T>) -> T {
    let mut resolve: Option<js_sys::Function> = None;
    let done = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
    let previous = TAIL.with(|t| t.borrow_mut().replace(done));
    if let Some(p) = previous {
        let _ = JsFuture::from(p).await;
    }
    let out = f.await;
    if let Some(r) = resolve {
        let _ = r.call0(&JsValue::UNDEFINED);
    }
    out
}

/// The credentials, or the refusal a request gets when the agent is not signed in.
async fn signed_in() -> Result<Credentials, Refusal> {
    credentials().await.ok_or_else(|| {
        refusal(
            RefusalReason::NotSignedIn,
            "errorNotSignedIn",
            "sign in first",
        )
    })
}

pub async fn credentials() -> Option<Credentials> {
    storage::get::<Credentials>(Area::Session, storage_keys::CREDENTIALS)
        .await
        .ok()
        .flatten()
}

pub async fn load_desk() -> Desk {
    storage::get::<Desk>(Area::Local, storage_keys::DESK)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub async fn agent_status() -> AgentStatus {
    let mut s = storage::get::<AgentStatus>(Area::Session, storage_keys::AGENT_STATUS)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    s.signed_in = credentials().await.is_some();
    s
}

async fn set_status(change: impl FnOnce(&mut AgentStatus)) {
    // Serialized like desk changes: two events must not overwrite each other's facts.
    serialized(async move {
        let mut s = storage::get::<AgentStatus>(Area::Session, storage_keys::AGENT_STATUS)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        change(&mut s);
        let _ = storage::set(Area::Session, storage_keys::AGENT_STATUS, &s).await;
    })
    .await
}

/// Loads the desk, applies `f`, stores it, updates the badge: one at a time.
async fn mutate<T>(f: impl FnOnce(&mut Desk) -> T) -> T {
    serialized(async move {
        let mut desk = load_desk().await;
        let out = f(&mut desk);
        desk.prune(KEEP_FINISHED_CHATS, MAX_LINES_PER_CHAT);
        if let Err(e) = storage::set(Area::Local, storage_keys::DESK, &desk).await {
            webext::log_error(&format!("[cobrowse-agent] saving chats: {e}"));
        }
        let waiting = desk.waiting();
        let _ = webext::action::set_badge_text(&if waiting == 0 {
            String::new()
        } else {
            waiting.to_string()
        })
        .await;
        out
    })
    .await
}

fn auth_headers(c: &Credentials) -> Vec<(String, String)> {
    vec![(
        "Authorization".into(),
        basic_authorization(&c.agent_name, &c.password),
    )]
}

/// A REST call to the agent API; `Ok` only for HTTP 2xx with `statusCode` 0.
async fn rest(
    c: &Credentials,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<String, Refusal> {
    let url = format!("{}{path}", c.server_url);
    let body = body.map(|b| b.to_string());
    let r = http::request(
        method,
        &url,
        &auth_headers(c),
        body.as_deref(),
        REST_TIMEOUT_MS,
    )
    .await
    .map_err(|e| refusal(RefusalReason::ServerFailed, "errorServerUnreachable", e))?;
    let status: Option<Status> = serde_json::from_str(&r.body).ok();
    match (r.status, status) {
        (200..=299, Some(s)) if s.status_code == 0 => Ok(r.body),
        (401, _)
        | (
            _,
            Some(Status {
                status_code: 20, ..
            }),
        ) => Err(refusal(
            RefusalReason::ServerFailed,
            "errorBadCredentials",
            format!("HTTP {}", r.status),
        )),
        (code, s) => Err(refusal(
            RefusalReason::ServerFailed,
            "errorServerRefused",
            s.and_then(|s| s.status_message)
                .unwrap_or_else(|| format!("HTTP {code}")),
        )),
    }
}

/// Checks the credentials, starts the contact-center session, stores them (session storage
/// only), and connects.
pub async fn sign_in(typed: Credentials) -> Result<(), Refusal> {
    let settings = Settings {
        server_url: typed.server_url.clone(),
        agent_name: typed.agent_name.clone(),
    }
    .validated()
    .map_err(|e| {
        refusal(
            RefusalReason::InvalidSettings,
            e.message_key(),
            e.to_string(),
        )
    })?;
    let creds = Credentials {
        server_url: settings.server_url.clone(),
        agent_name: settings.agent_name.clone(),
        password: typed.password,
    };
    rest(&creds, "GET", "/api/v2/me", None).await?;
    rest(
        &creds,
        "POST",
        "/api/v2/me",
        Some(json!({"operationName": "StartContactCenterSession", "channels": ["chat"]})),
    )
    .await?;
    storage::set(Area::Local, storage_keys::SETTINGS, &settings)
        .await
        .map_err(storage_failed)?;
    storage::set(Area::Session, storage_keys::CREDENTIALS, &creds)
        .await
        .map_err(storage_failed)?;
    set_status(|s| s.problem = None).await;
    disconnect();
    ensure_connected().await;
    Ok(())
}

/// Ends the contact-center session (best effort), drops the connection and wipes the secrets
/// and the chats.
pub async fn sign_out() {
    if let Some(c) = credentials().await {
        let _ = rest(
            &c,
            "POST",
            "/api/v2/me",
            Some(json!({"operationName": "EndContactCenterSession"})),
        )
        .await;
    }
    disconnect();
    let _ = storage::remove(Area::Session, storage_keys::CREDENTIALS).await;
    let _ = storage::remove(Area::Session, storage_keys::AGENT_STATUS).await;
    mutate(|d| *d = Desk::default()).await;
}

fn disconnect() {
    if let Some(link) = LINK.with(|l| l.borrow_mut().take()) {
        link.disconnect();
    }
}

/// Connects to the notifications endpoint if signed in and not connected. Called on every
/// wake-up (start, onStartup, the alarm, a page opening).
pub async fn ensure_connected() {
    if LINK.with(|l| l.borrow().is_some()) {
        return;
    }
    let Some(c) = credentials().await else { return };
    let config = ClientConfig {
        // Long-polling with Basic on every request, as Genesys Web Services serves it.
        transports: vec![cobrowse_agent::bayeux::LONG_POLLING.into()],
        ..ClientConfig::default()
    };
    let link = BayeuxLink::connect(
        &format!("{}/api/v2/notifications", c.server_url),
        config,
        auth_headers(&c),
        |event| spawn_local(on_event(event)),
    );
    let _ = link.subscribe("/v2/me/chats");
    let _ = link.subscribe("/v2/me/channels");
    LINK.with(|l| *l.borrow_mut() = Some(link));
}

async fn on_event(event: Event) {
    let now = webext::now_ms() as u64;
    match event {
        Event::Connected => {
            // Every connect cycle touches storage: in Chrome that also keeps the worker alive.
            set_status(|s| {
                s.last_event_ms = Some(now);
                s.problem = None;
            })
            .await;
            resync().await;
        }
        Event::Message(m) => {
            set_status(|s| s.last_event_ms = Some(now)).await;
            let Some(data) = m.data else { return };
            match serde_json::from_value::<Notification>(data) {
                Ok(n) => {
                    let effects = mutate(|d| d.apply(&n, now as i64)).await;
                    run_effects(effects).await;
                    crate::notify::refresh(crate::pages_open()).await;
                    pump_outbox().await;
                }
                Err(e) => {
                    webext::log_error(&format!("[cobrowse-agent] unreadable notification: {e}"))
                }
            }
        }
        Event::HandshakeFailed { reason } if reason.starts_with("403") => {
            // Rejected credentials: ask the agent to sign in again. Chats, transcripts and
            // drafts stay; only the secret goes.
            set_status(|s| s.problem = Some("errorBadCredentials".into())).await;
            disconnect();
            let _ = storage::remove(Area::Session, storage_keys::CREDENTIALS).await;
        }
        Event::ConnectionLost { .. } | Event::HandshakeFailed { .. } => {
            set_status(|s| s.problem = Some("errorServerUnreachable".into())).await;
        }
        Event::Disconnected { .. } => {
            LINK.with(|l| l.borrow_mut().take());
        }
        _ => {}
    }
}

/// After a (re)connect or wake-up: the server's chat list, then each transcript from where
/// ours is complete, then whatever is waiting in the outbox.
async fn resync() {
    let Some(c) = credentials().await else { return };
    match rest(&c, "GET", "/api/v2/me/chats", None)
        .await
        .and_then(|body| {
            serde_json::from_str::<ChatsReply>(&body).map_err(|e| {
                refusal(
                    RefusalReason::ServerFailed,
                    "errorServerRefused",
                    e.to_string(),
                )
            })
        }) {
        Ok(list) => {
            let now = webext::now_ms() as i64;
            let effects = mutate(|d| d.apply_chat_list(&list, now)).await;
            run_effects(effects).await;
            RESYNCED.with(|r| r.set(true));
            pump_outbox().await;
        }
        Err(r) => webext::log_error(&format!("[cobrowse-agent] resync: {}", r.detail)),
    }
}

async fn run_effects(effects: Vec<Effect>) {
    let Some(c) = credentials().await else { return };
    let after_restart = !RESYNCED.with(Cell::get);
    for effect in effects {
        match effect {
            Effect::Fetch { chat_id, from } => {
                let path =
                    format!("/api/v2/me/chats/{chat_id}/messages?startIndex={from}&count=1000");
                match rest(&c, "GET", &path, None).await.and_then(|body| {
                    serde_json::from_str::<MessagesReply>(&body).map_err(|e| {
                        refusal(
                            RefusalReason::ServerFailed,
                            "errorServerRefused",
                            e.to_string(),
                        )
                    })
                }) {
                    Ok(reply) => {
                        mutate(|d| d.apply_fetched(&chat_id, from, &reply.messages, after_restart))
                            .await
                    }
                    Err(r) => webext::log_error(&format!(
                        "[cobrowse-agent] fetch {chat_id}: {}",
                        r.detail
                    )),
                }
            }
        }
    }
}

/// Sends queued messages, one per chat at a time, until none is left to send.
pub async fn pump_outbox() {
    let Some(c) = credentials().await else { return };
    // A fresh worker first resyncs: a send cut by its predecessor's death is settled then.
    if !RESYNCED.with(Cell::get) {
        return;
    }
    while let Some(m) = mutate(|d| d.outbox.take_next()).await {
        let result = rest(
            &c,
            "POST",
            &format!("/api/v2/me/chats/{}", m.chat_id),
            Some(json!({"operationName": "SendMessage", "text": m.text})),
        )
        .await;
        mutate(|d| match &result {
            Ok(_) => d.outbox.sent(&m.client_id),
            Err(r) => {
                let retryable = r.message_key == "errorServerUnreachable";
                d.outbox.send_failed(&m.client_id, &r.detail, retryable)
            }
        })
        .await;
        if result.is_err() {
            break;
        }
    }
}

pub async fn send_message(chat_id: String, client_id: String, text: String) -> Result<(), Refusal> {
    if text.trim().is_empty() || text.len() > 16 * 1024 {
        return Err(refusal(
            RefusalReason::MalformedRequest,
            "errorMessageInvalid",
            "empty or too long",
        ));
    }
    signed_in().await?;
    mutate(|d| {
        let after = d
            .chats
            .get(&chat_id)
            .map(|c| c.transcript.last_index())
            .unwrap_or(0);
        d.outbox.push(&client_id, &chat_id, &text, after);
    })
    .await;
    spawn_local(pump_outbox());
    Ok(())
}

pub async fn retry_message(client_id: String) {
    mutate(|d| d.outbox.retry(&client_id)).await;
    spawn_local(pump_outbox());
}

pub async fn mark_read(chat_id: String) {
    mutate(|d| d.mark_read(&chat_id)).await;
}

pub async fn chat_action(chat_id: &str, action: ChatAction) -> Result<(), Refusal> {
    let c = signed_in().await?;
    let mut body = json!({ "operationName": action.operation_name() });
    if action == ChatAction::Accept {
        body["nickname"] = json!(c.agent_name);
    }
    rest(
        &c,
        "POST",
        &format!("/api/v2/me/chats/{chat_id}"),
        Some(body),
    )
    .await?;
    Ok(())
}

pub async fn typing(chat_id: &str, typing: bool) -> Result<(), Refusal> {
    let c = signed_in().await?;
    let op = if typing {
        "SendStartTypingNotification"
    } else {
        "SendStopTypingNotification"
    };
    rest(
        &c,
        "POST",
        &format!("/api/v2/me/chats/{chat_id}"),
        Some(json!({ "operationName": op })),
    )
    .await?;
    Ok(())
}

pub async fn set_ready(ready: bool) -> Result<(), Refusal> {
    let c = signed_in().await?;
    let op = if ready { "Ready" } else { "NotReady" };
    rest(
        &c,
        "POST",
        "/api/v2/me/channels/chat",
        Some(json!({ "operationName": op })),
    )
    .await?;
    Ok(())
}
