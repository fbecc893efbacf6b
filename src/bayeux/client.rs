//! A sans-IO Bayeux client: inputs are received frames, transport failures, timer expiries and
//! the application's calls; outputs are frames to send, timers to arm and events.
//!
//! The driver (the extension background over WebSocket / `fetch`, or the native tokio client)
//! owns the sockets and clocks: it calls [`Client::start`], sends every [`Output::Send`] over
//! its transport (a long-polling driver sends `is_connect` requests on their own HTTP request,
//! which the server holds), feeds replies to [`Client::receive`], reports failures with
//! [`Client::request_failed`] / [`Client::transport_unavailable`], arms timers, and handles
//! [`Event`]s. It drains [`Client::poll_output`] after every call.
//!
//! Behaviour: handshake with `ext` (where authentication travels), transport negotiation with
//! fallback, the connect loop honouring `advice` (`reconnect`, `interval`, `timeout`),
//! re-handshake and re-subscribe when the server forgets the client, publish results matched by
//! `id`, back-off with jitter and a cap, and CometD's ack extension (`ext.ack`) so that messages
//! are redelivered after a reconnect and duplicates are dropped.

use std::collections::VecDeque;

use crate::sorted::{SortedMap, SortedSet};

use serde_json::{json, Map, Value};

use super::channel::{ChannelName, InvalidChannel};
use super::message::{Advice, Message, Reconnect};
use super::{meta, MINIMUM_VERSION, VERSION};
use crate::backoff::{Backoff, Jitter};

/// How the client behaves; the defaults follow CometD's JavaScript client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Connection types the driver can use, most preferred first.
    pub transports: Vec<String>,
    /// Sent as the handshake's `ext` (authentication, e.g. a token).
    pub handshake_ext: Map<String, Value>,
    /// Ask for CometD's ack extension.
    pub ack: bool,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Added to the advised `timeout` to get a `/meta/connect` request's deadline.
    pub max_network_delay_ms: u64,
    /// The held-connect timeout assumed until the server advises one.
    pub default_timeout_ms: u64,
    /// Messages (publish/subscribe) queued while not handshaken; more are refused.
    pub max_queued: usize,
    /// Seed of the jitter generator (tests pin it).
    pub seed: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            transports: vec![super::WEBSOCKET.into(), super::LONG_POLLING.into()],
            handshake_ext: Map::new(),
            ack: true,
            backoff_initial_ms: 1000,
            backoff_max_ms: 30_000,
            max_network_delay_ms: 10_000,
            default_timeout_ms: 30_000,
            max_queued: 1000,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// The client's timers (at most one of each is armed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    Handshake,
    Connect,
}

/// One frame to send; `request` identifies it in [`Client::request_failed`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub request: u64,
    pub messages: Vec<Message>,
    /// A `/meta/connect` the server may hold for `timeout_ms` minus the network allowance.
    pub is_connect: bool,
    /// When the driver should give up on this request.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Send(Outgoing),
    SetTimer { timer: Timer, after_ms: u64 },
    CancelTimer(Timer),
    Event(Event),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A session exists (first time, or again after the server forgot the previous one).
    Handshaken {
        client_id: String,
        transport: String,
        ack: bool,
    },
    HandshakeFailed {
        reason: String,
    },
    /// The connect loop works (after a handshake or after failures).
    Connected,
    /// The connect loop failed; the client retries by itself.
    ConnectionLost {
        reason: String,
    },
    /// A message delivered on a subscribed (or service) channel.
    Message(Box<Message>),
    Subscribed {
        channel: String,
    },
    SubscribeFailed {
        channel: String,
        reason: String,
    },
    Unsubscribed {
        channel: String,
    },
    PublishAcked {
        id: String,
    },
    PublishFailed {
        id: String,
        reason: String,
    },
    /// Terminal: after [`Client::disconnect`] or `advice.reconnect = none`.
    Disconnected {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Handshaking,
    /// Has a client id; `connected` says whether the connect loop currently works.
    Handshaken,
    Disconnecting,
    Terminated,
}

#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Handshake,
    Connect,
    Subscribe(String),
    Unsubscribe(String),
    Publish,
    Disconnect,
}

#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    client_id: Option<String>,
    transport: usize,
    connected: bool,
    connect_in_flight: bool,
    advice: Advice,
    next_id: u64,
    next_request: u64,
    pending: SortedMap<String, Pending>,
    requests: SortedMap<u64, Vec<String>>,
    wanted: SortedSet<String>,
    confirmed: SortedSet<String>,
    queued: VecDeque<Message>,
    failures: u32,
    ack_enabled: bool,
    ack_batch: i64,
    first_connect: bool,
    jitter: Jitter,
    out: VecDeque<Output>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Client {
        let jitter = Jitter::new(config.seed | 1);
        Client {
            config,
            state: State::Idle,
            client_id: None,
            transport: 0,
            connected: false,
            connect_in_flight: false,
            advice: Advice::default(),
            next_id: 0,
            next_request: 0,
            pending: SortedMap::new(),
            requests: SortedMap::new(),
            wanted: SortedSet::new(),
            confirmed: SortedSet::new(),
            queued: VecDeque::new(),
            failures: 0,
            ack_enabled: false,
            ack_batch: 0,
            first_connect: true,
            jitter,
            out: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// Whether the connect loop currently works.
    pub fn is_connected(&self) -> bool {
        self.state == State::Handshaken && self.connected
    }

    /// The connection type in use (or about to be tried).
    pub fn transport(&self) -> &str {
        self.config
            .transports
            .get(self.transport)
            .map(String::as_str)
            .unwrap_or(super::LONG_POLLING)
    }

    /// Channels the application wants, confirmed or not.
    pub fn subscriptions(&self) -> impl Iterator<Item = &str> {
        self.wanted.iter().map(String::as_str)
    }

    /// Whether the request `request` still has messages waiting for a reply.
    pub fn is_request_pending(&self, request: u64) -> bool {
        self.requests.contains_key(&request)
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Messages sent and not yet answered, plus messages waiting for a session (a bound the
    /// property tests check).
    pub fn in_flight(&self) -> usize {
        self.pending.len() + self.queued.len()
    }

    /// Begins: sends the handshake.
    pub fn start(&mut self) {
        if matches!(self.state, State::Idle | State::Terminated) {
            self.state = State::Idle;
            self.send_handshake();
        }
    }

    pub fn subscribe(&mut self, channel: &str) -> Result<(), InvalidChannel> {
        let name = ChannelName::parse(channel)?;
        if name.is_meta() {
            return Err(InvalidChannel(channel.to_owned()));
        }
        if self.wanted.insert(channel.to_owned()) && self.state == State::Handshaken {
            let msg = self.subscribe_message(channel);
            self.send(vec![msg], false);
        }
        Ok(())
    }

    pub fn unsubscribe(&mut self, channel: &str) {
        if !self.wanted.remove(channel) {
            return;
        }
        self.confirmed.remove(channel);
        if self.state == State::Handshaken {
            let id = self.new_id(Pending::Unsubscribe(channel.to_owned()));
            let mut msg = Message::on(meta::UNSUBSCRIBE);
            msg.id = Some(id);
            msg.client_id = self.client_id.clone();
            msg.subscription = Some(super::message::Subscription::One(channel.to_owned()));
            self.send(vec![msg], false);
        }
    }

    /// Publishes `data`; the result arrives as [`Event::PublishAcked`] / [`Event::PublishFailed`]
    /// with the returned id. While no session exists the message waits (bounded).
    pub fn publish(&mut self, channel: &str, data: Value) -> Result<String, InvalidChannel> {
        let name = ChannelName::parse(channel)?;
        if name.is_meta() || name.is_wildcard() {
            return Err(InvalidChannel(channel.to_owned()));
        }
        let id = self.new_id(Pending::Publish);
        let mut msg = Message::on(channel);
        msg.id = Some(id.clone());
        msg.data = Some(data);
        match self.state {
            State::Handshaken => {
                msg.client_id = self.client_id.clone();
                self.send(vec![msg], false);
            }
            State::Idle | State::Handshaking if self.queued.len() < self.config.max_queued => {
                self.queued.push_back(msg)
            }
            _ => {
                self.pending.remove(&id);
                self.emit(Event::PublishFailed {
                    id: id.clone(),
                    reason: "not connected".into(),
                });
            }
        }
        Ok(id)
    }

    /// Ends the session (sends `/meta/disconnect` when there is one).
    pub fn disconnect(&mut self) {
        self.out.push_back(Output::CancelTimer(Timer::Connect));
        self.out.push_back(Output::CancelTimer(Timer::Handshake));
        if self.state == State::Handshaken {
            self.state = State::Disconnecting;
            let id = self.new_id(Pending::Disconnect);
            let mut msg = Message::on(meta::DISCONNECT);
            msg.id = Some(id);
            msg.client_id = self.client_id.clone();
            self.send(vec![msg], false);
        } else if self.state != State::Terminated {
            self.terminate("disconnected by the application");
        }
    }

    /// A frame arrived (a reply to any request, or pushed over a WebSocket).
    pub fn receive(&mut self, messages: Vec<Message>) {
        // Ack extension: a connect reply names the batch its frame's messages belong to; a
        // batch already processed is a redelivery and its messages are dropped.
        let batch = messages
            .iter()
            .find(|m| m.channel == meta::CONNECT && m.successful == Some(true))
            .and_then(|m| m.ext_field("ack"))
            .and_then(Value::as_i64);
        let duplicate_batch = self.ack_enabled && batch.is_some_and(|b| b <= self.ack_batch);
        if let (true, Some(b)) = (self.ack_enabled, batch) {
            // Updated before the connect reply is handled: the next connect acknowledges it.
            self.ack_batch = self.ack_batch.max(b);
        }
        for msg in messages {
            match msg.channel.as_str() {
                meta::HANDSHAKE => self.on_handshake_reply(msg),
                meta::CONNECT => self.on_connect_reply(msg),
                meta::SUBSCRIBE | meta::UNSUBSCRIBE => self.on_subscription_reply(msg),
                meta::DISCONNECT => {
                    if self.state == State::Disconnecting {
                        self.terminate("disconnected");
                    }
                }
                c if c.starts_with("/meta/") => {}
                _ if msg.is_reply() => self.on_publish_reply(msg),
                _ if duplicate_batch => {}
                _ => {
                    if self.state == State::Handshaken || self.state == State::Disconnecting {
                        self.emit(Event::Message(Box::new(msg)));
                    }
                }
            }
        }
    }

    /// The request `request` failed (network error, HTTP error, socket closed, timeout).
    pub fn request_failed(&mut self, request: u64, reason: &str) {
        let Some(ids) = self.requests.remove(&request) else {
            return;
        };
        for id in ids {
            match self.pending.remove(&id) {
                Some(Pending::Handshake) => {
                    if self.state == State::Handshaking {
                        self.emit(Event::HandshakeFailed {
                            reason: reason.into(),
                        });
                        self.schedule_handshake(None);
                    }
                }
                Some(Pending::Connect) => {
                    self.connect_in_flight = false;
                    if self.state == State::Handshaken {
                        self.lose_connection(reason);
                        self.failures += 1;
                        let delay = self.backoff();
                        self.set_timer(Timer::Connect, delay);
                    }
                }
                Some(Pending::Subscribe(channel)) => self.emit(Event::SubscribeFailed {
                    channel,
                    reason: reason.into(),
                }),
                Some(Pending::Publish) => self.emit(Event::PublishFailed {
                    id,
                    reason: reason.into(),
                }),
                Some(Pending::Disconnect) => self.terminate("disconnected (no reply)"),
                Some(Pending::Unsubscribe(_)) | None => {}
            }
        }
    }

    /// The current transport cannot be used at all (e.g. the WebSocket upgrade was refused):
    /// fall back to the next one and handshake again.
    pub fn transport_unavailable(&mut self, reason: &str) {
        if matches!(self.state, State::Terminated | State::Disconnecting) {
            return;
        }
        self.abandon_requests(reason);
        if self.transport + 1 < self.config.transports.len() {
            self.transport += 1;
            self.reset_session();
            self.send_handshake();
        } else {
            self.transport = 0;
            self.reset_session();
            self.emit(Event::HandshakeFailed {
                reason: reason.into(),
            });
            self.schedule_handshake(None);
        }
    }

    /// A timer armed through [`Output::SetTimer`] expired.
    pub fn timer_fired(&mut self, timer: Timer) {
        match (timer, self.state) {
            (Timer::Handshake, State::Idle | State::Handshaking) => self.send_handshake(),
            (Timer::Connect, State::Handshaken) if !self.connect_in_flight => self.send_connect(),
            _ => {}
        }
    }

    // ---- replies ----

    fn on_handshake_reply(&mut self, msg: Message) {
        if self.state != State::Handshaking {
            return;
        }
        if let Some(id) = &msg.id {
            self.forget(id);
        }
        if let Some(a) = &msg.advice {
            self.merge_advice(a);
        }
        if msg.successful != Some(true) {
            let reason = msg
                .error
                .clone()
                .unwrap_or_else(|| "handshake refused".into());
            self.emit(Event::HandshakeFailed {
                reason: reason.clone(),
            });
            if msg.advice.as_ref().and_then(|a| a.reconnect) == Some(Reconnect::None) {
                return self.terminate(&reason);
            }
            return self.schedule_handshake(None);
        }
        let Some(client_id) = msg.client_id.clone().filter(|c| !c.is_empty()) else {
            self.emit(Event::HandshakeFailed {
                reason: "handshake reply without clientId".into(),
            });
            return self.schedule_handshake(None);
        };
        // Pick the most preferred of our transports, starting at the current one, that the
        // server supports.
        if let Some(server) = &msg.supported_connection_types {
            match (self.transport..self.config.transports.len())
                .find(|i| server.contains(&self.config.transports[*i]))
            {
                Some(i) => self.transport = i,
                None => {
                    self.emit(Event::HandshakeFailed {
                        reason: format!(
                            "no common transport (server offers {})",
                            server.join(", ")
                        ),
                    });
                    return self.terminate("no common transport");
                }
            }
        }
        self.ack_enabled = self.config.ack
            && match msg.ext_field("ack") {
                Some(Value::Bool(b)) => *b,
                Some(Value::Object(o)) => o.get("enabled") == Some(&Value::Bool(true)),
                _ => false,
            };
        if let Some(batch) = msg
            .ext_field("ack")
            .and_then(|a| a.get("batch"))
            .and_then(Value::as_i64)
        {
            self.ack_batch = batch;
        }
        self.client_id = Some(client_id.clone());
        self.state = State::Handshaken;
        self.failures = 0;
        self.first_connect = true;
        self.emit(Event::Handshaken {
            client_id,
            transport: self.transport().to_owned(),
            ack: self.ack_enabled,
        });
        self.send_connect();
        self.send_wanted_subscriptions();
        let queued: Vec<Message> = self.queued.drain(..).collect();
        for mut msg in queued {
            msg.client_id = self.client_id.clone();
            self.send(vec![msg], false);
        }
    }

    fn on_connect_reply(&mut self, msg: Message) {
        if self.state != State::Handshaken {
            return;
        }
        if let Some(id) = &msg.id {
            self.forget(id);
        }
        self.connect_in_flight = false;
        if let Some(a) = &msg.advice {
            self.merge_advice(a);
        }
        if msg.successful == Some(true) {
            self.failures = 0;
            if !self.connected {
                self.connected = true;
                self.emit(Event::Connected);
                self.send_wanted_subscriptions();
            }
            match self.advice.reconnect {
                Some(Reconnect::None) => self.terminate("server advised reconnect=none"),
                Some(Reconnect::Handshake) => self.rehandshake(),
                _ => match self.advice.interval.unwrap_or(0) {
                    0 => self.send_connect(),
                    ms => self.set_timer(Timer::Connect, ms),
                },
            }
            return;
        }
        let reason = msg
            .error
            .clone()
            .unwrap_or_else(|| "connect refused".into());
        self.lose_connection(&reason);
        let advised = msg
            .advice
            .as_ref()
            .and_then(|a| a.reconnect)
            .or(self.advice.reconnect);
        match advised {
            Some(Reconnect::None) => self.terminate(&reason),
            Some(Reconnect::Handshake) => self.rehandshake(),
            _ => {
                self.failures += 1;
                let delay = self.backoff().max(self.advice.interval.unwrap_or(0));
                self.set_timer(Timer::Connect, delay);
            }
        }
    }

    fn on_subscription_reply(&mut self, msg: Message) {
        let Some(kind) = msg.id.as_ref().and_then(|id| self.forget(id)) else {
            return;
        };
        match (kind, msg.successful == Some(true)) {
            (Pending::Subscribe(channel), true) if self.wanted.contains(&channel) => {
                self.confirmed.insert(channel.clone());
                self.emit(Event::Subscribed { channel });
            }
            (Pending::Subscribe(channel), false) => {
                self.wanted.remove(&channel);
                self.emit(Event::SubscribeFailed {
                    channel,
                    reason: msg.error.unwrap_or_else(|| "subscribe refused".into()),
                });
                self.apply_reply_advice(msg.advice.as_ref());
            }
            (Pending::Unsubscribe(channel), _) => self.emit(Event::Unsubscribed { channel }),
            _ => {}
        }
    }

    fn on_publish_reply(&mut self, msg: Message) {
        let Some(id) = msg.id.clone() else { return };
        if self.forget(&id) != Some(Pending::Publish) {
            return;
        }
        if msg.successful == Some(true) {
            self.emit(Event::PublishAcked { id });
        } else {
            self.emit(Event::PublishFailed {
                id,
                reason: msg.error.unwrap_or_else(|| "publish refused".into()),
            });
            self.apply_reply_advice(msg.advice.as_ref());
        }
    }

    /// A failed non-connect reply may say the session is gone (`402::Unknown client` with
    /// `reconnect: handshake`).
    fn apply_reply_advice(&mut self, advice: Option<&Advice>) {
        if advice.and_then(|a| a.reconnect) == Some(Reconnect::Handshake)
            && self.state == State::Handshaken
        {
            self.rehandshake();
        }
    }

    // ---- sending ----

    fn send_handshake(&mut self) {
        self.abandon_requests("re-handshaking");
        self.state = State::Handshaking;
        // Batches are numbered per session: a new session starts again.
        self.ack_batch = 0;
        let id = self.new_id(Pending::Handshake);
        let mut msg = Message::on(meta::HANDSHAKE);
        msg.id = Some(id);
        msg.version = Some(VERSION.into());
        msg.minimum_version = Some(MINIMUM_VERSION.into());
        msg.supported_connection_types = Some(
            self.config.transports[self
                .transport
                .min(self.config.transports.len().saturating_sub(1))..]
                .to_vec(),
        );
        let mut ext = self.config.handshake_ext.clone();
        if self.config.ack {
            ext.insert("ack".into(), Value::Bool(true));
        }
        if !ext.is_empty() {
            msg.ext = Some(ext);
        }
        let timeout = self.config.max_network_delay_ms;
        self.send_with_timeout(vec![msg], false, timeout);
    }

    fn send_connect(&mut self) {
        if self.connect_in_flight || self.state != State::Handshaken {
            return;
        }
        self.connect_in_flight = true;
        let id = self.new_id(Pending::Connect);
        let mut msg = Message::on(meta::CONNECT);
        msg.id = Some(id);
        msg.client_id = self.client_id.clone();
        msg.connection_type = Some(self.transport().to_owned());
        let mut timeout = self
            .advice
            .timeout
            .unwrap_or(self.config.default_timeout_ms);
        if self.first_connect {
            // Like CometD: the first connect returns at once, so `Connected` is prompt.
            msg.advice = Some(Advice {
                timeout: Some(0),
                ..Advice::default()
            });
            timeout = 0;
            self.first_connect = false;
        }
        if self.ack_enabled {
            msg.set_ext("ack", json!(self.ack_batch));
        }
        let deadline = timeout + self.config.max_network_delay_ms;
        self.send_with_timeout(vec![msg], true, deadline);
    }

    fn subscribe_message(&mut self, channel: &str) -> Message {
        let id = self.new_id(Pending::Subscribe(channel.to_owned()));
        let mut msg = Message::on(meta::SUBSCRIBE);
        msg.id = Some(id);
        msg.client_id = self.client_id.clone();
        msg.subscription = Some(super::message::Subscription::One(channel.to_owned()));
        msg
    }

    /// (Re-)sends every wanted subscription that is neither confirmed nor in flight, batched.
    fn send_wanted_subscriptions(&mut self) {
        let in_flight: SortedSet<String> = self
            .pending
            .values()
            .filter_map(|p| match p {
                Pending::Subscribe(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        let todo: Vec<String> = self
            .wanted
            .iter()
            .filter(|c| !self.confirmed.contains(*c) && !in_flight.contains(*c))
            .cloned()
            .collect();
        if todo.is_empty() {
            return;
        }
        let batch: Vec<Message> = todo.iter().map(|c| self.subscribe_message(c)).collect();
        self.send(batch, false);
    }

    fn send(&mut self, messages: Vec<Message>, is_connect: bool) {
        let timeout = self.config.max_network_delay_ms;
        self.send_with_timeout(messages, is_connect, timeout);
    }

    fn send_with_timeout(&mut self, messages: Vec<Message>, is_connect: bool, timeout_ms: u64) {
        self.next_request += 1;
        let request = self.next_request;
        let ids = messages.iter().filter_map(|m| m.id.clone()).collect();
        self.requests.insert(request, ids);
        self.out.push_back(Output::Send(Outgoing {
            request,
            messages,
            is_connect,
            timeout_ms,
        }));
    }

    // ---- helpers ----

    fn new_id(&mut self, kind: Pending) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.pending.insert(id.clone(), kind);
        id
    }

    /// Removes a pending id (and its request's entry once empty); returns what it was.
    fn forget(&mut self, id: &str) -> Option<Pending> {
        let kind = self.pending.remove(id)?;
        self.requests.retain(|_, ids| {
            ids.retain(|i| i != id);
            !ids.is_empty()
        });
        Some(kind)
    }

    /// Fails everything in flight (the session they belong to is being replaced).
    fn abandon_requests(&mut self, reason: &str) {
        let pending = std::mem::take(&mut self.pending);
        self.requests.clear();
        self.connect_in_flight = false;
        for (id, kind) in pending {
            match kind {
                Pending::Publish => self.emit(Event::PublishFailed {
                    id,
                    reason: reason.into(),
                }),
                Pending::Subscribe(_) => {} // re-sent after the next handshake
                _ => {}
            }
        }
    }

    fn reset_session(&mut self) {
        self.client_id = None;
        self.connected = false;
        self.confirmed.clear();
        self.state = State::Idle;
    }

    fn rehandshake(&mut self) {
        self.out.push_back(Output::CancelTimer(Timer::Connect));
        self.reset_session();
        if self.failures > 0 {
            self.schedule_handshake(None);
        } else {
            self.failures += 1;
            self.send_handshake();
        }
    }

    fn lose_connection(&mut self, reason: &str) {
        if self.connected {
            self.connected = false;
            self.confirmed.clear();
            self.emit(Event::ConnectionLost {
                reason: reason.into(),
            });
        }
    }

    fn schedule_handshake(&mut self, delay: Option<u64>) {
        self.state = State::Handshaking;
        self.failures += 1;
        let delay = delay.unwrap_or_else(|| self.backoff());
        self.set_timer(Timer::Handshake, delay);
    }

    fn merge_advice(&mut self, a: &Advice) {
        if a.reconnect.is_some() {
            self.advice.reconnect = a.reconnect;
        }
        if a.interval.is_some() {
            self.advice.interval = a.interval;
        }
        if a.timeout.is_some() {
            self.advice.timeout = a.timeout;
        }
        if a.max_interval.is_some() {
            self.advice.max_interval = a.max_interval;
        }
    }

    fn terminate(&mut self, reason: &str) {
        self.abandon_requests(reason);
        self.reset_session();
        self.state = State::Terminated;
        self.queued.clear();
        self.out.push_back(Output::CancelTimer(Timer::Connect));
        self.out.push_back(Output::CancelTimer(Timer::Handshake));
        self.emit(Event::Disconnected {
            reason: reason.into(),
        });
    }

    fn set_timer(&mut self, timer: Timer, after_ms: u64) {
        self.out.push_back(Output::SetTimer { timer, after_ms });
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    /// Exponential back-off with a cap and jitter in [½, 1] of the delay.
    fn backoff(&mut self) -> u64 {
        Backoff::new(self.config.backoff_initial_ms, self.config.backoff_max_ms)
            .jittered_ms(self.failures, &mut self.jitter)
    }
}

/// The next long-polling request from frames waiting to be sent: everything queued, as one
/// batch, except that a handshake always travels alone (CometD servers refuse it batched).
/// Long-polling keeps one such request in flight besides the held connect, so messages reach
/// the server in order; the drivers call this when that request is free.
pub fn take_long_polling_batch(queue: &mut Vec<Outgoing>) -> Vec<Outgoing> {
    let is_handshake = |o: &Outgoing| o.messages.iter().any(|m| m.channel == meta::HANDSHAKE);
    let take = match queue.iter().position(is_handshake) {
        Some(0) => 1,
        Some(i) => i,
        None => queue.len(),
    };
    queue.drain(..take).collect()
}

#[cfg(test)]
mod tests;
