//! The server holds up under abuse, against the real binary over real sockets: each test is a
//! finding of the attacker's probe (issue 13) that failed on the code before it.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const NOTIFICATIONS: &str = "/api/v2/notifications";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// `GET /api/v2/me` with Basic: the status and the session cookie it opened.
async fn sign_in(server: &Server, user: &str, password: &str) -> (u16, Option<String>) {
    let r = http()
        .get(format!("{}/api/v2/me", server.url))
        .header("Authorization", basic(user, password))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (r.status().as_u16(), cookie)
}

async fn me_with_cookie(server: &Server, cookie: &str) -> u16 {
    http()
        .get(format!("{}/api/v2/me", server.url))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A long-polling Bayeux frame with Basic credentials: the reply messages.
async fn bayeux(server: &Server, user: &str, frame: Value) -> Vec<Value> {
    let r = http()
        .post(format!("{}{NOTIFICATIONS}", server.url))
        .header("Authorization", basic(user, user))
        .header("Content-Type", "application/json")
        .body(frame.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

async fn handshake(server: &Server, user: &str) -> String {
    let replies = bayeux(
        server,
        user,
        json!([{"channel": "/meta/handshake", "version": "1.0",
                "supportedConnectionTypes": ["long-polling"]}]),
    )
    .await;
    assert_eq!(replies[0]["successful"], true, "{replies:?}");
    replies[0]["clientId"].as_str().unwrap().to_owned()
}

/// A non-blocking `/meta/connect` (timeout 0): the connect's reply.
async fn connect(server: &Server, user: &str, client_id: &str) -> Value {
    let replies = bayeux(
        server,
        user,
        json!([{"channel": "/meta/connect", "clientId": client_id,
                "connectionType": "long-polling", "advice": {"timeout": 0}}]),
    )
    .await;
    replies
        .into_iter()
        .find(|m| m["channel"] == "/meta/connect")
        .unwrap()
}

fn ws_url(server: &Server) -> String {
    format!(
        "{}{NOTIFICATIONS}",
        server.url.replacen("http://", "ws://", 1)
    )
}

async fn health(server: &Server) -> u16 {
    http()
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_peer_that_never_reads_is_cut_off_not_buffered() {
    let server = server(&[]);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server))
        .await
        .unwrap();
    // No handshake, no reading: each frame asks for 1,000 error replies.
    let frame = json!((0..1000)
        .map(
            |_| json!({"channel": "/meta/subscribe", "clientId": "nobody",
                        "subscription": "/v2/me/chats"})
        )
        .collect::<Vec<_>>())
    .to_string();
    let limit: usize = 64 << 20;
    let mut sent = 0usize;
    let outcome = tokio::time::timeout(WAIT, async {
        while sent < limit {
            if let Err(e) = ws.send(WsMessage::text(frame.clone())).await {
                return Some(e.to_string());
            }
            sent += frame.len();
        }
        None
    })
    .await;
    match outcome {
        Ok(Some(_cut)) => {}
        Ok(None) => panic!("the server read and buffered {sent} bytes for a peer that never reads"),
        Err(_) => panic!("neither cut off nor accepted after {sent} bytes"),
    }
    assert_eq!(health(&server).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cometd_sessions_per_agent_and_subscriptions_per_session_are_capped() {
    let server = server(&[]);
    let bob = handshake(&server, "agent2").await;
    let first = handshake(&server, "agent1").await;
    // Up to the cap the first session lives; one more handshake replaces it.
    let mut newest = first.clone();
    for _ in 0..8 {
        newest = handshake(&server, "agent1").await;
    }
    let reply = connect(&server, "agent1", &first).await;
    assert_eq!(reply["error"], "402::session_unknown", "{reply}");
    assert_eq!(
        connect(&server, "agent1", &newest).await["successful"],
        true
    );
    assert_eq!(
        connect(&server, "agent2", &bob).await["successful"],
        true,
        "another agent's session is untouched"
    );
    // One frame of 500 handshakes (one notifications token, or Basic) still leaves 8.
    let many: Vec<Value> = (0..500)
        .map(|_| {
            json!({"channel": "/meta/handshake", "version": "1.0",
                        "supportedConnectionTypes": ["long-polling"]})
        })
        .collect();
    let replies = bayeux(&server, "agent1", json!(many)).await;
    let ids: Vec<&str> = replies
        .iter()
        .filter_map(|r| r["clientId"].as_str())
        .collect();
    let mut alive = 0;
    for id in &ids {
        if connect(&server, "agent1", id).await["successful"] == true {
            alive += 1;
        }
    }
    assert_eq!(alive, 8);

    let newest = handshake(&server, "agent1").await;
    let subscribe = |n: usize| {
        json!([{"channel": "/meta/subscribe", "clientId": newest,
                "subscription": format!("/v2/me/topic{n}")}])
    };
    for n in 0..64 {
        let r = bayeux(&server, "agent1", subscribe(n)).await;
        assert_eq!(r[0]["successful"], true, "{r:?}");
    }
    let refused = bayeux(&server, "agent1", subscribe(64)).await;
    assert_eq!(refused[0]["error"], "403::too many subscriptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_per_user_and_per_address_and_logged() {
    let server = server(&[]);
    for _ in 0..10 {
        assert_eq!(sign_in(&server, "agent1", "guess").await.0, 401);
    }
    let r = http()
        .get(format!("{}/api/v2/me", server.url))
        .header("Authorization", basic("agent1", "agent1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429, "the right password waits too");
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(
        body["statusMessage"]
            .as_str()
            .unwrap()
            .starts_with("too many failed sign-ins, try again in"),
        "{body}"
    );
    assert_eq!(
        sign_in(&server, "agent2", "agent2").await.0,
        200,
        "other users sign in"
    );
    // Guessing across user names: the address is throttled.
    for n in 0..20 {
        assert_eq!(
            sign_in(&server, &format!("nobody{n}"), "guess").await.0,
            401
        );
    }
    assert_eq!(sign_in(&server, "agent3", "agent3").await.0, 429);
    let log = std::fs::read_to_string(server.data.join("server.log")).unwrap();
    assert!(log.contains("sign-in failed"), "failures are logged");
    assert!(log.contains("nobody7"));
    assert!(!log.contains("guess"), "never the password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agents_sign_ins_never_evict_another_agents_session() {
    let server = server(&[]);
    let (_, bob) = sign_in(&server, "agent2", "agent2").await;
    let bob = bob.unwrap();
    let (_, first) = sign_in(&server, "agent1", "agent1").await;
    let first = first.unwrap();
    // 10,001 cookie-less Basic requests: more than the old global session cap.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let url = format!("{}/api/v2/me", server.url);
            tokio::spawn(async move {
                let http = http();
                for _ in 0..1251 {
                    let r = http
                        .get(&url)
                        .header("Authorization", basic("agent1", "agent1"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(me_with_cookie(&server, &bob).await, 200);
    assert_eq!(
        me_with_cookie(&server, &first).await,
        401,
        "agent1's own oldest session made room"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_revokes_notifications_tokens_and_cometd_sessions() {
    let server = server(&[]);
    let r = http()
        .get(format!("{}/api/v2/me", server.url))
        .header("Authorization", basic("agent1", "agent1"))
        .send()
        .await
        .unwrap();
    let token = r.headers()["X-Cobrowse-Notifications-Token"]
        .to_str()
        .unwrap()
        .to_owned();
    let client = handshake(&server, "agent1").await;
    let r = http()
        .post(format!("{}/api/v2/me", server.url))
        .header("Authorization", basic("agent1", "agent1"))
        .header("Content-Type", "application/json")
        .body(json!({"operationName": "EndContactCenterSession"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        connect(&server, "agent1", &client).await["error"],
        "402::session_unknown"
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server))
        .await
        .unwrap();
    ws.send(WsMessage::text(
        json!([{"channel": "/meta/handshake", "version": "1.0",
                "supportedConnectionTypes": ["websocket"],
                "ext": {"cobrowse": {"token": token}}}])
        .to_string(),
    ))
    .await
    .unwrap();
    let reply = ws_reply(&mut ws).await;
    assert_eq!(reply[0]["successful"], false, "{reply}");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_reply(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a reply")
            .expect("open")
            .unwrap();
        if let WsMessage::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_a_foreign_origin_do_not_count_and_writes_need_json() {
    let server = server(&["--allow-origin", "https://desk.example.com"]);
    let (_, cookie) = sign_in(&server, "agent1", "agent1").await;
    let cookie = cookie.unwrap();
    let write = |origin: Option<&str>, content_type: &str| {
        let mut r = http()
            .post(format!("{}/api/v2/me", server.url))
            .header("Cookie", &cookie)
            .header("Content-Type", content_type)
            .body(
                json!({"operationName": "StartContactCenterSession", "channels": ["chat"]})
                    .to_string(),
            );
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(write(Some("https://evil.example"), "text/plain").await, 403);
    assert_eq!(
        write(Some("https://evil.example"), "application/json").await,
        403
    );
    assert_eq!(write(None, "text/plain").await, 415);
    assert_eq!(write(None, "application/json").await, 200);
    assert_eq!(
        write(
            Some("chrome-extension://abcdefghijklmnop"),
            "application/json"
        )
        .await,
        200
    );
    assert_eq!(
        write(
            Some("moz-extension://0c1d2e3f-1111-2222-3333-444455556666"),
            "application/json"
        )
        .await,
        200
    );
    assert_eq!(
        write(Some("https://desk.example.com"), "application/json").await,
        200
    );
    assert_eq!(write(Some(&server.url), "application/json").await, 200);

    // A WebSocket opened by a foreign page carries the cookie: it authenticates nobody.
    let mut request = ws_url(&server).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(WsMessage::text(
        json!([{"channel": "/meta/handshake", "version": "1.0",
                "supportedConnectionTypes": ["websocket"]}])
        .to_string(),
    ))
    .await
    .unwrap();
    let reply = ws_reply(&mut ws).await;
    assert_eq!(reply[0]["error"], "403::unauthorized", "{reply}");
}

/// Which of `agents` holds `chat` now (polls their chat lists).
async fn holder(agents: &[&Agent], chat: &str) -> usize {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for (n, a) in agents.iter().enumerate() {
            let (_, r) = a.get("/api/v2/me/chats").await;
            let holds = r["chats"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["id"] == chat));
            if holds {
                return n;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody holds {chat}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_and_reject_sent_together_exactly_one_happens_and_so_with_completes() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let mut bob = Agent::new(&server, "agent2");
    bob.sign_in("long-polling").await;
    for round in 0..15 {
        let (customer, _) = Customer::request_replied(&server, "Pat").await;
        let chat = customer.chat_id.clone();
        let agents = [&ann, &bob];
        let offered_to = agents[holder(&agents, &chat).await];
        let (accept, reject) = tokio::join!(
            offered_to.op(&chat, json!({"operationName": "Accept"})),
            offered_to.op(&chat, json!({"operationName": "Reject"})),
        );
        let won = [accept.0, reject.0].iter().filter(|s| **s == 200).count();
        assert_eq!(
            won, 1,
            "round {round}: accept {accept:?}, reject {reject:?}"
        );
        if accept.0 == 200 {
            let completes = futures_util::future::join_all(
                (0..4).map(|_| offered_to.op(&chat, json!({"operationName": "Complete"}))),
            )
            .await;
            let done = completes.iter().filter(|(s, _)| *s == 200).count();
            assert_eq!(done, 1, "round {round}: {completes:?}");
        }
        customer.call("disconnect", &[]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_goes_only_to_an_agent_who_can_take_the_chat() {
    let server = server(&["--max-chats", "1"]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let cleo_uri = uri_of(&server, "agent3").await;
    let (_customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;
    // Cleo never signed in to the chat channel.
    let (s, r) = ann
        .op(
            &chat,
            json!({"operationName": "Transfer", "targetUri": cleo_uri}),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(
        r["statusMessage"]
            .as_str()
            .unwrap()
            .contains("cannot take a chat now"),
        "{r}"
    );
    // Bob is signed in but holds his one chat.
    let bob_uri = uri_of(&server, "agent2").await;
    let mut bob = Agent::new(&server, "agent2");
    bob.sign_in("long-polling").await;
    let (_other, _) = Customer::request_replied(&server, "Sam").await;
    let other = bob.invitation().await;
    bob.op(&other, json!({"operationName": "Accept"})).await;
    let (s, _) = ann
        .op(
            &chat,
            json!({"operationName": "Transfer", "targetUri": bob_uri}),
        )
        .await;
    assert_eq!(s, 400, "at capacity");
    assert!(ann.has_chat(&chat).await.is_ok(), "the chat stays with Ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_nobody_takes_ends_after_the_queue_timeout_and_alias_and_service_are_checked() {
    let server = server(&["--queue-timeout-ms", "1500"]);
    let (mut customer, _) = Customer::request_replied(&server, "Pat").await;
    customer
        .wait_for("the queue timeout", |m| {
            m["type"] == "Notice"
                && m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("No agent could take your chat"))
        })
        .await;
    let (_, r) = customer.call("refresh", &[]).await;
    assert_eq!(r["chatEnded"], true, "{r}");

    let fresh = Customer::request(&server, "Sam").await;
    let alias = fresh.alias.as_str();
    assert_eq!(
        send_via(&server, &fresh, "no-such-service", alias).await,
        404
    );
    assert_eq!(
        send_via(&server, &fresh, "customer-support", "999").await,
        400
    );
    assert_eq!(
        send_via(&server, &fresh, "customer-support", alias).await,
        200
    );
}

/// `customer` sends a message naming `service` in the URL and `alias` in the form: the status.
async fn send_via(server: &Server, customer: &Customer, service: &str, alias: &str) -> u16 {
    let url = format!(
        "{}/genesys/2/chat/{service}/{}/send",
        server.url, customer.chat_id
    );
    let params = [
        ("userId", customer.user_id.as_str()),
        ("secureKey", customer.secure_key.as_str()),
        ("alias", alias),
        ("message", "hello"),
    ];
    post_form(&http(), &url, &params).await.0
}

/// The `uri` GWS gives agent `user` (a transfer's `targetUri`).
async fn uri_of(server: &Server, user: &str) -> String {
    let (_, me) = Agent::new(server, user).get("/api/v2/me").await;
    me["user"]["uri"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_left_changes_nothing_more_and_idle_connections_close() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let (customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;
    customer.call("disconnect", &[]).await;
    let (s, r) = customer
        .call("updateData", &[("userData[late]", "1")])
        .await;
    assert_eq!(s, 400, "{r}");
    let (s, r) = customer
        .call("updateNickname", &[("nickname", "Supervisor")])
        .await;
    assert_eq!(s, 400, "{r}");

    // A connection that never sends its request's headers is closed by the server.
    use tokio::io::AsyncReadExt;
    let mut idle = tokio::net::TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(WAIT * 2, idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "an idle connection stays open: {closed:?}"
    );
}
