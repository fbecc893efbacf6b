//! Interop: our native client (core state machine + tokio transports) against the official
//! CometD server for Node (`cometd-nodejs-server`), over every transport it offers
//! (long-polling: it has no WebSocket transport).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use bayeux_net::client::NativeClient;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use cobrowse_agent::bayeux::LONG_POLLING;
use serde_json::{json, Value};
use testkit::process::Announced;

const WAIT: Duration = Duration::from_secs(15);

/// The official server in a child process, killed on drop.
struct OfficialServer {
    _process: Announced,
    url: String,
    transports: Vec<String>,
    ack: bool,
}

impl OfficialServer {
    fn start(extra: &[&str]) -> OfficialServer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let script = root.join("tests/interop/cometd-server.mjs");
        assert!(
            root.join("node_modules/cometd-nodejs-server").is_dir(),
            "npm packages missing: run `cargo xtask test` (it runs `npm ci`)"
        );
        let process = Announced::spawn(
            Command::new("node")
                .arg(&script)
                .args([
                    "--port",
                    "0",
                    "--timeout-ms",
                    "2000",
                    "--max-interval-ms",
                    "3000",
                ])
                .args(extra)
                .stderr(Stdio::null()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let words: Vec<String> = process.line.split_whitespace().map(str::to_owned).collect();
        assert_eq!(
            words.first().map(String::as_str),
            Some("LISTENING"),
            "unexpected server output {:?}",
            process.line
        );
        OfficialServer {
            url: format!("http://127.0.0.1:{}/cometd", words[1]),
            transports: words[2].split(',').map(str::to_owned).collect(),
            ack: words.get(3).map(String::as_str) == Some("ack"),
            _process: process,
        }
    }
}

fn config(transport: &str) -> ClientConfig {
    ClientConfig {
        transports: vec![transport.to_owned()],
        backoff_initial_ms: 100,
        backoff_max_ms: 1000,
        ..ClientConfig::default()
    }
}

async fn handshaken(c: &mut NativeClient) -> (String, bool) {
    c.wait_for(
        "handshake",
        WAIT,
        |e| match e {
            Event::Handshaken { client_id, ack, .. } => Some((client_id.clone(), *ack)),
            Event::HandshakeFailed { reason } => panic!("handshake failed: {reason}"),
            _ => None,
        },
        drop,
    )
    .await
    .unwrap()
}

async fn subscribed(c: &mut NativeClient, channel: &str) {
    c.wait_for(
        &format!("subscription to {channel}"),
        WAIT,
        |e| match e {
            Event::Subscribed { channel: c } if c == channel => Some(()),
            Event::SubscribeFailed { channel, reason } => panic!("subscribe {channel}: {reason}"),
            _ => None,
        },
        drop,
    )
    .await
    .unwrap()
}

/// The data of the next message on `channel`.
async fn message_on(c: &mut NativeClient, channel: &str) -> Value {
    c.wait_for(
        &format!("a message on {channel}"),
        WAIT,
        |e| match e {
            Event::Message(m) if m.channel == channel => m.data.clone(),
            _ => None,
        },
        drop,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn official_server_offers_long_polling_and_acks() {
    let server = OfficialServer::start(&[]);
    assert!(
        server.transports.contains(&LONG_POLLING.to_string()),
        "{:?}",
        server.transports
    );
    assert!(server.ack);
}

#[tokio::test]
async fn publish_subscribe_and_service_request_over_every_transport() {
    let server = OfficialServer::start(&[]);
    for transport in server.transports.clone() {
        let mut c = NativeClient::spawn(&server.url, config(&transport));
        c.subscribe("/test/interop");
        let (_, ack) = handshaken(&mut c).await;
        assert!(ack, "the official server enables the ack extension");
        subscribed(&mut c, "/test/interop").await;

        let mut ids = Vec::new();
        for n in 1..=5 {
            ids.push(c.publish("/test/interop", json!({ "n": n })).await.unwrap());
        }
        let mut received = Vec::new();
        let mut acked = Vec::new();
        while received.len() < 5 || acked.len() < 5 {
            match tokio::time::timeout(WAIT, c.next_event())
                .await
                .expect("events")
                .expect("client runs")
            {
                Event::Message(m) if m.channel == "/test/interop" => {
                    received.push(m.data.unwrap()["n"].clone())
                }
                Event::PublishAcked { id } => acked.push(id),
                Event::PublishFailed { id, reason } => panic!("publish {id} failed: {reason}"),
                _ => {}
            }
        }
        assert_eq!(
            received,
            [1, 2, 3, 4, 5].map(|n| json!(n)),
            "{transport}: order"
        );
        acked.sort();
        ids.sort();
        assert_eq!(acked, ids, "{transport}: every publish acknowledged by id");

        // Request/response on a service channel: only we get the answer.
        c.subscribe("/service/echo");
        c.publish("/service/echo", json!({ "ping": transport }))
            .await
            .unwrap();
        assert_eq!(
            message_on(&mut c, "/service/echo").await,
            json!({ "ping": transport })
        );
        c.disconnect();
        c.wait_for(
            "disconnect",
            WAIT,
            |e| matches!(e, Event::Disconnected { .. }).then_some(()),
            drop,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn server_side_session_expiry_leads_to_rehandshake_and_resubscription() {
    let server = OfficialServer::start(&[]);
    for transport in server.transports.clone() {
        let mut c = NativeClient::spawn(&server.url, config(&transport));
        c.subscribe("/test/after-expiry");
        let (first_id, _) = handshaken(&mut c).await;
        subscribed(&mut c, "/test/after-expiry").await;

        // The server forgets us; the next /meta/connect is told to handshake again.
        c.publish("/service/expire", json!({})).await.unwrap();
        let (second_id, _) = handshaken(&mut c).await;
        assert_ne!(first_id, second_id, "{transport}: a new session");
        subscribed(&mut c, "/test/after-expiry").await;

        // The re-made subscription works: a server-side publish reaches us.
        c.publish(
            "/service/publish",
            json!({ "channel": "/test/after-expiry", "data": { "back": true } }),
        )
        .await
        .unwrap();
        assert_eq!(
            message_on(&mut c, "/test/after-expiry").await,
            json!({ "back": true })
        );
        c.disconnect();
    }
}
