//! How Genesys Web Services authenticates an agent: HTTP Basic on every request (the first one
//! opens an HTTP session, cookie `JSESSIONID`), and, with `enableCsrfProtection`, the CSRF token
//! of that session on every write.

use serde::{Deserialize, Serialize};

use super::Status;

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
        http_status == 403 && crate::json::from_str::<Status>(body).is_err()
    }
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
}
