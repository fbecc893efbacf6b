//! The agent's chat session in the background: sign-in, the CometD connection to the Genesys
//! notifications endpoint, and every change to the stored [`Desk`].
//!
//! State lives in storage, not here: each change loads the desk, applies a core reducer and
//! stores it, one change at a time ([`serialized`]). In memory are only the live connection
//! (rebuilt on every wake-up from the credentials in `storage.session`), whether one is being
//! built, whether this worker instance has resynced yet (a fresh instance treats sends in
//! flight as unknown), and timers for the outbox's next retry.

use std::cell::{Cell, RefCell};
use std::future::Future;

use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use cobrowse_agent::bayeux::{LONG_POLLING, WEBSOCKET};
use cobrowse_agent::chat::{Desk, Effect, Retention};
use cobrowse_agent::gws::{
    basic_authorization, notifications_token_ext, ChatsReply, CsrfToken, MeReply, MessagesReply,
    Notification, Status, NOTIFICATIONS_TOKEN_HEADER,
};
use cobrowse_agent::protocol::{AgentStatus, ChatAction, Credentials, Refusal, RefusalReason};
use cobrowse_agent::settings::Settings;
use cobrowse_agent::storage_keys;
use serde_json::{json, Map};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use webext::storage::{self, Area};

use crate::bayeux_link::{set_timeout, BayeuxLink};
use crate::http;

const REST_TIMEOUT_MS: u64 = 15_000;
/// The pause before a new connection after the server refused a handshake; it doubles with
/// each refusal in a row, up to the cap.
const HANDSHAKE_RETRY_MS: u64 = 1000;
const HANDSHAKE_RETRY_MAX_MS: u64 = 30_000;

thread_local! {
    /// The live connection and its number (events name the link they come from).
    static LINK: RefCell<Option<(u64, BayeuxLink)>> = const { RefCell::new(None) };
    static LINKS_BUILT: Cell<u64> = const { Cell::new(0) };
    static TAIL: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
    static RESYNCED: Cell<bool> = const { Cell::new(false) };
    /// A link is being built (between the check for one and storing it there are awaits).
    static CONNECTING: Cell<bool> = const { Cell::new(false) };
    /// Handshakes refused in a row (the pause before the next link grows with it).
    static REFUSED_HANDSHAKES: Cell<u32> = const { Cell::new(0) };
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

pub async fn retention() -> Retention {
    storage::get::<Retention>(Area::Local, storage_keys::RETENTION)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Stores the new retention and prunes the desk to it at once.
pub async fn save_retention(r: Retention) -> Result<(), webext::WebExtError> {
    storage::set(Area::Local, storage_keys::RETENTION, &r).await?;
    mutate(|_| ()).await;
    Ok(())
}

/// Loads the desk, applies `f`, prunes it, stores it, updates the badge: one at a time.
async fn mutate<T>(f: impl FnOnce(&mut Desk) -> T) -> T {
    serialized(async move {
        let mut desk = load_desk().await;
        let out = f(&mut desk);
        desk.prune(retention().await);
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

/// The CSRF token of the agent's HTTP session, when the server uses CSRF protection.
async fn csrf_token() -> Option<CsrfToken> {
    storage::get::<CsrfToken>(Area::Session, storage_keys::CSRF_TOKEN)
        .await
        .ok()
        .flatten()
}

/// What every request to the server carries: Basic (as Genesys Web Services takes it on any
/// request), and the CSRF token when the server handed one out (the browser sends the session
/// cookie it belongs to).
async fn auth_headers(c: &Credentials) -> Vec<(String, String)> {
    let mut headers = vec![(
        "Authorization".to_owned(),
        basic_authorization(&c.agent_name, &c.password),
    )];
    if let Some(t) = csrf_token().await {
        headers.push((t.header, t.token));
    }
    headers
}

/// A REST call to the agent API; `Ok` only for HTTP 2xx with `statusCode` 0. A write the
/// server refuses for its CSRF token (the HTTP session expired, or the server restarted) is
/// sent once more after a GET has fetched the new session's token.
async fn rest(
    c: &Credentials,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<String, Refusal> {
    let body = body.map(|b| b.to_string());
    let mut r = rest_once(c, method, path, body.as_deref()).await?;
    if method != "GET" && CsrfToken::refused(r.status, &r.body) {
        rest_once(c, "GET", "/api/v2/me", None).await?;
        r = rest_once(c, method, path, body.as_deref()).await?;
    }
    reply_status(&r)?;
    Ok(r.body)
}

/// `Ok` for HTTP 2xx with `statusCode` 0, else the refusal that explains the reply.
fn reply_status(r: &http::Response) -> Result<(), Refusal> {
    let status: Option<Status> = serde_json::from_str(&r.body).ok();
    match (r.status, status) {
        (200..=299, Some(s)) if s.status_code == 0 => Ok(()),
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

/// One request; a GET reply's CSRF token (if the server sends one) is kept for later writes.
async fn rest_once(
    c: &Credentials,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<http::Response, Refusal> {
    let url = format!("{}{path}", c.server_url);
    let r = http::request(method, &url, &auth_headers(c).await, body, REST_TIMEOUT_MS)
        .await
        .map_err(|e| refusal(RefusalReason::ServerFailed, "errorServerUnreachable", e))?;
    if method == "GET" {
        if let Some(token) = CsrfToken::from_reply(|name| r.header(name)) {
            if csrf_token().await.as_ref() != Some(&token) {
                let _ = storage::set(Area::Session, storage_keys::CSRF_TOKEN, &token).await;
            }
        }
    }
    Ok(r)
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
    // The password is checked on its own: a session cookie the browser still holds (another
    // agent's, or this agent's from before) must not stand in for it.
    let check = http::request_with(
        "GET",
        &format!("{}/api/v2/me", creds.server_url),
        &[(
            "Authorization".to_owned(),
            basic_authorization(&creds.agent_name, &creds.password),
        )],
        None,
        REST_TIMEOUT_MS,
        http::Cookies::Omit,
    )
    .await
    .map_err(|e| refusal(RefusalReason::ServerFailed, "errorServerUnreachable", e))?;
    reply_status(&check)?;
    let _ = storage::remove(Area::Session, storage_keys::CSRF_TOKEN).await;
    // Now with the session cookie, as every later request goes (this also fetches the
    // session's CSRF token): the server must answer for this agent. A live session of another
    // agent that the browser still holds would win over Basic and act for them.
    let me = rest(&creds, "GET", "/api/v2/me", None).await?;
    if serde_json::from_str::<MeReply>(&me).is_ok_and(|m| m.is_someone_else(&creds.agent_name)) {
        return Err(refusal(
            RefusalReason::ServerFailed,
            "errorOtherAgentSession",
            "the browser holds another agent's session on this server",
        ));
    }
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
    let _ = storage::remove(Area::Session, storage_keys::CSRF_TOKEN).await;
    let _ = storage::remove(Area::Session, storage_keys::AGENT_STATUS).await;
    mutate(|d| *d = Desk::default()).await;
}

fn disconnect() {
    if let Some((_, link)) = LINK.with(|l| l.borrow_mut().take()) {
        link.disconnect();
    }
}

/// Connects to the notifications endpoint if signed in and not connected. Called on every
/// wake-up (start, onStartup, the alarm, a page opening).
///
/// WebSocket when the server hands out a notifications token (the reference server does; the
/// token goes in the handshake `ext`, as a browser WebSocket cannot send `Authorization`),
/// falling back to long-polling if the socket never opens; long-polling with Basic on every
/// request otherwise, as Genesys Web Services serves it.
pub async fn ensure_connected() {
    if LINK.with(|l| l.borrow().is_some()) || CONNECTING.with(|c| c.replace(true)) {
        return;
    }
    let build = || async {
        let c = credentials().await?;
        let (transports, handshake_ext) = match notifications_token(&c).await {
            Ok(Some(t)) => (
                vec![WEBSOCKET.into(), LONG_POLLING.into()],
                notifications_token_ext(&t),
            ),
            // Not known yet (the server is down): try the socket; the refused handshake then
            // fetches a token (see `recover_handshake`).
            Err(r) if r.message_key == "errorServerUnreachable" => {
                (vec![WEBSOCKET.into(), LONG_POLLING.into()], Map::new())
            }
            _ => (vec![LONG_POLLING.into()], Map::new()),
        };
        let config = ClientConfig {
            transports,
            handshake_ext,
            // An agent waits at most this long after the server is back (one agent's retry
            // every 10 s is nothing to a server).
            backoff_max_ms: 10_000,
            ..ClientConfig::default()
        };
        let id = LINKS_BUILT.with(|n| n.get() + 1);
        LINKS_BUILT.with(|n| n.set(id));
        let link = BayeuxLink::connect(
            &format!("{}/api/v2/notifications", c.server_url),
            config,
            auth_headers(&c).await,
            move |event| spawn_local(on_event(id, event)),
        );
        let _ = link.subscribe("/v2/me/chats");
        let _ = link.subscribe("/v2/me/channels");
        Some((id, link))
    };
    loop {
        let link = build().await;
        let signed_in = credentials().await.is_some();
        match link {
            Some(link) if signed_in => LINK.with(|l| *l.borrow_mut() = Some(link)),
            // Signed out while connecting: the credentials are gone, so goes the link.
            Some((_, link)) => link.disconnect(),
            // Signed in while this call found no credentials: build it now.
            None if signed_in => continue,
            None => {}
        }
        break;
    }
    CONNECTING.with(|c| c.set(false));
}

/// A fresh notifications token from `GET /api/v2/me`, if the server hands them out.
async fn notifications_token(c: &Credentials) -> Result<Option<String>, Refusal> {
    let r = rest_once(c, "GET", "/api/v2/me", None).await?;
    reply_status(&r)?;
    Ok(r.header(NOTIFICATIONS_TOKEN_HEADER))
}

/// The server refused a handshake: rejected credentials (the agent must sign in again), or a
/// notifications token that was used or expired (a new link gets a fresh one).
async fn recover_handshake() {
    let Some(c) = credentials().await else { return };
    match notifications_token(&c).await {
        Err(r) if r.message_key == "errorBadCredentials" => {
            // Chats, transcripts and drafts stay; only the secret goes.
            set_status(|s| s.problem = Some("errorBadCredentials".into())).await;
            disconnect();
            let _ = storage::remove(Area::Session, storage_keys::CREDENTIALS).await;
        }
        Err(_) => {
            set_status(|s| s.problem = Some("errorServerUnreachable".into())).await;
            reconnect_after_refusal();
        }
        Ok(_) => reconnect_after_refusal(),
    }
}

/// A new link (with a fresh token) after a pause that grows while the server keeps refusing.
/// The refusing server said `reconnect: none`, so the old link is over anyway.
fn reconnect_after_refusal() {
    disconnect();
    let refused = REFUSED_HANDSHAKES.with(|n| n.replace(n.get().saturating_add(1)));
    let pause = (HANDSHAKE_RETRY_MS << refused.min(5)).min(HANDSHAKE_RETRY_MAX_MS);
    set_timeout(|| spawn_local(ensure_connected()), pause);
}

async fn on_event(link_id: u64, event: Event) {
    let now = webext::now_ms() as u64;
    match event {
        Event::Connected => {
            REFUSED_HANDSHAKES.with(|n| n.set(0));
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
        Event::Handshaken { transport, .. } => {
            set_status(|s| s.transport = Some(transport)).await;
        }
        Event::HandshakeFailed { reason } if reason.starts_with("403") => recover_handshake().await,
        Event::ConnectionLost { .. } | Event::HandshakeFailed { .. } => {
            set_status(|s| s.problem = Some("errorServerUnreachable".into())).await;
        }
        Event::Disconnected { .. } => {
            // Only if it is still the current link (a sign-in may have built the next one).
            LINK.with(|l| {
                let mut l = l.borrow_mut();
                if l.as_ref().is_some_and(|(id, _)| *id == link_id) {
                    l.take();
                }
            });
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

/// Sends queued messages that are due, one per chat at a time, until none is left to send;
/// then sets a timer for the next retry, if a message waits for one (the alarm is the safety
/// net when the worker stops before the timer fires).
pub async fn pump_outbox() {
    let Some(c) = credentials().await else { return };
    // A fresh worker first resyncs: a send cut by its predecessor's death is settled then.
    if !RESYNCED.with(Cell::get) {
        return;
    }
    let now = || webext::now_ms() as i64;
    while let Some(m) = mutate(|d| d.outbox.take_next(now())).await {
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
                d.outbox
                    .send_failed(&m.client_id, &r.detail, retryable, now())
            }
        })
        .await;
    }
    if let Some(at) = load_desk().await.outbox.next_attempt_at() {
        set_timeout(|| spawn_local(pump_outbox()), (at - now()).max(0) as u64);
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
