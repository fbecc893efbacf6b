//! Every decoder that takes outside bytes, fed generated inputs: Bayeux frames, the Genesys
//! replies and notifications the agent's session reads (and what the desk then does with
//! them), the co-browse notifications and verification replies, the page → background
//! protocol, and the customer's words the co-browse detector reads. Nothing may panic.
//!
//! `cargo xtask test` runs proptest's default number of cases; `cargo xtask soak` runs millions
//! (`PROPTEST_CASES`). A failing input is kept in `decoders_fuzz.proptest-regressions` beside
//! this file and replayed first from then on.
#![cfg(not(target_arch = "wasm32"))]

use cobrowse_agent::bayeux::decode_frame;
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::chat::desk::{Desk, DeskChange};
use cobrowse_agent::chat::Line;
use cobrowse_agent::cobrowse::detect;
use cobrowse_agent::gws::cobrowse::{SessionChangedMessage, VerificationReply};
use cobrowse_agent::gws::outcome::{HttpReply, Outcome};
use cobrowse_agent::gws::{ChannelStateChange, ChatsReply, MessagesReply, Notification};
use cobrowse_agent::protocol::decode_request;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

/// Field names of the wire formats, so generated objects often get past the first field.
const KEYS: &[&str] = &[
    "messageType",
    "notificationType",
    "chat",
    "chats",
    "id",
    "state",
    "participants",
    "messages",
    "text",
    "type",
    "from",
    "index",
    "timestamp",
    "userData",
    "capabilities",
    "nickname",
    "participantId",
    "channels",
    "channel",
    "userState",
    "cobrowse",
    "sessionId",
    "token",
    "expiresInMs",
    "statusCode",
    "statusMessage",
    "user",
    "userName",
    "request",
    "kind",
    "chat_id",
    "client_id",
    "version",
];

const WORDS: &[&str] = &[
    "ChatStateChange",
    "MessageLogUpdated",
    "ChannelStateChangeMessageV2",
    "StatusChange",
    "ParticipantsUpdated",
    "PropertiesUpdated",
    "Chatting",
    "Invited",
    "Completed",
    "Message",
    "Notice",
    "ParticipantJoined",
    "Client",
    "Agent",
    "Ready",
    "NotReady",
    "active",
    "ended",
    "cobrowse-token:123456789",
    "123 456 789",
    "\u{202e}",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        prop::sample::select(WORDS).prop_map(|w| json!(w)),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(KEYS).prop_map(str::to_owned),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..7
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether an array appears anywhere in `value`.
fn holds_an_array(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(m) => m.values().any(holds_an_array),
        _ => false,
    }
}

/// `PROPTEST_CASES` sets the count; a failing input goes to this file (a path from the package
/// root, where `cargo test` runs): proptest's default looks for `lib.rs` beside the test and
/// finds none under `tests/`.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/decoders_fuzz.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bayeux_frames(text in ".{0,400}", value in arb_json()) {
        let _ = decode_frame(&text, FrameLimits::default());
        let _ = decode_frame(&value.to_string(), FrameLimits::default());
    }

    #[test]
    fn genesys_notifications_and_what_the_desk_does_with_them(value in arb_json(), at in any::<i64>()) {
        let mut desk = Desk::new();
        let derived = serde_json::from_value::<Notification>(value.clone());
        let from_text = Notification::from_text(&value.to_string());
        match (&derived, &from_text) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "the two readers disagree"),
            (Err(_), Ok(_)) => prop_assert!(false, "only the extension's reader took {}", value),
            // serde's derive also takes a struct as a sequence of its fields (a notification
            // as `["MessageLogUpdated", …]`, the tag first); the extension's reader takes
            // structs from objects only (`json::from_str`), and that is the only difference.
            (Ok(_), Err(e)) => prop_assert!(
                holds_an_array(&value) && e.to_string().contains("invalid type: sequence"),
                "only the derive took {}: {}", value, e
            ),
            (Err(_), Err(_)) => {}
        }
        if !value.is_object() {
            prop_assert!(from_text.is_err(), "a notification that is not an object: {}", value);
        }
        if let Ok(n) = derived {
            let _ = desk.change(DeskChange::ApplyNotification(n), at);
        }
        if let Ok(list) = serde_json::from_value::<ChatsReply>(value.clone()) {
            let _ = desk.change(DeskChange::ApplyChatList(list), at);
        }
        if let Ok(reply) = serde_json::from_value::<MessagesReply>(value) {
            for m in &reply.messages {
                let _ = Line::from_wire(m);
            }
            let _ = desk.change(
                DeskChange::ApplyFetched {
                    chat_id: "C1".into(),
                    from: 1,
                    messages: reply.messages,
                    asked_at_ms: at,
                },
                at,
            );
        }
    }

    #[test]
    fn genesys_replies(status in any::<u16>(), body in prop_oneof![".{0,200}", arb_json().prop_map(|v| v.to_string())]) {
        let reply = HttpReply { status, headers: Vec::new(), body };
        let _ = ChannelStateChange::from_me_reply(&reply.body);
        let outcome = Outcome::of(&Ok(reply));
        let _ = outcome.detail();
    }

    #[test]
    fn cobrowse_notifications_and_verification_replies(value in arb_json()) {
        let _ = serde_json::from_value::<SessionChangedMessage>(value.clone());
        let _ = serde_json::from_value::<VerificationReply>(value);
    }

    #[test]
    fn page_requests(text in ".{0,300}", value in arb_json()) {
        let _ = decode_request(&text);
        let _ = decode_request(&value.to_string());
    }

    #[test]
    fn customer_words_read_for_tokens(text in "[0-9 \\-.a-z\u{202e}\u{00a0}]{0,80}|.{0,80}") {
        let found = detect::typed(&text);
        let masked = detect::mask_all_typed(&text);
        let left: Vec<String> = detect::typed(&masked)
            .iter()
            .map(|t| t.expose().to_owned())
            .collect();
        for token in &found {
            prop_assert!(!left.contains(&token.expose().to_owned()), "{} unmasked in {masked:?}", token.expose());
        }
        let _ = detect::in_notice(&text);
        let _ = detect::is_marker_notice(&text);
    }
}
