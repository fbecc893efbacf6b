use serde_json::json;

use super::*;
use crate::bayeux::{LONG_POLLING, WEBSOCKET};

fn drain(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn sends(out: &[Output]) -> Vec<Outgoing> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn timers(out: &[Output]) -> Vec<(Timer, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::SetTimer { timer, after_ms } => Some((*timer, *after_ms)),
            _ => None,
        })
        .collect()
}

fn reply_to(m: &Message, successful: bool) -> Message {
    Message {
        channel: m.channel.clone(),
        id: m.id.clone(),
        successful: Some(successful),
        ..Message::default()
    }
}

fn handshake_reply(req: &Message, client_id: &str, types: &[&str], ack: bool) -> Message {
    let mut r = reply_to(req, true);
    r.client_id = Some(client_id.into());
    r.version = Some("1.0".into());
    r.supported_connection_types = Some(types.iter().map(|s| s.to_string()).collect());
    r.advice = Some(Advice {
        reconnect: Some(Reconnect::Retry),
        interval: Some(0),
        timeout: Some(5000),
        ..Advice::default()
    });
    if ack {
        r.set_ext("ack", json!(true));
    }
    r
}

fn config() -> ClientConfig {
    let mut ext = Map::new();
    ext.insert("token".into(), json!("secret"));
    ClientConfig {
        handshake_ext: ext,
        ..ClientConfig::default()
    }
}

/// Starts a client and completes the handshake over long-polling; returns the outputs after
/// the handshake reply.
fn handshaken(c: &mut Client, ack: bool) -> Vec<Output> {
    c.start();
    let out = drain(c);
    let hs = sends(&out).remove(0).messages.remove(0);
    c.receive(vec![handshake_reply(&hs, "client-1", &[LONG_POLLING], ack)]);
    drain(c)
}

fn find_send<'a>(sends: &'a [Outgoing], channel: &str) -> &'a Outgoing {
    sends
        .iter()
        .find(|s| s.messages.iter().any(|m| m.channel == channel))
        .unwrap_or_else(|| panic!("no {channel} in {sends:?}"))
}

#[test]
fn handshake_carries_version_transports_and_ext() {
    let mut c = Client::new(config());
    c.start();
    let out = drain(&mut c);
    let hs = &sends(&out)[0].messages[0];
    assert_eq!(hs.channel, meta::HANDSHAKE);
    assert_eq!(hs.version.as_deref(), Some("1.0"));
    assert_eq!(
        hs.supported_connection_types.as_deref(),
        Some(&[WEBSOCKET.to_string(), LONG_POLLING.to_string()][..])
    );
    assert_eq!(hs.ext_field("token"), Some(&json!("secret")));
    assert_eq!(hs.ext_field("ack"), Some(&json!(true)));
    assert_eq!(c.state(), State::Handshaking);
}

#[test]
fn handshake_negotiates_a_common_transport_then_connects_and_subscribes() {
    let mut c = Client::new(config());
    c.subscribe("/v2/me/chats").unwrap();
    let out = handshaken(&mut c, false);
    assert!(events(&out).contains(&Event::Handshaken {
        client_id: "client-1".into(),
        transport: LONG_POLLING.into(),
        ack: false
    }));
    let s = sends(&out);
    let connect = find_send(&s, meta::CONNECT);
    assert!(connect.is_connect);
    let m = &connect.messages[0];
    assert_eq!(m.client_id.as_deref(), Some("client-1"));
    assert_eq!(m.connection_type.as_deref(), Some(LONG_POLLING));
    assert_eq!(
        m.advice.as_ref().unwrap().timeout,
        Some(0),
        "first connect returns at once"
    );
    let sub = &find_send(&s, meta::SUBSCRIBE).messages[0];
    assert_eq!(
        sub.subscription,
        Some(crate::bayeux::message::Subscription::One(
            "/v2/me/chats".into()
        ))
    );
    assert_eq!(c.transport(), LONG_POLLING);
}

#[test]
fn connect_loop_honours_advised_interval_and_timeout() {
    let mut c = Client::new(config());
    let out = handshaken(&mut c, false);
    let connect = find_send(&sends(&out), meta::CONNECT).messages[0].clone();
    let mut r = reply_to(&connect, true);
    r.advice = Some(Advice {
        interval: Some(750),
        timeout: Some(20_000),
        ..Advice::default()
    });
    c.receive(vec![r]);
    let out = drain(&mut c);
    assert!(events(&out).contains(&Event::Connected));
    assert_eq!(timers(&out), vec![(Timer::Connect, 750)]);
    assert!(sends(&out).is_empty());
    c.timer_fired(Timer::Connect);
    let out = drain(&mut c);
    let next = find_send(&sends(&out), meta::CONNECT).clone();
    assert_eq!(
        next.timeout_ms,
        20_000 + ClientConfig::default().max_network_delay_ms
    );
    assert!(
        next.messages[0].advice.is_none(),
        "only the first connect asks for timeout 0"
    );
}

#[test]
fn unknown_client_rehandshakes_and_resubscribes() {
    let mut c = Client::new(config());
    c.subscribe("/a").unwrap();
    c.subscribe("/b/**").unwrap();
    let out = handshaken(&mut c, false);
    let s = sends(&out);
    for sub in &find_send(&s, meta::SUBSCRIBE).messages {
        c.receive(vec![reply_to(sub, true)]);
    }
    let connect = find_send(&s, meta::CONNECT).messages[0].clone();
    let mut r = reply_to(&connect, false);
    r.error = Some("402::Unknown client".into());
    r.advice = Some(Advice {
        reconnect: Some(Reconnect::Handshake),
        interval: Some(0),
        ..Advice::default()
    });
    c.receive(vec![r]);
    let out = drain(&mut c);
    let hs = find_send(&sends(&out), meta::HANDSHAKE).messages[0].clone();
    assert_eq!(c.state(), State::Handshaking);
    c.receive(vec![handshake_reply(
        &hs,
        "client-2",
        &[LONG_POLLING],
        false,
    )]);
    let out = drain(&mut c);
    let subs: Vec<String> = find_send(&sends(&out), meta::SUBSCRIBE)
        .messages
        .iter()
        .map(|m| m.subscription.as_ref().unwrap().channels()[0].to_owned())
        .collect();
    assert_eq!(subs, ["/a", "/b/**"]);
    assert_eq!(c.client_id(), Some("client-2"));
}

#[test]
fn reconnect_none_terminates() {
    let mut c = Client::new(config());
    let out = handshaken(&mut c, false);
    let connect = find_send(&sends(&out), meta::CONNECT).messages[0].clone();
    let mut r = reply_to(&connect, false);
    r.advice = Some(Advice {
        reconnect: Some(Reconnect::None),
        ..Advice::default()
    });
    c.receive(vec![r]);
    let out = drain(&mut c);
    assert!(matches!(
        events(&out).last(),
        Some(Event::Disconnected { .. })
    ));
    assert_eq!(c.state(), State::Terminated);
    assert!(sends(&out).is_empty());
}

#[test]
fn failures_back_off_exponentially_with_jitter_and_a_cap() {
    let cfg = ClientConfig {
        backoff_initial_ms: 100,
        backoff_max_ms: 1600,
        ..config()
    };
    let mut c = Client::new(cfg);
    handshaken(&mut c, false);
    let mut delays = Vec::new();
    for _ in 0..8 {
        c.timer_fired(Timer::Connect);
        let out = drain(&mut c);
        let req = sends(&out).iter().find(|s| s.is_connect).map(|s| s.request);
        let req = req.unwrap_or_else(|| {
            // The first iteration: the connect sent after the handshake is still in flight.
            c.requests.keys().copied().max().unwrap()
        });
        c.request_failed(req, "connection refused");
        let out = drain(&mut c);
        delays.push(timers(&out)[0].1);
    }
    let bases = [100, 200, 400, 800, 1600, 1600, 1600, 1600];
    for (d, b) in delays.iter().zip(bases) {
        assert!(
            *d >= b / 2 && *d <= b,
            "delay {d} outside [{}, {b}] ({delays:?})",
            b / 2
        );
    }
    assert!(
        delays.windows(2).any(|w| w[0] != w[1]),
        "no jitter: {delays:?}"
    );
}

#[test]
fn lost_connection_is_reported_once_and_recovers() {
    let mut c = Client::new(config());
    let out = handshaken(&mut c, false);
    let connect = find_send(&sends(&out), meta::CONNECT).clone();
    c.receive(vec![reply_to(&connect.messages[0], true)]);
    let out = drain(&mut c);
    let second = sends(&out).into_iter().find(|s| s.is_connect).unwrap();
    c.request_failed(second.request, "network down");
    let out = drain(&mut c);
    assert_eq!(
        events(&out),
        vec![Event::ConnectionLost {
            reason: "network down".into()
        }]
    );
    assert!(!c.is_connected());
    c.timer_fired(Timer::Connect);
    let out = drain(&mut c);
    let third = sends(&out).into_iter().find(|s| s.is_connect).unwrap();
    c.receive(vec![reply_to(&third.messages[0], true)]);
    assert!(events(&drain(&mut c)).contains(&Event::Connected));
}

#[test]
fn publish_results_are_matched_by_id() {
    let mut c = Client::new(config());
    handshaken(&mut c, false);
    let a = c.publish("/chat/1", json!({"text": "a"})).unwrap();
    let b = c.publish("/chat/1", json!({"text": "b"})).unwrap();
    let out = drain(&mut c);
    let s = sends(&out);
    assert_eq!(s.len(), 2);
    let mut fail = reply_to(&s[1].messages[0], false);
    fail.error = Some("403::Forbidden".into());
    c.receive(vec![fail, reply_to(&s[0].messages[0], true)]);
    let ev = events(&drain(&mut c));
    assert_eq!(
        ev,
        vec![
            Event::PublishFailed {
                id: b,
                reason: "403::Forbidden".into()
            },
            Event::PublishAcked { id: a }
        ]
    );
    assert!(c.publish("/meta/connect", json!(1)).is_err());
    assert!(c.publish("/chat/*", json!(1)).is_err());
}

#[test]
fn publishes_before_the_handshake_wait_and_then_go() {
    let mut c = Client::new(config());
    let id = c.publish("/early", json!(1)).unwrap();
    let out = handshaken(&mut c, false);
    let early = find_send(&sends(&out), "/early").messages[0].clone();
    assert_eq!(early.id.as_deref(), Some(id.as_str()));
    assert_eq!(early.client_id.as_deref(), Some("client-1"));
}

#[test]
fn ack_extension_redelivery_is_deduplicated() {
    let mut c = Client::new(config());
    let out = handshaken(&mut c, true);
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, Event::Handshaken { ack: true, .. })));
    let connect = find_send(&sends(&out), meta::CONNECT).messages[0].clone();
    assert_eq!(connect.ext_field("ack"), Some(&json!(0)));

    let delivery = |batch: i64, n: i64| {
        let mut r = reply_to(&connect, true);
        r.set_ext("ack", json!(batch));
        let mut m = Message::on("/v2/me/chats");
        m.data = Some(json!({ "n": n }));
        vec![m, r]
    };
    c.receive(delivery(1, 1));
    let out = drain(&mut c);
    assert_eq!(
        events(&out)
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count(),
        1
    );
    let next = sends(&out).into_iter().find(|s| s.is_connect).unwrap();
    assert_eq!(
        next.messages[0].ext_field("ack"),
        Some(&json!(1)),
        "acknowledges batch 1"
    );

    // The server did not see that ack (say the request was lost) and sends batch 1 again.
    c.receive(delivery(1, 1));
    let out = drain(&mut c);
    assert!(
        !events(&out).iter().any(|e| matches!(e, Event::Message(_))),
        "duplicate delivered"
    );
    c.receive(delivery(2, 2));
    let out = drain(&mut c);
    let msgs: Vec<_> = events(&out)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => m.data,
            _ => None,
        })
        .collect();
    assert_eq!(msgs, vec![json!({"n": 2})]);
}

#[test]
fn unavailable_websocket_falls_back_to_long_polling() {
    let mut c = Client::new(config());
    c.start();
    drain(&mut c);
    assert_eq!(c.transport(), WEBSOCKET);
    c.transport_unavailable("upgrade refused");
    let out = drain(&mut c);
    let hs = find_send(&sends(&out), meta::HANDSHAKE).messages[0].clone();
    assert_eq!(
        hs.supported_connection_types.as_deref(),
        Some(&[LONG_POLLING.to_string()][..])
    );
    assert_eq!(c.transport(), LONG_POLLING);
}

#[test]
fn no_common_transport_terminates() {
    let mut c = Client::new(config());
    c.start();
    let out = drain(&mut c);
    let hs = sends(&out)[0].messages[0].clone();
    c.receive(vec![handshake_reply(
        &hs,
        "x",
        &["callback-polling"],
        false,
    )]);
    assert_eq!(c.state(), State::Terminated);
}

#[test]
fn disconnect_sends_meta_disconnect_and_terminates_on_reply() {
    let mut c = Client::new(config());
    handshaken(&mut c, false);
    c.disconnect();
    let out = drain(&mut c);
    let d = find_send(&sends(&out), meta::DISCONNECT).messages[0].clone();
    assert_eq!(c.state(), State::Disconnecting);
    c.receive(vec![reply_to(&d, true)]);
    assert_eq!(c.state(), State::Terminated);
    assert!(matches!(
        events(&drain(&mut c)).last(),
        Some(Event::Disconnected { .. })
    ));
}

#[test]
fn messages_on_subscribed_channels_are_delivered_and_refused_subscriptions_reported() {
    let mut c = Client::new(config());
    c.subscribe("/ok").unwrap();
    c.subscribe("/secret").unwrap();
    let out = handshaken(&mut c, false);
    let subs = find_send(&sends(&out), meta::SUBSCRIBE).messages.clone();
    let mut refused = reply_to(&subs[1], false);
    refused.error = Some("403:/secret:Forbidden".into());
    c.receive(vec![reply_to(&subs[0], true), refused]);
    let ev = events(&drain(&mut c));
    assert_eq!(
        ev[0],
        Event::Subscribed {
            channel: "/ok".into()
        }
    );
    assert!(matches!(&ev[1], Event::SubscribeFailed { channel, .. } if channel == "/secret"));
    assert_eq!(c.subscriptions().collect::<Vec<_>>(), ["/ok"]);
    let mut m = Message::on("/ok");
    m.data = Some(json!("hi"));
    c.receive(vec![m.clone()]);
    assert_eq!(events(&drain(&mut c)), vec![Event::Message(Box::new(m))]);
    assert!(c.subscribe("/meta/x").is_err());
    assert!(c.subscribe("nope").is_err());
}

#[test]
fn ack_batches_restart_with_a_new_session() {
    let mut c = Client::new(config());
    let out = handshaken(&mut c, true);
    let connect = find_send(&sends(&out), meta::CONNECT).messages[0].clone();
    let mut r = reply_to(&connect, true);
    r.set_ext("ack", json!(7));
    c.receive(vec![r]);
    drain(&mut c);
    // The server forgets the session; the new one numbers its batches from 1 again.
    c.transport_unavailable("socket closed");
    drain(&mut c);
    c.timer_fired(Timer::Handshake);
    let out = drain(&mut c);
    let hs = find_send(&sends(&out), meta::HANDSHAKE).messages[0].clone();
    c.receive(vec![handshake_reply(
        &hs,
        "client-2",
        &[LONG_POLLING],
        true,
    )]);
    let out = drain(&mut c);
    let connect = find_send(&sends(&out), meta::CONNECT).messages[0].clone();
    assert_eq!(connect.ext_field("ack"), Some(&json!(0)));
    let mut r = reply_to(&connect, true);
    r.set_ext("ack", json!(1));
    let mut m = Message::on("/a");
    m.data = Some(json!("fresh"));
    c.receive(vec![m, r]);
    assert!(
        events(&drain(&mut c))
            .iter()
            .any(|e| matches!(e, Event::Message(_))),
        "batch 1 of the new session was dropped"
    );
}

#[test]
fn long_polling_batches_keep_handshakes_alone() {
    let out = |request: u64, channel: &str| Outgoing {
        request,
        messages: vec![Message::on(channel)],
        is_connect: false,
        timeout_ms: 1,
    };
    let mut q = vec![
        out(1, "/a"),
        out(2, "/b"),
        out(3, meta::HANDSHAKE),
        out(4, "/c"),
    ];
    let ids = |b: Vec<Outgoing>| b.iter().map(|o| o.request).collect::<Vec<_>>();
    assert_eq!(ids(take_long_polling_batch(&mut q)), [1, 2]);
    assert_eq!(ids(take_long_polling_batch(&mut q)), [3]);
    assert_eq!(ids(take_long_polling_batch(&mut q)), [4]);
    assert!(take_long_polling_batch(&mut q).is_empty());
}
