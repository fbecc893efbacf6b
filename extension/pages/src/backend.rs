//! How pages talk to the background: one-shot requests, and the events port that is re-opened
//! whenever it drops (the browser stops the worker when idle; re-connecting wakes it).

use serde::de::DeserializeOwned;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cobrowse_agent::protocol::{
    BackgroundEvent, PopupReply, PopupRequest, Refusal, RequestEnvelope, EVENTS_PORT_NAME,
};
use wasm_bindgen::prelude::*;
use webext::port::{EarlyPort, Port};
use webext::Listener;
use yew::Callback;

use crate::i18n::t;

/// Sends one request. A transport failure (no background, no extension) becomes a refusal
/// with a message for the page, so callers handle one error shape.
pub async fn request(request: PopupRequest) -> Result<PopupReply, Refusal> {
    request_as(request).await
}

/// [`request`], its reply read as `R`: a page that needs only part of a reply reads a type
/// with only that part (the options page, [`SettingsReply`]), and carries no decoder for the
/// rest.
///
/// [`SettingsReply`]: cobrowse_agent::protocol::SettingsReply
pub async fn request_as<R: DeserializeOwned>(request: PopupRequest) -> Result<R, Refusal> {
    let envelope = RequestEnvelope::new(request);
    webext::runtime::send_message::<_, R>(&envelope)
        .await
        .map_err(|e| unreachable(e.to_string()))
}

fn unreachable(detail: String) -> Refusal {
    Refusal::new(
        cobrowse_agent::protocol::RefusalReason::StorageFailed,
        "errorBackgroundUnreachable",
        detail,
    )
}

/// Sends `request` and forgets the reply; a refusal's message goes to `on_error` (`None` on
/// success, which clears an earlier error).
pub fn act(request: PopupRequest, on_error: Callback<Option<String>>) {
    wasm_bindgen_futures::spawn_local(async move {
        match self::request(request).await {
            Ok(PopupReply::Refused(r)) | Err(r) => on_error.emit(Some(t(&r.message_key))),
            Ok(_) => on_error.emit(None),
        }
    });
}

/// Delay before re-opening a dropped port.
const REOPEN_DELAY_MS: i32 = 200;

struct OpenPort {
    port: Port,
    _on_message: Listener,
    _on_disconnect: Listener,
}

/// Keeps the events port open while it lives; calls `on_event` for each event pushed. A port
/// that cannot be opened, or drops before it brought anything, is told as a
/// [`BackgroundEvent::SnapshotRefused`] (the background is unreachable) before it is opened
/// again.
pub struct EventsSubscription {
    open: Rc<RefCell<Option<OpenPort>>>,
    closed: Rc<Cell<bool>>,
}

impl EventsSubscription {
    pub fn open(on_event: Callback<BackgroundEvent>) -> EventsSubscription {
        let sub = EventsSubscription {
            open: Rc::default(),
            closed: Rc::default(),
        };
        connect(sub.open.clone(), sub.closed.clone(), on_event);
        sub
    }
}

impl Drop for EventsSubscription {
    fn drop(&mut self) {
        self.closed.set(true);
        if let Some(open) = self.open.borrow_mut().take() {
            open.port.disconnect();
        }
    }
}

thread_local! {
    /// The events port `popup.js` opened before the module was compiled, until the popup
    /// takes it over.
    static EARLY_PORT: RefCell<Option<EarlyPort>> = const { RefCell::new(None) };
}

/// Keeps the port `popup.js` opened early (`null` when it opened none) for the first
/// [`EventsSubscription`].
pub fn hand_over_early_port(loader: JsValue) {
    EARLY_PORT.with(|e| *e.borrow_mut() = EarlyPort::from_js(loader));
}

fn connect(
    open: Rc<RefCell<Option<OpenPort>>>,
    closed: Rc<Cell<bool>>,
    on_event: Callback<BackgroundEvent>,
) {
    if closed.get() {
        return;
    }
    let early = EARLY_PORT.with(|e| e.borrow_mut().take());
    let port = match &early {
        Some(early) => early.port.clone(),
        None => match webext::runtime::connect(EVENTS_PORT_NAME) {
            Ok(port) => port,
            Err(e) => {
                webext::log_error(&format!("[cobrowse-agent] events port: {e}"));
                on_event.emit(BackgroundEvent::SnapshotRefused(unreachable(e.to_string())));
                return reconnect_later(open, closed, on_event);
            }
        },
    };
    let heard = Rc::new(Cell::new(false));
    let message = {
        let (emit, heard) = (on_event.clone(), heard.clone());
        Rc::new(move |text: String| {
            heard.set(true);
            match cobrowse_agent::json::from_str(&text) {
                Ok(event) => emit.emit(event),
                Err(e) => webext::log_error(&format!("[cobrowse-agent] bad event: {e}")),
            }
        })
    };
    let gone = {
        let (open, closed) = (open.clone(), closed.clone());
        Rc::new(move || {
            if !heard.get() {
                on_event.emit(BackgroundEvent::SnapshotRefused(unreachable(
                    "the events port closed before it brought anything".into(),
                )));
            }
            reconnect_later(open.clone(), closed.clone(), on_event.clone())
        })
    };
    let on_message = port.on_message({
        let message = message.clone();
        move |text| message(text)
    });
    let on_disconnect = port.on_disconnect({
        let gone = gone.clone();
        move || gone()
    });
    *open.borrow_mut() = Some(OpenPort {
        port,
        _on_message: on_message,
        _on_disconnect: on_disconnect,
    });
    // What came before the popup took the port over, in order, then its closing.
    if let Some(early) = early {
        let (messages, disconnected) = early.release();
        for text in messages {
            message(text);
        }
        if disconnected {
            gone();
        }
    }
}

fn reconnect_later(
    open: Rc<RefCell<Option<OpenPort>>>,
    closed: Rc<Cell<bool>>,
    on_event: Callback<BackgroundEvent>,
) {
    let Some(window) = web_sys::window() else {
        return;
    };
    // The old port's listeners are dropped in `connect`, outside the callback that fired.
    let retry = Closure::once_into_js(move || connect(open, closed, on_event));
    let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
        retry.unchecked_ref(),
        REOPEN_DELAY_MS,
    );
}
