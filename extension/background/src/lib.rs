//! Background glue: the Chrome service worker and the Firefox event page run this wasm.
//!
//! `background.js` registers every listener synchronously and forwards each event to one
//! function here once the module is initialised. This crate converts JS values to core types,
//! feeds core, and performs what core says through `webext` (the only crate that touches the
//! extension APIs). It keeps **no authoritative state in memory**: the browser may stop the
//! worker at any moment, so every handler starts from storage. It never calls
//! `web_sys::window()`: the Chrome worker has no window.
//!
//! Layers (each module uses only those below it; see ARCHITECTURE.md):
//! 1. this file: one exported function per event;
//! 2. `pages` (requests and ports of the extension's pages);
//! 3. `session` (drives core's agent session), `notify` (system notifications);
//! 4. `link` (CometD), `gws_client`, `store` (storage and its one queue), `ports`, `timer`,
//!    `http`, `join`, `global`.

pub mod global;
pub mod gws_client;
pub mod http;
pub mod join;
pub mod link;
pub mod notify;
pub mod pages;
pub mod ports;
pub mod session;
pub mod store;
pub mod timer;

use cobrowse_agent::chat::Key;
use cobrowse_agent::protocol::{PopupReply, Refusal, RefusalReason};
use cobrowse_agent::sender::MessageSender;
use cobrowse_agent::storage_keys;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use webext::port::Port;
use webext::storage::Area;
use webext::WebExtError;

/// The safety-net alarm: wakes a stopped worker so it can resync (period in minutes; 0.5 is
/// the minimum a packed extension gets).
const RESYNC_ALARM: &str = "resync";
const RESYNC_ALARM_PERIOD_MIN: f64 = 0.5;

/// Called once by background.js after the module is initialised.
#[wasm_bindgen]
pub fn start() {
    pages::started();
    webext::log("[cobrowse-agent] background started");
    // A wake-up for any reason reconnects (and resyncs) if the agent is signed in.
    spawn_local(session::wake());
}

/// `runtime.onMessage`: one request from a page, one reply. Never throws.
#[wasm_bindgen(js_name = handleMessage)]
pub async fn handle_message(message: JsValue, sender: JsValue) -> JsValue {
    let sender: MessageSender = webext::json::from_js(&sender).unwrap_or_default();
    let reply = match webext::json::stringify(&message) {
        Ok(text) => pages::reply_to(&text, &sender).await,
        Err(e) => PopupReply::Refused(Refusal::new(
            RefusalReason::MalformedRequest,
            "errorInternal",
            e.to_string(),
        )),
    };
    webext::json::to_js(&reply).unwrap_or(JsValue::NULL)
}

/// `runtime.onConnect`: a page opened its events port.
#[wasm_bindgen(js_name = onConnect)]
pub async fn on_connect(port: JsValue) {
    pages::connected(Port::from_js(port)).await;
}

/// `storage.onChanged`: tell open pages what changed (a chat's change as a delta, the status,
/// or a fresh snapshot when settings or the sign-in changed); a chat that changed may also need
/// a notification.
#[wasm_bindgen(js_name = onStorageChanged)]
pub async fn on_storage_changed(changes: JsValue, area: String) {
    let changed = webext::storage::changed_keys(&changes);
    let has = |key: &str| changed.iter().any(|k| k == key);
    if area == Area::Local.name() {
        if has(storage_keys::SETTINGS) || has(&Key::Meta.name()) {
            pages::repaint().await;
        }
        let desk: Vec<String> = changed
            .iter()
            .filter(|k| {
                Key::head_chat(k).is_some()
                    || Key::page_of_name(k).is_some()
                    || **k == Key::Outbox.name()
            })
            .cloned()
            .collect();
        if !desk.is_empty() {
            pages::chats_changed(&changes, &desk).await;
            notify::chats_changed(&changes, &desk, ports::any_open()).await;
        }
    } else if area == Area::Managed.name() {
        // The admin's policy changed: pages show it (the session reads it at its next start).
        pages::repaint().await;
    } else if area == Area::Session.name() {
        if has(storage_keys::CREDENTIALS) {
            pages::repaint().await;
        } else if has(storage_keys::AGENT_STATUS) {
            pages::status_changed().await;
        }
        if has(storage_keys::COBROWSE) {
            pages::cobrowse_changed(&changes).await;
            notify::cobrowse_changed(&changes, ports::any_open()).await;
        }
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
    session::wake().await;
}

/// `alarms.onAlarm`: the safety net that wakes a stopped worker (and repeats notifications).
#[wasm_bindgen(js_name = onAlarm)]
pub async fn on_alarm(alarm: JsValue) {
    if webext::alarms::alarm_name(&alarm).as_deref() == Some(RESYNC_ALARM) {
        ensure_resync_alarm().await;
        session::wake().await;
        notify::refresh(ports::any_open()).await;
    }
}

/// `notifications.onClicked`: open the popup's page on that chat.
#[wasm_bindgen(js_name = onNotificationClicked)]
pub async fn on_notification_clicked(id: String) {
    notify::clicked(&id).await;
}
