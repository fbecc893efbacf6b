//! Our native client against our server, over both transports, including the faults the
//! extension lives with: connections cut (the session survives: the ack extension redelivers
//! what was published meanwhile, exactly once) and a server restart (the session is gone: the
//! client handshakes again and re-subscribes).

use std::net::SocketAddr;
use std::time::Duration;

use bayeux_net::client::NativeClient;
use bayeux_net::interop::{self, InteropBayeux};
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use cobrowse_agent::bayeux::server::ServerConfig;
use serde_json::{json, Value};
use testkit::proxy::Proxy;

const WAIT: Duration = Duration::from_secs(15);

/// The CometD URL through the proxy.
fn url(proxy: &Proxy) -> String {
    format!("http://{}/cometd", proxy.addr)
}

fn server_config() -> ServerConfig {
    ServerConfig {
        timeout_ms: 1000,
        max_interval_ms: 10_000,
        ..ServerConfig::default()
    }
}

fn client_config(transport: &str) -> ClientConfig {
    ClientConfig {
        transports: vec![transport.to_owned()],
        backoff_initial_ms: 50,
        backoff_max_ms: 400,
        max_network_delay_ms: 2000,
        ..ClientConfig::default()
    }
}

async fn wait_handshaken(c: &mut NativeClient) -> String {
    c.wait_for(
        "handshake",
        WAIT,
        |e| match e {
            Event::Handshaken { client_id, .. } => Some(client_id.clone()),
            _ => None,
        },
        drop,
    )
    .await
    .unwrap()
}

async fn wait_subscribed(c: &mut NativeClient, channel: &str) {
    c.wait_for(
        "subscribed",
        WAIT,
        |e| matches!(e, Event::Subscribed { channel: c } if c == channel).then_some(()),
        drop,
    )
    .await
    .unwrap()
}

/// Collects message data on `channel` until `n` arrived; then checks nothing more comes.
/// What a client received until a barrier.
struct Collected {
    messages: Vec<Value>,
    /// Every `Handshaken` seen meanwhile (a new session would show here).
    handshakes: Vec<String>,
}

/// Waits for `n` messages on `channel`, then publishes a marker there and waits for it: a
/// duplicate of anything before would arrive before the marker (a barrier, not a pause). Every
/// other event is looked at, so a re-handshake meanwhile is seen.
async fn collect_seeing_all(
    c: &mut NativeClient,
    bayeux: &InteropBayeux,
    channel: &str,
    n: usize,
) -> Collected {
    let marker = json!({ "marker": channel });
    let mut got = Vec::new();
    let mut handshakes = Vec::new();
    let mut marker_sent = false;
    loop {
        if got.len() == n && !marker_sent {
            bayeux.publish(channel, marker.clone());
            marker_sent = true;
        }
        let what = if marker_sent {
            "the marker".to_owned()
        } else {
            format!("message {} of {n}", got.len() + 1)
        };
        let event = c
            .wait_for(&what, WAIT, |e| Some(e.clone()), drop)
            .await
            .unwrap_or_else(|e| panic!("{e}; got {got:?}"));
        match event {
            Event::Message(m) if m.channel == channel => {
                let data = m.data.unwrap_or_default();
                if data == marker {
                    break;
                }
                got.push(data);
            }
            Event::Handshaken { client_id, .. } => handshakes.push(client_id),
            _ => {}
        }
    }
    assert_eq!(got.len(), n, "duplicates delivered: {got:?}");
    Collected {
        messages: got,
        handshakes,
    }
}

/// The messages of [`collect_seeing_all`].
async fn collect(
    c: &mut NativeClient,
    bayeux: &InteropBayeux,
    channel: &str,
    n: usize,
) -> Vec<Value> {
    collect_seeing_all(c, bayeux, channel, n).await.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_talks_to_our_server_over_both_transports() {
    let (addr, bayeux) = interop::serve(server_config()).await.unwrap();
    for transport in ["websocket", "long-polling"] {
        let mut c = NativeClient::spawn(&format!("http://{addr}/cometd"), client_config(transport));
        c.subscribe("/test/own");
        c.wait_for(
            "handshake",
            WAIT,
            |e| match e {
                Event::Handshaken {
                    transport: t, ack, ..
                } => Some((t.clone(), *ack)),
                _ => None,
            },
            drop,
        )
        .await
        .map(|(t, ack)| {
            assert_eq!(t, transport);
            assert!(ack);
        })
        .unwrap();
        wait_subscribed(&mut c, "/test/own").await;
        for n in 0..5 {
            c.publish("/test/own", json!(n)).await.unwrap();
        }
        assert_eq!(
            collect(&mut c, &bayeux, "/test/own", 5).await,
            (0..5).map(|n| json!(n)).collect::<Vec<_>>()
        );
        c.publish("/service/echo", json!({"t": transport}))
            .await
            .unwrap();
        c.wait_for(
            "echo",
            WAIT,
            |e| match e {
                Event::Message(m) if m.channel == "/service/echo" => m.data.clone(),
                _ => None,
            },
            drop,
        )
        .await
        .map(|d| assert_eq!(d, json!({"t": transport})))
        .unwrap();
        c.disconnect();
    }
    drop(bayeux);
}

async fn cut_connections_then_messages_arrive_exactly_once(transport: &str) {
    let (addr, bayeux): (SocketAddr, InteropBayeux) =
        interop::serve(server_config()).await.unwrap();
    let proxy = Proxy::start(addr).await;
    let mut c = NativeClient::spawn(&url(&proxy), client_config(transport));
    c.subscribe("/chat/1");
    let first = wait_handshaken(&mut c).await;
    wait_subscribed(&mut c, "/chat/1").await;
    bayeux.publish("/chat/1", json!(0));
    assert_eq!(collect(&mut c, &bayeux, "/chat/1", 1).await, vec![json!(0)]);

    // The network goes away; the server keeps the session and queues.
    proxy.set_down(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 1..=5 {
        bayeux.publish("/chat/1", json!(n));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.set_down(false);
    let got = collect_seeing_all(&mut c, &bayeux, "/chat/1", 5).await;
    assert_eq!(
        got.messages,
        (1..=5).map(|n| json!(n)).collect::<Vec<_>>(),
        "{transport}"
    );
    // Same session: nothing needed a re-handshake (every event until the marker was seen).
    assert!(
        got.handshakes.is_empty(),
        "{transport}: session {first} was replaced by {:?}",
        got.handshakes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_cut_loses_and_doubles_nothing_with_ack() {
    cut_connections_then_messages_arrive_exactly_once("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_cut_loses_and_doubles_nothing_with_ack() {
    cut_connections_then_messages_arrive_exactly_once("long-polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_server_gets_a_new_handshake_and_the_subscriptions_back() {
    for transport in ["websocket", "long-polling"] {
        let (old, _old_bayeux) = interop::serve(server_config()).await.unwrap();
        let proxy = Proxy::start(old).await;
        let mut c = NativeClient::spawn(&url(&proxy), client_config(transport));
        c.subscribe("/chat/1");
        let first = wait_handshaken(&mut c).await;
        wait_subscribed(&mut c, "/chat/1").await;

        // A new server process takes over the address: it knows no sessions. What it sends to
        // this client's principal before the client is back is kept for it.
        let (new, new_bayeux) = interop::serve(server_config()).await.unwrap();
        proxy.switch_backend(new);
        new_bayeux.deliver_to_principal(&(), "/chat/1", json!("while reconnecting"));
        let second = wait_handshaken(&mut c).await;
        assert_ne!(first, second);
        // Over long-polling the kept message may come (on the held connect) before the
        // subscribe reply: it counts.
        let mut early = Vec::new();
        c.wait_for(
            "subscribed",
            WAIT,
            |e| matches!(e, Event::Subscribed { channel } if channel == "/chat/1").then_some(()),
            |e| {
                if let Event::Message(m) = e {
                    early.extend(m.data);
                }
            },
        )
        .await
        .unwrap();
        new_bayeux.publish("/chat/1", json!("after restart"));
        let rest = collect(&mut c, &new_bayeux, "/chat/1", 2 - early.len()).await;
        early.extend(rest);
        assert_eq!(
            early,
            vec![json!("while reconnecting"), json!("after restart")],
            "{transport}"
        );
        c.disconnect();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_error_or_a_clean_close_and_other_clients_carry_on() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let (addr, bayeux) = interop::serve(server_config()).await.unwrap();
    let url = format!("http://{addr}/cometd");
    let mut healthy = NativeClient::spawn(&url, client_config("websocket"));
    healthy.subscribe("/chat/1");
    wait_subscribed(&mut healthy, "/chat/1").await;

    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        http.post(&url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    for (body, status) in [
        (b"{not json".to_vec(), 400),
        (b"[]".to_vec(), 400),
        (b"[1,2,3]".to_vec(), 400),
        (vec![0xff, 0xfe], 400),
        (
            format!(
                "[{}]",
                "{\"channel\":\"/a\"},".repeat(2000) + "{\"channel\":\"/a\"}"
            )
            .into_bytes(),
            400,
        ),
        (vec![b' '; (1 << 20) + 1], 413),
    ] {
        let r = post(body).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
    }
    assert_eq!(http.get(&url).send().await.unwrap().status().as_u16(), 405);
    // Messages that parse but make no sense get Bayeux errors, in a 200 response.
    let text =
        post(br#"[{"channel":"/meta/connect","clientId":"forged"},{"channel":"bad"}]"#.to_vec())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r[0]["error"], "402::session_unknown");
    assert!(r[1]["error"].as_str().unwrap().starts_with("400:"));

    let ws_url = format!("ws://{addr}/cometd");
    for (frame, code) in [
        (Ws::binary(vec![1, 2, 3]), 1003u16),
        (Ws::text("{oops"), 1007),
    ] {
        let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .unwrap();
        socket.send(frame).await.unwrap();
        let closed = loop {
            match socket.next().await {
                Some(Ok(Ws::Close(Some(f)))) => break u16::from(f.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(closed, code);
    }

    bayeux.publish("/chat/1", json!("still here"));
    assert_eq!(
        collect(&mut healthy, &bayeux, "/chat/1", 1).await,
        vec![json!("still here")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_websocket_upgrade_falls_back_to_long_polling() {
    let (addr, _bayeux) = interop::serve(server_config()).await.unwrap();
    let config = ClientConfig {
        transports: vec!["websocket".into(), "long-polling".into()],
        ..client_config("websocket")
    };
    let mut c = NativeClient::spawn(&format!("http://{addr}/cometd-long-polling-only"), config);
    c.subscribe("/test/fallback");
    let transport = c
        .wait_for(
            "handshake",
            WAIT,
            |e| match e {
                Event::Handshaken { transport, .. } => Some(transport.clone()),
                _ => None,
            },
            drop,
        )
        .await
        .unwrap();
    assert_eq!(transport, "long-polling");
    wait_subscribed(&mut c, "/test/fallback").await;
}

/// Handshake, connect and disconnect, many times over: nothing is left behind per cycle (the
/// waker of a disconnected session used to stay, ~105 bytes each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_disconnect_leave_nothing_behind() {
    let (addr, bayeux) = interop::serve(server_config()).await.unwrap();
    let http = reqwest::Client::new();
    let post = |frame: Value| {
        let http = http.clone();
        async move {
            let r = http
                .post(format!("http://{addr}/cometd"))
                .header("Content-Type", "application/json")
                .body(frame.to_string())
                .send()
                .await
                .unwrap();
            serde_json::from_str::<Vec<Value>>(&r.text().await.unwrap()).unwrap()
        }
    };
    for _ in 0..50 {
        let hs = post(json!([{"channel": "/meta/handshake", "version": "1.0",
                               "supportedConnectionTypes": ["long-polling"]}]))
        .await;
        let id = hs[0]["clientId"].as_str().unwrap().to_owned();
        let connect = post(json!([{"channel": "/meta/connect", "clientId": id,
                                   "connectionType": "long-polling", "advice": {"timeout": 0}}]))
        .await;
        assert_eq!(connect.last().unwrap()["successful"], true, "{connect:?}");
        let bye = post(json!([{"channel": "/meta/disconnect", "clientId": id}])).await;
        assert_eq!(bye[0]["successful"], true);
    }
    assert_eq!(bayeux.stats().sessions, 0);
    assert_eq!(bayeux.wakers(), 0, "a waker per disconnected session");
}
