//! What the reference server adds to the Genesys shapes, defined once for both sides (the
//! extension and `cobrowse-server` use these names and limits; README "Reference server"
//! documents them). A real GWS has none of them, and the extension works without them.

use serde_json::{Map, Value};

/// The longest chat text either side accepts (UTF-8 bytes): agent messages, customer messages,
/// notices.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// For browsers (a WebSocket cannot send `Authorization`): every authenticated
/// `GET /api/v2/me` carries a short-lived, single-use token in this header, which the CometD
/// handshake presents in its `ext` ([`notifications_token_ext`]). A server without it (a real
/// GWS) is reached over long-polling with Basic.
pub const NOTIFICATIONS_TOKEN_HEADER: &str = "X-Cobrowse-Notifications-Token";

/// The key of our additions in a CometD handshake's `ext`.
pub const HANDSHAKE_EXT_KEY: &str = "cobrowse";

/// The handshake `ext` that presents a notifications token: `{"cobrowse": {"token": "…"}}`.
pub fn notifications_token_ext(token: &str) -> Map<String, Value> {
    let mut ext = Map::new();
    ext.insert(
        HANDSHAKE_EXT_KEY.into(),
        serde_json::json!({ "token": token }),
    );
    ext
}

/// The notifications token a handshake `ext` presents, if any (the server's side of
/// [`notifications_token_ext`]).
pub fn notifications_token_in(ext: &Map<String, Value>) -> Option<&str> {
    ext.get(HANDSHAKE_EXT_KEY)?.get("token")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_ext_reads_back() {
        let ext = notifications_token_ext("t0k");
        assert_eq!(
            serde_json::to_string(&ext).unwrap(),
            r#"{"cobrowse":{"token":"t0k"}}"#
        );
        assert_eq!(notifications_token_in(&ext), Some("t0k"));
        assert_eq!(notifications_token_in(&Map::new()), None);
    }
}
