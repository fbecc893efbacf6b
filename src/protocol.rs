//! The popup/options <-> background protocol: one enum per direction.
//!
//! * [`PopupRequest`] → [`PopupReply`]: one-shot `runtime.sendMessage`; the browser pairs the
//!   reply with its request, so there are no request ids. Every request travels inside a
//!   [`RequestEnvelope`] that names the [`PROTOCOL_VERSION`], so a popup and a worker from two
//!   different builds refuse each other with a clear reason instead of misreading.
//! * [`BackgroundEvent`]: pushed by the background over a `runtime.connect` port while a page
//!   is open.
//!
//! All of it is plain JSON (Chrome JSON-serialises runtime messages): externally tagged enums,
//! `{"snake_case_name": data}`, or the bare name when there is no data. (Not `{"type", "data"}`:
//! an adjacently tagged enum is read through serde's buffered `Content` when the keys come in
//! the other order, which doubled the code of every payload type in the wasm modules.) Golden
//! fixtures in `tests/fixtures/protocol/`
//! pin every variant so renaming one breaks a test, not a user.

use serde::{Deserialize, Serialize};

use crate::chat::attention::NotifySettings;
use crate::chat::transcript::{CustomerWords, Line};
use crate::chat::{OutgoingMessage, Retention, Role};
use crate::gws::{AgentState, ChatState, OperationName};
use crate::settings::Settings;

/// Bumped whenever a message changes shape incompatibly.
pub const PROTOCOL_VERSION: u32 = 10;

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
#[serde(rename_all = "snake_case")]
pub enum PopupRequest {
    /// Everything a page needs to paint.
    GetSnapshot,
    /// The snapshot again, with the newest `finished` finished chats in its list (the agent
    /// asked to see more of them).
    ListFinished {
        finished: u32,
    },
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
    /// A chat's newest lines (at least `lines` of them, when it has that many) and its
    /// messages on their way (the chat the page shows; more lines when the agent reads back).
    OpenChat {
        chat_id: String,
        lines: u32,
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
    /// Join the chat's verified co-browse (opens the agent view); `end_other` ends another
    /// chat's active co-browse first.
    JoinCobrowse {
        chat_id: String,
        end_other: bool,
    },
    /// End the chat's co-browse.
    EndCobrowse {
        chat_id: String,
    },
    /// A co-browse code the agent entered on the chat (verified like any other).
    EnterCobrowseCode {
        chat_id: String,
        code: String,
    },
}

/// What the agent types to sign in. Lives in `storage.session` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub server_url: String,
    pub agent_name: String,
    pub password: String,
    /// The name customers see (the server's `firstName` for this agent), learned at sign-in;
    /// never typed by a page (the session sets it from the server's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl Credentials {
    /// The nickname customers see when this agent accepts a chat: the display name, or the
    /// user name when the server gave none.
    pub fn nickname(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.agent_name)
    }
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
    /// The operation that does it.
    pub fn operation(self, nickname: &str) -> crate::gws::Operation {
        use crate::gws::Operation;
        match self {
            ChatAction::Accept => Operation::Accept {
                nickname: Some(nickname.to_owned()),
            },
            ChatAction::Reject => Operation::Reject,
            ChatAction::Leave => Operation::Leave,
            ChatAction::Complete => Operation::Complete,
        }
    }
}

/// Background → page, the answer to one [`PopupRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopupReply {
    Snapshot(Snapshot),
    /// The chat asked for with [`PopupRequest::OpenChat`].
    Chat(ChatDetail),
    /// The settings were stored; the snapshot shows them as stored (normalised).
    SettingsSaved(Snapshot),
    Refused(Refusal),
}

/// [`PopupReply`] as the options page reads it: a snapshot's settings and diagnostics only
/// ([`SettingsSnapshot`]). Reading whole snapshots compiled the chat list's and transcripts'
/// decoders into the options page's module (about 30 KB) for fields it never shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsReply {
    Snapshot(SettingsSnapshot),
    /// A chat's lines, skipped unread (the options page never asks for one).
    Chat(serde::de::IgnoredAny),
    SettingsSaved(SettingsSnapshot),
    Refused(Refusal),
}

/// What the options page reads of a [`Snapshot`]; its other fields (the chats, their lines and
/// co-browses) are skipped.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SettingsSnapshot {
    pub settings: Settings,
    pub worker: WorkerInfo,
    pub agent: AgentStatus,
    #[serde(default)]
    pub policy: crate::settings::Policy,
    pub notify: NotifySettings,
    pub retention: Retention,
}

/// Background → page, pushed over the [`EVENTS_PORT_NAME`] port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackgroundEvent {
    /// The port just opened, or settings or sign-in changed: repaint from this.
    Snapshot(Snapshot),
    /// The port just opened, and the desk could not be read: why (the page paints from the
    /// port's snapshot alone, so it hears of a failure here).
    SnapshotRefused(Refusal),
    /// One chat changed: its summary, the lines that are new, its messages on their way.
    ChatChanged(ChatDelta),
    /// These chats are gone from the desk.
    ChatsRemoved(Vec<String>),
    /// A chat's messages on their way changed (nothing else of it).
    OutgoingChanged {
        chat_id: String,
        outgoing: Vec<OutgoingMessage>,
    },
    /// The connection's status changed.
    Status(AgentStatus),
    /// The co-browses on the desk changed: every one, as now (few; no token).
    Cobrowse(Vec<CobrowseView>),
}

/// A chat's co-browse as a page shows it: never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CobrowseView {
    pub chat_id: String,
    /// The verified session's state, if one is attached.
    pub state: Option<crate::gws::cobrowse::SessionState>,
    /// When an idle session ends unless the agent joins (epoch ms).
    pub expires_at_ms: Option<i64>,
    /// Why it ended, as the server said (`chat-ended`, `stopped`, …).
    pub end_reason: Option<String>,
    /// A candidate is being verified.
    pub checking: bool,
    /// The last candidate was not verified for this chat (shown as text, never a link).
    pub not_verified: bool,
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
    /// The chats of the list, in its order: every live one and the newest finished ones.
    pub chats: Vec<ChatSummary>,
    /// Finished chats kept beyond those in `chats` (`ListFinished` brings more).
    #[serde(default)]
    pub finished_more: u32,
    /// The first chat of the list, its newest lines (what the popup shows first).
    pub open: Option<ChatDetail>,
    /// The chats' co-browses.
    #[serde(default)]
    pub cobrowse: Vec<CobrowseView>,
    /// What the admin set (the options page shows a locked server).
    #[serde(default)]
    pub policy: crate::settings::Policy,
    pub notify: NotifySettings,
    pub retention: Retention,
}

/// The agent's connection to the chat server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentStatus {
    pub signed_in: bool,
    /// The chat channel's state as the server last said.
    pub channel_state: Option<AgentState>,
    /// Epoch ms of the last event from the server: the page computes liveness from its age.
    pub last_event_ms: Option<u64>,
    /// Why the last sign-in or connection attempt failed.
    pub problem: Option<Problem>,
    /// The CometD connection type of the current session.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// The last change to the desk could not be stored (the browser's storage is full, or
    /// failing): what arrives is not kept in the browser until one is stored again.
    #[serde(default)]
    pub unstored: bool,
}

/// One fact about the connection, as the agent's session learns it; the background keeps the
/// [`AgentStatus`] in `storage.session` and applies these to it one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// The server said something at `at_ms`.
    Heard {
        at_ms: u64,
    },
    /// The connect loop works again: heard now, and no problem any more.
    Connected {
        at_ms: u64,
    },
    Problem(Option<Problem>),
    Transport(Transport),
    /// Whether the last change to the desk could not be stored.
    Unstored(bool),
}

impl StatusChange {
    /// Applies the change; whether it changed anything (a status that reads the same is not
    /// written again: each write wakes every page's `storage.onChanged`).
    pub fn apply(&self, status: &mut AgentStatus) -> bool {
        let before = status.clone();
        match self {
            StatusChange::Heard { at_ms } => status.last_event_ms = Some(*at_ms),
            StatusChange::Connected { at_ms } => {
                status.last_event_ms = Some(*at_ms);
                status.problem = None;
            }
            StatusChange::Problem(p) => status.problem = *p,
            StatusChange::Transport(t) => status.transport = Some(*t),
            StatusChange::Unstored(u) => status.unstored = *u,
        }
        *status != before
    }
}

/// What went wrong, as a page learns it. The page picks the words ([`Problem::message_key`]);
/// nothing decides on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// No answer from the chat server.
    ServerUnreachable,
    /// The server refused the user name or password.
    BadCredentials,
    /// The server answered no.
    ServerRefused,
    /// The browser holds another agent's live session on this server.
    OtherAgentSession,
    /// The request needs a signed-in agent.
    NotSignedIn,
    /// A message that is empty or too long.
    MessageInvalid,
    /// The browser's storage failed.
    Storage,
    /// The server said too many requests; later.
    TooManyRequests,
    /// No live co-browse of this chat for this agent (ended, or never verified).
    CobrowseGone,
    /// Another chat's co-browse is active: one at a time.
    CobrowseBusy,
    /// What the agent entered is not a co-browse code.
    CobrowseCodeInvalid,
}

impl Problem {
    pub const ALL: [Problem; 11] = [
        Problem::ServerUnreachable,
        Problem::BadCredentials,
        Problem::ServerRefused,
        Problem::OtherAgentSession,
        Problem::NotSignedIn,
        Problem::MessageInvalid,
        Problem::Storage,
        Problem::TooManyRequests,
        Problem::CobrowseGone,
        Problem::CobrowseBusy,
        Problem::CobrowseCodeInvalid,
    ];

    /// The `_locales` message that explains it to a person.
    pub fn message_key(self) -> &'static str {
        match self {
            Problem::ServerUnreachable => "errorServerUnreachable",
            Problem::BadCredentials => "errorBadCredentials",
            Problem::ServerRefused => "errorServerRefused",
            Problem::OtherAgentSession => "errorOtherAgentSession",
            Problem::NotSignedIn => "errorNotSignedIn",
            Problem::MessageInvalid => "errorMessageInvalid",
            Problem::Storage => "errorStorage",
            Problem::TooManyRequests => "errorTooManyRequests",
            Problem::CobrowseGone => "errorCobrowseGone",
            Problem::CobrowseBusy => "errorCobrowseBusy",
            Problem::CobrowseCodeInvalid => "errorCobrowseCode",
        }
    }

    /// The [`RefusalReason`] a request refused for this problem gets.
    pub fn reason(self) -> RefusalReason {
        match self {
            Problem::ServerUnreachable
            | Problem::BadCredentials
            | Problem::ServerRefused
            | Problem::OtherAgentSession
            | Problem::TooManyRequests
            | Problem::CobrowseGone => RefusalReason::ServerFailed,
            Problem::NotSignedIn => RefusalReason::NotSignedIn,
            Problem::CobrowseBusy => RefusalReason::CobrowseBusy,
            Problem::MessageInvalid | Problem::CobrowseCodeInvalid => {
                RefusalReason::MalformedRequest
            }
            Problem::Storage => RefusalReason::StorageFailed,
        }
    }
}

/// A CometD connection type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    #[serde(rename = "websocket")]
    WebSocket,
    #[serde(rename = "long-polling")]
    LongPolling,
}

impl Transport {
    /// The Bayeux `connectionType` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => crate::bayeux::WEBSOCKET,
            Transport::LongPolling => crate::bayeux::LONG_POLLING,
        }
    }

    pub fn from_connection_type(name: &str) -> Option<Transport> {
        [Transport::WebSocket, Transport::LongPolling]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// One chat as the chat list shows it (no lines: those come with [`ChatDetail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub id: String,
    pub state: ChatState,
    /// What the agent may do with the chat now, as the server said (empty when read-only).
    pub capabilities: Vec<OperationName>,
    /// Shown from storage while signed out: nothing can be done with it.
    pub read_only: bool,
    pub customer: String,
    pub subject: String,
    pub unread: u32,
    pub waiting: bool,
    pub since_ms: i64,
    /// While `waiting`: since when the customer has waited for the agent (invited, or their
    /// words unanswered).
    #[serde(default)]
    pub waiting_since_ms: Option<i64>,
    pub typing: Option<Role>,
    /// The customer's newest words (what a screen reader announces).
    pub customer_words: Option<CustomerWords>,
}

impl ChatSummary {
    pub fn can(&self, operation: OperationName) -> bool {
        !self.read_only && self.capabilities.contains(&operation)
    }
}

/// A chat's newest lines (whole pages of its transcript, the newest last), whether earlier
/// ones are kept beyond them, and its messages on their way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDetail {
    pub id: String,
    pub lines: Vec<Line>,
    /// Earlier lines are kept that these do not include (ask for more with `OpenChat`).
    pub earlier: bool,
    pub outgoing: Vec<OutgoingMessage>,
}

/// The newest lines a page asks for when it opens a chat: what the popup shows first.
pub const LINES_FIRST_SHOWN: u32 = 50;

/// The finished chats a snapshot's list holds at first (every live chat is always in it);
/// the agent asks for more with `ListFinished`.
pub const FINISHED_FIRST_LISTED: u32 = 20;

/// What changed in one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDelta {
    pub chat: ChatSummary,
    /// Lines new since the page last heard (to merge by index).
    pub lines: Vec<Line>,
    /// All its messages on their way, now (`None`: unchanged).
    pub outgoing: Option<Vec<OutgoingMessage>>,
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
    /// Another chat's co-browse is active; joining this one ends it only when asked to.
    CobrowseBusy,
}

impl Refusal {
    pub fn new(reason: RefusalReason, message_key: &str, detail: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            message_key: message_key.to_owned(),
            detail: detail.into(),
        }
    }

    /// A refusal for `problem`, worded by its message.
    pub fn of(problem: Problem, detail: impl Into<String>) -> Refusal {
        Refusal::new(problem.reason(), problem.message_key(), detail)
    }
}

/// Decodes a request from its JSON text, checking the protocol version first so that a
/// mismatched page gets [`RefusalReason::ProtocolMismatch`] rather than a parse error.
pub fn decode_request(json: &str) -> Result<PopupRequest, Refusal> {
    #[derive(Deserialize)]
    struct VersionOnly {
        protocol: Option<u32>,
    }
    let version = crate::json::from_str::<VersionOnly>(json).map_err(|e| {
        Refusal::new(
            RefusalReason::MalformedRequest,
            "errorInternal",
            e.to_string(),
        )
    })?;
    match version.protocol {
        Some(PROTOCOL_VERSION) => {}
        other => {
            let page = other.map_or_else(|| "none".to_owned(), |v| v.to_string());
            return Err(Refusal::new(
                RefusalReason::ProtocolMismatch,
                "errorProtocolMismatch",
                format!("page speaks protocol {page}, background speaks {PROTOCOL_VERSION}"),
            ));
        }
    }
    crate::json::from_str::<RequestEnvelope>(json)
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
    fn a_status_change_says_whether_it_changed_anything() {
        let mut s = AgentStatus::default();
        assert!(StatusChange::Unstored(true).apply(&mut s));
        assert!(
            !StatusChange::Unstored(true).apply(&mut s),
            "stored as it is"
        );
        assert!(StatusChange::Transport(Transport::WebSocket).apply(&mut s));
        assert!(!StatusChange::Transport(Transport::WebSocket).apply(&mut s));
        assert!(StatusChange::Heard { at_ms: 5 }.apply(&mut s));
        assert!(!StatusChange::Heard { at_ms: 5 }.apply(&mut s));
        assert!(!StatusChange::Problem(None).apply(&mut s));
        assert_eq!(s.last_event_ms, Some(5));
    }

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
