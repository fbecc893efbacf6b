//! The popup/options <-> background protocol: one enum per direction.
//!
//! * [`PopupRequest`] → [`PopupReply`]: one-shot `runtime.sendMessage`; the browser pairs the
//!   reply with its request, so there are no request ids. Every request travels inside a
//!   [`RequestEnvelope`] that names the [`PROTOCOL_VERSION`], so a popup and a worker from two
//!   different builds refuse each other with a clear reason instead of misreading.
//! * [`BackgroundEvent`]: pushed by the background over a `runtime.connect` port while a page
//!   is open.
//!
//! All of it is plain JSON (Chrome JSON-serialises runtime messages): adjacently tagged enums,
//! `{"type": "snake_case_name", "data": ...}`. Golden fixtures in `tests/fixtures/protocol/`
//! pin every variant so renaming one breaks a test, not a user.

use serde::{Deserialize, Serialize};

use crate::chat::attention::NotifySettings;
use crate::chat::transcript::Line;
use crate::chat::{OutgoingMessage, Retention, Role};
use crate::settings::Settings;

/// Bumped whenever a message changes shape incompatibly.
pub const PROTOCOL_VERSION: u32 = 3;

/// The name of the `runtime.connect` port pages open to receive [`BackgroundEvent`]s.
pub const EVENTS_PORT_NAME: &str = "events";

/// A request as it travels: `{"protocol": 1, "request": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    pub protocol: u32,
    pub request: PopupRequest,
}

impl RequestEnvelope {
    pub fn new(request: PopupRequest) -> RequestEnvelope {
        RequestEnvelope {
            protocol: PROTOCOL_VERSION,
            request,
        }
    }
}

/// Page → background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PopupRequest {
    /// Everything a page needs to paint.
    GetSnapshot,
    /// Validate and store new settings (options page).
    SaveSettings(Settings),
    /// Sign in to the chat server (checked with `GET /api/v2/me`).
    SignIn(Credentials),
    /// End the contact-center session and forget the credentials.
    SignOut,
    /// Agent Ready (true) / Not Ready (false) on the chat channel.
    SetReady(bool),
    ChatAction {
        chat_id: String,
        action: ChatAction,
    },
    /// Queue a message; `client_id` is the page's id for it (shown while pending).
    SendMessage {
        chat_id: String,
        client_id: String,
        text: String,
    },
    /// Send a failed message again.
    RetryMessage {
        client_id: String,
    },
    /// The agent looked at the chat.
    MarkRead {
        chat_id: String,
    },
    /// The agent started (true) or stopped (false) typing; the page throttles these.
    Typing {
        chat_id: String,
        typing: bool,
    },
    /// System notifications on/off and their repeat interval (options page).
    SaveNotifySettings(NotifySettings),
    /// How many finished chats to keep (options page).
    SaveRetention(Retention),
}

/// What the agent types to sign in. Lives in `storage.session` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub server_url: String,
    pub agent_name: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatAction {
    Accept,
    Reject,
    Leave,
    Complete,
}

impl ChatAction {
    /// The Genesys `operationName`.
    pub fn operation_name(self) -> &'static str {
        match self {
            ChatAction::Accept => "Accept",
            ChatAction::Reject => "Reject",
            ChatAction::Leave => "Leave",
            ChatAction::Complete => "Complete",
        }
    }
}

/// Background → page, the answer to one [`PopupRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PopupReply {
    Snapshot(Snapshot),
    /// The settings were stored; the snapshot shows them as stored (normalised).
    SettingsSaved(Snapshot),
    Refused(Refusal),
}

/// Background → page, pushed over the [`EVENTS_PORT_NAME`] port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum BackgroundEvent {
    /// The state changed (or the port just opened): repaint from this.
    Snapshot(Snapshot),
}

/// What a page paints. Built from storage on every request: the background keeps no state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub protocol: u32,
    pub settings: Settings,
    /// False until the agent saved settings once (the defaults are showing).
    pub configured: bool,
    pub worker: WorkerInfo,
    pub agent: AgentStatus,
    pub chats: Vec<ChatView>,
    pub notify: NotifySettings,
    pub retention: Retention,
}

/// The agent's connection to the chat server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentStatus {
    pub signed_in: bool,
    /// `Ready`, `NotReady`, … as the server last said.
    pub channel_state: Option<String>,
    /// Epoch ms of the last event from the server: the page computes liveness from its age.
    pub last_event_ms: Option<u64>,
    /// Why the last sign-in or connection attempt failed, as a `_locales` key.
    pub problem: Option<String>,
    /// The CometD connection type of the current session (`websocket`, `long-polling`).
    #[serde(default)]
    pub transport: Option<String>,
}

/// One chat as the popup shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatView {
    pub id: String,
    /// `Invited`, `Chatting`, `LeftChat`, `Completed`, `Revoked`.
    pub state: String,
    pub capabilities: Vec<String>,
    pub customer: String,
    pub subject: String,
    pub unread: u32,
    pub waiting: bool,
    pub since_ms: i64,
    pub lines: Vec<Line>,
    pub outgoing: Vec<OutgoingMessage>,
    pub typing: Option<Role>,
}

/// Facts about the background instance that answered. Diagnostic only: it changes when the
/// browser restarts the worker, which is how a page (and a test) can see a cold start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Epoch milliseconds when this worker instance started.
    pub started_at_ms: u64,
}

/// Why the background did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: RefusalReason,
    /// A `_locales` message name for the page to show.
    pub message_key: String,
    /// Technical detail for logs; never shown as HTML.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The sender is not one of this extension's own pages.
    UntrustedSender,
    /// The page and the worker come from builds with different protocol versions.
    ProtocolMismatch,
    /// The message is not a request this version knows.
    MalformedRequest,
    /// The settings failed validation; `message_key` says why.
    InvalidSettings,
    /// The browser's storage failed.
    StorageFailed,
    /// The chat server refused or could not be reached.
    ServerFailed,
    /// The request needs a signed-in agent.
    NotSignedIn,
}

impl Refusal {
    pub fn new(reason: RefusalReason, message_key: &str, detail: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            message_key: message_key.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Decodes a request from its JSON text, checking the protocol version first so that a
/// mismatched page gets [`RefusalReason::ProtocolMismatch`] rather than a parse error.
pub fn decode_request(json: &str) -> Result<PopupRequest, Refusal> {
    #[derive(Deserialize)]
    struct VersionOnly {
        protocol: Option<u32>,
    }
    let version = serde_json::from_str::<VersionOnly>(json).map_err(|e| {
        Refusal::new(
            RefusalReason::MalformedRequest,
            "errorInternal",
            e.to_string(),
        )
    })?;
    match version.protocol {
        Some(PROTOCOL_VERSION) => {}
        other => {
            return Err(Refusal::new(
                RefusalReason::ProtocolMismatch,
                "errorProtocolMismatch",
                format!("page speaks protocol {other:?}, background speaks {PROTOCOL_VERSION}"),
            ))
        }
    }
    serde_json::from_str::<RequestEnvelope>(json)
        .map(|e| e.request)
        .map_err(|e| {
            Refusal::new(
                RefusalReason::MalformedRequest,
                "errorInternal",
                e.to_string(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_with_other_protocol_version_is_refused_as_mismatch() {
        let r = decode_request(r#"{"protocol":99,"request":{"type":"get_snapshot"}}"#);
        assert_eq!(r.unwrap_err().reason, RefusalReason::ProtocolMismatch);
        let r = decode_request(r#"{"request":{"type":"get_snapshot"}}"#);
        assert_eq!(r.unwrap_err().reason, RefusalReason::ProtocolMismatch);
    }

    #[test]
    fn unknown_or_malformed_requests_are_refused() {
        for bad in [
            "",
            "[]",
            "null",
            r#"{"protocol":1,"request":{"type":"format_disk"}}"#,
            r#"{"protocol":1,"request":{"type":"save_settings","data":{"server_url":1}}}"#,
        ] {
            let r = decode_request(bad).unwrap_err();
            assert!(
                matches!(
                    r.reason,
                    RefusalReason::MalformedRequest | RefusalReason::ProtocolMismatch
                ),
                "{bad}: {r:?}"
            );
        }
    }

    #[test]
    fn current_requests_decode() {
        let json = serde_json::to_string(&RequestEnvelope::new(PopupRequest::GetSnapshot)).unwrap();
        assert_eq!(decode_request(&json), Ok(PopupRequest::GetSnapshot));
    }
}
