//! The agent side of the Genesys wire: Web Services API v2 chat notifications (CometD topic
//! `/v2/me/chats`, `/v2/me/channels`) and resources, with the exact field names Genesys uses.
//! Unknown message types, states and fields are tolerated: a newer server must not break us.
//!
//! Submodules: `auth` (Basic, the CSRF token), `operation` (operation names, request bodies,
//! paths, a request as data), `outcome` (what a reply means), `additions` (what the reference
//! server adds to these shapes, shared with it), `cobrowse` (the agent's co-browse additions:
//! verification, state notifications).

pub mod additions;
pub mod auth;
pub mod cobrowse;
pub mod operation;
pub mod outcome;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use additions::{
    notifications_token_ext, notifications_token_in, MAX_TEXT_BYTES, NOTIFICATIONS_TOKEN_HEADER,
};
pub use auth::{basic_authorization, CsrfToken, CSRF_HEADER_NAME};
pub use operation::{paths, Body, Cookies, Method, Operation, OperationName, Request};
pub use outcome::{HttpReply, Outcome};

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

impl Notification {
    /// Reads a notification from its JSON text, as the derived `Deserialize` does (the fuzz
    /// test holds them to the same answers), without buffering it in serde's `Content`: the
    /// tag is read first, then the text again as the payload's type, with the same reader the
    /// REST replies use. In the wasm background that is one copy of each payload's decoder
    /// instead of two.
    pub fn from_text(text: &str) -> serde_json::Result<Notification> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "messageType")]
            message_type: String,
        }
        // `json::from_str` reads structs from objects only: serde alone would also read a
        // sequence (`["MessageLogUpdated", …]`) as a struct.
        let tag: Tag = crate::json::from_str(text)?;
        Ok(match tag.message_type.as_str() {
            "ChatStateChangeMessage" => {
                Notification::ChatStateChangeMessage(crate::json::from_str(text)?)
            }
            "MessageLogUpdated" => Notification::MessageLogUpdated(crate::json::from_str(text)?),
            "ChannelStateChangeMessageV2" => {
                Notification::ChannelStateChangeMessageV2(crate::json::from_str(text)?)
            }
            _ => Notification::Unknown,
        })
    }
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

impl ChannelStateChange {
    /// The channel states in the reply to `GET /api/v2/me?subresources=*`: the user's
    /// `channelStates`, or else its `channels` (Genesys documents both as lists of `{channel,
    /// userState}`; the reference server sends `channels`). Each list is read on its own, so
    /// a server whose `channels` holds something else still has its `channelStates` read; a
    /// reply with neither readable is `None`.
    pub fn from_me_reply(text: &str) -> Option<ChannelStateChange> {
        #[derive(Deserialize)]
        struct Reply<U> {
            user: Option<U>,
        }
        #[derive(Deserialize)]
        struct States {
            #[serde(rename = "channelStates")]
            channel_states: Option<Vec<ChannelState>>,
        }
        #[derive(Deserialize)]
        struct Channels {
            channels: Option<Vec<ChannelState>>,
        }
        let states = crate::json::from_str::<Reply<States>>(text)
            .ok()
            .and_then(|r| r.user?.channel_states);
        let channels = states.or_else(|| {
            crate::json::from_str::<Reply<Channels>>(text)
                .ok()
                .and_then(|r| r.user?.channels)
        })?;
        Some(ChannelStateChange { channels })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelState {
    pub channel: String,
    #[serde(rename = "userState")]
    pub user_state: UserState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    pub state: AgentState,
    #[serde(rename = "displayName", default)]
    pub display_name: String,
}

/// The agent's state on a channel (`userState.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentState {
    Ready,
    NotReady,
    LoggedOut,
    /// Any other state a server may report (e.g. `AfterCallWork`).
    #[serde(other)]
    Other,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Read as a string, then named (derived, the untagged `Other` would read every state through
/// serde's buffered `Content`: more code in the wasm modules for the same answer).
impl<'de> Deserialize<'de> for ChatState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(match name.as_str() {
            "Invited" => ChatState::Invited,
            "Chatting" => ChatState::Chatting,
            "LeftChat" => ChatState::LeftChat,
            "Completed" => ChatState::Completed,
            "Revoked" => ChatState::Revoked,
            _ => ChatState::Other(name),
        })
    }
}

impl ChatState {
    /// The state's name as Genesys spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ChatState::Invited => "Invited",
            ChatState::Chatting => "Chatting",
            ChatState::LeftChat => "LeftChat",
            ChatState::Completed => "Completed",
            ChatState::Revoked => "Revoked",
            ChatState::Other(s) => s,
        }
    }

    /// The `_locales` message that names the state for a person.
    pub fn message_key(&self) -> &'static str {
        match self {
            ChatState::Invited => "stateInvited",
            ChatState::Chatting => "stateChatting",
            ChatState::LeftChat => "stateLeftChat",
            ChatState::Completed => "stateCompleted",
            ChatState::Revoked => "stateRevoked",
            ChatState::Other(_) => "stateOther",
        }
    }

    /// One of each kind (for checks that every state has its message).
    pub fn examples() -> [ChatState; 6] {
        [
            ChatState::Invited,
            ChatState::Chatting,
            ChatState::LeftChat,
            ChatState::Completed,
            ChatState::Revoked,
            ChatState::Other(String::new()),
        ]
    }

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// A participant renamed themselves: `from` has the new name, `text` the old one.
    NicknameUpdated,
    #[serde(untagged)]
    Other(String),
}

/// Read as a string, then named (as [`ChatState`] is).
impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(match name.as_str() {
            "Text" => MessageType::Text,
            "ParticipantJoined" => MessageType::ParticipantJoined,
            "ParticipantLeft" => MessageType::ParticipantLeft,
            "ParticipantRejoined" => MessageType::ParticipantRejoined,
            "TypingStarted" => MessageType::TypingStarted,
            "TypingStopped" => MessageType::TypingStopped,
            "PushUrl" => MessageType::PushUrl,
            "Notice" => MessageType::Notice,
            "CustomNotice" => MessageType::CustomNotice,
            "NicknameUpdated" => MessageType::NicknameUpdated,
            _ => MessageType::Other(name),
        })
    }
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
    #[serde(rename = "firstName", default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
}

/// The longest display name kept (characters); the server bounds nicknames too.
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;

impl MeReply {
    /// The name customers should see: the user's first name, trimmed, without control
    /// characters and bounded; `None` when the server gives none.
    pub fn display_name(&self) -> Option<String> {
        let first = self.user.as_ref()?.first_name.as_deref()?;
        let clean: String = first
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(DISPLAY_NAME_MAX_CHARS)
            .collect();
        (!clean.trim().is_empty()).then(|| clean.trim().to_owned())
    }

    /// Whether the server answered as someone other than `agent_name`. User names compare
    /// without ASCII case (a login id's usual letters; Unicode case folding would ship its
    /// tables in the background module, 8 KB gzip): a name whose other letters differ in case
    /// is taken as someone else, and the agent is told so rather than signed in as another.
    /// A reply that names nobody is not taken as someone else.
    pub fn is_someone_else(&self, agent_name: &str) -> bool {
        self.user
            .as_ref()
            .filter(|u| !u.user_name.is_empty())
            .is_some_and(|u| !u.user_name.eq_ignore_ascii_case(agent_name))
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

    #[test]
    fn channel_states_are_read_from_either_list_of_a_me_reply() {
        use serde_json::json;
        let state = |c: Option<ChannelStateChange>| {
            c.map(|c| {
                c.channels
                    .iter()
                    .map(|s| (s.channel.clone(), s.user_state.state))
                    .collect::<Vec<_>>()
            })
        };
        let entry = |state: &str| json!({"channel": "chat", "userState": {"state": state}});
        let reply = |user: serde_json::Value| json!({"statusCode": 0, "user": user}).to_string();
        let chat = |s| Some(vec![("chat".to_owned(), s)]);
        // The reference server's `channels`.
        let text = reply(json!({"userName": "a", "channels": [entry("Ready")]}));
        assert_eq!(
            state(ChannelStateChange::from_me_reply(&text)),
            chat(AgentState::Ready)
        );
        // `channelStates` first, even beside a `channels` of names.
        let text = reply(json!({"channels": ["chat"], "channelStates": [entry("NotReady")]}));
        assert_eq!(
            state(ChannelStateChange::from_me_reply(&text)),
            chat(AgentState::NotReady)
        );
        for text in [
            reply(json!({"userName": "a"})),
            reply(json!({"channels": ["chat"]})),
            json!({"statusCode": 0}).to_string(),
            "not json".to_owned(),
        ] {
            assert_eq!(ChannelStateChange::from_me_reply(&text), None, "{text}");
        }
    }

    #[test]
    fn states_and_message_types_read_back_by_name_and_keep_unknown_names() {
        for state in ChatState::examples()
            .into_iter()
            .chain([ChatState::Other("JoinFailed".into())])
        {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(
                serde_json::from_str::<ChatState>(&json).unwrap(),
                state,
                "{json}"
            );
        }
        use MessageType::*;
        for kind in [
            Text,
            ParticipantJoined,
            ParticipantLeft,
            ParticipantRejoined,
            TypingStarted,
            TypingStopped,
            PushUrl,
            Notice,
            CustomNotice,
            NicknameUpdated,
            Other("Surprise".into()),
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(
                serde_json::from_str::<MessageType>(&json).unwrap(),
                kind,
                "{json}"
            );
        }
        assert!(
            serde_json::from_str::<MessageType>("7").is_err(),
            "a number is no type"
        );
    }

    #[test]
    fn me_reply_tells_whom_the_server_answered_for() {
        let me: MeReply = serde_json::from_str(
            r#"{"statusCode":0,"user":{"id":"a1","userName":"Agent1","firstName":"Ann"}}"#,
        )
        .unwrap();
        assert!(!me.is_someone_else("agent1"));
        assert!(!me.is_someone_else("AGENT1"));
        assert!(me.is_someone_else("agent2"));
        assert!(me.is_someone_else("agent1 "));
        let accented: MeReply =
            serde_json::from_str(r#"{"statusCode":0,"user":{"userName":"Åsa"}}"#).unwrap();
        assert!(!accented.is_someone_else("ÅSA"));
        assert!(
            accented.is_someone_else("åsa"),
            "only ASCII letters compare without case"
        );
        assert_eq!(me.display_name().as_deref(), Some("Ann"));
        let nobody: MeReply = serde_json::from_str(r#"{"statusCode":0}"#).unwrap();
        assert!(!nobody.is_someone_else("agent2"));
        assert_eq!(nobody.display_name(), None);
        let odd: MeReply = serde_json::from_str(
            &serde_json::json!({"statusCode": 0, "user": {"userName": "a", "firstName": format!(" \u{202e}x{} ", "y".repeat(200))}}).to_string(),
        )
        .unwrap();
        let name = odd.display_name().unwrap();
        assert_eq!(name.chars().count(), DISPLAY_NAME_MAX_CHARS);
        assert!(!name.starts_with(' '));
        let blank: MeReply =
            serde_json::from_str(r#"{"statusCode":0,"user":{"userName":"a","firstName":"  "}}"#)
                .unwrap();
        assert_eq!(blank.display_name(), None);
    }

    /// Reads with both readers, which must agree.
    fn notification(text: &str) -> Result<Notification, String> {
        let derived = serde_json::from_str::<Notification>(text).map_err(|e| e.to_string());
        let from_text = Notification::from_text(text).map_err(|e| e.to_string());
        assert_eq!(
            derived.is_ok(),
            from_text.is_ok(),
            "{derived:?} vs {from_text:?}"
        );
        if let (Ok(a), Ok(b)) = (&derived, &from_text) {
            assert_eq!(a, b);
        }
        derived
    }

    #[test]
    fn a_notification_that_is_not_an_object_is_refused() {
        for text in [
            r#"["MessageLogUpdated"]"#,
            r#" ["ChatStateChangeMessage", "StatusChange"]"#,
            r#""MessageLogUpdated""#,
            "42",
        ] {
            assert!(Notification::from_text(text).is_err(), "{text}");
        }
        // The derive takes the sequence form; the extension's reader does not.
        assert!(serde_json::from_str::<Notification>(r#"["ChatStateChange"]"#).is_ok());
    }

    #[test]
    fn genesys_documented_examples_parse() {
        // Retyped from the GWS ChatAccept and SendStartTypingNotification pages.
        let state = notification(
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
        let log = notification(
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
    fn unknown_things_are_tolerated() {
        let n = notification(r#"{"messageType":"CallStateChangeMessage","call":{}}"#).unwrap();
        assert_eq!(n, Notification::Unknown);
        assert!(notification(r#"{"call":{}}"#).is_err(), "no messageType");
        assert!(
            notification(r#"{"messageType":"MessageLogUpdated"}"#).is_err(),
            "no messages"
        );
        let m: Message =
            serde_json::from_str(r#"{"index":9,"type":"TranscriptSaveDone","from":{}}"#).unwrap();
        assert_eq!(m.kind, MessageType::Other("TranscriptSaveDone".into()));
        let c: Chat = serde_json::from_str(r#"{"id":"x","state":"JoinFailed"}"#).unwrap();
        assert_eq!(c.state, ChatState::Other("JoinFailed".into()));
    }
}
