//! The chat model and its two renderings: the agent's (Genesys Web Services API v2) and the
//! customer's (GMS Chat API v2). One transcript, stored once; each side sees it in its own
//! wire format (field names exactly as in the Genesys shapes).

use cobrowse_agent::gws::OperationName;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    /// Waiting for an agent.
    Queued,
    /// Offered to `agent_id` until `invite_deadline_ms`.
    Offered,
    /// Accepted by `agent_id`.
    Active,
    Ended,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    pub id: String,
    pub service: String,
    pub status: ChatStatus,
    pub agent_id: Option<String>,
    pub agent_participant: Option<String>,
    pub agent_nickname: Option<String>,
    pub invite_deadline_ms: Option<i64>,
    pub customer_user_id: String,
    pub secure_key: String,
    pub alias: String,
    pub customer_participant: String,
    pub nickname: String,
    pub subject: String,
    pub email: String,
    pub user_data: Map<String, Value>,
    pub customer_left: bool,
    pub created_ms: i64,
    pub ended_ms: Option<i64>,
}

/// What a transcript entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    ParticipantJoined,
    ParticipantLeft,
    TypingStarted,
    TypingStopped,
    PushUrl,
    Notice,
    CustomNotice,
    /// The customer renamed themselves: `from` carries the new name, `text` the old one. GMS
    /// Chat v2 has this type; on the agent side (GWS) the same name is our assumption.
    NicknameUpdated,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "Text",
            MessageKind::ParticipantJoined => "ParticipantJoined",
            MessageKind::ParticipantLeft => "ParticipantLeft",
            MessageKind::TypingStarted => "TypingStarted",
            MessageKind::TypingStopped => "TypingStopped",
            MessageKind::PushUrl => "PushUrl",
            MessageKind::Notice => "Notice",
            MessageKind::CustomNotice => "CustomNotice",
            MessageKind::NicknameUpdated => "NicknameUpdated",
        }
    }

    pub fn parse(s: &str) -> MessageKind {
        match s {
            "ParticipantJoined" => MessageKind::ParticipantJoined,
            "ParticipantLeft" => MessageKind::ParticipantLeft,
            "TypingStarted" => MessageKind::TypingStarted,
            "TypingStopped" => MessageKind::TypingStopped,
            "PushUrl" => MessageKind::PushUrl,
            "Notice" => MessageKind::Notice,
            "CustomNotice" => MessageKind::CustomNotice,
            "NicknameUpdated" => MessageKind::NicknameUpdated,
            _ => MessageKind::Text,
        }
    }

    /// The GMS Chat API v2 name (the customer's view).
    fn gms_name(self) -> &'static str {
        match self {
            MessageKind::Text => "Message",
            other => other.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    Agent,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "Customer",
            Role::Agent => "Agent",
            Role::System => "External",
        }
    }

    pub fn parse(s: &str) -> Role {
        match s {
            "Customer" => Role::Customer,
            "Agent" => Role::Agent,
            _ => Role::System,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub role: Role,
    pub nickname: String,
    /// GWS participant id (hex string).
    pub participant: String,
    /// GMS participant number (customer 1, first agent 2, …; system 0).
    pub number: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    Agents,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub kind: MessageKind,
    pub from: Author,
    pub text: Option<String>,
    pub visibility: Visibility,
    pub ts_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub index: i64,
    pub kind: MessageKind,
    pub from: Author,
    pub text: Option<String>,
    pub visibility: Visibility,
    pub ts_ms: i64,
}

/// `2014-01-09 12:13:15.009+0000` (UTC), the GWS `timestamp` form.
pub fn gws_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}+0000",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A transcript entry as the agent API shows it.
pub fn gws_message(m: &StoredMessage) -> Value {
    let mut v = json!({
        "index": m.index,
        "type": m.kind.as_str(),
        "visibility": if m.visibility == Visibility::Agents { "Agents" } else { "All" },
        "from": {
            "nickname": m.from.nickname,
            "type": m.from.role.as_str(),
            "participantId": m.from.participant,
        },
        "timestamp": gws_timestamp(m.ts_ms),
        "timestampSeconds": m.ts_ms,
    });
    if let Some(text) = &m.text {
        let field = if m.kind == MessageKind::PushUrl {
            "url"
        } else {
            "text"
        };
        v[field] = json!(text);
    }
    v
}

/// A transcript entry as the customer API shows it; agents-only entries are not shown.
pub fn gms_message(m: &StoredMessage) -> Option<Value> {
    if m.visibility == Visibility::Agents {
        return None;
    }
    let from_type = match m.from.role {
        Role::Customer => "Client",
        Role::Agent => "Agent",
        Role::System => "External",
    };
    let mut v = json!({
        "from": { "nickname": m.from.nickname, "participantId": m.from.number, "type": from_type },
        "index": m.index,
        "type": m.kind.gms_name(),
        "utcTime": m.ts_ms,
    });
    if let Some(text) = &m.text {
        v["text"] = json!(text);
    }
    Some(v)
}

/// The agent-side state of a chat for the agent holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentChatState {
    Invited,
    Chatting,
    LeftChat,
    Completed,
    Revoked,
}

impl AgentChatState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentChatState::Invited => "Invited",
            AgentChatState::Chatting => "Chatting",
            AgentChatState::LeftChat => "LeftChat",
            AgentChatState::Completed => "Completed",
            AgentChatState::Revoked => "Revoked",
        }
    }

    /// The operations allowed in this state (`capabilities`).
    pub fn capabilities(self) -> &'static [OperationName] {
        use OperationName as Op;
        match self {
            AgentChatState::Invited => &[Op::Accept, Op::Reject],
            AgentChatState::Chatting => &[
                Op::Transfer,
                Op::Complete,
                Op::Leave,
                Op::SendMessage,
                Op::SendStartTypingNotification,
                Op::SendStopTypingNotification,
                Op::SendCustomNotice,
                Op::SendUrl,
                Op::UpdateUserData,
                Op::RequestChatHistory,
            ],
            AgentChatState::LeftChat => &[Op::Complete, Op::UpdateUserData],
            AgentChatState::Completed | AgentChatState::Revoked => &[],
        }
    }

    /// The state a stored chat is in for its agent.
    pub fn of(chat: &ChatRow) -> AgentChatState {
        match chat.status {
            ChatStatus::Offered => AgentChatState::Invited,
            ChatStatus::Active => AgentChatState::Chatting,
            ChatStatus::Queued | ChatStatus::Ended => AgentChatState::Completed,
        }
    }
}

/// The chat object of the agent API.
pub fn gws_chat(chat: &ChatRow, state: AgentChatState, base_url: &str) -> Value {
    let mut participants = Vec::new();
    if !matches!(state, AgentChatState::Completed | AgentChatState::Revoked) {
        if !chat.customer_left {
            participants.push(json!({
                "type": "Customer",
                "nickname": chat.nickname,
                "participantId": chat.customer_participant,
            }));
        }
        if let (AgentChatState::Chatting, Some(p)) = (state, &chat.agent_participant) {
            participants.push(json!({
                "type": "Agent",
                "nickname": chat.agent_nickname.clone().unwrap_or_default(),
                "participantId": p,
            }));
        }
    }
    let mut user_data = chat.user_data.clone();
    user_data
        .entry("Subject")
        .or_insert_with(|| json!(chat.subject));
    user_data
        .entry("EmailAddress")
        .or_insert_with(|| json!(chat.email));
    json!({
        "id": chat.id,
        "state": state.as_str(),
        "uri": format!("{base_url}/api/v2/chats/{}", chat.id),
        "path": format!("/chats/{}", chat.id),
        "chatType": "Inbound",
        "receivedDate": gws_timestamp(chat.created_ms),
        "capabilities": state.capabilities().iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "participants": participants,
        "userData": user_data,
    })
}

/// `ChatStateChangeMessage` for the agent's `/v2/me/chats`.
pub fn chat_state_change(
    notification: &str,
    chat: &ChatRow,
    state: AgentChatState,
    base_url: &str,
) -> Value {
    json!({
        "messageType": "ChatStateChangeMessage",
        "notificationType": notification,
        "chat": gws_chat(chat, state, base_url),
    })
}

/// `MessageLogUpdated` / `NewMessages` for the agent's `/v2/me/chats`.
pub fn message_log_updated(chat: &ChatRow, messages: &[StoredMessage], base_url: &str) -> Value {
    json!({
        "messageType": "MessageLogUpdated",
        "notificationType": "NewMessages",
        "chatUri": format!("{base_url}/api/v2/chats/{}", chat.id),
        "chatPath": format!("/chats/{}", chat.id),
        "chatId": chat.id,
        "messages": messages.iter().map(gws_message).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_like_gws() {
        assert_eq!(
            gws_timestamp(1_389_262_395_009),
            "2014-01-09 10:13:15.009+0000"
        );
        assert_eq!(gws_timestamp(0), "1970-01-01 00:00:00.000+0000");
        assert_eq!(
            gws_timestamp(951_782_400_000),
            "2000-02-29 00:00:00.000+0000"
        );
    }

    fn msg(
        kind: MessageKind,
        role: Role,
        text: Option<&str>,
        visibility: Visibility,
    ) -> StoredMessage {
        StoredMessage {
            index: 4,
            kind,
            from: Author {
                role,
                nickname: "Ann".into(),
                participant: "00AF52FCF0C0002F".into(),
                number: 2,
            },
            text: text.map(Into::into),
            visibility,
            ts_ms: 1_389_262_395_009,
        }
    }

    #[test]
    fn one_message_two_renderings() {
        let m = msg(
            MessageKind::Text,
            Role::Agent,
            Some("How can I help?"),
            Visibility::All,
        );
        assert_eq!(
            gws_message(&m),
            json!({"index": 4, "type": "Text", "visibility": "All", "text": "How can I help?",
                   "from": {"nickname": "Ann", "type": "Agent", "participantId": "00AF52FCF0C0002F"},
                   "timestamp": "2014-01-09 10:13:15.009+0000", "timestampSeconds": 1_389_262_395_009_i64})
        );
        assert_eq!(
            gms_message(&m).unwrap(),
            json!({"from": {"nickname": "Ann", "participantId": 2, "type": "Agent"}, "index": 4,
                   "type": "Message", "text": "How can I help?", "utcTime": 1_389_262_395_009_i64})
        );
        let url = msg(
            MessageKind::PushUrl,
            Role::Agent,
            Some("https://shop.example/help"),
            Visibility::All,
        );
        assert_eq!(gws_message(&url)["url"], "https://shop.example/help");
        let internal = msg(
            MessageKind::Notice,
            Role::Agent,
            Some("note"),
            Visibility::Agents,
        );
        assert!(
            gms_message(&internal).is_none(),
            "agents-only entries stay with agents"
        );
    }
}
