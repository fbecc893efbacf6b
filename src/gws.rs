//! The agent side of the Genesys wire: Web Services API v2 chat notifications (CometD topic
//! `/v2/me/chats`, `/v2/me/channels`) and resources, with the exact field names Genesys uses.
//! Unknown message types, states and fields are tolerated: a newer server must not break us.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `Authorization: Basic …` for Genesys Web Services (UTF-8 user and password).
pub fn basic_authorization(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4 + 6);
    out.push_str("Basic ");
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `data` of a message on `/v2/me/chats` or `/v2/me/channels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "messageType")]
pub enum Notification {
    ChatStateChangeMessage(ChatStateChange),
    MessageLogUpdated(MessageLogUpdated),
    ChannelStateChangeMessageV2(ChannelStateChange),
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatStateChange {
    /// `StatusChange`, `ParticipantsUpdated`, `PropertiesUpdated`, …
    #[serde(rename = "notificationType")]
    pub notification_type: String,
    pub chat: Chat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageLogUpdated {
    #[serde(rename = "notificationType")]
    pub notification_type: String,
    #[serde(rename = "chatUri", default, skip_serializing_if = "Option::is_none")]
    pub chat_uri: Option<String>,
    #[serde(rename = "chatPath", default, skip_serializing_if = "Option::is_none")]
    pub chat_path: Option<String>,
    /// Our reference server's addition; Genesys servers send only `chatUri`.
    #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    #[serde(default)]
    pub messages: Vec<Message>,
}

impl MessageLogUpdated {
    /// The chat this log belongs to: `chatId`, else the last segment of `chatPath` or `chatUri`.
    pub fn chat_id(&self) -> Option<&str> {
        if let Some(id) = self.chat_id.as_deref() {
            return Some(id);
        }
        let path = self.chat_path.as_deref().or(self.chat_uri.as_deref())?;
        path.trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStateChange {
    #[serde(default)]
    pub channels: Vec<ChannelState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelState {
    pub channel: String,
    #[serde(rename = "userState")]
    pub user_state: UserState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    pub state: String,
    #[serde(rename = "displayName", default)]
    pub display_name: String,
}

/// A chat resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: String,
    pub state: ChatState,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub participants: Vec<Participant>,
    #[serde(rename = "userData", default)]
    pub user_data: Map<String, Value>,
    #[serde(
        rename = "receivedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub received_date: Option<String>,
}

/// `chat.state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatState {
    Invited,
    Chatting,
    LeftChat,
    Completed,
    Revoked,
    /// Anything else a server may send (e.g. `JoinFailed`).
    #[serde(untagged)]
    Other(String),
}

impl ChatState {
    /// The chat is over for this agent.
    pub fn is_finished(&self) -> bool {
        matches!(self, ChatState::Completed | ChatState::Revoked)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    #[serde(default)]
    pub nickname: String,
    /// `Customer`, `Agent`, `External`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(rename = "participantId", default)]
    pub participant_id: String,
}

/// One transcript entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub index: i64,
    #[serde(rename = "type")]
    pub kind: MessageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `PushUrl` carries its URL here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    pub from: Participant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Despite the name, epoch milliseconds.
    #[serde(
        rename = "timestampSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageType {
    Text,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRejoined,
    TypingStarted,
    TypingStopped,
    PushUrl,
    Notice,
    CustomNotice,
    #[serde(untagged)]
    Other(String),
}

/// `GET /api/v2/me/chats/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesReply {
    #[serde(rename = "statusCode")]
    pub status_code: i64,
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// `GET /api/v2/me/chats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatsReply {
    #[serde(rename = "statusCode")]
    pub status_code: i64,
    #[serde(default)]
    pub chats: Vec<Chat>,
}

/// `GET /api/v2/me`: who the server takes the request for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeReply {
    #[serde(rename = "statusCode")]
    pub status_code: i64,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "userName", default)]
    pub user_name: String,
}

impl MeReply {
    /// Whether the server answered as someone other than `agent_name` (user names compare
    /// without case). A reply that names nobody is not taken as someone else.
    pub fn is_someone_else(&self, agent_name: &str) -> bool {
        self.user
            .as_ref()
            .filter(|u| !u.user_name.is_empty())
            .is_some_and(|u| u.user_name.to_lowercase() != agent_name.to_lowercase())
    }
}

/// The reference server's addition for browsers (a WebSocket cannot send `Authorization`):
/// every authenticated `GET /api/v2/me` carries a short-lived, single-use token in this header,
/// which the CometD handshake presents in its `ext` ([`notifications_token_ext`]). A server
/// without it (a real GWS) is reached over long-polling with Basic.
pub const NOTIFICATIONS_TOKEN_HEADER: &str = "X-Cobrowse-Notifications-Token";

/// The handshake `ext` that presents a notifications token: `{"cobrowse": {"token": "…"}}`.
pub fn notifications_token_ext(token: &str) -> Map<String, Value> {
    let mut ext = Map::new();
    ext.insert("cobrowse".into(), serde_json::json!({ "token": token }));
    ext
}

/// The reply header that names the CSRF header (Genesys: `X-CSRF-HEADER: X-CSRF-TOKEN`).
pub const CSRF_HEADER_NAME: &str = "X-CSRF-HEADER";

/// The CSRF token of a Genesys Web Services HTTP session (server option
/// `enableCsrfProtection`): any GET reply names the header (`X-CSRF-HEADER`) and carries the
/// token in it; every PUT, POST and DELETE of that session must send it back. It lives as long
/// as the session (the `JSESSIONID` cookie), so it is a secret like the session itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsrfToken {
    /// The header to send it in (`X-CSRF-TOKEN`).
    pub header: String,
    pub token: String,
}

impl CsrfToken {
    /// Reads the token from a GET reply; `header` looks a reply header up by name
    /// (case-insensitively). `None` when the server does not use CSRF protection, or names
    /// something that cannot be a request header.
    pub fn from_reply(header: impl Fn(&str) -> Option<String>) -> Option<CsrfToken> {
        let name = header(CSRF_HEADER_NAME)?.trim().to_owned();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        // A page-chosen header name must not overwrite what we send ourselves.
        let ours = ["authorization", "content-type", "cookie", "host", "origin"];
        if !valid_name || ours.contains(&name.to_ascii_lowercase().as_str()) {
            return None;
        }
        let token = header(&name)?.trim().to_owned();
        let valid_token =
            !token.is_empty() && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic());
        valid_token.then_some(CsrfToken {
            header: name,
            token,
        })
    }

    /// Whether a reply to a write says its CSRF token was missing or stale: Genesys answers
    /// HTTP 403 with the plain text `Missing or invalid Csrf token` (no JSON status), e.g.
    /// after the HTTP session it belonged to expired.
    pub fn refused(http_status: u16, body: &str) -> bool {
        http_status == 403 && serde_json::from_str::<Status>(body).is_err()
    }
}

/// Any reply's status: `{"statusCode": N, "statusMessage": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    #[serde(rename = "statusCode")]
    pub status_code: i64,
    #[serde(
        rename = "statusMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn me_reply_tells_whom_the_server_answered_for() {
        let me: MeReply = serde_json::from_str(
            r#"{"statusCode":0,"user":{"id":"a1","userName":"Agent1","firstName":"Ann"}}"#,
        )
        .unwrap();
        assert!(!me.is_someone_else("agent1"));
        assert!(me.is_someone_else("agent2"));
        let nobody: MeReply = serde_json::from_str(r#"{"statusCode":0}"#).unwrap();
        assert!(!nobody.is_someone_else("agent2"));
    }

    #[test]
    fn csrf_token_is_read_the_way_genesys_documents_it() {
        // The GWS CSRF page: the GET reply names the header and carries the token in it.
        let t = CsrfToken::from_reply(headers(&[
            ("x-csrf-header", "X-CSRF-TOKEN"),
            ("x-csrf-token", "4a92be65-ec55-4aa2-b9df-9518fd870f2f"),
        ]))
        .unwrap();
        assert_eq!(t.header, "X-CSRF-TOKEN");
        assert_eq!(t.token, "4a92be65-ec55-4aa2-b9df-9518fd870f2f");
        // No protection, or a header we must not send for the server.
        assert_eq!(CsrfToken::from_reply(headers(&[])), None);
        for bad in ["Authorization", "Cookie", "X Bad", ""] {
            assert_eq!(
                CsrfToken::from_reply(headers(&[(CSRF_HEADER_NAME, bad), (bad, "t")])),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(
            CsrfToken::from_reply(headers(&[
                (CSRF_HEADER_NAME, "X-CSRF-TOKEN"),
                ("X-CSRF-TOKEN", "a\nb c")
            ]))
            .map(|t| t.token),
            None
        );
        assert!(CsrfToken::refused(403, "Missing or invalid Csrf token"));
        assert!(!CsrfToken::refused(
            403,
            r#"{"statusCode":3,"statusMessage":"not allowed"}"#
        ));
        assert!(!CsrfToken::refused(401, "Missing or invalid Csrf token"));
    }

    #[test]
    fn genesys_documented_examples_parse() {
        // Retyped from the GWS ChatAccept and SendStartTypingNotification pages.
        let state: Notification = serde_json::from_str(
            r#"{ "messageType": "ChatStateChangeMessage", "notificationType": "StatusChange", "referenceId": 17,
                 "chat": { "state": "Chatting", "id": "0000Na9B26EF002X",
                   "uri": "http://localhost:8080/api/v2/chats/0000Na9B26EF002X",
                   "capabilities": ["Transfer","Complete","Leave","InFocus","SendMessage"],
                   "participants": [ {"type":"Agent","nickname":"Marat","participantId":"009052C5E743004C"},
                                     {"type":"Customer","nickname":"PersonP","participantId":"009052C5E6D6004A"} ] } }"#,
        )
        .unwrap();
        let Notification::ChatStateChangeMessage(s) = state else {
            panic!("{state:?}")
        };
        assert_eq!(s.chat.state, ChatState::Chatting);
        assert_eq!(s.chat.participants[1].kind, "Customer");
        let log: Notification = serde_json::from_str(
            r#"{ "messageType": "MessageLogUpdated", "notificationType": "NewMessages",
                 "chatUri": "http://localhost:8080/api/v2/chats/0000Wa9CAM6W00FY",
                 "messages": [ { "index": 4, "type": "TypingStarted", "visibility": "All",
                   "from": {"nickname":"TestName","type":"Agent","participantId":"007352CE764002A3"},
                   "timestamp": "2014-01-09 12:13:15.009+0200", "timestampSeconds": 1389262395009 } ] }"#,
        )
        .unwrap();
        let Notification::MessageLogUpdated(l) = log else {
            panic!()
        };
        assert_eq!(l.chat_id(), Some("0000Wa9CAM6W00FY"));
        assert_eq!(l.messages[0].kind, MessageType::TypingStarted);
        assert_eq!(l.messages[0].timestamp_ms, Some(1_389_262_395_009));
    }

    #[test]
    fn basic_authorization_is_base64_of_user_colon_password() {
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_authorization("a", "b"), "Basic YTpi");
        assert_eq!(
            basic_authorization("agent", "pässwörd"),
            "Basic YWdlbnQ6cMOkc3N3w7ZyZA=="
        );
    }

    #[test]
    fn unknown_things_are_tolerated() {
        let n: Notification =
            serde_json::from_str(r#"{"messageType":"CallStateChangeMessage","call":{}}"#).unwrap();
        assert_eq!(n, Notification::Unknown);
        let m: Message =
            serde_json::from_str(r#"{"index":9,"type":"TranscriptSaveDone","from":{}}"#).unwrap();
        assert_eq!(m.kind, MessageType::Other("TranscriptSaveDone".into()));
        let c: Chat = serde_json::from_str(r#"{"id":"x","state":"JoinFailed"}"#).unwrap();
        assert_eq!(c.state, ChatState::Other("JoinFailed".into()));
    }
}
