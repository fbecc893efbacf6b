//! Background glue: the Chrome service worker and the Firefox event page run this wasm.
//!
//! `background.js` registers every listener synchronously and forwards each event here once
//! the module is initialised. This crate converts JS values to core types, calls core, and
//! performs the resulting IO through `webext` (the only crate that touches the extension
//! APIs). It keeps **no authoritative state in memory**: the browser may stop the worker at any
//! moment, so every handler starts from storage. The only in-memory things are this
//! instance's start time (a diagnostic) and the open ports (connections, not state).
//! It never calls `web_sys::window()`: the Chrome worker has no window.

pub mod agent;
pub mod bayeux_link;
pub mod http;
pub mod notify;

use std::cell::{Cell, RefCell};

use cobrowse_agent::chat::attention::NotifySettings;
use cobrowse_agent::chat::{ChatRecord, Desk};
use cobrowse_agent::protocol::{
    decode_request, AgentStatus, BackgroundEvent, ChatView, PopupReply, PopupRequest, Refusal,
    RefusalReason, Snapshot, WorkerInfo, EVENTS_PORT_NAME, PROTOCOL_VERSION,
};
use cobrowse_agent::sender::{classify_sender, MessageSender, SenderTrust};
use cobrowse_agent::settings::Settings;
use cobrowse_agent::storage_keys;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use webext::port::Port;
use webext::storage::{self, Area};
use webext::{Listener, WebExtError};

/// The safety-net alarm: wakes a stopped worker so it can resync (period in minutes; 0.5 is
/// the minimum a packed extension gets).
const RESYNC_ALARM: &str = "resync";
const RESYNC_ALARM_PERIOD_MIN: f64 = 0.5;

thread_local! {
    static STARTED_AT_MS: Cell<u64> = const { Cell::new(0) };
    static PORTS: RefCell<Vec<OpenPort>> = const { RefCell::new(Vec::new()) };
}

/// A page's events port and the listener that forgets it when it closes.
struct OpenPort {
    port: Port,
    _on_disconnect: Listener,
}

/// Called once by background.js after the module is initialised.
#[wasm_bindgen]
pub fn start() {
    STARTED_AT_MS.with(|s| s.set(webext::now_ms() as u64));
    webext::log("[cobrowse-agent] background started");
    // A wake-up for any reason reconnects (and resyncs) if the agent is signed in.
    spawn_local(agent::ensure_connected());
}

fn chat_view(c: &ChatRecord) -> ChatView {
    ChatView {
        id: c.id.clone(),
        state: serde_json::to_value(&c.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        capabilities: c.capabilities.clone(),
        customer: c.customer.clone(),
        subject: c.subject.clone(),
        unread: c.unread,
        waiting: c.is_waiting(),
        since_ms: c.since_ms,
        lines: c
            .transcript
            .lines()
            .filter(|l| l.is_visible())
            .cloned()
            .collect(),
        outgoing: Vec::new(),
        typing: c.transcript.typing(),
    }
}

/// The chats as the popup lists them: waiting first, then live ones, then finished; newest
/// first within each.
fn chat_views(desk: &Desk) -> Vec<ChatView> {
    let mut views: Vec<ChatView> = desk
        .chats
        .values()
        .map(|c| {
            let mut v = chat_view(c);
            v.outgoing = desk.outbox.for_chat(&c.id).cloned().collect();
            v
        })
        .collect();
    let rank = |v: &ChatView| match (v.waiting, v.state.as_str()) {
        (true, _) => 0,
        (false, "Completed" | "Revoked") => 2,
        _ => 1,
    };
    views.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.since_ms.cmp(&a.since_ms)));
    views
}

/// Whether a page of the extension (popup) is open now: it shows everything itself.
pub(crate) fn pages_open() -> bool {
    PORTS.with(|p| !p.borrow().is_empty())
}

fn worker_info() -> WorkerInfo {
    WorkerInfo {
        started_at_ms: STARTED_AT_MS.with(Cell::get),
    }
}

fn storage_refusal(e: WebExtError) -> Refusal {
    Refusal::new(RefusalReason::StorageFailed, "errorStorage", e.to_string())
}

/// Reads everything a page paints from storage.
async fn load_snapshot() -> Result<Snapshot, Refusal> {
    let stored = match storage::get::<Settings>(Area::Local, storage_keys::SETTINGS).await {
        Ok(s) => s,
        // A value we cannot read (older build, hand-edited) is shown as defaults, not an error
        // that locks the agent out of the options page.
        Err(e) if e.api == "deserialize" => {
            webext::log_error(&format!("[cobrowse-agent] stored settings unreadable: {e}"));
            None
        }
        Err(e) => return Err(storage_refusal(e)),
    };
    let desk = agent::load_desk().await;
    Ok(Snapshot {
        protocol: PROTOCOL_VERSION,
        configured: stored.is_some(),
        settings: stored.unwrap_or_default(),
        worker: worker_info(),
        notify: notify::settings().await,
        retention: agent::retention().await,
        agent: AgentStatus {
            channel_state: desk.channel_state.clone(),
            ..agent::agent_status().await
        },
        chats: chat_views(&desk),
    })
}

async fn handle_request(request: PopupRequest) -> Result<PopupReply, Refusal> {
    match request {
        PopupRequest::GetSnapshot => Ok(PopupReply::Snapshot(load_snapshot().await?)),
        PopupRequest::SaveSettings(settings) => {
            let settings = settings.validated().map_err(|e| {
                Refusal::new(
                    RefusalReason::InvalidSettings,
                    e.message_key(),
                    e.to_string(),
                )
            })?;
            storage::set(Area::Local, storage_keys::SETTINGS, &settings)
                .await
                .map_err(storage_refusal)?;
            Ok(PopupReply::SettingsSaved(load_snapshot().await?))
        }
        PopupRequest::SignIn(credentials) => {
            agent::sign_in(credentials).await?;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::SignOut => {
            agent::sign_out().await;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::SetReady(ready) => {
            agent::set_ready(ready).await?;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::ChatAction { chat_id, action } => {
            agent::chat_action(&chat_id, action).await?;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::SendMessage {
            chat_id,
            client_id,
            text,
        } => {
            agent::send_message(chat_id, client_id, text).await?;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::RetryMessage { client_id } => {
            agent::retry_message(client_id).await;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::MarkRead { chat_id } => {
            agent::mark_read(chat_id).await;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
        PopupRequest::SaveNotifySettings(settings) => {
            let settings = NotifySettings {
                repeat_seconds: match settings.repeat_seconds {
                    0 => 0,
                    // Alarms (the repeat's clock) fire at most every 30 s.
                    s => s.clamp(30, 24 * 3600),
                },
                ..settings
            };
            storage::set(Area::Local, storage_keys::NOTIFY_SETTINGS, &settings)
                .await
                .map_err(storage_refusal)?;
            Ok(PopupReply::SettingsSaved(load_snapshot().await?))
        }
        PopupRequest::SaveRetention(retention) => {
            agent::save_retention(retention.clamped())
                .await
                .map_err(storage_refusal)?;
            Ok(PopupReply::SettingsSaved(load_snapshot().await?))
        }
        PopupRequest::Typing { chat_id, typing } => {
            agent::typing(&chat_id, typing).await?;
            Ok(PopupReply::Snapshot(load_snapshot().await?))
        }
    }
}

/// Whether `sender` is one of this extension's own pages.
fn check_sender(sender: &MessageSender) -> Result<(), Refusal> {
    let own = webext::runtime::own_extension().map_err(|e| {
        Refusal::new(
            RefusalReason::UntrustedSender,
            "errorUntrusted",
            e.to_string(),
        )
    })?;
    match classify_sender(sender, &own) {
        SenderTrust::ExtensionPage => Ok(()),
        SenderTrust::Untrusted(why) => Err(Refusal::new(
            RefusalReason::UntrustedSender,
            "errorUntrusted",
            why,
        )),
    }
}

/// The whole request path, JS-free except for IO: sender check first, then decoding.
async fn reply_to(message_json: &str, sender: &MessageSender) -> PopupReply {
    let outcome = async {
        check_sender(sender)?;
        let request = decode_request(message_json)?;
        handle_request(request).await
    }
    .await;
    outcome.unwrap_or_else(|refusal| {
        webext::log_error(&format!(
            "[cobrowse-agent] refused a request: {:?} ({})",
            refusal.reason, refusal.detail
        ));
        PopupReply::Refused(refusal)
    })
}

/// `runtime.onMessage`: one request from a page, one reply. Never throws.
#[wasm_bindgen(js_name = handleMessage)]
pub async fn handle_message(message: JsValue, sender: JsValue) -> JsValue {
    let sender: MessageSender = webext::json::from_js(&sender).unwrap_or_default();
    let reply = match webext::json::stringify(&message) {
        Ok(text) => reply_to(&text, &sender).await,
        Err(e) => PopupReply::Refused(Refusal::new(
            RefusalReason::MalformedRequest,
            "errorInternal",
            e.to_string(),
        )),
    };
    webext::json::to_js(&reply).unwrap_or(JsValue::NULL)
}

/// `runtime.onConnect`: a page opened its events port. Untrusted or unknown ports are closed.
#[wasm_bindgen(js_name = onConnect)]
pub async fn on_connect(port: JsValue) {
    let port = Port::from_js(port);
    if port.name() != EVENTS_PORT_NAME || check_sender(&port.sender()).is_err() {
        webext::log_error("[cobrowse-agent] closed a port from an untrusted sender");
        port.disconnect();
        return;
    }
    let closed = port.clone();
    let on_disconnect = port.on_disconnect(move || {
        PORTS.with(|ports| ports.borrow_mut().retain(|p| !p.port.is_same(&closed)));
    });
    PORTS.with(|ports| {
        ports.borrow_mut().push(OpenPort {
            port: port.clone(),
            _on_disconnect: on_disconnect,
        })
    });
    match load_snapshot().await {
        Ok(snapshot) => post(&port, &BackgroundEvent::Snapshot(snapshot)),
        Err(r) => webext::log_error(&format!("[cobrowse-agent] snapshot: {}", r.detail)),
    }
    // The agent is looking: what notifications said is acknowledged.
    notify::acknowledge().await;
    // A page opening is a wake-up too.
    agent::ensure_connected().await;
}

fn post(port: &Port, event: &BackgroundEvent) {
    // The page may be closing: a failed post is expected and harmless.
    let _ = port.post(event);
}

async fn broadcast_snapshot() {
    if PORTS.with(|p| p.borrow().is_empty()) {
        return;
    }
    match load_snapshot().await {
        Ok(snapshot) => {
            let event = BackgroundEvent::Snapshot(snapshot);
            let ports: Vec<Port> =
                PORTS.with(|p| p.borrow().iter().map(|p| p.port.clone()).collect());
            for port in &ports {
                post(port, &event);
            }
        }
        Err(r) => webext::log_error(&format!("[cobrowse-agent] snapshot: {}", r.detail)),
    }
}

/// `storage.onChanged`: repaint open pages when something they show changed.
#[wasm_bindgen(js_name = onStorageChanged)]
pub async fn on_storage_changed(changes: JsValue, area: String) {
    let shown = [
        storage_keys::SETTINGS,
        storage_keys::DESK,
        storage_keys::CREDENTIALS,
        storage_keys::AGENT_STATUS,
    ];
    let relevant = (area == Area::Local.name() || area == Area::Session.name())
        && storage::changed_keys(&changes)
            .iter()
            .any(|k| shown.contains(&k.as_str()));
    if relevant {
        broadcast_snapshot().await;
    }
}

async fn ensure_resync_alarm() {
    let result = async {
        if !webext::alarms::exists(RESYNC_ALARM).await? {
            webext::alarms::create_repeating(RESYNC_ALARM, RESYNC_ALARM_PERIOD_MIN)?;
        }
        Ok::<_, WebExtError>(())
    }
    .await;
    if let Err(e) = result {
        webext::log_error(&format!("[cobrowse-agent] alarm: {e}"));
    }
}

/// `runtime.onInstalled` (install, update, browser update).
#[wasm_bindgen(js_name = onInstalled)]
pub async fn on_installed(_details: JsValue) {
    ensure_resync_alarm().await;
}

/// `runtime.onStartup` (browser started with this profile). Alarms may not survive a restart.
#[wasm_bindgen(js_name = onStartup)]
pub async fn on_startup() {
    ensure_resync_alarm().await;
    agent::ensure_connected().await;
}

/// `alarms.onAlarm`: the safety net that wakes a stopped worker.
#[wasm_bindgen(js_name = onAlarm)]
pub async fn on_alarm(alarm: JsValue) {
    if webext::alarms::alarm_name(&alarm).as_deref() == Some(RESYNC_ALARM) {
        ensure_resync_alarm().await;
        agent::ensure_connected().await;
        // A retry whose timer died with an earlier worker instance.
        agent::pump_outbox().await;
        notify::refresh(pages_open()).await;
    }
}

/// `notifications.onClicked`: open the popup's page on that chat.
#[wasm_bindgen(js_name = onNotificationClicked)]
pub async fn on_notification_clicked(id: String) {
    let Some(chat) = notify::chat_of(&id) else {
        return;
    };
    let url = match webext::runtime::url(&format!("popup.html#chat={chat}")) {
        Ok(u) => u,
        Err(e) => return webext::log_error(&format!("[cobrowse-agent] {e}")),
    };
    if let Err(e) = webext::tabs::open(&url).await {
        webext::log_error(&format!("[cobrowse-agent] {e}"));
    }
    let _ = webext::notifications::clear(&id).await;
}
