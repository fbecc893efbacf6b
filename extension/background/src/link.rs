//! The Bayeux client in the background: the core state machine over WebSocket (web-sys) or
//! long-polling (`fetch`), with fallback from the first to the second, timers from
//! `setTimeout`. Works in Chrome's service worker and in Firefox's event page (it only uses
//! what both globals have: `WebSocket`, `fetch`, `setTimeout`, `AbortSignal.timeout`).
//!
//! A held `/meta/connect` over WebSocket is traffic at least every server timeout (20 s by
//! default), which Chrome counts as activity: while connected, the worker stays alive. It is
//! never relied on: if the worker dies, so does this connection, and the next wake-up starts a
//! new one from stored settings.

use cobrowse_agent::sorted::SortedMap;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

use cobrowse_agent::bayeux::client::{
    take_long_polling_batch, Client, ClientConfig, Event, Outgoing, Output, Timer,
};
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::{decode_frame, encode_frame, meta, LONG_POLLING, WEBSOCKET};
use cobrowse_agent::gws::Cookies;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use crate::global::js_err;
use crate::timer::{clear_timeout, set_timeout, TimerId};

type Shared = Rc<RefCell<Link>>;

/// A live Bayeux connection; events go to the callback given to [`BayeuxLink::connect`].
#[derive(Clone)]
pub struct BayeuxLink {
    link: Shared,
}

impl std::fmt::Debug for BayeuxLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BayeuxLink({})", self.link.borrow().url)
    }
}

struct Socket {
    ws: web_sys::WebSocket,
    generation: u64,
    open: bool,
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

struct Link {
    url: String,
    /// Extra request headers for long-polling (e.g. `Authorization`).
    headers: Vec<(String, String)>,
    client: Client,
    on_event: Rc<dyn Fn(Event)>,
    timers: SortedMap<Timer, TimerId>,
    socket: Option<Socket>,
    socket_generation: u64,
    socket_ever_opened: bool,
    socket_backlog: Vec<Outgoing>,
    socket_requests: Vec<u64>,
    socket_connect_timer: Option<TimerId>,
    lp_queue: Vec<Outgoing>,
    lp_busy: bool,
    closed: bool,
}

impl BayeuxLink {
    /// Starts a client for `url` (`http(s)://host/path`); `on_event` gets every event.
    pub fn connect(
        url: &str,
        config: ClientConfig,
        headers: Vec<(String, String)>,
        on_event: impl Fn(Event) + 'static,
    ) -> BayeuxLink {
        let link = Rc::new(RefCell::new(Link {
            url: url.to_owned(),
            headers,
            client: Client::new(config),
            on_event: Rc::new(on_event),
            timers: SortedMap::new(),
            socket: None,
            socket_generation: 0,
            socket_ever_opened: false,
            socket_backlog: Vec::new(),
            socket_requests: Vec::new(),
            socket_connect_timer: None,
            lp_queue: Vec::new(),
            lp_busy: false,
            closed: false,
        }));
        link.borrow_mut().client.start();
        pump(&link);
        BayeuxLink { link }
    }

    pub fn subscribe(&self, channel: &str) -> Result<(), String> {
        let r = self
            .link
            .borrow_mut()
            .client
            .subscribe(channel)
            .map_err(|e| e.to_string());
        pump(&self.link);
        r
    }

    /// Publishes; the id names the later `PublishAcked` / `PublishFailed` event.
    pub fn publish(&self, channel: &str, data: Value) -> Result<String, String> {
        let r = self
            .link
            .borrow_mut()
            .client
            .publish(channel, data)
            .map_err(|e| e.to_string());
        pump(&self.link);
        r
    }

    pub fn is_connected(&self) -> bool {
        self.link.borrow().client.is_connected()
    }

    /// The connection type in use.
    pub fn transport(&self) -> String {
        self.link.borrow().client.transport().to_owned()
    }

    /// Ends the session politely.
    pub fn disconnect(&self) {
        self.link.borrow_mut().client.disconnect();
        pump(&self.link);
    }
}

/// Drains the state machine's outputs; calls the event callback with no borrow held.
fn pump(link: &Shared) {
    let mut events = Vec::new();
    loop {
        let next = link.borrow_mut().client.poll_output();
        match next {
            None => break,
            Some(Output::Send(o)) => send(link, o),
            Some(Output::SetTimer { timer, after_ms }) => set_timer(link, timer, after_ms),
            Some(Output::CancelTimer(timer)) => {
                if let Some(id) = link.borrow_mut().timers.remove(&timer) {
                    clear_timeout(id);
                }
            }
            Some(Output::Event(e)) => {
                if matches!(e, Event::Disconnected { .. }) {
                    shut_down(link);
                }
                events.push(e);
            }
        }
    }
    if events.is_empty() {
        return;
    }
    let on_event = link.borrow().on_event.clone();
    for e in events {
        on_event(e);
    }
}

fn shut_down(link: &Shared) {
    let mut l = link.borrow_mut();
    l.closed = true;
    for (_, id) in std::mem::take(&mut l.timers) {
        clear_timeout(id);
    }
    if let Some(s) = l.socket.take() {
        let _ = s.ws.close();
    }
}

fn send(link: &Shared, outgoing: Outgoing) {
    if link.borrow().closed {
        return;
    }
    let transport = link.borrow().client.transport().to_owned();
    match transport.as_str() {
        WEBSOCKET => send_websocket(link, outgoing),
        LONG_POLLING => {
            if outgoing.is_connect {
                post(link, vec![outgoing], false);
            } else {
                link.borrow_mut().lp_queue.push(outgoing);
                flush_long_polling(link);
            }
        }
        other => {
            let r = outgoing.request;
            link.borrow_mut()
                .client
                .request_failed(r, &format!("unsupported transport {other}"));
        }
    }
}

// ---- timers ----

fn set_timer(link: &Shared, timer: Timer, after_ms: u64) {
    let weak = Rc::downgrade(link);
    let id = set_timeout(
        move || {
            if let Some(link) = weak.upgrade() {
                link.borrow_mut().timers.remove(&timer);
                link.borrow_mut().client.timer_fired(timer);
                pump(&link);
            }
        },
        after_ms,
    );
    if let Some(old) = link.borrow_mut().timers.insert(timer, id) {
        clear_timeout(old);
    }
}

// ---- long-polling over fetch ----

/// At most one non-connect request in flight (plus the held connect); see
/// [`take_long_polling_batch`].
fn flush_long_polling(link: &Shared) {
    let batch = {
        let mut l = link.borrow_mut();
        if l.lp_busy || l.lp_queue.is_empty() {
            return;
        }
        l.lp_busy = true;
        take_long_polling_batch(&mut l.lp_queue)
    };
    post(link, batch, true);
}

fn post(link: &Shared, batch: Vec<Outgoing>, is_queue: bool) {
    let (url, headers) = {
        let l = link.borrow();
        (l.url.clone(), l.headers.clone())
    };
    let requests: Vec<u64> = batch.iter().map(|o| o.request).collect();
    let timeout = batch.iter().map(|o| o.timeout_ms).max().unwrap_or(1).max(1);
    let messages: Vec<_> = batch.into_iter().flat_map(|o| o.messages).collect();
    let body = encode_frame(&messages);
    let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
    spawn_local(async move {
        let result = fetch_text(&url, &headers, &body, timeout).await;
        let Some(link) = weak.upgrade() else { return };
        {
            let mut l = link.borrow_mut();
            match result.and_then(|text| {
                decode_frame(&text, FrameLimits::default()).map_err(|e| e.to_string())
            }) {
                Ok(replies) => l.client.receive(replies),
                Err(reason) => {
                    for r in &requests {
                        l.client.request_failed(*r, &reason);
                    }
                }
            }
            if is_queue {
                l.lp_busy = false;
            }
        }
        pump(&link);
        flush_long_polling(&link);
    });
}

/// `fetch(url, {method: 'POST', ...})` with a deadline; the body text of a 2xx response.
async fn fetch_text(
    url: &str,
    headers: &[(String, String)],
    body: &str,
    timeout_ms: u64,
) -> Result<String, String> {
    let r = crate::http::request(
        "POST",
        url,
        headers,
        Some(body),
        timeout_ms,
        Cookies::Include,
    )
    .await?;
    if (200..300).contains(&r.status) {
        Ok(r.body)
    } else {
        Err(format!(
            "HTTP {}: {}",
            r.status,
            r.body.chars().take(200).collect::<String>()
        ))
    }
}

// ---- WebSocket ----

fn send_websocket(link: &Shared, outgoing: Outgoing) {
    let mut l = link.borrow_mut();
    let open = l.socket.as_ref().is_some_and(|s| s.open);
    if !open {
        l.socket_backlog.push(outgoing);
        if l.socket.is_none() {
            drop(l);
            open_socket(link);
        }
        return;
    }
    if outgoing.is_connect {
        let weak = Rc::downgrade(link);
        let generation = l.socket_generation;
        if let Some(old) = l.socket_connect_timer.take() {
            clear_timeout(old);
        }
        // No reply to a held connect in time: the socket is dead even if it looks open.
        l.socket_connect_timer = Some(set_timeout(
            move || {
                if let Some(link) = weak.upgrade() {
                    socket_closed(&link, generation, "connect timed out");
                }
            },
            outgoing.timeout_ms,
        ));
    }
    l.socket_requests.push(outgoing.request);
    let frame = encode_frame(&outgoing.messages);
    let sent = l
        .socket
        .as_ref()
        .map(|s| s.ws.send_with_str(&frame).is_ok())
        .unwrap_or(false);
    let generation = l.socket_generation;
    drop(l);
    if !sent {
        socket_closed(link, generation, "send failed");
    }
}

fn ws_url(url: &str) -> String {
    match url.strip_prefix("http") {
        Some(rest) => format!("ws{rest}"),
        None => url.to_owned(),
    }
}

fn open_socket(link: &Shared) {
    let url = ws_url(&link.borrow().url);
    let ws = match web_sys::WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(e) => return socket_refused(link, &js_err(e)),
    };
    let generation = {
        let mut l = link.borrow_mut();
        l.socket_generation += 1;
        l.socket_generation
    };
    let weak = Rc::downgrade(link);
    let on_open = {
        let weak = weak.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(link) = weak.upgrade() {
                socket_opened(&link, generation);
            }
        })
    };
    let on_message = {
        let weak = weak.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let Some(link) = weak.upgrade() else { return };
            let text = e
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string());
            if let Some(text) = text {
                socket_frame(&link, generation, &text);
            }
        })
    };
    let on_close = {
        let weak = weak.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(link) = weak.upgrade() {
                socket_closed(&link, generation, "socket closed");
            }
        })
    };
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // `error` is always followed by `close`, which does the work.
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    link.borrow_mut().socket = Some(Socket {
        ws,
        generation,
        open: false,
        _callbacks: vec![on_open, on_message, on_close],
    });
}

fn socket_opened(link: &Shared, generation: u64) {
    let backlog = {
        let mut l = link.borrow_mut();
        match l.socket.as_mut() {
            Some(s) if s.generation == generation => s.open = true,
            _ => return,
        }
        l.socket_ever_opened = true;
        std::mem::take(&mut l.socket_backlog)
    };
    for o in backlog {
        send_websocket(link, o);
    }
    pump(link);
}

fn socket_frame(link: &Shared, generation: u64, text: &str) {
    {
        let mut l = link.borrow_mut();
        if l.socket.as_ref().map(|s| s.generation) != Some(generation) {
            return;
        }
        match decode_frame(text, FrameLimits::default()) {
            Ok(messages) => {
                if messages.iter().any(|m| m.channel == meta::CONNECT) {
                    if let Some(t) = l.socket_connect_timer.take() {
                        clear_timeout(t);
                    }
                }
                l.client.receive(messages);
                let Link {
                    client,
                    socket_requests,
                    ..
                } = &mut *l;
                socket_requests.retain(|r| client.is_request_pending(*r));
            }
            Err(e) => webext::log_error(&format!("[cobrowse-agent] bayeux: bad frame: {e}")),
        }
    }
    pump(link);
}

/// The socket closed (or is treated as dead): every request on it failed. A socket that never
/// opened means WebSocket does not work here: fall back to the next transport.
fn socket_closed(link: &Shared, generation: u64, reason: &str) {
    let never_opened = {
        let l = link.borrow();
        match &l.socket {
            Some(s) if s.generation == generation => !s.open,
            _ => return,
        }
    };
    if never_opened {
        return socket_refused(link, reason);
    }
    {
        let mut l = link.borrow_mut();
        if let Some(s) = l.socket.take() {
            let _ = s.ws.close();
        }
        if let Some(t) = l.socket_connect_timer.take() {
            clear_timeout(t);
        }
        for r in std::mem::take(&mut l.socket_requests) {
            l.client.request_failed(r, reason);
        }
    }
    pump(link);
}

/// The socket could not be opened.
fn socket_refused(link: &Shared, reason: &str) {
    {
        let mut l = link.borrow_mut();
        if let Some(s) = l.socket.take() {
            let _ = s.ws.close();
        }
        let backlog = std::mem::take(&mut l.socket_backlog);
        if l.socket_ever_opened {
            // It worked before: the network is down; retry as usual, same session.
            for o in backlog {
                l.client.request_failed(o.request, reason);
            }
        } else {
            l.client.transport_unavailable(reason);
        }
    }
    pump(link);
}
