//! The reference server end to end over real sockets: a customer on the GMS Chat API v2, agents
//! on the Genesys Web Services API v2 with CometD notifications.

mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_and_agent_chat_from_invitation_to_completion() {
    let server = server(&[]);
    for transport in ["long-polling", "websocket"] {
        let mut agent = Agent::new(&server, "agent1");
        agent.sign_in(transport).await;
        let (mut customer, first) = Customer::request_replied(&server, "Pat Customer").await;
        assert_eq!(first["statusCode"], 0);
        assert_eq!(first["messages"][0]["type"], "ParticipantJoined");
        assert_eq!(first["messages"][0]["from"]["type"], "Client");

        let chat = agent.invitation().await;
        assert_eq!(chat, customer.chat_id);
        let invited = agent.seen.last().unwrap().clone();
        assert_eq!(invited["messageType"], "ChatStateChangeMessage");
        assert_eq!(invited["chat"]["capabilities"], json!(["Accept", "Reject"]));
        assert_eq!(invited["chat"]["participants"][0]["type"], "Customer");
        assert_eq!(invited["chat"]["userData"]["Subject"], "Help with my order");

        customer.send("hello before anyone answers").await;
        let (s, r) = agent
            .op(&chat, json!({"operationName": "Accept", "nickname": "Ann"}))
            .await;
        assert_eq!((s, r), (200, json!({"statusCode": 0})));
        agent
            .notification("Chatting", |d| {
                (d["notificationType"] == "StatusChange" && d["chat"]["state"] == "Chatting")
                    .then_some(())
            })
            .await;
        // The history after Accept holds what the customer wrote while waiting.
        agent
            .notification("history", |d| {
                d["messages"]
                    .as_array()?
                    .iter()
                    .any(|m| m["text"] == "hello before anyone answers")
                    .then_some(())
            })
            .await;
        customer
            .wait_for("the agent joining", |m| {
                m["type"] == "ParticipantJoined" && m["from"]["type"] == "Agent"
            })
            .await;

        for n in 0..3 {
            agent
                .op(
                    &chat,
                    json!({"operationName": "SendMessage", "text": format!("agent says {n}")}),
                )
                .await;
            customer.send(&format!("customer says {n}")).await;
        }
        customer
            .wait_for("the last agent message", |m| m["text"] == "agent says 2")
            .await;
        agent
            .notification("the last customer message", |d| {
                d["messages"]
                    .as_array()?
                    .iter()
                    .any(|m| m["text"] == "customer says 2")
                    .then_some(())
            })
            .await;
        let texts = agent.texts(&chat);
        let indices: Vec<i64> = texts.iter().map(|(i, _)| *i).collect();
        assert!(
            indices.windows(2).all(|w| w[0] < w[1]),
            "indices increase: {texts:?}"
        );

        // Typing both ways, then the agent completes.
        let (s, _) = customer
            .call("startTyping", &[("message", "secret preview")])
            .await;
        assert_eq!(s, 200);
        let typing = agent
            .notification("customer typing", |d| {
                d["messages"]
                    .as_array()?
                    .iter()
                    .find(|m| m["type"] == "TypingStarted" && m["from"]["type"] == "Customer")
                    .cloned()
            })
            .await;
        assert!(
            typing.get("text").is_none(),
            "the typing preview is not forwarded: {typing}"
        );
        agent
            .op(
                &chat,
                json!({"operationName": "SendStartTypingNotification"}),
            )
            .await;
        customer
            .wait_for("agent typing", |m| {
                m["type"] == "TypingStarted" && m["from"]["type"] == "Agent"
            })
            .await;

        let (s, r) = agent.op(&chat, json!({"operationName": "Complete"})).await;
        assert_eq!((s, r), (200, json!({"statusCode": 0})));
        agent
            .notification("Completed", |d| {
                (d["chat"]["id"] == chat.as_str() && d["chat"]["state"] == "Completed")
                    .then_some(())
            })
            .await;
        customer
            .wait_for("the agent leaving", |m| m["type"] == "ParticipantLeft")
            .await;
        let r = customer.refresh().await;
        assert_eq!(r["chatEnded"], true);
        // A finished chat is no longer the agent's.
        let (_, chats) = agent.get("/api/v2/me/chats").await;
        assert!(!chats["chats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == chat.as_str()));
        agent
            .post(
                "/api/v2/me",
                json!({"operationName": "EndContactCenterSession"}),
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_and_act_on_their_own_chats_only() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let (customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;

    let bob = Agent::new(&server, "agent2");
    let (s, r) = bob.get(&format!("/api/v2/me/chats/{chat}/messages")).await;
    assert_eq!((s, &r["statusCode"]), (404, &json!(6)), "{r}");
    let (s, _) = bob
        .op(
            &chat,
            json!({"operationName": "SendMessage", "text": "hijack"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, r) = ann.get(&format!("/api/v2/me/chats/{chat}/messages")).await;
    assert_eq!((s, &r["statusCode"]), (200, &json!(0)));

    // Wrong or no credentials.
    let mut eve = Agent::new(&server, "agent1");
    eve.auth = basic("agent1", "wrong");
    let (s, r) = eve.get("/api/v2/me").await;
    assert_eq!(
        (s, r),
        (
            401,
            json!({"statusCode": 20, "statusMessage": "Access denied: authentication required"})
        )
    );

    // A customer with another chat's key, or none, gets nothing.
    let (other, _) = Customer::request_replied(&server, "Other").await;
    let mut thief = Customer {
        secure_key: other.secure_key.clone(),
        ..customer
    };
    let (s, r) = thief.call("refresh", &[("transcriptPosition", "1")]).await;
    assert_eq!(s, 403, "{r}");
    thief.secure_key = String::new();
    let (s, _) = thief.call("send", &[("message", "x")]).await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_and_invitation_timeout_move_the_chat_to_the_next_agent() {
    let server = server(&["--invite-timeout-ms", "1500"]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let mut bob = Agent::new(&server, "agent2");
    bob.sign_in("long-polling").await;

    let (_c1, _) = Customer::request_replied(&server, "First").await;
    // Ann became ready first: she has been idle longest.
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Reject"})).await;
    assert_eq!(bob.invitation().await, chat, "rejected → next agent");
    ann.notification("Completed for the rejecting agent", |d| {
        (d["chat"]["id"] == chat.as_str() && d["chat"]["state"] == "Completed").then_some(())
    })
    .await;

    // Bob lets it ring out: it goes back to Ann.
    bob.notification("Revoked after the timeout", |d| {
        (d["chat"]["id"] == chat.as_str() && d["chat"]["state"] == "Revoked").then_some(())
    })
    .await;
    ann.seen.clear();
    assert_eq!(ann.invitation().await, chat);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_survives_kill_9_and_continues() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    ann.sign_in("long-polling").await;
    let (mut customer, _) = Customer::request_replied(&server, "Pat").await;
    let chat = ann.invitation().await;
    ann.op(&chat, json!({"operationName": "Accept"})).await;
    for n in 0..5 {
        customer.send(&format!("before crash {n}")).await;
        let (s, _) = ann
            .op(
                &chat,
                json!({"operationName": "SendMessage", "text": format!("agent before crash {n}")}),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (_, before) = ann.get(&format!("/api/v2/me/chats/{chat}/messages")).await;

    let data = server.kill_keeping_data();
    let server = server_in(data, &[]);
    customer.base = server.url.clone();
    let ann2 = Agent::new(&server, "agent1");
    let (_, after) = ann2.get(&format!("/api/v2/me/chats/{chat}/messages")).await;
    assert_eq!(
        after["messages"], before["messages"],
        "every acknowledged message is still there"
    );
    let (_, chats) = ann2.get("/api/v2/me/chats").await;
    assert_eq!(chats["chats"][0]["state"], "Chatting");

    // The conversation goes on, with indices after the old ones.
    customer.send("after restart").await;
    ann2.op(
        &chat,
        json!({"operationName": "SendMessage", "text": "welcome back"}),
    )
    .await;
    let (_, all) = ann2.get(&format!("/api/v2/me/chats/{chat}/messages")).await;
    let msgs = all["messages"].as_array().unwrap();
    let indices: Vec<i64> = msgs.iter().map(|m| m["index"].as_i64().unwrap()).collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
    assert_eq!(msgs.last().unwrap()["text"], "welcome back");
    customer.next_position = 1;
    let r = customer.refresh().await;
    let texts: Vec<&Value> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["text"])
        .collect();
    assert!(texts.contains(&&json!("before crash 4")) && texts.contains(&&json!("welcome back")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_genesys_errors_not_crashes() {
    let server = server(&[]);
    let ann = Agent::new(&server, "agent1");
    for body in [
        json!("not an object"),
        json!({}),
        json!({"operationName": "Explode"}),
    ] {
        let (s, r) = ann.post("/api/v2/me", body.clone()).await;
        assert_eq!(s, 400, "{body}: {r}");
        assert!(
            r["statusCode"].as_u64().unwrap() > 0 && r["statusMessage"].is_string(),
            "{r}"
        );
    }
    let raw = ann
        .http
        .post(format!("{}/api/v2/me", server.url))
        .header("Authorization", &ann.auth)
        .header("Content-Type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let huge = ann
        .http
        .post(format!("{}/api/v2/me", server.url))
        .header("Authorization", &ann.auth)
        .body(vec![b'x'; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status().as_u16(), 413);
    let (s, r) = post_form(
        &reqwest::Client::new(),
        &format!("{}/genesys/2/chat/customer-support", server.url),
        &[("subject", "no name")],
    )
    .await;
    assert_eq!((s, &r["statusCode"]), (400, &json!(2)), "{r}");
    let (s, _) = post_form(
        &reqwest::Client::new(),
        &format!("{}/genesys/2/chat/no-such-queue", server.url),
        &[("nickname", "x")],
    )
    .await;
    assert_eq!(s, 404);
    let (s, r) = ann.get("/health").await;
    assert_eq!((s, r), (200, json!({"status": "ok"})));
}
