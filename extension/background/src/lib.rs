//! Background glue: the Chrome service worker and the Firefox event page run this wasm.
//!
//! `background.js` registers every listener synchronously and forwards each event here once
//! the module is initialised. This crate converts JS values to core types, calls core, and
//! performs the resulting IO through `webext` (the only crate that touches the extension
//! APIs). It keeps **no authoritative state in memory**: the browser may stop the worker at any
//! moment, so every handler starts from storage. The only in-memory things are this
//! instance's start time (a diagnostic) and the open ports (connections, not state).
//! It never calls `web_sys::window()`: the Chrome worker has no window.

pub mod bayeux_link;

use std::cell::{Cell, RefCell};

use cobrowse_agent::protocol::{
    decode_request, BackgroundEvent, PopupReply, PopupRequest, Refusal, RefusalReason, Snapshot,
    WorkerInfo, EVENTS_PORT_NAME, PROTOCOL_VERSION,
};
use cobrowse_agent::sender::{classify_sender, MessageSender, SenderTrust};
use cobrowse_agent::settings::Settings;
use cobrowse_agent::storage_keys;
use wasm_bindgen::prelude::*;
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
    Ok(Snapshot {
        protocol: PROTOCOL_VERSION,
        configured: stored.is_some(),
        settings: stored.unwrap_or_default(),
        worker: worker_info(),
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
    if area == Area::Local.name()
        && storage::changed_keys(&changes)
            .iter()
            .any(|k| k == storage_keys::SETTINGS)
    {
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
}

/// `alarms.onAlarm`: the safety net that wakes a stopped worker.
#[wasm_bindgen(js_name = onAlarm)]
pub async fn on_alarm(alarm: JsValue) {
    if webext::alarms::alarm_name(&alarm).as_deref() == Some(RESYNC_ALARM) {
        // Nothing to resync yet: the chat connection arrives with the agent-chat work.
        ensure_resync_alarm().await;
    }
}
