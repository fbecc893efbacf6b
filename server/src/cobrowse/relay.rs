//! The live view's streams: the customer's page sends its rrweb events over a WebSocket bound to
//! its session; the relay passes them to that session's agent views only, keeping the last full
//! snapshot and what followed (a checkpoint cache), so a late or reconnecting view starts
//! complete without asking the customer; the agents' pointers go back to the customer.
//!
//! Frames are JSON text (rrweb.md's wire protocol, as the customer script and the agent view
//! speak it):
//! - customer → relay: `{t:"hello", sessionToken, customerToken, href}` first, then
//!   `{t:"ev", seq, e}` (one rrweb event; `seq` strictly increasing per connection) and
//!   `{t:"end", reason}`;
//! - relay → customer: `{t:"hello", state, agents}`, `{t:"agent-joined", agents}`, `{t:"ptr", x,
//!   y, vis, click}`, `{t:"snap"}` (take a full snapshot), `{t:"end", reason}`;
//! - agent view → relay: `{t:"join"}`, `{t:"ptr", x, y, vis, click}`, `{t:"resync"}`, `{t:"end"}`;
//! - relay → agent view: `{t:"cache-begin", n}`, the cached `ev` frames, `{t:"cache-end",
//!   sinceLastMs}`, then every `ev` verbatim, `{t:"customer-left"}`, `{t:"customer-back"}`,
//!   `{t:"end", reason}`.
//!
//! Bounded everywhere: a frame is at most [`MAX_FRAME_BYTES`]; a customer may send at most
//! [`MAX_FRAMES_PER_10_S`] frames and [`MAX_BYTES_PER_10_S`] bytes per 10 s; the cache holds at
//! most [`MAX_CACHE_BYTES`] (beyond, it is dropped and the customer is asked for a new full
//! snapshot: views that join meanwhile wait for it); each connection's outbound queue holds
//! [`OUTBOUND_QUEUE`] frames (a view that cannot keep up is cut off and rejoins from the cache).
//! Malformed input closes that connection with a reason; no other session notices.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{Cobrowse, EndReason};
use crate::ids::{constant_time_eq, now_ms};
use crate::store::CobrowseState;

pub const MAX_FRAME_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_FRAMES_PER_10_S: u32 = 5_000;
pub const MAX_BYTES_PER_10_S: usize = 48 * 1024 * 1024;
pub const MAX_CACHE_BYTES: usize = 16 * 1024 * 1024;
pub const OUTBOUND_QUEUE: usize = 512;
/// Agent views of one session at most.
pub const MAX_VIEWS: usize = 4;
/// Agent pointer frames forwarded per view and second at most.
const MAX_POINTER_PER_S: u32 = 60;
/// How long a new connection may take to say who it is.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// What goes out on one connection.
#[derive(Debug, Clone)]
enum Out {
    Text(Arc<str>),
    Close(u16, &'static str),
}

#[derive(Debug, Clone)]
struct Peer {
    id: u64,
    tx: mpsc::Sender<Out>,
}

impl Peer {
    /// Queues a frame; false when the peer's queue is full (it cannot keep up) or it is gone.
    fn send(&self, out: Out) -> bool {
        self.tx.try_send(out).is_ok()
    }
}

#[derive(Debug, Default)]
struct Cache {
    frames: VecDeque<Arc<str>>,
    bytes: usize,
    /// Starts with a Meta event: a view can rebuild from it.
    complete: bool,
    /// Server time of the newest cached event.
    last_at_ms: i64,
}

#[derive(Debug, Default)]
struct Live {
    customer: Option<Peer>,
    views: Vec<Peer>,
    cache: Cache,
    /// Since when no customer page is connected (after it was, or after a restart).
    customer_gone_since: Option<i64>,
    agents: usize,
    snapshot_requested: bool,
}

#[derive(Debug, Default)]
pub struct Relay {
    live: Mutex<HashMap<String, Live>>,
    next_peer: Mutex<u64>,
}

fn frame(v: Value) -> Out {
    Out::Text(Arc::from(v.to_string()))
}

impl Relay {
    fn live(&self) -> MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn peer_id(&self) -> u64 {
        let mut n = self.next_peer.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    }

    pub fn live_count(&self) -> usize {
        self.live().len()
    }

    /// A session was created: its streams may connect.
    pub fn open(&self, session_id: &str) {
        self.live().entry(session_id.to_owned()).or_default();
    }

    /// After a restart: the session's customer page has to come back within the grace period.
    pub fn expect_customer(&self, session_id: &str, now: i64) {
        self.live()
            .entry(session_id.to_owned())
            .or_default()
            .customer_gone_since = Some(now);
    }

    /// Sessions whose customer page has been gone since before `since`.
    pub fn customers_gone(&self, since: i64) -> Vec<String> {
        self.live()
            .iter()
            .filter(|(_, l)| l.customer_gone_since.is_some_and(|t| t <= since))
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn agent_joined(&self, session_id: &str, agents: usize) {
        if let Some(l) = self.live().get_mut(session_id) {
            l.agents = agents;
            if let Some(c) = &l.customer {
                c.send(frame(json!({ "t": "agent-joined", "agents": agents })));
            }
        }
    }

    /// The session ended: everyone is told, then disconnected; its cache goes.
    pub fn end(&self, session_id: &str, reason: EndReason) {
        let Some(l) = self.live().remove(session_id) else {
            return;
        };
        let end = frame(json!({ "t": "end", "reason": reason.as_str() }));
        for p in l.customer.iter().chain(l.views.iter()) {
            p.send(end.clone());
            p.send(Out::Close(1000, "co-browse ended"));
        }
    }

    fn add_customer(&self, session_id: &str, peer: Peer) -> Option<(usize, bool)> {
        let mut live = self.live();
        let l = live.get_mut(session_id)?;
        if let Some(old) = l.customer.replace(peer) {
            old.send(Out::Close(4409, "the co-browse continues on another page"));
        }
        let was_gone = l.customer_gone_since.take().is_some();
        l.snapshot_requested = false;
        // A new page starts with a new Meta and full snapshot: the old cache is stale.
        l.cache = Cache::default();
        for v in &l.views {
            v.send(frame(json!({ "t": "customer-back" })));
        }
        Some((l.agents, was_gone))
    }

    fn remove_customer(&self, session_id: &str, peer: u64) {
        if let Some(l) = self.live().get_mut(session_id) {
            if l.customer.as_ref().is_some_and(|c| c.id == peer) {
                l.customer = None;
                l.customer_gone_since = Some(now_ms());
                for v in &l.views {
                    v.send(frame(json!({ "t": "customer-left" })));
                }
            }
        }
    }

    /// One customer event: to every view (a view that cannot keep up is cut off), and into
    /// the cache (a Meta event, which starts a page, starts it again).
    fn customer_event(&self, session_id: &str, text: Arc<str>, is_meta: bool) {
        let mut live = self.live();
        let Some(l) = live.get_mut(session_id) else {
            return;
        };
        let out = Out::Text(text.clone());
        l.views.retain(|v| {
            let kept = v.send(out.clone());
            if !kept {
                let _ = v.tx.try_send(Out::Close(4408, "too slow: join again"));
            }
            kept
        });
        let c = &mut l.cache;
        if is_meta {
            *c = Cache::default();
            c.complete = true;
            l.snapshot_requested = false;
        }
        if !c.complete {
            return;
        }
        c.bytes += text.len();
        c.frames.push_back(text);
        c.last_at_ms = now_ms();
        if c.bytes > MAX_CACHE_BYTES {
            // Cut off: views joining now wait for the next full snapshot, which is asked for.
            *c = Cache::default();
            if !l.snapshot_requested {
                l.snapshot_requested = true;
                if let Some(customer) = &l.customer {
                    customer.send(frame(json!({ "t": "snap" })));
                }
            }
        }
    }

    fn add_view(&self, session_id: &str, peer: Peer) -> Result<(), &'static str> {
        let mut live = self.live();
        let l = live.get_mut(session_id).ok_or("this co-browse has ended")?;
        if l.views.len() >= MAX_VIEWS {
            return Err("too many views of this co-browse");
        }
        l.views.push(peer);
        Ok(())
    }

    /// Sends a view the cache (`cache-begin`, frames, `cache-end`); if there is none yet, asks
    /// the customer for a full snapshot.
    fn send_cache(&self, session_id: &str, peer: u64) {
        let mut live = self.live();
        let Some(l) = live.get_mut(session_id) else {
            return;
        };
        let Some(view) = l.views.iter().find(|v| v.id == peer).cloned() else {
            return;
        };
        let c = &l.cache;
        let frames: Vec<Arc<str>> = if c.complete {
            c.frames.iter().cloned().collect()
        } else {
            Vec::new()
        };
        let since = if frames.is_empty() {
            0
        } else {
            now_ms() - c.last_at_ms
        };
        let mut ok = view.send(frame(json!({ "t": "cache-begin", "n": frames.len() })));
        for f in frames.iter() {
            ok = ok && view.send(Out::Text(f.clone()));
        }
        ok = ok && view.send(frame(json!({ "t": "cache-end", "sinceLastMs": since })));
        if !ok {
            let _ = view.tx.try_send(Out::Close(4408, "too slow: join again"));
        }
        if frames.is_empty() && !l.snapshot_requested {
            if let Some(customer) = &l.customer {
                l.snapshot_requested = true;
                customer.send(frame(json!({ "t": "snap" })));
            }
        }
        if l.customer.is_none() {
            view.send(frame(json!({ "t": "customer-left" })));
        }
    }

    fn remove_view(&self, session_id: &str, peer: u64) {
        if let Some(l) = self.live().get_mut(session_id) {
            l.views.retain(|v| v.id != peer);
        }
    }

    fn to_customer(&self, session_id: &str, out: Out) {
        if let Some(c) = self.live().get(session_id).and_then(|l| l.customer.clone()) {
            c.send(out);
        }
    }

    fn ask_snapshot(&self, session_id: &str) {
        self.to_customer(session_id, frame(json!({ "t": "snap" })));
    }
}

/// Pumps `rx` into the socket's sink until a close or the channel ends.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Out>,
) {
    while let Some(out) = rx.recv().await {
        let sent = match out {
            Out::Text(t) => sink.send(Message::Text(Utf8Bytes::from(t.as_ref()))).await,
            Out::Close(code, reason) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: reason.into(),
                    })))
                    .await;
                break;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

fn close(tx: &mpsc::Sender<Out>, code: u16, reason: &'static str) {
    let _ = tx.try_send(Out::Close(code, reason));
}

/// Counts frames and bytes in fixed 10 s windows.
struct Budget {
    window_start: i64,
    frames: u32,
    bytes: usize,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            window_start: now_ms(),
            frames: 0,
            bytes: 0,
        }
    }

    fn spend(&mut self, bytes: usize) -> bool {
        let now = now_ms();
        if now - self.window_start >= 10_000 {
            *self = Budget::new();
        }
        self.frames += 1;
        self.bytes += bytes;
        self.frames <= MAX_FRAMES_PER_10_S && self.bytes <= MAX_BYTES_PER_10_S
    }
}

/// One WebSocket: its reading half, and a writer task fed by a bounded queue.
struct Conn {
    stream: futures_util::stream::SplitStream<WebSocket>,
    tx: mpsc::Sender<Out>,
    writer: tokio::task::JoinHandle<()>,
}

/// Why reading stopped: the peer went, or it sent what closes the connection (code, reason).
type Stop = Option<(u16, &'static str)>;

impl Conn {
    fn open(socket: WebSocket) -> Conn {
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        Conn {
            stream,
            tx,
            writer: tokio::spawn(write_loop(sink, rx)),
        }
    }

    /// The next frame, a JSON object of at most `max` bytes, with its text.
    async fn next_json(&mut self, max: usize) -> Result<(Value, String), Stop> {
        let text = loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(t))) => break t.as_str().to_owned(),
                Some(Ok(Message::Binary(_))) => {
                    return Err(Some((1003, "binary frames are not understood")))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(None),
            }
        };
        if text.len() > max {
            return Err(Some((1009, "frame too large")));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.is_object() => Ok((v, text)),
            _ => Err(Some((1007, "not a JSON object"))),
        }
    }

    /// Closes with `code` and `reason` (if still open) and waits until the socket is done.
    async fn close(self, code: u16, reason: &'static str) {
        close(&self.tx, code, reason);
        self.finish().await;
    }

    /// Waits until the socket is done: the writer ends once every sender is gone.
    async fn finish(self) {
        drop(self.tx);
        let _ = self.writer.await;
    }
}

/// What a customer's `ev` frame carries that the relay looks at.
struct EventFrame {
    seq: u64,
    /// The page it starts (a Meta event's `href`).
    meta_href: Option<String>,
}

fn parse_event(v: &Value) -> Result<EventFrame, &'static str> {
    let seq = v
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("an event without seq")?;
    let e = v
        .get("e")
        .and_then(Value::as_object)
        .ok_or("an event without e")?;
    let kind = e
        .get("type")
        .and_then(Value::as_u64)
        .ok_or("an event without a type")?;
    if kind > 8 {
        return Err("an unknown event type");
    }
    if !e.get("timestamp").is_some_and(Value::is_number) {
        return Err("an event without a timestamp");
    }
    let meta_href = if kind == 4 {
        let href = e
            .get("data")
            .and_then(|d| d.get("href"))
            .and_then(Value::as_str)
            .filter(|h| h.len() <= 2048)
            .ok_or("a page event without its address")?;
        Some(href.to_owned())
    } else {
        None
    };
    Ok(EventFrame { seq, meta_href })
}

/// The customer's page: `hello` first, then its events.
pub async fn customer_socket(cobrowse: Arc<Cobrowse>, socket: WebSocket) {
    let mut conn = Conn::open(socket);
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, conn.next_json(4096)).await {
        Ok(Ok((v, _))) if v["t"] == "hello" => v,
        _ => return conn.close(1008, "say hello first").await,
    };
    let token = hello["sessionToken"].as_str().unwrap_or_default();
    let customer_token = hello["customerToken"].as_str().unwrap_or_default();
    let session = cobrowse
        .live(token)
        .ok()
        .filter(|s| constant_time_eq(s.customer_token.as_bytes(), customer_token.as_bytes()));
    let Some(session) = session else {
        return conn
            .close(4403, "no live co-browse session for this page")
            .await;
    };
    let relay = &cobrowse.relay;
    let peer = Peer {
        id: relay.peer_id(),
        tx: conn.tx.clone(),
    };
    let Some((agents, _)) = relay.add_customer(&session.id, peer.clone()) else {
        return conn.close(4410, "this co-browse has ended").await;
    };
    let state = match session.state {
        CobrowseState::Active => "active",
        _ => "idle",
    };
    peer.send(frame(
        json!({ "t": "hello", "state": state, "agents": agents }),
    ));
    let mut budget = Budget::new();
    let mut last_seq: Option<u64> = None;
    let mut last_href: Option<String> = None;
    let stop: Stop = loop {
        let (v, text) = match conn.next_json(MAX_FRAME_BYTES).await {
            Ok(frame) => frame,
            Err(stop) => break stop,
        };
        if !budget.spend(text.len()) {
            break Some((1008, "too many events: slow down"));
        }
        match v["t"].as_str() {
            Some("ev") => {
                let ev = match parse_event(&v) {
                    Ok(ev) => ev,
                    Err(why) => break Some((1007, why)),
                };
                if last_seq.is_some_and(|s| ev.seq <= s) {
                    continue; // a repeat: already passed on
                }
                last_seq = Some(ev.seq);
                if let Some(href) = &ev.meta_href {
                    if last_href.as_ref() != Some(href) {
                        cobrowse.page_entered(&session.id, href);
                        last_href = Some(href.clone());
                    }
                }
                relay.customer_event(&session.id, Arc::from(text), ev.meta_href.is_some());
            }
            Some("end") => {
                let _ = cobrowse.end(&session.id, EndReason::CustomerExit);
                break None;
            }
            _ => break Some((1008, "unknown frame")),
        }
    };
    relay.remove_customer(&session.id, peer.id);
    drop(peer);
    match stop {
        Some((code, reason)) => conn.close(code, reason).await,
        None => conn.finish().await,
    }
}

/// A pointer frame from an agent view, checked and rebuilt (nothing else goes to the customer).
fn pointer(v: &Value) -> Option<Value> {
    let coordinate = |name: &str| {
        v.get(name)
            .and_then(Value::as_f64)
            .filter(|n| n.is_finite() && n.abs() <= 100_000.0)
    };
    Some(json!({
        "t": "ptr",
        "x": coordinate("x")?.round(),
        "y": coordinate("y")?.round(),
        "vis": v.get("vis").and_then(Value::as_bool).unwrap_or(true),
        "click": v.get("click").and_then(Value::as_bool).unwrap_or(false),
    }))
}

/// An agent's view of the session its cookie names.
pub async fn view_socket(cobrowse: Arc<Cobrowse>, view: Option<String>, socket: WebSocket) {
    let mut conn = Conn::open(socket);
    let session = match view.as_deref().map(|v| cobrowse.view_session(v)) {
        Some(Ok(s)) => s,
        Some(Err(e)) if e.http == 410 => {
            let _ = conn
                .tx
                .try_send(frame(json!({ "t": "end", "reason": "ended" })));
            return conn.close(4410, "this co-browse has ended").await;
        }
        _ => {
            return conn
                .close(4401, "open this co-browse from the agent desk")
                .await
        }
    };
    let relay = &cobrowse.relay;
    let peer = Peer {
        id: relay.peer_id(),
        tx: conn.tx.clone(),
    };
    if let Err(why) = relay.add_view(&session.id, peer.clone()) {
        return conn.close(4429, why).await;
    }
    let mut window = (now_ms(), 0u32);
    let stop: Stop = loop {
        let (v, _) = match conn.next_json(4096).await {
            Ok(frame) => frame,
            Err(stop) => break stop,
        };
        match v["t"].as_str() {
            Some("join") => relay.send_cache(&session.id, peer.id),
            Some("resync") => relay.ask_snapshot(&session.id),
            Some("ptr") => {
                let now = now_ms();
                if now - window.0 >= 1000 {
                    window = (now, 0);
                }
                window.1 += 1;
                if window.1 > MAX_POINTER_PER_S {
                    continue;
                }
                match pointer(&v) {
                    Some(p) => relay.to_customer(&session.id, frame(p)),
                    None => break Some((1007, "a pointer needs x and y")),
                }
            }
            Some("end") => {
                let _ = cobrowse.end(&session.id, EndReason::AgentExit);
                break None;
            }
            _ => break Some((1008, "unknown frame")),
        }
    };
    relay.remove_view(&session.id, peer.id);
    drop(peer);
    match stop {
        Some((code, reason)) => conn.close(code, reason).await,
        None => conn.finish().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked_before_they_are_passed_on() {
        let ok =
            parse_event(&json!({"t":"ev","seq":3,"e":{"type":3,"timestamp":1,"data":{}}})).unwrap();
        assert_eq!((ok.seq, ok.meta_href), (3, None));
        let meta = parse_event(
            &json!({"t":"ev","seq":1,"e":{"type":4,"timestamp":1,"data":{"href":"http://shop/"}}}),
        )
        .unwrap();
        assert_eq!(meta.meta_href.as_deref(), Some("http://shop/"));
        for bad in [
            json!({"t":"ev","e":{"type":3,"timestamp":1}}),
            json!({"t":"ev","seq":1,"e":{"type":99,"timestamp":1}}),
            json!({"t":"ev","seq":1,"e":{"type":3}}),
            json!({"t":"ev","seq":1,"e":{"type":4,"timestamp":1,"data":{}}}),
            json!({"t":"ev","seq":1,"e":"x"}),
        ] {
            assert!(parse_event(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_rebuilt_pointer_reaches_the_customer() {
        let p = pointer(&json!({"t":"ptr","x":10.4,"y":20,"vis":false,"evil":"<script>"})).unwrap();
        assert_eq!(
            p,
            json!({"t":"ptr","x":10.0,"y":20.0,"vis":false,"click":false})
        );
        assert!(pointer(&json!({"t":"ptr","x":1e12,"y":0})).is_none());
        assert!(pointer(&json!({"t":"ptr","y":0})).is_none());
    }

    #[tokio::test]
    async fn the_cache_starts_at_the_last_page_and_is_cut_off_when_too_big() {
        let relay = Relay::default();
        relay.open("s");
        let (tx, mut rx) = mpsc::channel(OUTBOUND_QUEUE);
        relay.add_customer("s", Peer { id: 1, tx }).unwrap();
        relay.customer_event("s", Arc::from("before any page"), false);
        assert!(
            !relay.live()["s"].cache.complete,
            "nothing to rebuild from yet"
        );
        relay.customer_event("s", Arc::from("meta"), true);
        relay.customer_event("s", Arc::from("change"), false);
        {
            let live = relay.live();
            let c = &live["s"].cache;
            assert_eq!(c.frames, [Arc::from("meta"), Arc::from("change")]);
        }
        let big: Arc<str> = Arc::from("x".repeat(MAX_CACHE_BYTES));
        relay.customer_event("s", big, false);
        assert!(!relay.live()["s"].cache.complete, "cut off");
        let asked = rx
            .try_recv()
            .expect("the customer is asked for a full snapshot");
        assert!(matches!(asked, Out::Text(t) if t.contains("snap")));
        relay.customer_event("s", Arc::from("meta 2"), true);
        assert_eq!(relay.live()["s"].cache.frames, [Arc::from("meta 2")]);
    }
}
