//! Co-browse against the real binary over real sockets: the Genesys live API over REST and
//! CometD (shapes pinned by golden fixtures), sessions bound to chats, the agents'
//! verification, lifecycle (idle timeout, no re-join, one per agent, the chat's end), limits,
//! the relay's refusals, and a `kill -9`.

mod support;

use std::time::Duration;

use bayeux_net::client::NativeClient;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::golden::check;
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

const VERIFY: &str = "/api/v2/me/cobrowse/verifications";

/// A customer on chat with agent1 (who accepted it, with notifications on).
async fn chat_with_agent1(server: &Server) -> (Customer, Agent) {
    let mut agent = Agent::new(server, "agent1");
    agent.sign_in("websocket").await;
    let customer = Customer::request(server, "Pat Customer").await;
    let chat = agent.invitation().await;
    assert_eq!(chat, customer.chat_id);
    let (s, r) = agent
        .op(&chat, json!({"operationName": "Accept", "nickname": "Ann"}))
        .await;
    assert_eq!(s, 200, "{r}");
    (customer, agent)
}

fn identity(c: &Customer) -> Value {
    json!({"chatId": c.chat_id, "userId": c.user_id, "secureKey": c.secure_key})
}

async fn create(server: &Server, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new().post(format!("{}/cobrowse/rest/live/sessions", server.url));
    if let Some(b) = body {
        r = r
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn created(server: &Server, body: Option<Value>) -> (String, String) {
    let (s, r) = create(server, body).await;
    assert_eq!(s, 200, "{r}");
    (
        r["sessionToken"].as_str().unwrap().to_owned(),
        r["customerToken"].as_str().unwrap().to_owned(),
    )
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{}{path}", server.url)).await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn verify(agent: &Agent, chat: &str, token: &str) -> (u16, Value) {
    agent
        .post(VERIFY, json!({"chatId": chat, "sessionToken": token}))
        .await
}

/// Verifies and opens the view: the session is active with agent1.
async fn join_as_agent(server: &Server, agent: &Agent, chat: &str, token: &str) -> String {
    let (s, r) = verify(agent, chat, token).await;
    assert_eq!(s, 200, "{r}");
    redeem(server, r["cobrowse"]["joinTicket"].as_str().unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// A CometD client of the co-browse endpoint (with these headers).
fn cometd(server: &Server, headers: Vec<(String, String)>) -> NativeClient {
    NativeClient::spawn_with_headers(
        &format!("{}/cobrowse/cometd", server.url),
        ClientConfig {
            transports: vec!["websocket".into()],
            backoff_initial_ms: 100,
            ..ClientConfig::default()
        },
        headers,
    )
}

/// Publishes to a service channel and waits for its answer on that channel.
async fn call(c: &mut NativeClient, channel: &str, data: Value) -> Value {
    c.publish(channel, data)
        .await
        .unwrap_or_else(|e| panic!("{channel}: {e}"));
    message_on(c, channel).await
}

async fn message_on(c: &mut NativeClient, channel: &str) -> Value {
    c.wait_for(
        channel,
        WAIT,
        |e| match e {
            Event::Message(m) if m.channel == channel => Some(m.data.clone().unwrap_or_default()),
            _ => None,
        },
        drop,
    )
    .await
    .unwrap_or_else(|e| panic!("no {channel}: {e}"))
}

async fn wait_until(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(server: &Server, path: &str, cookie: Option<&str>) -> Socket {
    let url = format!("{}{path}", server.url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    if let Some(c) = cookie {
        request.headers_mut().insert("Cookie", c.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next text frame as JSON, or the close code.
async fn next(ws: &mut Socket) -> Result<Value, Option<u16>> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Ws::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Ws::Close(f))) => return Err(f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Ws::Text(v.to_string().into())).await.unwrap();
}

async fn customer_stream(server: &Server, token: &str, customer_token: &str) -> Socket {
    let mut ws = socket(server, "/cobrowse/ws/customer", None).await;
    send(
        &mut ws,
        json!({"t": "hello", "sessionToken": token, "customerToken": customer_token, "href": "http://shop/"}),
    )
    .await;
    let hello = next(&mut ws).await.unwrap();
    assert_eq!(hello["t"], "hello", "{hello}");
    ws
}

fn meta(seq: u64, href: &str) -> Value {
    json!({"t": "ev", "seq": seq, "e": {"type": 4, "timestamp": 1, "data": {"href": href, "width": 800, "height": 600}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_cometd_shapes_match_their_fixtures() {
    let server = server(&[]);
    let (customer, mut agent) = chat_with_agent1(&server).await;

    let (_, created) = create(&server, Some(identity(&customer))).await;
    check("cobrowse_create", created.clone());
    let token = created["sessionToken"].as_str().unwrap().to_owned();
    check(
        "cobrowse_lookup",
        get(&server, &format!("/cobrowse/rest/live/sessions/{token}"))
            .await
            .1,
    );
    check("cobrowse_health", get(&server, "/cobrowse/health").await.1);
    let (_, verified) = verify(&agent, &customer.chat_id, &token).await;
    // The extension's parser (core `gws::cobrowse`) reads it.
    serde_json::from_value::<cobrowse_agent::gws::cobrowse::VerificationReply>(verified.clone())
        .expect("core reads the verification");
    check("cobrowse_verification", verified.clone());
    let (_, no) = verify(&agent, &customer.chat_id, "000000000").await;
    check("cobrowse_verification_no_match", no);

    // The customer joins over CometD with its customer token; the agent's desk as controller.
    let mut cust = cometd(&server, Vec::new());
    let joined = call(
        &mut cust,
        "/service/session/join",
        json!({"sessionToken": token, "role": 1, "customerToken": created["customerToken"]}),
    )
    .await;
    check("cobrowse_cometd_join_customer", joined);
    let mut controller = cometd(&server, vec![("Authorization".into(), agent.auth.clone())]);
    let joined = call(
        &mut controller,
        "/service/session/join",
        json!({"sessionToken": token, "role": 3}),
    )
    .await;
    check("cobrowse_cometd_join_controller", joined.clone());
    let controller_token = joined["userToken"].as_str().unwrap().to_owned();
    check(
        "cobrowse_cometd_joined",
        message_on(&mut cust, "/service/session/joined").await,
    );

    // The agent opens the view: activated, to everyone; the chat's reporting keys.
    redeem(
        &server,
        verified["cobrowse"]["joinTicket"].as_str().unwrap(),
    )
    .await
    .unwrap();
    check(
        "cobrowse_cometd_activated",
        message_on(&mut controller, "/service/session/activated").await,
    );
    let properties = agent
        .notification("the co-browse reporting keys", |d| {
            (d["notificationType"] == "PropertiesUpdated"
                && d["chat"]["userData"]["CoBrowseAssociated"] == "Yes")
                .then(|| d.clone())
        })
        .await;
    check("cobrowse_agent_notification_associated", properties);
    let session_changed = |state: &'static str| {
        move |d: &Value| {
            (d["messageType"] == "CobrowseSessionChanged" && d["cobrowse"]["state"] == state).then(
                || {
                    serde_json::from_value::<cobrowse_agent::gws::cobrowse::SessionChangedMessage>(
                        d.clone(),
                    )
                    .expect("core reads it");
                    d.clone()
                },
            )
        }
    };
    check(
        "cobrowse_agent_notification_active",
        agent
            .notification("the co-browse is active", session_changed("Active"))
            .await,
    );

    // The controller stops it (REST): deactivated to everyone; history.
    check(
        "cobrowse_stop",
        get(
            &server,
            &format!("/cobrowse/rest/live/users/{controller_token}/session/stop"),
        )
        .await
        .1,
    );
    check(
        "cobrowse_cometd_deactivated",
        message_on(&mut cust, "/service/session/deactivated").await,
    );
    check(
        "cobrowse_agent_notification_ended",
        agent
            .notification("the co-browse ended", session_changed("Ended"))
            .await,
    );
    let id = verified["cobrowse"]["sessionHistoryId"].as_str().unwrap();
    check(
        "cobrowse_history",
        agent
            .get(&format!("/cobrowse/rest/history/sessions/{id}"))
            .await
            .1,
    );

    // Created over CometD, unbound.
    let mut anon = cometd(&server, Vec::new());
    let made = call(&mut anon, "/service/session/create", json!({})).await;
    check("cobrowse_cometd_create", made);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binding_that_does_not_match_its_chat_is_refused_and_binds_nothing() {
    let server = server(&[]);
    let customer = Customer::request(&server, "Pat").await;
    let mut wrong = identity(&customer);
    wrong["secureKey"] = json!("0".repeat(32));
    let (s, r) = create(&server, Some(wrong)).await;
    assert_eq!(s, 403, "{r}");
    let (s, r) = create(&server, Some(json!({"chatId": customer.chat_id}))).await;
    assert_eq!(s, 400, "a partial identity: {r}");
    // A form body binds too.
    let (s, _) = post_form(
        &reqwest::Client::new(),
        &format!("{}/cobrowse/rest/live/sessions", server.url),
        &[
            ("chatId", customer.chat_id.as_str()),
            ("userId", &customer.user_id),
            ("secureKey", "nope"),
        ],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = create(&server, Some(identity(&customer))).await;
    assert_eq!(s, 200);
    // Nor over CometD.
    let mut c = cometd(&server, Vec::new());
    let mut bad = identity(&customer);
    bad["userId"] = json!("someone-else");
    let r = call(&mut c, "/service/session/create", bad).await;
    assert!(
        r["error"].is_string() && r.get("sessionToken").is_none(),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_nine_digits_unique_among_live_sessions() {
    let server = server(&[]);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let (token, _) = created(&server, None).await;
        assert!(
            token.len() == 9 && token.bytes().all(|b| b.is_ascii_digit()),
            "{token}"
        );
        assert!(seen.insert(token), "a live token was drawn twice");
    }
    // The 21st within a minute from one address: refused.
    let (s, _) = create(&server, None).await;
    assert_eq!(s, 429);
    let log = std::fs::read_to_string(server.data.join("server.log")).unwrap();
    assert!(
        seen.iter().all(|t| !log.contains(t.as_str())),
        "a live token was written to the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_nobody_joined_ends_at_its_idle_deadline() {
    let server = server(&["--cobrowse-idle-ms", "1500"]);
    let (token, _) = created(&server, None).await;
    let path = format!("/cobrowse/rest/live/sessions/{token}");
    assert_eq!(get(&server, &path).await.0, 200);
    wait_until("the idle session to end", async || {
        get(&server, &path).await.0 == 404
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cobrowse_per_agent_and_no_rejoin_after_the_end() {
    let server = server(&[]);
    let mut agent = Agent::new(&server, "agent1");
    agent.sign_in("websocket").await;
    let mut customers = Vec::new();
    for name in ["Ada", "Ben"] {
        let c = Customer::request(&server, name).await;
        let chat = agent.invitation().await;
        agent.seen.clear();
        agent.op(&chat, json!({"operationName": "Accept"})).await;
        customers.push(c);
    }
    let (ada, _) = created(&server, Some(identity(&customers[0]))).await;
    let (ben, _) = created(&server, Some(identity(&customers[1]))).await;
    let cookie = join_as_agent(&server, &agent, &customers[0].chat_id, &ada).await;
    // A second one while the first goes on: refused, naming the first.
    let (_, r) = verify(&agent, &customers[1].chat_id, &ben).await;
    let refused = redeem(&server, r["cobrowse"]["joinTicket"].as_str().unwrap()).await;
    let (status, page) = refused.expect_err("a second co-browse");
    assert_eq!(status, 409);
    assert!(
        page.contains("Ada") && page.contains(&customers[0].chat_id),
        "{page}"
    );
    // A used ticket is no ticket.
    let (_, r) = verify(&agent, &customers[0].chat_id, &ada).await;
    let ticket = r["cobrowse"]["joinTicket"].as_str().unwrap().to_owned();
    redeem(&server, &ticket).await.unwrap();
    assert_eq!(redeem(&server, &ticket).await.unwrap_err().0, 403);

    // The agent ends it from the view; then nothing brings it back.
    let mut view = socket(&server, "/cobrowse/ws/agent", Some(&cookie)).await;
    send(&mut view, json!({"t": "end"})).await;
    assert_eq!(next(&mut view).await.unwrap()["t"], "end");
    let (s, _) = verify(&agent, &customers[0].chat_id, &ada).await;
    assert_eq!(s, 404, "an ended session does not verify");
    let mut view = socket(&server, "/cobrowse/ws/agent", Some(&cookie)).await;
    let ended = loop {
        match next(&mut view).await {
            Ok(v) if v["t"] == "end" => continue,
            other => break other,
        }
    };
    assert_eq!(ended, Err(Some(4410)), "the old view cannot come back");
    // The second one may start now.
    join_as_agent(&server, &agent, &customers[1].chat_id, &ben).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_ending_ends_its_cobrowse_for_everyone() {
    let server = server(&[]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (token, customer_token) = created(&server, Some(identity(&customer))).await;
    let mut controller = cometd(&server, vec![("Authorization".into(), agent.auth.clone())]);
    call(
        &mut controller,
        "/service/session/join",
        json!({"sessionToken": token, "role": 3}),
    )
    .await;
    let mut stream = customer_stream(&server, &token, &customer_token).await;
    join_as_agent(&server, &agent, &customer.chat_id, &token).await;
    assert_eq!(next(&mut stream).await.unwrap()["t"], "agent-joined");
    agent
        .op(&customer.chat_id, json!({"operationName": "Complete"}))
        .await;
    let deactivated = message_on(&mut controller, "/service/session/deactivated").await;
    assert!(deactivated["deactivationTime"].is_i64(), "{deactivated}");
    let end = next(&mut stream).await.unwrap();
    assert_eq!(
        (end["t"].as_str(), end["reason"].as_str()),
        (Some("end"), Some("chat-ended"))
    );
    assert_eq!(
        get(&server, &format!("/cobrowse/rest/live/sessions/{token}"))
            .await
            .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_answers_only_a_full_match_and_every_other_case_alike() {
    let server = server(&[]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (bound, _) = created(&server, Some(identity(&customer))).await;
    let (unbound, _) = created(&server, None).await;
    // Another chat (routed to whichever agent), and another agent.
    let mut agent2 = Agent::new(&server, "agent2");
    agent2.sign_in("websocket").await;
    let agent1 = agent;
    let other = Customer::request(&server, "Other").await;
    let (ended, _) = created(&server, None).await;
    let (s, r) = verify(&agent1, &customer.chat_id, &bound).await;
    assert_eq!(s, 200, "{r}");
    // One that ended: its controller stopped it.
    let mut ctl = cometd(&server, vec![("Authorization".into(), agent1.auth.clone())]);
    let j = call(
        &mut ctl,
        "/service/session/join",
        json!({"sessionToken": ended, "role": 3}),
    )
    .await;
    call(
        &mut ctl,
        "/service/session/stop",
        json!({"userToken": j["userToken"]}),
    )
    .await;
    let no_match = [
        (
            "unknown",
            verify(&agent1, &customer.chat_id, "123456789").await,
        ),
        ("ended", verify(&agent1, &customer.chat_id, &ended).await),
        (
            "unbound",
            verify(&agent1, &customer.chat_id, &unbound).await,
        ),
        (
            "another chat",
            verify(&agent1, &other.chat_id, &bound).await,
        ),
        (
            "another agent",
            verify(&agent2, &customer.chat_id, &bound).await,
        ),
        (
            "a chat not this agent's",
            verify(&agent2, &other.chat_id, &bound).await,
        ),
    ];
    let (first_case, first) = &no_match[0];
    for (case, answer) in &no_match[1..] {
        assert_eq!(
            answer, first,
            "{case} answers differently from {first_case}"
        );
    }
    assert_eq!(first.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifications_are_rate_limited_per_agent() {
    let server = server(&["--cobrowse-verifications-per-minute", "5"]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (token, _) = created(&server, Some(identity(&customer))).await;
    for _ in 0..5 {
        assert_eq!(verify(&agent, &customer.chat_id, "999999999").await.0, 404);
    }
    let (s, r) = verify(&agent, &customer.chat_id, &token).await;
    assert_eq!(s, 429, "{r}");
    let agent2 = Agent::new(&server, "agent2");
    assert_eq!(
        verify(&agent2, &customer.chat_id, "999999999").await.0,
        404,
        "agent2 has its own budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_refuses_strangers_and_bad_frames_without_disturbing_others() {
    let server = server(&[]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (a, a_key) = created(&server, Some(identity(&customer))).await;
    let (b, b_key) = created(&server, None).await;
    // Session b's key does not open session a.
    let mut ws = socket(&server, "/cobrowse/ws/customer", None).await;
    send(
        &mut ws,
        json!({"t": "hello", "sessionToken": a, "customerToken": b_key}),
    )
    .await;
    assert_eq!(next(&mut ws).await, Err(Some(4403)));
    // No hello first.
    let mut ws = socket(&server, "/cobrowse/ws/customer", None).await;
    send(&mut ws, meta(1, "http://x/")).await;
    assert_eq!(next(&mut ws).await, Err(Some(1008)));
    // Malformed events close that stream only.
    let cookie = join_as_agent(&server, &agent, &customer.chat_id, &a).await;
    let mut good = customer_stream(&server, &a, &a_key).await;
    let mut view = socket(&server, "/cobrowse/ws/agent", Some(&cookie)).await;
    send(&mut view, json!({"t": "join"})).await;
    assert_eq!(next(&mut view).await.unwrap()["t"], "cache-begin");
    for bad in [
        json!({"t": "ev", "seq": 1, "e": {"type": 99, "timestamp": 1}}),
        json!({"t": "ptr", "x": 1, "y": 1}),
        json!({"t": "ev", "e": {"type": 3, "timestamp": 1}}),
    ] {
        let mut other = customer_stream(&server, &b, &b_key).await;
        send(&mut other, bad.clone()).await;
        let closed = loop {
            match next(&mut other).await {
                Ok(_) => continue,
                Err(code) => break code,
            }
        };
        assert!(matches!(closed, Some(1007 | 1008)), "{bad}: {closed:?}");
    }
    let huge = "x".repeat(5 * 1024 * 1024);
    let mut other = customer_stream(&server, &b, &b_key).await;
    let _ = other.send(Ws::Text(huge.into())).await;
    assert!(
        next(&mut other).await.is_err(),
        "a frame over the limit closes the stream"
    );
    // Session a went on the whole time.
    send(&mut good, meta(1, "http://shop/")).await;
    let mut got = next(&mut view).await.unwrap();
    while got["t"] != "ev" {
        got = next(&mut view).await.unwrap();
    }
    assert_eq!(got["e"]["data"]["href"], "http://shop/");
    // The agent's pointer reaches the customer, rebuilt.
    send(
        &mut view,
        json!({"t": "ptr", "x": 12.6, "y": 30, "vis": true, "extra": "<b>"}),
    )
    .await;
    let mut p = next(&mut good).await.unwrap();
    while p["t"] != "ptr" {
        p = next(&mut good).await.unwrap();
    }
    assert_eq!(
        p,
        json!({"t": "ptr", "x": 13.0, "y": 30.0, "vis": true, "click": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_view_starts_from_the_cache_of_the_last_page() {
    let server = server(&[]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (token, key) = created(&server, Some(identity(&customer))).await;
    let mut page = customer_stream(&server, &token, &key).await;
    send(&mut page, meta(1, "http://shop/")).await;
    send(
        &mut page,
        json!({"t": "ev", "seq": 2, "e": {"type": 3, "timestamp": 2, "data": {"source": 0}}}),
    )
    .await;
    send(&mut page, meta(3, "http://shop/checkout")).await;
    send(
        &mut page,
        json!({"t": "ev", "seq": 4, "e": {"type": 2, "timestamp": 3, "data": {}}}),
    )
    .await;
    // A repeat is dropped.
    send(
        &mut page,
        json!({"t": "ev", "seq": 4, "e": {"type": 2, "timestamp": 3, "data": {}}}),
    )
    .await;
    // One socket's frames are taken in order: once this one is cached, so is all before it.
    send(
        &mut page,
        json!({"t": "ev", "seq": 5, "e": {"type": 3, "timestamp": 4, "data": {"source": 0}}}),
    )
    .await;
    let cookie = join_as_agent(&server, &agent, &customer.chat_id, &token).await;
    let mut view = socket(&server, "/cobrowse/ws/agent", Some(&cookie)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let cached = loop {
        send(&mut view, json!({"t": "join"})).await;
        let begin = next(&mut view).await.unwrap();
        assert_eq!(begin["t"], "cache-begin");
        let n = begin["n"].as_u64().unwrap();
        let mut frames = Vec::new();
        for _ in 0..n {
            frames.push(next(&mut view).await.unwrap()["seq"].as_u64().unwrap());
        }
        assert_eq!(next(&mut view).await.unwrap()["t"], "cache-end");
        // Until the last frame is taken the cache may still hold the first page ([1, 2]).
        if frames.last() == Some(&5) {
            break frames;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: the cache never held the last frame sent; last {frames:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        cached,
        [3, 4, 5],
        "the cache starts at the last page, the repeat dropped"
    );
    // History has both pages.
    let (_, v) = verify(&agent, &customer.chat_id, &token).await;
    let id = v["cobrowse"]["sessionHistoryId"].as_str().unwrap();
    let (_, h) = agent
        .get(&format!("/cobrowse/rest/history/sessions/{id}"))
        .await;
    let urls: Vec<&str> = h["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["http://shop/", "http://shop/checkout"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_bindings_and_history_survive_a_kill_9() {
    let server = server(&[]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (token, key) = created(&server, Some(identity(&customer))).await;
    let mut page = customer_stream(&server, &token, &key).await;
    send(&mut page, meta(1, "http://shop/")).await;
    join_as_agent(&server, &agent, &customer.chat_id, &token).await;
    let server = server.restart();
    let path = format!("/cobrowse/rest/live/sessions/{token}");
    wait_until("the restarted server to answer", async || {
        get(&server, &path).await.0 == 200
    })
    .await;
    let agent = Agent::new(&server, "agent1");
    let (s, v) = verify(&agent, &customer.chat_id, &token).await;
    assert_eq!(
        (s, v["cobrowse"]["state"].as_str()),
        (200, Some("Active")),
        "{v}"
    );
    let id = v["cobrowse"]["sessionHistoryId"].as_str().unwrap();
    let (_, h) = agent
        .get(&format!("/cobrowse/rest/history/sessions/{id}"))
        .await;
    assert!(h["activationTime"].is_i64(), "{h}");
    assert_eq!(h["pages"][0]["url"], "http://shop/");
    // The customer's page reconnects and streams again.
    let _page = customer_stream(&server, &token, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_joins_and_exits_over_cometd_as_genesys_documents() {
    let server = server(&[]);
    let (customer, agent) = chat_with_agent1(&server).await;
    let (token, key) = created(&server, Some(identity(&customer))).await;
    let mut cust = cometd(&server, Vec::new());
    call(
        &mut cust,
        "/service/session/join",
        json!({"sessionToken": token, "role": 1, "customerToken": key}),
    )
    .await;
    // Anonymous clients cannot join as agents.
    let mut anon = cometd(&server, Vec::new());
    let refused = call(
        &mut anon,
        "/service/session/join",
        json!({"sessionToken": token, "role": 2}),
    )
    .await;
    assert!(refused["error"].is_string(), "{refused}");
    let mut desk = cometd(&server, vec![("Authorization".into(), agent.auth.clone())]);
    let joined = call(
        &mut desk,
        "/service/session/join",
        json!({"sessionToken": token, "role": 2, "name": "Ann"}),
    )
    .await;
    check("cobrowse_cometd_join_agent", joined.clone());
    message_on(&mut cust, "/service/session/activated").await;
    let exited = call(
        &mut desk,
        "/service/session/exit",
        json!({"userToken": joined["userToken"]}),
    )
    .await;
    check("cobrowse_cometd_exit", exited);
    message_on(&mut cust, "/service/session/deactivated").await;
    assert_eq!(
        get(&server, &format!("/cobrowse/rest/live/sessions/{token}"))
            .await
            .0,
        404,
        "the agent's exit ended it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_leaves_the_new_owner_able_to_verify_and_the_old_one_not() {
    let server = server(&[]);
    let (customer, mut agent1) = chat_with_agent1(&server).await;
    let (token, _) = created(&server, Some(identity(&customer))).await;
    let mut agent2 = Agent::new(&server, "agent2");
    let (_, me) = agent2.get("/api/v2/me").await;
    let agent2_uri = me["user"]["uri"].as_str().unwrap().to_owned();
    agent2.sign_in("websocket").await;
    let (s, r) = agent1
        .op(
            &customer.chat_id,
            json!({"operationName": "Transfer", "targetUri": agent2_uri}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    agent1
        .notification("the chat is done for agent1", |d| {
            (d["chat"]["state"] == "Completed").then_some(())
        })
        .await;
    assert_eq!(agent2.invitation().await, customer.chat_id);
    let (s, r) = agent2
        .op(&customer.chat_id, json!({"operationName": "Accept"}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(verify(&agent1, &customer.chat_id, &token).await.0, 404);
    let (s, r) = verify(&agent2, &customer.chat_id, &token).await;
    assert_eq!(s, 200, "{r}");
}
