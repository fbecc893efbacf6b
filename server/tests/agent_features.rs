//! The rest of the agent and customer surface against the real binary: CSRF, the CometD token
//! for WebSocket handshakes, notices, URLs, user data, history, and agent capacity.

mod support;

use bayeux_net::client::NativeClient;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_token_is_required_on_writes_when_enabled() {
    let server = server(&["--csrf"]);
    let ann = Agent::new(&server, "agent1");
    let r = ann
        .http
        .get(format!("{}/api/v2/me", server.url))
        .header("Authorization", &ann.auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["X-CSRF-HEADER"], "X-CSRF-TOKEN");
    let token = r.headers()["X-CSRF-TOKEN"].to_str().unwrap().to_owned();
    let post = |token: Option<&str>| {
        let mut req = ann
            .http
            .post(format!("{}/api/v2/me", server.url))
            .header("Authorization", &ann.auth)
            .header("Content-Type", "application/json")
            .body(
                json!({"operationName": "StartContactCenterSession", "channels": ["chat"]})
                    .to_string(),
            );
        if let Some(t) = token {
            req = req.header("X-CSRF-TOKEN", t);
        }
        req.send()
    };
    let refused = post(None).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        refused.text().await.unwrap(),
        "Missing or invalid Csrf token"
    );
    assert_eq!(post(Some("forged")).await.unwrap().status().as_u16(), 403);
    assert_eq!(post(Some(&token)).await.unwrap().status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshake_authenticates_with_a_single_use_token() {
    let server = server(&[]);
    let ann = Agent::new(&server, "agent1");
    let r = ann
        .http
        .get(format!("{}/api/v2/me", server.url))
        .header("Authorization", &ann.auth)
        .send()
        .await
        .unwrap();
    let token = r.headers()["X-Cobrowse-Notifications-Token"]
        .to_str()
        .unwrap()
        .to_owned();
    let connect = |token: &str| {
        let mut ext = serde_json::Map::new();
        ext.insert("cobrowse".into(), json!({ "token": token }));
        // A fresh client: no cookie, no Authorization header.
        NativeClient::spawn(
            &format!("{}/api/v2/notifications", server.url),
            ClientConfig {
                transports: vec!["websocket".into()],
                handshake_ext: ext,
                ..ClientConfig::default()
            },
        )
    };
    let mut c = connect(&token);
    c.subscribe("/v2/me/chats");
    c.wait_for(
        "subscribed with the token",
        WAIT,
        |e| matches!(e, Event::Subscribed { .. }).then_some(()),
        |e| {
            if let Event::HandshakeFailed { reason } = e {
                panic!("handshake: {reason}")
            }
        },
    )
    .await
    .unwrap();
    // Used once: a second handshake with it is refused, for good (reconnect: none).
    let mut again = connect(&token);
    let reason = again
        .wait_for(
            "refusal",
            WAIT,
            |e| match e {
                Event::HandshakeFailed { reason } => Some(reason.clone()),
                _ => None,
            },
            drop,
        )
        .await
        .unwrap();
    assert!(reason.starts_with("403:"), "{reason}");
    // Subscribing outside /v2/me is refused even with a valid session.
    c.subscribe("/v2/users/someone-else/chats");
    let denied = c
        .wait_for(
            "refused subscription",
            WAIT,
            |e| match e {
                Event::SubscribeFailed { channel, reason } => {
                    Some((channel.clone(), reason.clone()))
                }
                _ => None,
            },
            drop,
        )
        .await
        .unwrap();
    assert!(denied.1.starts_with("403:"), "{denied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_urls_user_data_and_history_travel_both_ways() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let (mut customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;

    let (s, _) = customer
        .call("customNotice", &[("message", "cobrowse:123456789")])
        .await;
    assert_eq!(s, 200);
    let notice = ann
        .notification("the custom notice", |d| {
            d["messages"]
                .as_array()?
                .iter()
                .find(|m| m["type"] == "CustomNotice")
                .cloned()
        })
        .await;
    assert_eq!(notice["text"], "cobrowse:123456789");
    assert_eq!(notice["from"]["type"], "Customer");

    let (s, r) = customer
        .call("pushUrl", &[("pushUrl", "javascript:alert(1)")])
        .await;
    assert_eq!(s, 400, "{r}");
    customer
        .call("pushUrl", &[("pushUrl", "https://shop.example/cart")])
        .await;
    let url = ann
        .notification("the pushed URL", |d| {
            d["messages"]
                .as_array()?
                .iter()
                .find(|m| m["type"] == "PushUrl")
                .cloned()
        })
        .await;
    assert_eq!(url["url"], "https://shop.example/cart");

    customer
        .call("updateData", &[("userData[CoBrowseToken]", "123456789")])
        .await;
    let props = ann
        .notification("PropertiesUpdated", |d| {
            (d["notificationType"] == "PropertiesUpdated").then(|| d["chat"]["userData"].clone())
        })
        .await;
    assert_eq!(props["CoBrowseToken"], "123456789");
    customer
        .call("updateNickname", &[("nickname", "Patricia")])
        .await;
    ann.notification("the new nickname", |d| {
        d["chat"]["participants"]
            .as_array()?
            .iter()
            .any(|p| p["nickname"] == "Patricia")
            .then_some(())
    })
    .await;

    let (s, _) = ann
        .op(
            &chat,
            json!({"operationName": "SendUrl", "url": "https://shop.example/help"}),
        )
        .await;
    assert_eq!(s, 200);
    let pushed = customer
        .wait_for("the agent's URL", |m| {
            m["type"] == "PushUrl" && m["from"]["type"] == "Agent"
        })
        .await;
    assert_eq!(pushed["text"], "https://shop.example/help");
    let (s, _) = ann
        .op(
            &chat,
            json!({"operationName": "SendUrl", "url": "file:///etc/passwd"}),
        )
        .await;
    assert_eq!(s, 400);
    ann.op(
        &chat,
        json!({"operationName": "UpdateUserData", "userData": {"CoBrowseAssociated": "true"}}),
    )
    .await;
    ann.notification("the agent's user data", |d| {
        (d["chat"]["userData"]["CoBrowseAssociated"] == "true").then_some(())
    })
    .await;

    ann.seen.clear();
    ann.op(&chat, json!({"operationName": "RequestChatHistory"}))
        .await;
    let history = ann
        .notification("the history", |d| {
            d["messages"].as_array().filter(|m| m.len() >= 5).cloned()
        })
        .await;
    assert_eq!(history[0]["index"], 1);
    assert_eq!(history[0]["type"], "ParticipantJoined");
    let (s, r) = ann.op(&chat, json!({"operationName": "Accept"})).await;
    assert_eq!(
        (s, &r["statusCode"]),
        (400, &json!(2)),
        "Accept is not a capability while Chatting: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_at_capacity_gets_no_more_chats_and_the_customer_is_told_to_wait() {
    let server = server(&["--max-chats", "2"]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let mut offered = Vec::new();
    for n in 0..2 {
        Customer::request_replied(&server, &format!("Customer {n}")).await;
        let id = ann.invitation().await;
        ann.seen.clear();
        offered.push(id);
    }
    let (_, fourth) = Customer::request_replied(&server, "Customer 2").await;
    let texts: Vec<&str> = fourth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("All agents are busy")),
        "{fourth}"
    );
    // Completing one frees a place: the waiting chat is offered.
    ann.op(&offered[0], json!({"operationName": "Accept"}))
        .await;
    ann.op(&offered[0], json!({"operationName": "Complete"}))
        .await;
    assert_eq!(ann.invitation().await, fourth["chatId"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_moves_the_chat_and_its_history_to_an_agent_or_a_queue() {
    let server = server(&["--service", "customer-support", "--service", "billing"]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let mut bob = Agent::new(&server, "agent2");
    let (_, bob_me) = bob.get("/api/v2/me").await;
    let bob_uri = bob_me["user"]["uri"].as_str().unwrap().to_owned();
    bob.sign_in("long-polling").await;
    bob.post(
        "/api/v2/me/channels/chat",
        json!({"operationName": "NotReady"}),
    )
    .await;

    let (mut customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;
    customer.send("my order is late").await;
    let (s, r) = ann
        .op(
            &chat,
            json!({"operationName": "Transfer", "targetUri": bob_uri}),
        )
        .await;
    assert_eq!((s, r), (200, json!({"statusCode": 0})));
    ann.notification("Completed for the transferring agent", |d| {
        (d["chat"]["state"] == "Completed").then_some(())
    })
    .await;
    assert_eq!(
        bob.invitation().await,
        chat,
        "offered to the target even while Not Ready"
    );
    bob.op(&chat, json!({"operationName": "Accept", "nickname": "Bob"}))
        .await;
    bob.notification("the history came along", |d| {
        d["messages"]
            .as_array()?
            .iter()
            .any(|m| m["text"] == "my order is late")
            .then_some(())
    })
    .await;
    customer
        .wait_for("Bob joining", |m| {
            m["type"] == "ParticipantJoined" && m["from"]["nickname"] == "Bob"
        })
        .await;

    // Bob sends it to another queue; Ann is ready, so it comes to her.
    let (s, r) = bob
        .op(
            &chat,
            json!({"operationName": "Transfer", "queueName": "billing"}),
        )
        .await;
    assert_eq!((s, r), (200, json!({"statusCode": 0})));
    ann.seen.clear();
    assert_eq!(ann.invitation().await, chat);
    let (s, _) = bob
        .op(
            &chat,
            json!({"operationName": "SendMessage", "text": "still mine?"}),
        )
        .await;
    assert_eq!(s, 404, "a transferred chat is no longer the old agent's");
    let (s, _) = ann
        .op(
            &chat,
            json!({"operationName": "Transfer", "queueName": "nowhere"}),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_vanishes_loses_their_chats_to_the_queue_after_the_grace_period() {
    let server = server(&["--requeue-grace-ms", "1000"]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("websocket").await;
    let (mut customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;
    // Ann's browser goes away without completing.
    drop(ann);
    let mut bob = Agent::new(&server, "agent2");
    bob.sign_in("long-polling").await;
    assert_eq!(bob.invitation().await, chat);
    bob.op(&chat, json!({"operationName": "Accept", "nickname": "Bob"}))
        .await;
    customer
        .wait_for("Bob taking over", |m| {
            m["type"] == "ParticipantJoined" && m["from"]["nickname"] == "Bob"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_rate_limited_per_chat_and_per_address() {
    let server = server(&[]);
    let (customer, _) = Customer::request_replied(&server, "Chatty").await;
    let mut statuses = Vec::new();
    for n in 0..35 {
        let (s, r) = customer
            .call("send", &[("message", &format!("spam {n}"))])
            .await;
        statuses.push((s, r["statusCode"].as_i64().unwrap_or(-1)));
    }
    assert!(
        statuses[..29].iter().all(|s| *s == (200, 0)),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&(429, 1)),
        "over the limit: try again later"
    );
    // Refreshing is not writing: still allowed.
    let (s, _) = customer
        .call("refresh", &[("transcriptPosition", "1")])
        .await;
    assert_eq!(s, 200);
    let http = reqwest::Client::new();
    let mut last = 0;
    for _ in 0..25 {
        let (s, _) = post_form(
            &http,
            &format!("{}/genesys/2/chat/customer-support", server.url),
            &[("nickname", "x")],
        )
        .await;
        last = s;
    }
    assert_eq!(last, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_chat_write_limit_is_configurable() {
    let server = server(&["--chat-writes-per-10s", "5"]);
    let (customer, _) = Customer::request_replied(&server, "Chatty").await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let (s, _) = customer
            .call("send", &[("message", &format!("line {n}"))])
            .await;
        statuses.push(s);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_and_nicknames_are_bounded_and_closed_with_the_chat() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let (customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    let (s, r) = ann
        .op(
            &chat,
            json!({"operationName": "Accept", "nickname": "A".repeat(60_000)}),
        )
        .await;
    assert_eq!(s, 400, "a 60 KB agent nickname: {r}");
    ann.op(&chat, json!({"operationName": "Accept", "nickname": "Ann"}))
        .await;

    // A customer growing the chat's user data: refused beyond its bounds, and nothing of the
    // refused write is kept.
    let big = "x".repeat(4000);
    let mut refused = None;
    for n in 0..8 {
        let key = format!("userData[k{n}]");
        let (s, r) = customer.call("updateData", &[(&key, &big)]).await;
        if s != 200 {
            refused = Some((n, s, r));
            break;
        }
    }
    let (n, status, reply) = refused.expect("a 32 KB user data was accepted");
    assert_eq!(status, 413, "{reply}");
    assert!(n >= 3, "refused too early, at write {n}");
    let (_, chats) = ann.get("/api/v2/me/chats").await;
    let data = &chats["chats"][0]["userData"];
    assert!(data.get(format!("k{n}")).is_none(), "{data}");
    assert!(
        data.to_string().len() <= 16 * 1024 + 512,
        "{}",
        data.to_string().len()
    );
    // The agent is held to the same bounds.
    let (s, r) = ann
        .op(
            &chat,
            json!({"operationName": "UpdateUserData", "userData": {"huge": "y".repeat(20_000)}}),
        )
        .await;
    assert_eq!(s, 413, "{r}");

    // Nicknames: 1 to 128 characters; nothing after the chat ended.
    for bad in ["   ", &"n".repeat(129)] {
        let (s, r) = customer.call("updateNickname", &[("nickname", bad)]).await;
        assert_eq!(s, 400, "{bad:?}: {r}");
    }
    ann.op(&chat, json!({"operationName": "Complete"})).await;
    let (s, _) = customer
        .call("updateNickname", &[("nickname", "Later")])
        .await;
    assert_eq!(s, 400, "renamed after the end");
    let (s, _) = customer
        .call("updateData", &[("userData[late]", "1")])
        .await;
    assert_eq!(s, 400, "user data after the end");
}
