//! The agent side of co-browse on the reference server, our documented additions under the
//! agent API (README "Co-browse"): the verification call and the state notifications.
//!
//! - `POST /api/v2/me/cobrowse/verifications` with [`VerificationRequest`] asks "is this token a
//!   live session bound to chat C, which I hold?"; a full match answers a
//!   [`VerificationReply`] with a single-use join ticket and the agent view's URL; every other
//!   case is HTTP 404 (`statusCode` 6), and too many questions a minute HTTP 429.
//! - CometD topic `/v2/me/cobrowse`: [`SessionChanged`] whenever a session bound to one of the
//!   agent's chats becomes active or ends (it never carries the token).

use serde::{Deserialize, Serialize};

/// `POST`: verify a token for a chat.
pub const VERIFICATIONS_PATH: &str = "/api/v2/me/cobrowse/verifications";
/// The CometD topic of co-browse state changes.
pub const COBROWSE_TOPIC: &str = "/v2/me/cobrowse";
/// The Genesys Co-browse CometD endpoint (a controller stops a session there).
pub const COBROWSE_COMETD_PATH: &str = "/cobrowse/cometd";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRequest {
    #[serde(rename = "chatId")]
    pub chat_id: String,
    #[serde(rename = "sessionToken")]
    pub session_token: String,
}

/// A live session's state as the server names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    /// Created, no agent joined yet.
    Idle,
    Active,
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationReply {
    pub cobrowse: VerifiedSession,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedSession {
    #[serde(rename = "chatId")]
    pub chat_id: String,
    pub state: SessionState,
    /// When an idle session ends unless an agent joins (epoch ms).
    #[serde(rename = "expiresAt", default)]
    pub expires_at: Option<i64>,
    #[serde(rename = "sessionHistoryId")]
    pub session_history_id: String,
    #[serde(rename = "joinTicketExpiresAt", default)]
    pub join_ticket_expires_at: Option<i64>,
    /// The agent view with the single-use join ticket in it (a secret until used).
    #[serde(rename = "joinUrl")]
    pub join_url: String,
}

/// The `data` of a message on [`COBROWSE_TOPIC`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionChangedMessage {
    #[serde(rename = "messageType")]
    pub message_type: String,
    pub cobrowse: SessionChanged,
}

/// The `messageType` of [`SessionChangedMessage`].
pub const SESSION_CHANGED: &str = "CobrowseSessionChanged";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionChanged {
    #[serde(rename = "chatId")]
    pub chat_id: String,
    #[serde(rename = "sessionHistoryId")]
    pub session_history_id: String,
    pub state: SessionState,
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Why it ended (`chat-ended`, `stopped`, `idle-timeout`, …), when it did.
    #[serde(rename = "endReason", default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
}
