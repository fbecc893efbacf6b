//! A sans-IO Bayeux server engine: sessions, subscriptions, queues, the ack extension and
//! every protocol rule; no sockets, no clocks, no threads.
//!
//! The transport (the reference server's HTTP long-polling and WebSocket endpoint) decodes a
//! frame, authenticates the request (HTTP Basic, a session cookie, or a token in the handshake
//! `ext`: the engine only sees the resulting principal), and calls [`Engine::handle`]. It sends
//! the immediate replies, and if the frame held a `/meta/connect` it waits until
//! [`Engine::should_answer`] or the deadline, then sends what [`Engine::complete_connect`]
//! returns. Publishing and delivering return the sessions to wake. [`Engine::sweep`] removes
//! sessions whose client stopped connecting.
//!
//! Bad input never panics and never affects other sessions: it gets a Bayeux error reply
//! (`"error": "4xx:args:message"`).

use std::collections::{BTreeSet, VecDeque};
use std::hash::Hash;

use serde_json::{json, Value};

use super::channel::ChannelName;
use super::message::{Advice, BayeuxError, Message, Reconnect};
use super::{meta, VERSION};

mod sessions;

use sessions::{Retained, RetainedByPrincipal, Sessions};

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// How long a `/meta/connect` is held when there is nothing to deliver (ms). Below Chrome's
    /// 30 s idle limit, so a held WebSocket connect keeps an extension's worker alive.
    pub timeout_ms: u64,
    /// Advised pause between connects (ms).
    pub interval_ms: u64,
    /// A session without a connect for this long is removed (ms).
    pub max_interval_ms: u64,
    /// Messages queued for one session before it is dropped (its client must re-handshake and
    /// resync rather than silently miss messages).
    pub max_queue: usize,
    /// Connection types offered, in the server's preference order.
    pub transports: Vec<String>,
    /// Offer CometD's ack extension.
    pub ack: bool,
    /// Messages for a principal none of whose sessions is subscribed (its client is between
    /// sessions: reconnecting, re-handshaking, or the server just restarted) are kept this long
    /// and delivered when a session of that principal subscribes (ms).
    pub retain_for_principal_ms: u64,
    /// At most this many such messages per principal (the oldest go first).
    pub max_retained_per_principal: usize,
    /// Channels one session may subscribe to; more are refused (403).
    pub max_subscriptions: usize,
    /// Sessions one principal may hold; a further handshake removes its least recently seen
    /// one (a desk that re-handshakes always gets in; a client minting sessions cannot grow
    /// the server).
    pub max_sessions_per_principal: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            timeout_ms: 20_000,
            interval_ms: 0,
            max_interval_ms: 10_000,
            max_queue: 1000,
            transports: vec![super::WEBSOCKET.into(), super::LONG_POLLING.into()],
            ack: true,
            retain_for_principal_ms: 60_000,
            max_retained_per_principal: 1000,
            max_subscriptions: 64,
            max_sessions_per_principal: 8,
        }
    }
}

/// Decides who may subscribe and publish where (the reference server's policy).
pub trait Authorizer<P> {
    fn may_subscribe(&self, principal: &P, channel: &ChannelName) -> bool;
    fn may_publish(&self, principal: &P, channel: &ChannelName) -> bool;
}

/// Allows everything (tests and the interop endpoint).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl<P> Authorizer<P> for AllowAll {
    fn may_subscribe(&self, _: &P, _: &ChannelName) -> bool {
        true
    }
    fn may_publish(&self, _: &P, _: &ChannelName) -> bool {
        true
    }
}

/// Who sent a frame, as the transport established it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestContext<P> {
    /// The authenticated principal of this request (`None`: not authenticated).
    pub principal: Option<P>,
    /// The connection type the frame arrived on.
    pub transport: String,
}

/// A `/meta/connect` the transport must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldConnect {
    pub client_id: String,
    /// When to answer even if nothing arrived (engine time, ms).
    pub until_ms: u64,
    generation: u64,
    reply: Message,
}

/// A message published to a `/service/**` channel: for the application, not for broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest<P> {
    pub client_id: String,
    pub principal: P,
    pub channel: String,
    pub data: Value,
    pub id: Option<String>,
}

/// What [`Engine::handle`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled<P> {
    /// Replies to send now, in order.
    pub replies: Vec<Message>,
    /// A connect to hold; its reply (and the queued messages) come from
    /// [`Engine::complete_connect`].
    pub held: Option<HeldConnect>,
    pub service_requests: Vec<ServiceRequest<P>>,
    /// Sessions that got messages (wake their held connects).
    pub woken: Vec<String>,
    /// Sessions this frame removed (disconnected, replaced, overflowed): the transport wakes
    /// their held connects and forgets what it kept for them.
    pub ended: Vec<String>,
}

#[derive(Debug)]
struct Session<P> {
    principal: P,
    transport: String,
    subscriptions: BTreeSet<ChannelName>,
    queue: VecDeque<Message>,
    /// Engine time of the last connect's end (or of the handshake).
    last_seen_ms: u64,
    connect_held: bool,
    /// Deadline of the held connect: if its transport vanished without answering it, the
    /// session expires from here.
    held_until_ms: u64,
    connect_generation: u64,
    ack: Option<AckState>,
    overflowed: bool,
    /// Order of creation (ties in `last_seen_ms` go to the older session).
    seq: u64,
}

#[derive(Debug, Default)]
struct AckState {
    batch: i64,
    /// Sent but not yet acknowledged, by batch.
    unacked: VecDeque<(i64, Vec<Message>)>,
}

/// Counters for the benchmark and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub sessions: usize,
    pub queued: usize,
    pub retained: usize,
}

pub struct Engine<P, A> {
    config: ServerConfig,
    authorizer: A,
    sessions: Sessions<P>,
    retained: RetainedByPrincipal<P>,
    new_client_id: Box<dyn FnMut() -> String + Send>,
    handshakes: u64,
}

impl<P, A> std::fmt::Debug for Engine<P, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

fn error_reply(request: &Message, error: BayeuxError) -> Message {
    Message {
        channel: request.channel.clone(),
        id: request.id.clone(),
        client_id: request.client_id.clone(),
        successful: Some(false),
        error: Some(error.to_string()),
        subscription: request.subscription.clone(),
        ..Message::default()
    }
}

fn success_reply(request: &Message) -> Message {
    Message {
        channel: request.channel.clone(),
        id: request.id.clone(),
        client_id: request.client_id.clone(),
        successful: Some(true),
        ..Message::default()
    }
}

fn unknown_client(request: &Message) -> Message {
    let mut reply = error_reply(request, BayeuxError::new(402, &[], "session_unknown"));
    reply.advice = Some(Advice {
        reconnect: Some(Reconnect::Handshake),
        interval: Some(0),
        ..Advice::default()
    });
    reply
}

impl<P: Clone + Eq + Hash, A: Authorizer<P>> Engine<P, A> {
    /// `new_client_id` must return unguessable ids (the transport passes a CSPRNG).
    pub fn new(
        config: ServerConfig,
        authorizer: A,
        new_client_id: Box<dyn FnMut() -> String + Send>,
    ) -> Self {
        Engine {
            config,
            authorizer,
            sessions: Sessions::new(),
            retained: RetainedByPrincipal::new(),
            new_client_id,
            handshakes: 0,
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            sessions: self.sessions.len(),
            queued: self.sessions.iter().map(|(_, s)| s.queue.len()).sum(),
            retained: self.retained.len(),
        }
    }

    pub fn principal_of(&self, client_id: &str) -> Option<&P> {
        self.sessions.get(client_id).map(|s| &s.principal)
    }

    /// Handles one decoded frame.
    pub fn handle(
        &mut self,
        now_ms: u64,
        frame: Vec<Message>,
        ctx: &RequestContext<P>,
    ) -> Handled<P> {
        let mut out = Handled {
            replies: Vec::new(),
            held: None,
            service_requests: Vec::new(),
            woken: Vec::new(),
            ended: Vec::new(),
        };
        for msg in frame {
            match ChannelName::parse(&msg.channel) {
                Err(_) => out.replies.push(error_reply(
                    &msg,
                    BayeuxError::new(400, &[], "invalid channel"),
                )),
                Ok(_) if msg.channel == meta::HANDSHAKE => {
                    out.replies
                        .push(self.handshake(now_ms, &msg, ctx, &mut out.ended))
                }
                Ok(channel) => {
                    let Some(session) = msg
                        .client_id
                        .as_deref()
                        .and_then(|id| self.sessions.get(id))
                    else {
                        out.replies.push(if msg.channel == meta::CONNECT {
                            unknown_client(&msg)
                        } else {
                            error_reply(&msg, BayeuxError::new(402, &[], "session_unknown"))
                        });
                        continue;
                    };
                    // Only requests authenticated as the session's principal may use it: a
                    // stolen clientId is worth nothing without the credentials.
                    if ctx.principal.as_ref() != Some(&session.principal) {
                        out.replies.push(error_reply(
                            &msg,
                            BayeuxError::new(403, &[], "session belongs to another principal"),
                        ));
                        continue;
                    }
                    let client_id = msg.client_id.clone().unwrap_or_default();
                    match msg.channel.as_str() {
                        meta::CONNECT => match self.connect(now_ms, &client_id, &msg, ctx) {
                            Ok(held) => out.held = Some(held),
                            Err(reply) => {
                                if !self.sessions.contains(&client_id) {
                                    out.ended.push(client_id);
                                }
                                out.replies.push(*reply)
                            }
                        },
                        meta::SUBSCRIBE => {
                            out.replies.push(self.subscribe(&client_id, &msg, true));
                            if self.flush_retained(&client_id) {
                                out.woken.push(client_id);
                            }
                        }
                        meta::UNSUBSCRIBE => {
                            out.replies.push(self.subscribe(&client_id, &msg, false))
                        }
                        meta::DISCONNECT => {
                            self.sessions.remove(&client_id);
                            out.ended.push(client_id);
                            out.replies.push(success_reply(&msg));
                        }
                        _ if channel.is_meta() => out.replies.push(error_reply(
                            &msg,
                            BayeuxError::new(400, &[&msg.channel], "unknown meta channel"),
                        )),
                        _ => out.replies.push(self.publish_from(
                            &client_id,
                            channel,
                            &msg,
                            &mut out.service_requests,
                            &mut out.woken,
                        )),
                    }
                }
            }
        }
        out
    }

    fn handshake(
        &mut self,
        now_ms: u64,
        msg: &Message,
        ctx: &RequestContext<P>,
        ended: &mut Vec<String>,
    ) -> Message {
        let Some(principal) = ctx.principal.clone() else {
            let mut reply = error_reply(msg, BayeuxError::new(403, &[], "unauthorized"));
            reply.advice = Some(Advice {
                reconnect: Some(Reconnect::None),
                ..Advice::default()
            });
            return reply;
        };
        let offered = msg.supported_connection_types.clone().unwrap_or_default();
        if !offered.iter().any(|t| self.config.transports.contains(t)) {
            let mut reply = error_reply(
                msg,
                BayeuxError::new(
                    406,
                    &offered.iter().map(String::as_str).collect::<Vec<_>>(),
                    "unsupported connection types",
                ),
            );
            reply.supported_connection_types = Some(self.config.transports.clone());
            return reply;
        }
        let mut own: Vec<(u64, u64, String)> = self
            .sessions
            .of(&principal)
            .iter()
            .filter_map(|id| self.sessions.get(id).map(|s| (id, s)))
            .map(|(id, s)| (s.last_seen_ms.max(s.held_until_ms), s.seq, id.clone()))
            .collect();
        if own.len() >= self.config.max_sessions_per_principal {
            own.sort();
            let excess = own.len() + 1 - self.config.max_sessions_per_principal.max(1);
            for (_, _, id) in own.into_iter().take(excess) {
                self.sessions.remove(&id);
                ended.push(id);
            }
        }
        let client_id = (self.new_client_id)();
        self.handshakes += 1;
        let wants_ack = self.config.ack && msg.ext_field("ack") == Some(&Value::Bool(true));
        self.sessions.insert(
            client_id.clone(),
            Session {
                principal,
                transport: ctx.transport.clone(),
                subscriptions: BTreeSet::new(),
                queue: VecDeque::new(),
                last_seen_ms: now_ms,
                connect_held: false,
                held_until_ms: 0,
                connect_generation: 0,
                ack: wants_ack.then(AckState::default),
                overflowed: false,
                seq: self.handshakes,
            },
        );
        let mut reply = success_reply(msg);
        reply.client_id = Some(client_id);
        reply.version = Some(VERSION.into());
        reply.supported_connection_types = Some(self.config.transports.clone());
        reply.advice = Some(self.advice());
        if wants_ack {
            reply.set_ext("ack", Value::Bool(true));
        }
        reply
    }

    fn advice(&self) -> Advice {
        Advice {
            reconnect: Some(Reconnect::Retry),
            interval: Some(self.config.interval_ms),
            timeout: Some(self.config.timeout_ms),
            max_interval: Some(self.config.max_interval_ms),
            ..Advice::default()
        }
    }

    fn connect(
        &mut self,
        now_ms: u64,
        client_id: &str,
        msg: &Message,
        ctx: &RequestContext<P>,
    ) -> Result<HeldConnect, Box<Message>> {
        let advice = self.advice();
        let timeout = self.config.timeout_ms;
        let session = self
            .sessions
            .get_mut(client_id)
            .expect("checked by the caller");
        if session.overflowed {
            self.sessions.remove(client_id);
            return Err(Box::new(unknown_client(msg)));
        }
        if msg
            .connection_type
            .as_deref()
            .is_some_and(|t| !self.config.transports.iter().any(|s| s == t))
        {
            return Err(Box::new(error_reply(
                msg,
                BayeuxError::new(406, &[], "unsupported connection type"),
            )));
        }
        session.transport = ctx.transport.clone();
        // Ack extension: everything up to the acknowledged batch arrived; later batches did
        // not (their reply was lost) and go out again, first and in order.
        if let (Some(ack), Some(acked)) = (
            session.ack.as_mut(),
            msg.ext_field("ack").and_then(Value::as_i64),
        ) {
            let mut resend: Vec<Message> = Vec::new();
            while let Some((batch, messages)) = ack.unacked.pop_front() {
                if batch > acked {
                    resend.extend(messages);
                }
            }
            if resend.len() + session.queue.len() > self.config.max_queue {
                // Re-sent batches count against the same bound as new messages.
                self.sessions.remove(client_id);
                return Err(Box::new(unknown_client(msg)));
            }
            for m in resend.into_iter().rev() {
                session.queue.push_front(m);
            }
        }
        let mut reply = success_reply(msg);
        // A client that sent advice (the first connect) gets advice back, as CometD does.
        let requested = msg.advice.as_ref().and_then(|a| a.timeout);
        if msg.advice.is_some() {
            reply.advice = Some(advice);
        }
        let until_ms = now_ms + requested.unwrap_or(timeout).min(timeout);
        session.connect_held = true;
        session.held_until_ms = until_ms;
        session.connect_generation += 1;
        Ok(HeldConnect {
            client_id: client_id.to_owned(),
            until_ms,
            generation: session.connect_generation,
            reply,
        })
    }

    /// Whether a held connect of `client_id` should be answered now (messages waiting, or the
    /// session is gone or superseded).
    pub fn should_answer(&self, held: &HeldConnect) -> bool {
        match self.sessions.get(&held.client_id) {
            Some(s) => {
                !s.queue.is_empty() || s.connect_generation != held.generation || s.overflowed
            }
            None => true,
        }
    }

    /// Answers a held connect: the queued messages, then the connect reply.
    pub fn complete_connect(&mut self, now_ms: u64, held: HeldConnect) -> Vec<Message> {
        let Some(session) = self.sessions.get_mut(&held.client_id) else {
            return vec![unknown_client(&held.reply)];
        };
        if session.connect_generation != held.generation {
            // A newer connect took over; this one ends empty.
            return vec![held.reply];
        }
        session.connect_held = false;
        session.last_seen_ms = now_ms;
        if session.overflowed {
            self.sessions.remove(&held.client_id);
            return vec![unknown_client(&held.reply)];
        }
        let messages: Vec<Message> = session.queue.drain(..).collect();
        let mut reply = held.reply;
        if let Some(ack) = session.ack.as_mut() {
            if !messages.is_empty() {
                ack.batch += 1;
                ack.unacked.push_back((ack.batch, messages.clone()));
            }
            let unacked: usize = ack.unacked.iter().map(|(_, m)| m.len()).sum();
            if unacked > self.config.max_queue {
                // A client that never acknowledges must not make the server keep everything.
                self.sessions.remove(&held.client_id);
                return vec![unknown_client(&reply)];
            }
            reply.set_ext("ack", json!(ack.batch));
        }
        let mut out = messages;
        out.push(reply);
        out
    }

    fn subscribe(&mut self, client_id: &str, msg: &Message, subscribe: bool) -> Message {
        let Some(subscription) = msg.subscription.clone() else {
            return error_reply(msg, BayeuxError::new(400, &[], "missing subscription"));
        };
        let session = self
            .sessions
            .get_mut(client_id)
            .expect("checked by the caller");
        let mut parsed = Vec::new();
        for name in subscription.channels() {
            match ChannelName::parse(name) {
                Ok(c) if !c.is_meta() => parsed.push(c),
                _ => {
                    return error_reply(msg, BayeuxError::new(400, &[name], "invalid subscription"))
                }
            }
        }
        if subscribe {
            let added = parsed
                .iter()
                .filter(|c| !session.subscriptions.contains(*c))
                .count();
            if session.subscriptions.len() + added > self.config.max_subscriptions {
                return error_reply(msg, BayeuxError::new(403, &[], "too many subscriptions"));
            }
            if let Some(denied) = parsed
                .iter()
                .find(|c| !self.authorizer.may_subscribe(&session.principal, c))
            {
                return error_reply(
                    msg,
                    BayeuxError::new(403, &[denied.as_str()], "subscription denied"),
                );
            }
            session.subscriptions.extend(parsed);
        } else {
            for c in &parsed {
                session.subscriptions.remove(c);
            }
        }
        let mut reply = success_reply(msg);
        reply.subscription = Some(subscription);
        reply
    }

    fn publish_from(
        &mut self,
        client_id: &str,
        channel: ChannelName,
        msg: &Message,
        service: &mut Vec<ServiceRequest<P>>,
        woken: &mut Vec<String>,
    ) -> Message {
        if channel.is_wildcard() {
            return error_reply(
                msg,
                BayeuxError::new(400, &[channel.as_str()], "cannot publish to a wildcard"),
            );
        }
        let Some(principal) = self.principal_of(client_id).cloned() else {
            return error_reply(msg, BayeuxError::new(402, &[], "session_unknown"));
        };
        if !self.authorizer.may_publish(&principal, &channel) {
            return error_reply(
                msg,
                BayeuxError::new(403, &[channel.as_str()], "publish denied"),
            );
        }
        let data = msg.data.clone().unwrap_or(Value::Null);
        if channel.is_service() {
            service.push(ServiceRequest {
                client_id: client_id.to_owned(),
                principal,
                channel: channel.as_str().to_owned(),
                data,
                id: msg.id.clone(),
            });
        } else {
            woken.extend(self.publish(channel.as_str(), data));
        }
        success_reply(msg)
    }

    /// Broadcasts `data` on `channel` to every subscribed session; returns the sessions to wake.
    pub fn publish(&mut self, channel: &str, data: Value) -> Vec<String> {
        self.deliver_where(channel, data, |_| true)
    }

    /// Delivers `data` on `channel` to the subscribed sessions whose principal `to` accepts
    /// (per-user channels such as Genesys' `/v2/me/chats`, shared by name, private by user).
    pub fn deliver_where(
        &mut self,
        channel: &str,
        data: Value,
        to: impl Fn(&P) -> bool,
    ) -> Vec<String> {
        let max_queue = self.config.max_queue;
        let mut woken = Vec::new();
        for (id, session) in self.sessions.iter_mut() {
            if to(&session.principal) && session.subscriptions.iter().any(|s| s.matches(channel)) {
                enqueue(session, channel, &data, max_queue);
                woken.push(id.clone());
            }
        }
        woken
    }

    /// Delivers `data` on `channel` to the subscribed sessions of `principal`; when it has none
    /// (its client is between sessions), keeps the message for
    /// [`ServerConfig::retain_for_principal_ms`] and delivers it when one subscribes. With the
    /// ack extension this makes delivery to a principal survive lost sessions, exactly once.
    pub fn deliver_to_principal(
        &mut self,
        now_ms: u64,
        principal: &P,
        channel: &str,
        data: Value,
    ) -> Vec<String> {
        let max_queue = self.config.max_queue;
        let mut woken = Vec::new();
        for id in self.sessions.of(principal).to_vec() {
            if let Some(session) = self.sessions.get_mut(&id) {
                if session.subscriptions.iter().any(|s| s.matches(channel)) {
                    enqueue(session, channel, &data, max_queue);
                    woken.push(id);
                }
            }
        }
        if woken.is_empty() {
            let r = Retained {
                channel: channel.to_owned(),
                data,
                until_ms: now_ms + self.config.retain_for_principal_ms,
            };
            self.retained
                .push(principal, r, self.config.max_retained_per_principal);
        }
        woken
    }

    /// Moves retained messages of this session's principal that its subscriptions now match
    /// into its queue, in order. Returns whether any moved.
    fn flush_retained(&mut self, client_id: &str) -> bool {
        let max_queue = self.config.max_queue;
        let Some(session) = self.sessions.get_mut(client_id) else {
            return false;
        };
        let subscriptions = &session.subscriptions;
        let taken = self.retained.take(&session.principal, |r| {
            subscriptions.iter().any(|s| s.matches(&r.channel))
        });
        for r in &taken {
            enqueue(session, &r.channel, &r.data, max_queue);
        }
        !taken.is_empty()
    }

    /// Delivers `data` on `channel` to one session regardless of subscriptions (the answer to
    /// a service request). Returns whether the session exists.
    pub fn deliver_to(&mut self, client_id: &str, channel: &str, data: Value) -> bool {
        let max_queue = self.config.max_queue;
        match self.sessions.get_mut(client_id) {
            Some(session) => {
                enqueue(session, channel, &data, max_queue);
                true
            }
            None => false,
        }
    }

    /// Removes the session (the server forgets the client: its next connect must handshake).
    pub fn forget(&mut self, client_id: &str) -> bool {
        self.sessions.remove(client_id).is_some()
    }

    /// Removes every session of `principal` and what was kept for it (sign-out); returns the
    /// sessions removed.
    pub fn forget_principal(&mut self, principal: &P) -> Vec<String> {
        let ids = self.sessions.of(principal).to_vec();
        for id in &ids {
            self.sessions.remove(id);
        }
        self.retained.forget(principal);
        ids
    }

    /// Removes sessions whose client has not connected within `max_interval`; returns them.
    pub fn sweep(&mut self, now_ms: u64) -> Vec<String> {
        let max = self.config.max_interval_ms;
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                let idle_since = if s.connect_held {
                    s.held_until_ms
                } else {
                    s.last_seen_ms
                };
                now_ms.saturating_sub(idle_since) > max
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.sessions.remove(id);
        }
        self.retained.expire(now_ms);
        expired
    }

    /// How many sessions `principal` has (0: its client is gone or between sessions).
    pub fn sessions_of(&self, principal: &P) -> usize {
        self.sessions.of(principal).len()
    }

    /// The connection type a session last used.
    pub fn transport_of(&self, client_id: &str) -> Option<&str> {
        self.sessions.get(client_id).map(|s| s.transport.as_str())
    }
}

fn enqueue<P>(session: &mut Session<P>, channel: &str, data: &Value, max_queue: usize) {
    if session.overflowed {
        return;
    }
    if session.queue.len() >= max_queue {
        // Dropping messages silently would break the client's view; dropping the session
        // makes it re-handshake and resync instead.
        session.overflowed = true;
        session.queue.clear();
        return;
    }
    let mut m = Message::on(channel);
    m.data = Some(data.clone());
    session.queue.push_back(m);
}

#[cfg(test)]
mod tests;
