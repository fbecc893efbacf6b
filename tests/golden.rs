//! Golden JSON fixtures pin our wire formats: every variant of the popup <-> background
//! protocol (`tests/fixtures/protocol/`) and every Genesys request body the extension sends
//! (`tests/fixtures/gws/`). Renaming a field or variant changes the JSON and fails here. To
//! accept an intended change: `UPDATE_GOLDEN=1 cargo test --test golden`, and bump
//! `PROTOCOL_VERSION` if old pages could no longer talk to the new worker.

use std::path::PathBuf;

use cobrowse_agent::chat::transcript::{CustomerWords, Line, LineKind, Role};
use cobrowse_agent::chat::{OutgoingMessage, OutgoingState};
use cobrowse_agent::gws::{AgentState, ChatState, Operation, OperationName};
use cobrowse_agent::protocol::*;
use cobrowse_agent::settings::{Policy, Settings};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn fixtures(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn fixture_path(name: &str) -> PathBuf {
    fixtures("protocol").join(format!("{name}.json"))
}

/// Serialises `value`, compares with the protocol fixture, and parses it back to `value`.
fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    check_at(fixture_path(name), name, value);
}

fn check_at<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    path: PathBuf,
    name: &str,
    value: &T,
) {
    let ours = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &ours).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        ours, golden,
        "{name}: serialisation drifted from the fixture"
    );
    let parsed: T = serde_json::from_str(&golden).unwrap();
    assert_eq!(&parsed, value, "{name}: fixture does not parse back");
}

fn summary() -> ChatSummary {
    ChatSummary {
        id: "0000Na9B26EF002X".into(),
        state: ChatState::Chatting,
        capabilities: vec![OperationName::SendMessage, OperationName::Complete],
        read_only: false,
        customer: "Pat".into(),
        subject: "Order 42".into(),
        unread: 1,
        waiting: true,
        since_ms: 1_764_000_000_500,
        waiting_since_ms: Some(1_764_000_000_900),
        typing: Some(Role::Customer),
        customer_words: Some(CustomerWords {
            index: 3,
            text: "Where is my order?".into(),
            at_ms: Some(1_764_000_000_900),
        }),
    }
}

fn line() -> Line {
    Line {
        index: 3,
        kind: LineKind::Text,
        role: Role::Customer,
        nickname: "Pat".into(),
        text: Some("Where is my order?".into()),
        at_ms: Some(1_764_000_000_900),
        internal: false,
    }
}

fn outgoing() -> OutgoingMessage {
    OutgoingMessage {
        client_id: "m-1".into(),
        chat_id: "0000Na9B26EF002X".into(),
        text: "Let me check.".into(),
        state: OutgoingState::Sent,
        attempts: 1,
        after_index: 3,
        not_before_ms: 0,
        check_from_ms: 0,
    }
}

fn detail() -> ChatDetail {
    ChatDetail {
        id: "0000Na9B26EF002X".into(),
        lines: vec![line()],
        earlier: true,
        outgoing: vec![outgoing()],
    }
}

fn cobrowse_view() -> CobrowseView {
    CobrowseView {
        chat_id: "0000Na9B26EF002X".into(),
        state: Some(cobrowse_agent::gws::cobrowse::SessionState::Idle),
        expires_at_ms: Some(1_764_000_300_000),
        end_reason: None,
        checking: false,
        not_verified: true,
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        protocol: PROTOCOL_VERSION,
        settings: Settings {
            server_url: "http://127.0.0.1:8700".into(),
            agent_name: "agent1".into(),
        },
        configured: true,
        worker: WorkerInfo {
            started_at_ms: 1_764_000_000_000,
        },
        agent: AgentStatus {
            signed_in: true,
            channel_state: Some(AgentState::Ready),
            last_event_ms: Some(1_764_000_001_000),
            problem: Some(Problem::ServerUnreachable),
            transport: Some(Transport::WebSocket),
            unstored: false,
        },
        chats: vec![summary()],
        finished_more: 3,
        open: Some(detail()),
        cobrowse: vec![cobrowse_view()],
        policy: Policy {
            server_url: Some("https://chat.example.com".into()),
            server_url_locked: true,
            cobrowse_auto_open: false,
        },
        notify: cobrowse_agent::chat::attention::NotifySettings {
            enabled: true,
            repeat_seconds: 60,
        },
        retention: cobrowse_agent::chat::Retention { finished_chats: 30 },
    }
}

#[test]
fn requests_match_fixtures() {
    check(
        "request_get_snapshot",
        &RequestEnvelope::new(PopupRequest::GetSnapshot),
    );
    check(
        "request_list_finished",
        &RequestEnvelope::new(PopupRequest::ListFinished { finished: 40 }),
    );
    check(
        "request_save_settings",
        &RequestEnvelope::new(PopupRequest::SaveSettings(snapshot().settings)),
    );
}

#[test]
fn agent_requests_match_fixtures() {
    check(
        "request_sign_in",
        &RequestEnvelope::new(PopupRequest::SignIn(Credentials {
            server_url: "http://127.0.0.1:8700".into(),
            agent_name: "agent1".into(),
            password: "secret".into(),
            display_name: None,
        })),
    );
    check(
        "request_sign_out",
        &RequestEnvelope::new(PopupRequest::SignOut),
    );
    check(
        "request_set_ready",
        &RequestEnvelope::new(PopupRequest::SetReady(true)),
    );
    check(
        "request_chat_action",
        &RequestEnvelope::new(PopupRequest::ChatAction {
            chat_id: "0000Na9B26EF002X".into(),
            action: ChatAction::Accept,
        }),
    );
    check(
        "request_send_message",
        &RequestEnvelope::new(PopupRequest::SendMessage {
            chat_id: "0000Na9B26EF002X".into(),
            client_id: "m-1".into(),
            text: "Let me check.".into(),
        }),
    );
    check(
        "request_retry_message",
        &RequestEnvelope::new(PopupRequest::RetryMessage {
            client_id: "m-1".into(),
        }),
    );
    check(
        "request_typing",
        &RequestEnvelope::new(PopupRequest::Typing {
            chat_id: "0000Na9B26EF002X".into(),
            typing: true,
        }),
    );
    check(
        "request_save_notify_settings",
        &RequestEnvelope::new(PopupRequest::SaveNotifySettings(
            cobrowse_agent::chat::attention::NotifySettings {
                enabled: false,
                repeat_seconds: 120,
            },
        )),
    );
    check(
        "request_save_retention",
        &RequestEnvelope::new(PopupRequest::SaveRetention(
            cobrowse_agent::chat::Retention { finished_chats: 50 },
        )),
    );
    check(
        "request_mark_read",
        &RequestEnvelope::new(PopupRequest::MarkRead {
            chat_id: "0000Na9B26EF002X".into(),
        }),
    );
    check(
        "request_open_chat",
        &RequestEnvelope::new(PopupRequest::OpenChat {
            chat_id: "0000Na9B26EF002X".into(),
            lines: 100,
        }),
    );
    check(
        "request_join_cobrowse",
        &RequestEnvelope::new(PopupRequest::JoinCobrowse {
            chat_id: "0000Na9B26EF002X".into(),
            end_other: true,
        }),
    );
    check(
        "request_end_cobrowse",
        &RequestEnvelope::new(PopupRequest::EndCobrowse {
            chat_id: "0000Na9B26EF002X".into(),
        }),
    );
    check(
        "request_enter_cobrowse_code",
        &RequestEnvelope::new(PopupRequest::EnterCobrowseCode {
            chat_id: "0000Na9B26EF002X".into(),
            code: "535 176 834".into(),
        }),
    );
}

#[test]
fn replies_match_fixtures() {
    check("reply_snapshot", &PopupReply::Snapshot(snapshot()));
    check("reply_chat", &PopupReply::Chat(detail()));
    check(
        "reply_settings_saved",
        &PopupReply::SettingsSaved(snapshot()),
    );
    check("reply_refused", &PopupReply::Refused(refusal()));
}

fn refusal() -> Refusal {
    Refusal::new(
        RefusalReason::InvalidSettings,
        "errorUrlScheme",
        "the server URL must start with http:// or https://",
    )
}

/// The options page reads replies as [`SettingsReply`]: each reply fixture reads that way, with
/// the snapshot's settings and diagnostics as they were sent.
#[test]
fn reply_fixtures_read_as_the_options_page_reads_them() {
    let read = |name: &str| -> SettingsReply {
        let text = std::fs::read_to_string(fixture_path(name)).unwrap();
        cobrowse_agent::json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let sent = snapshot();
    let expected = SettingsSnapshot {
        settings: sent.settings,
        worker: sent.worker,
        agent: sent.agent,
        policy: sent.policy,
        notify: sent.notify,
        retention: sent.retention,
    };
    assert_eq!(
        read("reply_snapshot"),
        SettingsReply::Snapshot(expected.clone())
    );
    assert_eq!(
        read("reply_settings_saved"),
        SettingsReply::SettingsSaved(expected)
    );
    assert!(matches!(read("reply_chat"), SettingsReply::Chat(_)));
    assert_eq!(read("reply_refused"), SettingsReply::Refused(refusal()));
}

#[test]
fn events_match_fixtures() {
    check("event_snapshot", &BackgroundEvent::Snapshot(snapshot()));
    check(
        "event_chat_changed",
        &BackgroundEvent::ChatChanged(ChatDelta {
            chat: summary(),
            lines: vec![line()],
            outgoing: Some(vec![outgoing()]),
        }),
    );
    check(
        "event_chats_removed",
        &BackgroundEvent::ChatsRemoved(vec!["0000Na9B26EF002X".into()]),
    );
    check(
        "event_outgoing_changed",
        &BackgroundEvent::OutgoingChanged {
            chat_id: "0000Na9B26EF002X".into(),
            outgoing: vec![outgoing()],
        },
    );
    check("event_status", &BackgroundEvent::Status(snapshot().agent));
    check(
        "event_snapshot_refused",
        &BackgroundEvent::SnapshotRefused(Refusal::new(
            RefusalReason::StorageFailed,
            "errorStorage",
            "QuotaExceededError",
        )),
    );
    check(
        "event_cobrowse",
        &BackgroundEvent::Cobrowse(vec![cobrowse_view()]),
    );
}

#[test]
fn fixtures_decode_through_the_background_entry_point() {
    for name in [
        "request_get_snapshot",
        "request_list_finished",
        "request_save_settings",
        "request_sign_in",
        "request_sign_out",
        "request_set_ready",
        "request_chat_action",
        "request_send_message",
        "request_retry_message",
        "request_mark_read",
        "request_open_chat",
        "request_typing",
        "request_save_notify_settings",
        "request_save_retention",
        "request_join_cobrowse",
        "request_end_cobrowse",
        "request_enter_cobrowse_code",
    ] {
        let text = std::fs::read_to_string(fixture_path(name)).unwrap();
        decode_request(&text).unwrap_or_else(|r| panic!("{name}: {r:?}"));
    }
}

/// Every request body the extension sends to Genesys Web Services.
fn gws_operations() -> Vec<(&'static str, Operation)> {
    vec![
        (
            "start_contact_center_session",
            Operation::start_chat_session(),
        ),
        (
            "end_contact_center_session",
            Operation::EndContactCenterSession,
        ),
        ("ready", Operation::Ready),
        ("not_ready", Operation::NotReady),
        (
            "accept",
            Operation::Accept {
                nickname: Some("Ann".into()),
            },
        ),
        ("reject", Operation::Reject),
        (
            "send_message",
            Operation::SendMessage {
                text: "Let me check.".into(),
            },
        ),
        (
            "send_start_typing_notification",
            Operation::SendStartTypingNotification,
        ),
        (
            "send_stop_typing_notification",
            Operation::SendStopTypingNotification,
        ),
        ("leave", Operation::Leave),
        ("complete", Operation::Complete),
    ]
}

#[test]
fn gws_request_bodies_match_fixtures() {
    for (name, op) in gws_operations() {
        check_at(fixtures("gws").join(format!("{name}.json")), name, &op);
    }
    let token = cobrowse_agent::cobrowse::Token::parse("535176834").unwrap();
    let verification = cobrowse_agent::gws::Request::verification("0000Na9B26EF002X", &token);
    let Some(cobrowse_agent::gws::Body::Verification(body)) = verification.body else {
        panic!("a verification carries its body");
    };
    check_at(
        fixtures("gws").join("cobrowse_verification.json"),
        "cobrowse_verification",
        &body,
    );
}

fn fixture_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_fixture_file_is_checked() {
    let mut gws: Vec<String> = gws_operations()
        .into_iter()
        .map(|(n, _)| format!("{n}.json"))
        .chain(["cobrowse_verification.json".to_owned()])
        .collect();
    gws.sort();
    assert_eq!(fixture_names("gws"), gws, "a GWS fixture without a check");
    let names = fixture_names("protocol");
    assert_eq!(
        names,
        [
            "event_chat_changed.json",
            "event_chats_removed.json",
            "event_cobrowse.json",
            "event_outgoing_changed.json",
            "event_snapshot.json",
            "event_snapshot_refused.json",
            "event_status.json",
            "reply_chat.json",
            "reply_refused.json",
            "reply_settings_saved.json",
            "reply_snapshot.json",
            "request_chat_action.json",
            "request_end_cobrowse.json",
            "request_enter_cobrowse_code.json",
            "request_get_snapshot.json",
            "request_join_cobrowse.json",
            "request_list_finished.json",
            "request_mark_read.json",
            "request_open_chat.json",
            "request_retry_message.json",
            "request_save_notify_settings.json",
            "request_save_retention.json",
            "request_save_settings.json",
            "request_send_message.json",
            "request_set_ready.json",
            "request_sign_in.json",
            "request_sign_out.json",
            "request_typing.json",
        ],
        "a fixture without a check (or a check without a fixture)"
    );
}
