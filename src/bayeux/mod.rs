//! Bayeux 1.0 (CometD): message types with the spec's exact field names, frame decoding with
//! limits, channel names and wildcard matching, and Bayeux error strings.
//!
//! The protocol logic lives beside this: [`client`] is a sans-IO client state machine (the
//! extension's background and the native test client both drive it), [`server`] is the
//! sans-IO server engine the reference server wraps in HTTP and WebSocket. Neither does IO.

pub mod channel;
pub mod client;
pub mod message;
pub mod server;

pub use channel::ChannelName;
pub use message::{
    decode_frame, encode_frame, Advice, BayeuxError, DecodeError, Message, Reconnect,
};

/// The Bayeux version we speak.
pub const VERSION: &str = "1.0";
pub const MINIMUM_VERSION: &str = "1.0";

/// Connection types (`connectionType`, `supportedConnectionTypes`).
pub const LONG_POLLING: &str = "long-polling";
pub const WEBSOCKET: &str = "websocket";

/// Meta channels.
pub mod meta {
    pub const HANDSHAKE: &str = "/meta/handshake";
    pub const CONNECT: &str = "/meta/connect";
    pub const SUBSCRIBE: &str = "/meta/subscribe";
    pub const UNSUBSCRIBE: &str = "/meta/unsubscribe";
    pub const DISCONNECT: &str = "/meta/disconnect";
}
