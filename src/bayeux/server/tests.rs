//! The engine on its own, and the core client talking to it in memory (both sans-IO, so a
//! whole conversation runs deterministically with simulated time).

use serde_json::json;

use super::*;
use crate::bayeux::client::{Client, ClientConfig, Event, Output, Timer};
use crate::bayeux::{LONG_POLLING, WEBSOCKET};

fn engine() -> Engine<String, AllowAll> {
    let mut n = 0;
    Engine::new(
        ServerConfig::default(),
        AllowAll,
        Box::new(move || {
            n += 1;
            format!("client-{n}")
        }),
    )
}

fn ctx(who: &str) -> RequestContext<String> {
    RequestContext {
        principal: Some(who.to_owned()),
        transport: LONG_POLLING.into(),
    }
}

fn handshake(e: &mut Engine<String, AllowAll>, who: &str) -> String {
    let mut hs = Message::on(meta::HANDSHAKE);
    hs.supported_connection_types = Some(vec![LONG_POLLING.into()]);
    hs.id = Some("1".into());
    let out = e.handle(0, vec![hs], &ctx(who));
    out.replies[0].client_id.clone().unwrap()
}

fn msg(channel: &str, client: &str) -> Message {
    Message {
        channel: channel.into(),
        client_id: Some(client.into()),
        id: Some("7".into()),
        ..Message::default()
    }
}

fn subscribe(e: &mut Engine<String, AllowAll>, client: &str, channel: &str) -> Message {
    let mut m = msg(meta::SUBSCRIBE, client);
    m.subscription = Some(crate::bayeux::message::Subscription::One(channel.into()));
    let who = e.principal_of(client).cloned().unwrap_or_default();
    e.handle(0, vec![m], &ctx(&who)).replies.remove(0)
}

#[test]
fn handshake_needs_a_principal_and_a_common_transport() {
    let mut e = engine();
    let mut hs = Message::on(meta::HANDSHAKE);
    hs.supported_connection_types = Some(vec![LONG_POLLING.into()]);
    let anon = RequestContext {
        principal: None,
        transport: LONG_POLLING.into(),
    };
    let r = &e.handle(0, vec![hs.clone()], &anon).replies[0];
    assert_eq!(r.successful, Some(false));
    assert_eq!(r.advice.as_ref().unwrap().reconnect, Some(Reconnect::None));
    hs.supported_connection_types = Some(vec!["callback-polling".into()]);
    let r = &e.handle(0, vec![hs], &ctx("a")).replies[0];
    assert!(r.error.as_deref().unwrap().starts_with("406:"));
    assert_eq!(e.stats().sessions, 0);
}

#[test]
fn unknown_client_is_told_to_handshake() {
    let mut e = engine();
    let r = &e
        .handle(0, vec![msg(meta::CONNECT, "nobody")], &ctx("a"))
        .replies[0];
    assert_eq!(r.error.as_deref(), Some("402::session_unknown"));
    assert_eq!(
        r.advice.as_ref().unwrap().reconnect,
        Some(Reconnect::Handshake)
    );
}

#[test]
fn another_principal_cannot_use_a_session() {
    let mut e = engine();
    let id = handshake(&mut e, "agent1");
    let r = &e
        .handle(0, vec![msg(meta::CONNECT, &id)], &ctx("agent2"))
        .replies[0];
    assert!(r.error.as_deref().unwrap().starts_with("403:"));
    let anon = RequestContext {
        principal: None,
        transport: LONG_POLLING.into(),
    };
    let r = &e.handle(0, vec![msg(meta::CONNECT, &id)], &anon).replies[0];
    assert!(r.error.as_deref().unwrap().starts_with("403:"));
}

#[test]
fn bad_messages_get_errors_and_do_not_touch_other_sessions() {
    let mut e = engine();
    let a = handshake(&mut e, "agent1");
    let b = handshake(&mut e, "agent1");
    subscribe(&mut e, &b, "/x");
    for bad in [
        msg("not-a-channel", &a),
        msg("/meta/bogus", &a),
        msg("/x/*", &a),
        msg("", &a),
    ] {
        let r = &e.handle(0, vec![bad.clone()], &ctx("agent1")).replies[0];
        assert_eq!(r.successful, Some(false), "{bad:?}");
        assert!(r.error.as_deref().unwrap().starts_with("400:"), "{r:?}");
    }
    let mut sub = msg(meta::SUBSCRIBE, &a);
    sub.subscription = Some(crate::bayeux::message::Subscription::One(
        "/meta/connect".into(),
    ));
    assert_eq!(
        e.handle(0, vec![sub], &ctx("agent1")).replies[0].successful,
        Some(false)
    );
    assert_eq!(e.publish("/x", json!(1)), vec![b]);
}

#[test]
fn wildcards_route_broadcasts() {
    let mut e = engine();
    let one = handshake(&mut e, "a");
    let deep = handshake(&mut e, "a");
    subscribe(&mut e, &one, "/chat/*");
    subscribe(&mut e, &deep, "/chat/**");
    let mut w = e.publish("/chat/1", json!(1));
    w.sort();
    assert_eq!(w, vec![one.clone(), deep.clone()]);
    assert_eq!(e.publish("/chat/1/typing", json!(2)), vec![deep]);
}

#[test]
fn per_principal_delivery_reaches_only_that_principal() {
    let mut e = engine();
    let a = handshake(&mut e, "agent1");
    let b = handshake(&mut e, "agent2");
    subscribe(&mut e, &a, "/v2/me/chats");
    let mut sub = msg(meta::SUBSCRIBE, &b);
    sub.subscription = Some(crate::bayeux::message::Subscription::One(
        "/v2/me/chats".into(),
    ));
    e.handle(0, vec![sub], &ctx("agent2"));
    assert_eq!(
        e.deliver_where("/v2/me/chats", json!("for agent1"), |p| p == "agent1"),
        vec![a]
    );
}

#[test]
fn held_connect_returns_queued_messages_then_the_reply() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    subscribe(&mut e, &id, "/x");
    let held = e
        .handle(100, vec![msg(meta::CONNECT, &id)], &ctx("a"))
        .held
        .unwrap();
    assert_eq!(held.until_ms, 100 + 20_000);
    assert!(!e.should_answer(&held));
    e.publish("/x", json!("hello"));
    assert!(e.should_answer(&held));
    let out = e.complete_connect(200, held);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].data, Some(json!("hello")));
    assert_eq!(out[1].channel, meta::CONNECT);
    assert_eq!(out[1].successful, Some(true));
}

#[test]
fn a_newer_connect_supersedes_the_held_one() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    let first = e
        .handle(0, vec![msg(meta::CONNECT, &id)], &ctx("a"))
        .held
        .unwrap();
    let second = e
        .handle(0, vec![msg(meta::CONNECT, &id)], &ctx("a"))
        .held
        .unwrap();
    assert!(e.should_answer(&first));
    assert!(!e.should_answer(&second));
    assert_eq!(e.complete_connect(1, first).len(), 1);
}

#[test]
fn sessions_without_connects_expire() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    assert!(e.sweep(5_000).is_empty());
    assert_eq!(e.sweep(10_001), vec![id]);
    assert_eq!(e.stats().sessions, 0);
}

#[test]
fn a_connect_held_by_a_vanished_transport_does_not_keep_the_session_forever() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    let held = e
        .handle(0, vec![msg(meta::CONNECT, &id)], &ctx("a"))
        .held
        .unwrap();
    // The socket closed; nobody completes `held`.
    assert!(e.sweep(held.until_ms + 5_000).is_empty());
    assert_eq!(e.sweep(held.until_ms + 10_001), vec![id]);
}

#[test]
fn an_overflowing_queue_drops_the_session_instead_of_messages() {
    let mut e = Engine::new(
        ServerConfig {
            max_queue: 3,
            ..ServerConfig::default()
        },
        AllowAll,
        Box::new(|| "c".to_string()),
    );
    let id = handshake(&mut e, "a");
    subscribe(&mut e, &id, "/x");
    for n in 0..5 {
        e.publish("/x", json!(n));
    }
    let r = e.handle(0, vec![msg(meta::CONNECT, &id)], &ctx("a"));
    assert_eq!(r.replies[0].error.as_deref(), Some("402::session_unknown"));
}

#[test]
fn subscriptions_per_session_are_capped() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    let max = e.config().max_subscriptions;
    for n in 0..max {
        assert_eq!(
            subscribe(&mut e, &id, &format!("/c/{n}")).successful,
            Some(true)
        );
    }
    // The same channel again adds nothing and is fine; a new one is refused.
    assert_eq!(subscribe(&mut e, &id, "/c/0").successful, Some(true));
    let refused = subscribe(&mut e, &id, "/c/more");
    assert_eq!(
        refused.error.as_deref(),
        Some("403::too many subscriptions")
    );
}

#[test]
fn a_principal_holds_a_bounded_number_of_sessions_the_newest_win() {
    let mut e = engine();
    let max = e.config().max_sessions_per_principal;
    let other = handshake(&mut e, "b");
    let mut mine = Vec::new();
    for _ in 0..max {
        mine.push(handshake(&mut e, "a"));
    }
    let mut hs = Message::on(meta::HANDSHAKE);
    hs.supported_connection_types = Some(vec![LONG_POLLING.into()]);
    let out = e.handle(0, vec![hs.clone(), hs.clone(), hs], &ctx("a"));
    assert_eq!(out.replies.len(), 3);
    assert_eq!(
        out.ended.len(),
        3,
        "one removed per handshake beyond the cap"
    );
    assert_eq!(e.sessions_of(&"a".to_owned()), max);
    assert_eq!(
        e.sessions_of(&"b".to_owned()),
        1,
        "nobody else's session goes"
    );
    assert!(e.principal_of(&other).is_some());
    for gone in &out.ended {
        assert!(mine.contains(gone));
        assert!(e.principal_of(gone).is_none());
    }
}

#[test]
fn a_disconnect_reports_the_session_ended() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    let out = e.handle(0, vec![msg(meta::DISCONNECT, &id)], &ctx("a"));
    assert_eq!(out.ended, vec![id.clone()]);
    assert!(e.principal_of(&id).is_none());
}

#[test]
fn unacknowledged_batches_are_bounded_like_the_queue() {
    let mut e = Engine::new(
        ServerConfig {
            max_queue: 4,
            ..ServerConfig::default()
        },
        AllowAll,
        Box::new(|| "c".to_string()),
    );
    let mut hs = Message::on(meta::HANDSHAKE);
    hs.supported_connection_types = Some(vec![LONG_POLLING.into()]);
    hs.set_ext("ack", json!(true));
    let id = e.handle(0, vec![hs], &ctx("a")).replies[0]
        .client_id
        .clone()
        .unwrap();
    subscribe(&mut e, &id, "/x");
    // The client takes batches but never acknowledges one (no `ext.ack` on its connects).
    let mut dropped = false;
    for n in 0..10 {
        e.publish("/x", json!(n));
        let r = e.handle(0, vec![msg(meta::CONNECT, &id)], &ctx("a"));
        let Some(held) = r.held else {
            assert_eq!(r.replies[0].error.as_deref(), Some("402::session_unknown"));
            dropped = true;
            break;
        };
        let out = e.complete_connect(0, held);
        if out.last().unwrap().error.as_deref() == Some("402::session_unknown") {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "the session goes once more than max_queue wait for an ack"
    );
    assert!(e.principal_of(&id).is_none());
}

#[test]
fn service_publishes_go_to_the_application_not_to_subscribers() {
    let mut e = engine();
    let id = handshake(&mut e, "a");
    subscribe(&mut e, &id, "/service/**");
    let mut m = msg("/service/echo", &id);
    m.data = Some(json!({"q": 1}));
    let out = e.handle(0, vec![m], &ctx("a"));
    assert_eq!(out.replies[0].successful, Some(true));
    assert_eq!(out.service_requests[0].data, json!({"q": 1}));
    assert!(out.woken.is_empty());
    assert!(e.deliver_to(&id, "/service/echo", json!("answer")));
}

/// Runs a core client against the engine in memory: long-polling semantics (the held connect
/// is answered when messages arrive or at its deadline), simulated time.
struct Sim {
    engine: Engine<String, AllowAll>,
    client: Client,
    now: u64,
    held: Option<(u64, HeldConnect)>,
    timers: Vec<(Timer, u64)>,
    events: Vec<Event>,
    /// While true, frames to the server are lost (the network is down).
    network_down: bool,
}

impl Sim {
    fn new(ack: bool) -> Sim {
        let mut client = Client::new(ClientConfig {
            transports: vec![WEBSOCKET.into(), LONG_POLLING.into()],
            ack,
            backoff_initial_ms: 100,
            ..ClientConfig::default()
        });
        client.start();
        Sim {
            engine: engine(),
            client,
            now: 0,
            held: None,
            timers: Vec::new(),
            events: Vec::new(),
            network_down: false,
        }
    }

    /// Processes everything until the client waits on a held connect or a timer.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut progressed = false;
            while let Some(out) = self.client.poll_output() {
                progressed = true;
                match out {
                    Output::Send(o) => {
                        if self.network_down {
                            self.client.request_failed(o.request, "network down");
                            continue;
                        }
                        let r = self.engine.handle(
                            self.now,
                            o.messages,
                            &RequestContext {
                                principal: Some("agent1".into()),
                                transport: self.client.transport().to_owned(),
                            },
                        );
                        for s in &r.service_requests {
                            self.engine
                                .deliver_to(&s.client_id, &s.channel, s.data.clone());
                        }
                        if let Some(h) = r.held {
                            self.held = Some((o.request, h));
                        }
                        if !r.replies.is_empty() {
                            self.client.receive(r.replies);
                        }
                    }
                    Output::SetTimer { timer, after_ms } => {
                        self.timers.retain(|(t, _)| *t != timer);
                        self.timers.push((timer, self.now + after_ms));
                    }
                    Output::CancelTimer(t) => self.timers.retain(|(x, _)| *x != t),
                    Output::Event(e) => self.events.push(e),
                }
            }
            if let Some((req, h)) = self.held.take() {
                if self.network_down {
                    self.client.request_failed(req, "network down");
                    progressed = true;
                } else if self.engine.should_answer(&h) {
                    let out = self.engine.complete_connect(self.now, h);
                    self.client.receive(out);
                    progressed = true;
                } else {
                    self.held = Some((req, h));
                }
            }
            if !progressed {
                return;
            }
        }
        panic!("no quiescence");
    }

    /// Advances simulated time to the next deadline (timer or held connect) and settles.
    fn tick(&mut self) {
        let next_timer = self.timers.iter().map(|(_, at)| *at).min();
        let next_held = self.held.as_ref().map(|(_, h)| h.until_ms);
        let Some(at) = [next_timer, next_held].into_iter().flatten().min() else {
            return;
        };
        self.now = self.now.max(at);
        if let Some(i) = self.timers.iter().position(|(_, t)| *t <= self.now) {
            let (timer, _) = self.timers.remove(i);
            self.client.timer_fired(timer);
        } else if let Some((_, h)) = self.held.take() {
            let out = self.engine.complete_connect(self.now, h);
            self.client.receive(out);
        }
        self.settle();
    }

    fn messages(&self) -> Vec<Value> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => m.data.clone(),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn client_and_engine_converse() {
    let mut s = Sim::new(true);
    s.client.subscribe("/chat/1").unwrap();
    s.settle();
    assert!(s.events.iter().any(
        |e| matches!(e, Event::Handshaken { ack: true, transport, .. } if transport == WEBSOCKET)
    ));
    assert!(s.events.contains(&Event::Subscribed {
        channel: "/chat/1".into()
    }));
    for n in 0..3 {
        s.engine.publish("/chat/1", json!(n));
        s.settle();
    }
    assert_eq!(s.messages(), vec![json!(0), json!(1), json!(2)]);
    s.client.publish("/service/echo", json!("ping")).unwrap();
    s.settle();
    assert_eq!(s.messages().last(), Some(&json!("ping")));
}

#[test]
fn messages_published_while_the_network_is_down_arrive_exactly_once_with_ack() {
    let mut s = Sim::new(true);
    s.client.subscribe("/chat/1").unwrap();
    s.settle();
    s.engine.publish("/chat/1", json!(0));
    s.settle();
    // The network drops; the server keeps the session (within maxInterval) and queues.
    s.network_down = true;
    s.settle();
    for n in 1..=5 {
        s.engine.publish("/chat/1", json!(n));
    }
    s.tick();
    s.network_down = false;
    for _ in 0..20 {
        s.tick();
    }
    assert_eq!(s.messages(), (0..=5).map(|n| json!(n)).collect::<Vec<_>>());
    assert!(s.client.is_connected());
}

#[test]
fn a_lost_connect_reply_is_redelivered_once_with_ack() {
    let mut s = Sim::new(true);
    s.client.subscribe("/chat/1").unwrap();
    s.settle();
    // The server answers the held connect with messages, but the reply is lost on the way.
    s.engine.publish("/chat/1", json!("a"));
    let (req, h) = s.held.take().unwrap();
    let lost = s.engine.complete_connect(s.now, h);
    assert_eq!(lost.len(), 2);
    s.client.request_failed(req, "reply lost");
    s.settle();
    s.engine.publish("/chat/1", json!("b"));
    for _ in 0..10 {
        s.tick();
    }
    assert_eq!(
        s.messages(),
        vec![json!("a"), json!("b")],
        "{:#?}",
        s.events
    );
}

#[test]
fn a_forgotten_session_rehandshakes_and_resubscribes() {
    let mut s = Sim::new(true);
    s.client.subscribe("/chat/1").unwrap();
    s.settle();
    let first = s.client.client_id().unwrap().to_owned();
    assert!(s.engine.forget(&first));
    s.tick(); // the held connect ends: the session is unknown
    for _ in 0..5 {
        s.tick();
    }
    let second = s.client.client_id().unwrap().to_owned();
    assert_ne!(first, second);
    s.engine.publish("/chat/1", json!("after"));
    s.settle();
    assert_eq!(s.messages(), vec![json!("after")]);
}

#[test]
fn messages_for_a_principal_between_sessions_wait_for_its_next_subscription() {
    let mut e = engine();
    let old = handshake(&mut e, "agent1");
    subscribe(&mut e, &old, "/v2/me/chats");
    assert!(e.forget(&old));
    // Nobody of agent1 listens: kept, not lost. agent2's messages are not agent1's business.
    assert!(e
        .deliver_to_principal(0, &"agent1".to_string(), "/v2/me/chats", json!(1))
        .is_empty());
    assert!(e
        .deliver_to_principal(0, &"agent1".to_string(), "/v2/me/chats", json!(2))
        .is_empty());
    e.deliver_to_principal(0, &"agent2".to_string(), "/v2/me/chats", json!("other"));
    assert_eq!(e.stats().retained, 3);
    let new = handshake(&mut e, "agent1");
    let mut sub = msg(meta::SUBSCRIBE, &new);
    sub.subscription = Some(crate::bayeux::message::Subscription::One(
        "/v2/me/chats".into(),
    ));
    let out = e.handle(0, vec![sub], &ctx("agent1"));
    assert_eq!(out.woken, vec![new.clone()]);
    let held = e
        .handle(0, vec![msg(meta::CONNECT, &new)], &ctx("agent1"))
        .held
        .unwrap();
    let delivered: Vec<Value> = e
        .complete_connect(0, held)
        .into_iter()
        .filter_map(|m| m.data)
        .collect();
    assert_eq!(delivered, vec![json!(1), json!(2)]);
    assert_eq!(e.stats().retained, 1, "agent2's message stays for agent2");
    // Retention is bounded in time.
    e.sweep(60_001);
    assert_eq!(e.stats().retained, 0);
}

#[test]
fn what_is_kept_for_a_principal_is_bounded_and_goes_with_its_sign_out_alone() {
    let mut e = engine();
    let max = e.config().max_retained_per_principal;
    for n in 0..max + 5 {
        e.deliver_to_principal(0, &"agent1".to_string(), "/v2/me/chats", json!(n));
    }
    e.deliver_to_principal(0, &"agent2".to_string(), "/v2/me/chats", json!("other"));
    assert_eq!(e.stats().retained, max + 1, "agent1's oldest went");
    let a = handshake(&mut e, "agent1");
    let b = handshake(&mut e, "agent2");
    assert_eq!(e.sessions_of(&"agent1".to_string()), 1);
    assert_eq!(e.forget_principal(&"agent1".to_string()), vec![a]);
    assert_eq!(e.sessions_of(&"agent1".to_string()), 0);
    assert_eq!(e.stats().retained, 1, "agent2's stays");
    assert_eq!(e.principal_of(&b), Some(&"agent2".to_string()));
    // A session removed any way leaves nothing of it in the principal's index.
    assert!(e.forget(&b));
    assert_eq!(e.sessions_of(&"agent2".to_string()), 0);
}

#[test]
fn messages_to_a_principal_survive_a_forgotten_session_exactly_once() {
    let mut s = Sim::new(true);
    s.client.subscribe("/v2/me/chats").unwrap();
    s.settle();
    let first = s.client.client_id().unwrap().to_owned();
    assert!(s.engine.forget(&first));
    // Published while the client has no session (it finds out at its next connect).
    for n in 0..3 {
        s.engine
            .deliver_to_principal(s.now, &"agent1".to_string(), "/v2/me/chats", json!(n));
    }
    for _ in 0..8 {
        s.tick();
    }
    assert_ne!(s.client.client_id(), Some(first.as_str()));
    assert_eq!(s.messages(), vec![json!(0), json!(1), json!(2)]);
}
