//! Property tests: hostile frames never panic the decoder, and no sequence of inputs panics the
//! client state machine or grows its queues without bound.
#![cfg(not(target_arch = "wasm32"))]

use cobrowse_agent::bayeux::client::{Client, ClientConfig, Output, Timer};
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::{decode_frame, Advice, Message, Reconnect};
use proptest::prelude::*;
use serde_json::json;

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z/*]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("channel".to_string()),
                    Just("id".to_string()),
                    Just("clientId".to_string()),
                    Just("successful".to_string()),
                    Just("advice".to_string()),
                    Just("ext".to_string()),
                    Just("data".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn decoder_never_panics_on_arbitrary_text(text in ".{0,300}") {
        let _ = decode_frame(&text, FrameLimits::default());
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_json(value in arb_json()) {
        let _ = decode_frame(&value.to_string(), FrameLimits::default());
    }
}

#[derive(Debug, Clone)]
enum Input {
    Start,
    Subscribe(u8),
    Unsubscribe(u8),
    Publish(u8),
    /// Reply to the n-th most recent outgoing message.
    Reply {
        back: u8,
        successful: bool,
        reconnect: Option<u8>,
        client: bool,
        ack: Option<i8>,
    },
    Deliver(u8),
    Fail(u8),
    TransportUnavailable,
    Timer(bool),
    Disconnect,
}

fn arb_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Start),
        any::<u8>().prop_map(Input::Subscribe),
        any::<u8>().prop_map(Input::Unsubscribe),
        any::<u8>().prop_map(Input::Publish),
        (
            any::<u8>(),
            any::<bool>(),
            prop::option::of(0u8..3),
            any::<bool>(),
            prop::option::of(any::<i8>())
        )
            .prop_map(|(back, successful, reconnect, client, ack)| Input::Reply {
                back,
                successful,
                reconnect,
                client,
                ack
            }),
        any::<u8>().prop_map(Input::Deliver),
        any::<u8>().prop_map(Input::Fail),
        Just(Input::TransportUnavailable),
        any::<bool>().prop_map(Input::Timer),
        Just(Input::Disconnect),
    ]
}

const CHANNELS: [&str; 4] = ["/a", "/b/*", "/c/**", "/service/x"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn client_survives_any_input_sequence(inputs in prop::collection::vec(arb_input(), 1..120)) {
        let config = ClientConfig { max_queued: 16, ..ClientConfig::default() };
        let mut client = Client::new(config);
        let mut sent: Vec<(u64, Message)> = Vec::new();
        for input in inputs {
            match input {
                Input::Start => client.start(),
                Input::Subscribe(n) => { let _ = client.subscribe(CHANNELS[n as usize % 4]); }
                Input::Unsubscribe(n) => client.unsubscribe(CHANNELS[n as usize % 4]),
                Input::Publish(n) => { let _ = client.publish(CHANNELS[n as usize % 4].trim_end_matches("/*").trim_end_matches("/*"), json!(n)); }
                Input::Reply { back, successful, reconnect, client: with_client, ack } => {
                    if let Some((_, m)) = sent.iter().rev().nth(back as usize % sent.len().max(1)) {
                        let mut r = Message::on(&m.channel);
                        r.id = m.id.clone();
                        r.successful = Some(successful);
                        if with_client { r.client_id = Some("c1".into()); r.supported_connection_types = Some(vec!["long-polling".into()]); }
                        r.advice = reconnect.map(|k| Advice {
                            reconnect: Some([Reconnect::Retry, Reconnect::Handshake, Reconnect::None][k as usize]),
                            interval: Some(0),
                            ..Advice::default()
                        });
                        if let Some(a) = ack { r.set_ext("ack", json!(a)); }
                        client.receive(vec![r]);
                    }
                }
                Input::Deliver(n) => {
                    let mut m = Message::on(CHANNELS[n as usize % 4].trim_end_matches("/**").trim_end_matches("/*"));
                    m.data = Some(json!(n));
                    client.receive(vec![m]);
                }
                Input::Fail(back) => {
                    if let Some((req, _)) = sent.iter().rev().nth(back as usize % sent.len().max(1)) {
                        client.request_failed(*req, "failed");
                    }
                }
                Input::TransportUnavailable => client.transport_unavailable("refused"),
                Input::Timer(connect) => client.timer_fired(if connect { Timer::Connect } else { Timer::Handshake }),
                Input::Disconnect => client.disconnect(),
            }
            let mut outputs = 0;
            while let Some(out) = client.poll_output() {
                outputs += 1;
                if let Output::Send(o) = out {
                    for m in o.messages { sent.push((o.request, m)); }
                }
            }
            // One input never produces a flood.
            prop_assert!(outputs < 64, "{outputs} outputs for one input");
            prop_assert!(client.in_flight() <= 64, "{} requests in flight", client.in_flight());
        }
    }
}
