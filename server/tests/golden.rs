//! Golden JSON: the exact shapes the server sends (Genesys field names, nesting, enum values)
//! pinned in `tests/fixtures/`. Values that change run to run (ids, keys, times, ports) are
//! replaced by placeholders first. To accept an intended change:
//! `UPDATE_GOLDEN=1 cargo test -p cobrowse-server --test golden`.

mod support;

use serde_json::json;
use support::golden::{check, check_notification};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_and_notification_matches_its_fixture() {
    let server = server(&[]);
    let mut ann = Agent::new(&server, "agent1");
    let (_, me) = ann.get("/api/v2/me").await;
    check("agent_get_me", me);
    ann.sign_in("long-polling").await;
    let channels = ann
        .notification("channel state", |d| {
            (d["messageType"] == "ChannelStateChangeMessageV2"
                && d["channels"][0]["userState"]["state"] == "Ready")
                .then(|| d.clone())
        })
        .await;
    check_notification("agent_notification_channels_ready", channels);
    let (_, me_all) = ann.get("/api/v2/me?subresources=*").await;
    check("agent_get_me_subresources", me_all);

    let (mut customer, requested) = Customer::request_replied(&server, "Pat Customer").await;
    check("customer_request_chat", requested);
    let chat = ann.invitation().await;
    check(
        "agent_notification_invited",
        ann.seen.last().unwrap().clone(),
    );
    let (_, r) = ann
        .op(&chat, json!({"operationName": "Accept", "nickname": "Ann"}))
        .await;
    check("agent_operation_reply", r);
    let chatting = ann
        .notification("chatting", |d| {
            (d["notificationType"] == "StatusChange" && d["chat"]["state"] == "Chatting")
                .then(|| d.clone())
        })
        .await;
    check_notification("agent_notification_chatting", chatting);

    customer.send("Hello, I need help with my tent").await;
    let log = ann
        .notification("the customer's message", |d| {
            d["messages"]
                .as_array()?
                .iter()
                .any(|m| m["text"] == "Hello, I need help with my tent")
                .then(|| d.clone())
        })
        .await;
    check_notification("agent_notification_new_messages", log);
    ann.op(
        &chat,
        json!({"operationName": "SendMessage", "text": "Happy to help!"}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let refresh = loop {
        customer.next_position = 1;
        let r = customer.refresh().await;
        if r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "Happy to help!")
        {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the customer never got the agent's answer: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    check("customer_refresh", refresh);
    let (_, chats) = ann.get("/api/v2/me/chats").await;
    let parsed: cobrowse_agent::gws::ChatsReply = serde_json::from_value(chats.clone()).unwrap();
    assert_eq!(
        parsed.chats[0].state,
        cobrowse_agent::gws::ChatState::Chatting
    );
    check("agent_get_chats", chats);
    let (_, messages) = ann.get(&format!("/api/v2/me/chats/{chat}/messages")).await;
    let parsed: cobrowse_agent::gws::MessagesReply =
        serde_json::from_value(messages.clone()).unwrap();
    assert!(parsed.messages.windows(2).all(|w| w[0].index < w[1].index));
    check("agent_get_messages", messages);
    let (_, bad) = ann.op(&chat, json!({"operationName": "Accept"})).await;
    check("agent_error_invalid_state", bad);
    let (_, bad) = customer.call("send", &[]).await;
    check("customer_error_missing_parameter", bad);
    let (_, sent) = customer.call("send", &[("message", "thanks")]).await;
    check("customer_send", sent);
}
