//! One Bayeux message, its advice, Bayeux error strings, and frames (a JSON array of messages,
//! or a single object).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A Bayeux message. Every field is optional on the wire except `channel`; the names are the
/// spec's. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(
        rename = "connectionType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_type: Option<String>,
    #[serde(
        rename = "supportedConnectionTypes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub supported_connection_types: Option<Vec<String>>,
    /// A channel name, or (in some servers' replies) a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<Subscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(
        rename = "minimumVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub minimum_version: Option<String>,
}

/// `subscription`: one channel or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Subscription {
    One(String),
    Many(Vec<String>),
}

/// A string is one channel, an array several (derived, `untagged` would buffer every
/// message's `subscription` in serde's `Content` to try one shape after the other: more code
/// in the wasm modules for the same answers, which a unit test holds it to).
impl<'de> Deserialize<'de> for Subscription {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Channels;

        impl<'de> serde::de::Visitor<'de> for Channels {
            type Value = Subscription;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a channel or an array of channels")
            }

            fn visit_str<E: serde::de::Error>(self, channel: &str) -> Result<Subscription, E> {
                Ok(Subscription::One(channel.to_owned()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Subscription, A::Error> {
                let mut channels = Vec::new();
                while let Some(channel) = seq.next_element()? {
                    channels.push(channel);
                }
                Ok(Subscription::Many(channels))
            }
        }

        d.deserialize_any(Channels)
    }
}

impl Subscription {
    pub fn channels(&self) -> Vec<&str> {
        match self {
            Subscription::One(c) => vec![c.as_str()],
            Subscription::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// `advice`: how the client should reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Advice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<Reconnect>,
    /// Milliseconds to wait before the next `/meta/connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Milliseconds the server may hold a `/meta/connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// CometD: how long the server keeps a session without a `/meta/connect`.
    #[serde(
        rename = "maxInterval",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_interval: Option<u64>,
    #[serde(
        rename = "multiple-clients",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub multiple_clients: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reconnect {
    Retry,
    Handshake,
    None,
}

impl Message {
    /// A message on `channel` with nothing else set.
    pub fn on(channel: &str) -> Message {
        Message {
            channel: channel.to_owned(),
            ..Message::default()
        }
    }

    pub fn is_meta(&self) -> bool {
        self.channel.starts_with("/meta/")
    }

    /// A reply (has `successful`) rather than a delivered message.
    pub fn is_reply(&self) -> bool {
        self.successful.is_some()
    }

    /// `ext[key]`, if any.
    pub fn ext_field(&self, key: &str) -> Option<&Value> {
        self.ext.as_ref()?.get(key)
    }

    /// Sets `ext[key]`.
    pub fn set_ext(&mut self, key: &str, value: Value) {
        self.ext
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value);
    }
}

/// A Bayeux error string: `code:args:message`, e.g. `402::Unknown client`,
/// `403:/foo:Forbidden`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BayeuxError {
    pub code: u16,
    pub args: Vec<String>,
    pub message: String,
}

impl BayeuxError {
    pub fn new(code: u16, args: &[&str], message: &str) -> BayeuxError {
        BayeuxError {
            code,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            message: message.to_owned(),
        }
    }

    /// Parses `code:args:message`; anything else becomes code 0 with the whole text.
    pub fn parse(text: &str) -> BayeuxError {
        let mut parts = text.splitn(3, ':');
        match (
            parts.next().and_then(|c| c.parse().ok()),
            parts.next(),
            parts.next(),
        ) {
            (Some(code), Some(args), Some(message)) => BayeuxError {
                code,
                args: if args.is_empty() {
                    Vec::new()
                } else {
                    args.split(',').map(str::to_owned).collect()
                },
                message: message.to_owned(),
            },
            _ => BayeuxError {
                code: 0,
                args: Vec::new(),
                message: text.to_owned(),
            },
        }
    }
}

impl std::fmt::Display for BayeuxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.code, self.args.join(","), self.message)
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("frame holds {0} messages, more than the limit")]
    TooManyMessages(usize),
    #[error("not valid Bayeux JSON: {0}")]
    Malformed(String),
}

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    pub max_bytes: usize,
    pub max_messages: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_bytes: 1 << 20,
            max_messages: 1000,
        }
    }
}

/// Decodes a frame: a JSON array of messages or one message object.
pub fn decode_frame(text: &str, limits: FrameLimits) -> Result<Vec<Message>, DecodeError> {
    if text.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge(text.len()));
    }
    let malformed = |e: serde_json::Error| DecodeError::Malformed(e.to_string());
    // Read straight into messages (not through a `Value`): one reader per type, shared with
    // everything else read from text.
    let messages = match text.trim_start().as_bytes().first() {
        Some(b'[') => crate::json::from_str::<Vec<Message>>(text).map_err(malformed)?,
        Some(b'{') => vec![crate::json::from_str::<Message>(text).map_err(malformed)?],
        _ => {
            return Err(DecodeError::Malformed(
                "expected an array or an object".into(),
            ))
        }
    };
    // The byte limit above bounds what was read; this bounds what is handled.
    if messages.len() > limits.max_messages {
        return Err(DecodeError::TooManyMessages(messages.len()));
    }
    Ok(messages)
}

/// Reads a message's `data` as `T` through its text. Its types are read from text anyway (the
/// same ones come in REST replies), so this adds no second decoder per type to the wasm
/// modules, where `serde_json::from_value` would.
pub fn read_data<T: serde::de::DeserializeOwned>(data: &Value) -> serde_json::Result<T> {
    crate::json::from_str(&data.to_string())
}

/// Encodes messages as a frame (always an array).
pub fn encode_frame(messages: &[Message]) -> String {
    serde_json::to_string(messages).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_reads_as_the_untagged_derive_does() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        enum Derived {
            One(String),
            Many(Vec<String>),
        }
        let as_derived = |s: Subscription| match s {
            Subscription::One(c) => Derived::One(c),
            Subscription::Many(cs) => Derived::Many(cs),
        };
        for text in [
            r#""/chat""#,
            r#"["/a","/b"]"#,
            "[]",
            r#""""#,
            "1",
            "null",
            "true",
            "[1]",
            r#"["/a",null]"#,
            "[[]]",
            "{}",
            r#"{"a":"b"}"#,
        ] {
            let ours = crate::json::from_str::<Subscription>(text).map(as_derived);
            let derived = serde_json::from_str::<Derived>(text);
            match (ours, derived) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{text}: ours {a:?}, derived {b:?}"),
            }
        }
    }

    #[test]
    fn field_names_are_the_specs() {
        let m = Message {
            channel: "/meta/handshake".into(),
            id: Some("1".into()),
            client_id: Some("c".into()),
            successful: Some(true),
            connection_type: Some("long-polling".into()),
            supported_connection_types: Some(vec!["long-polling".into()]),
            minimum_version: Some("1.0".into()),
            version: Some("1.0".into()),
            advice: Some(Advice {
                reconnect: Some(Reconnect::Retry),
                interval: Some(0),
                timeout: Some(30000),
                max_interval: Some(10000),
                multiple_clients: Some(false),
                hosts: None,
            }),
            ..Message::default()
        };
        let v = serde_json::to_value(&m).unwrap();
        for key in [
            "channel",
            "id",
            "clientId",
            "successful",
            "connectionType",
            "supportedConnectionTypes",
            "minimumVersion",
            "version",
            "advice",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["advice"]["reconnect"], "retry");
        assert_eq!(v["advice"]["maxInterval"], 10000);
        assert_eq!(v["advice"]["multiple-clients"], false);
        assert!(v.get("data").is_none(), "absent fields are not sent");
    }

    #[test]
    fn frames_decode_from_array_or_object_and_respect_limits() {
        let one = decode_frame(r#"{"channel":"/a","data":1}"#, FrameLimits::default()).unwrap();
        assert_eq!(one.len(), 1);
        let many = decode_frame(
            r#"[{"channel":"/a"},{"channel":"/b","subscription":["/x","/y"]}]"#,
            FrameLimits::default(),
        )
        .unwrap();
        assert_eq!(
            many[1].subscription.as_ref().unwrap().channels(),
            ["/x", "/y"]
        );
        let limits = FrameLimits {
            max_bytes: 10,
            max_messages: 1,
        };
        assert!(matches!(
            decode_frame(r#"[{"channel":"/a"}]"#, limits),
            Err(DecodeError::TooLarge(_))
        ));
        let limits = FrameLimits {
            max_bytes: 1000,
            max_messages: 1,
        };
        assert!(matches!(
            decode_frame(r#"[{"channel":"/a"},{"channel":"/b"}]"#, limits),
            Err(DecodeError::TooManyMessages(2))
        ));
        for bad in ["", "1", "\"x\"", "[1]", "[{}]", "{\"channel\":5}"] {
            assert!(
                matches!(
                    decode_frame(bad, FrameLimits::default()),
                    Err(DecodeError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_strings_round_trip() {
        let e = BayeuxError::parse("403:/foo,/bar:Forbidden: no");
        assert_eq!(e.code, 403);
        assert_eq!(e.args, ["/foo", "/bar"]);
        assert_eq!(e.message, "Forbidden: no");
        assert_eq!(e.to_string(), "403:/foo,/bar:Forbidden: no");
        assert_eq!(
            BayeuxError::parse("402::Unknown client").to_string(),
            "402::Unknown client"
        );
        assert_eq!(BayeuxError::parse("weird").code, 0);
    }
}
