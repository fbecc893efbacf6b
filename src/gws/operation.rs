//! Requests to Genesys Web Services: the operation names (one table for both sides), the
//! request bodies the extension sends ([`Operation`], golden fixtures in
//! `tests/fixtures/gws/`), the paths, and a request as data ([`Request`]) for a driver to send.

use serde::{Deserialize, Serialize};

/// Every `operationName` the reference server knows. `as_str` is the one place the names are
/// spelled; chat `capabilities` lists these names too (serde uses the same names: a test
/// checks they agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OperationName {
    StartContactCenterSession,
    EndContactCenterSession,
    Ready,
    NotReady,
    Accept,
    Reject,
    SendMessage,
    SendStartTypingNotification,
    SendStopTypingNotification,
    SendCustomNotice,
    SendUrl,
    Leave,
    Complete,
    UpdateUserData,
    RequestChatHistory,
    Transfer,
}

impl OperationName {
    pub const ALL: [OperationName; 16] = [
        OperationName::StartContactCenterSession,
        OperationName::EndContactCenterSession,
        OperationName::Ready,
        OperationName::NotReady,
        OperationName::Accept,
        OperationName::Reject,
        OperationName::SendMessage,
        OperationName::SendStartTypingNotification,
        OperationName::SendStopTypingNotification,
        OperationName::SendCustomNotice,
        OperationName::SendUrl,
        OperationName::Leave,
        OperationName::Complete,
        OperationName::UpdateUserData,
        OperationName::RequestChatHistory,
        OperationName::Transfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationName::StartContactCenterSession => "StartContactCenterSession",
            OperationName::EndContactCenterSession => "EndContactCenterSession",
            OperationName::Ready => "Ready",
            OperationName::NotReady => "NotReady",
            OperationName::Accept => "Accept",
            OperationName::Reject => "Reject",
            OperationName::SendMessage => "SendMessage",
            OperationName::SendStartTypingNotification => "SendStartTypingNotification",
            OperationName::SendStopTypingNotification => "SendStopTypingNotification",
            OperationName::SendCustomNotice => "SendCustomNotice",
            OperationName::SendUrl => "SendUrl",
            OperationName::Leave => "Leave",
            OperationName::Complete => "Complete",
            OperationName::UpdateUserData => "UpdateUserData",
            OperationName::RequestChatHistory => "RequestChatHistory",
            OperationName::Transfer => "Transfer",
        }
    }

    /// The operation `name` names, if it is one we know.
    pub fn parse(name: &str) -> Option<OperationName> {
        OperationName::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// A request body the extension sends (`{"operationName": …, …}`), with Genesys' field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operationName")]
pub enum Operation {
    /// `POST /api/v2/me`.
    StartContactCenterSession {
        channels: Vec<String>,
    },
    /// `POST /api/v2/me`.
    EndContactCenterSession,
    /// `POST /api/v2/me/channels/chat`.
    Ready,
    NotReady,
    /// `POST /api/v2/me/chats/{id}`; the nickname the customer will see.
    Accept {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nickname: Option<String>,
    },
    Reject,
    SendMessage {
        text: String,
    },
    SendStartTypingNotification,
    SendStopTypingNotification,
    Leave,
    Complete,
}

impl Operation {
    pub fn name(&self) -> OperationName {
        match self {
            Operation::StartContactCenterSession { .. } => OperationName::StartContactCenterSession,
            Operation::EndContactCenterSession => OperationName::EndContactCenterSession,
            Operation::Ready => OperationName::Ready,
            Operation::NotReady => OperationName::NotReady,
            Operation::Accept { .. } => OperationName::Accept,
            Operation::Reject => OperationName::Reject,
            Operation::SendMessage { .. } => OperationName::SendMessage,
            Operation::SendStartTypingNotification => OperationName::SendStartTypingNotification,
            Operation::SendStopTypingNotification => OperationName::SendStopTypingNotification,
            Operation::Leave => OperationName::Leave,
            Operation::Complete => OperationName::Complete,
        }
    }

    /// The session on the chat channel (the only media this extension handles).
    pub fn start_chat_session() -> Operation {
        Operation::StartContactCenterSession {
            channels: vec!["chat".into()],
        }
    }
}

/// The agent API's paths.
pub mod paths {
    /// `GET`: who the server takes the request for (and, from the reference server, a
    /// notifications token); `POST`: contact-center session operations.
    pub const ME: &str = "/api/v2/me";
    /// `GET`: [`ME`] with its subresources, the agent's channel states among them (read at
    /// every resync: see [`crate::gws::ChannelStateChange::from_me_reply`]).
    pub const ME_WITH_SUBRESOURCES: &str = "/api/v2/me?subresources=*";
    /// `GET`: the agent's chats.
    pub const CHATS: &str = "/api/v2/me/chats";
    /// `POST` Ready / NotReady on the chat channel.
    pub const CHAT_CHANNEL: &str = "/api/v2/me/channels/chat";
    /// The CometD endpoint.
    pub const NOTIFICATIONS: &str = "/api/v2/notifications";
    /// CometD topics: chat notifications and channel-state notifications.
    pub const CHATS_TOPIC: &str = "/v2/me/chats";
    pub const CHANNELS_TOPIC: &str = "/v2/me/channels";
    /// The most entries one transcript fetch asks for.
    pub const MAX_MESSAGES_PER_FETCH: u32 = 1000;

    /// `POST`: an operation on one chat.
    pub fn chat(chat_id: &str) -> String {
        format!("{CHATS}/{chat_id}")
    }

    /// `GET`: a chat's transcript from `start_index` on.
    pub fn messages(chat_id: &str, start_index: i64) -> String {
        format!(
            "{CHATS}/{chat_id}/messages?startIndex={start_index}&count={MAX_MESSAGES_PER_FETCH}"
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Whether a request carries (and takes) the browser's cookies for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookies {
    /// The HTTP session cookie goes along, as with every request of a signed-in agent.
    Include,
    /// None sent, none stored: to check a password on its own.
    Omit,
}

/// One request to the agent API, as data: the driver adds the server's base URL, Basic
/// authentication and, on writes, the session's CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<Body>,
    pub cookies: Cookies,
}

/// A request's JSON body: an operation, or the co-browse verification (our addition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Body {
    Operation(Operation),
    Verification(super::cobrowse::VerificationRequest),
}

impl Request {
    pub fn get(path: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            body: None,
            cookies: Cookies::Include,
        }
    }

    pub fn post(path: impl Into<String>, operation: Operation) -> Request {
        Request {
            method: Method::Post,
            path: path.into(),
            body: Some(Body::Operation(operation)),
            cookies: Cookies::Include,
        }
    }

    /// `POST /api/v2/me/cobrowse/verifications` for this chat and token.
    pub fn verification(chat_id: &str, token: &crate::cobrowse::Token) -> Request {
        Request {
            method: Method::Post,
            path: super::cobrowse::VERIFICATIONS_PATH.into(),
            body: Some(Body::Verification(super::cobrowse::VerificationRequest {
                chat_id: chat_id.to_owned(),
                session_token: token.expose().to_owned(),
            })),
            cookies: Cookies::Include,
        }
    }

    /// The operation this request carries, if it is one.
    pub fn operation(&self) -> Option<&Operation> {
        match &self.body {
            Some(Body::Operation(op)) => Some(op),
            _ => None,
        }
    }

    /// The same request without the browser's cookies.
    pub fn without_cookies(self) -> Request {
        Request {
            cookies: Cookies::Omit,
            ..self
        }
    }

    pub fn is_write(&self) -> bool {
        self.method != Method::Get
    }

    /// The JSON body to send, if any.
    pub fn body_json(&self) -> Option<String> {
        self.body
            .as_ref()
            .map(|body| serde_json::to_string(body).expect("bodies serialize"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_operations_use_the_table() {
        for name in OperationName::ALL {
            assert_eq!(OperationName::parse(name.as_str()), Some(name));
            assert_eq!(
                serde_json::to_value(name).unwrap(),
                serde_json::json!(name.as_str())
            );
        }
        assert_eq!(OperationName::parse("FormatDisk"), None);
        let ops = [
            Operation::start_chat_session(),
            Operation::EndContactCenterSession,
            Operation::Ready,
            Operation::NotReady,
            Operation::Accept { nickname: None },
            Operation::Reject,
            Operation::SendMessage { text: "x".into() },
            Operation::SendStartTypingNotification,
            Operation::SendStopTypingNotification,
            Operation::Leave,
            Operation::Complete,
        ];
        for op in ops {
            let json: serde_json::Value = serde_json::to_value(&op).unwrap();
            assert_eq!(json["operationName"], op.name().as_str(), "{op:?}");
        }
    }

    #[test]
    fn requests_say_what_they_send() {
        let r = Request::post(paths::chat("C1"), Operation::Complete);
        assert_eq!(r.path, "/api/v2/me/chats/C1");
        assert!(r.is_write());
        assert_eq!(
            r.body_json().as_deref(),
            Some(r#"{"operationName":"Complete"}"#)
        );
        let g = Request::get(paths::messages("C1", 4)).without_cookies();
        assert_eq!(
            g.path,
            "/api/v2/me/chats/C1/messages?startIndex=4&count=1000"
        );
        assert_eq!((g.cookies, g.body_json()), (Cookies::Omit, None));
    }
}
