//! What a reply from Genesys Web Services means, as a typed [`Outcome`]: decisions (retry, ask
//! for a new sign-in, fetch a new CSRF token) are made on these, never on message text.

use super::auth::CsrfToken;
use super::Status;

/// A reply as the driver received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpReply {
    pub status: u16,
    /// Reply headers (names in any case).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    /// A reply header by name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The CSRF token a GET reply hands out, if the server uses CSRF protection.
    pub fn csrf_token(&self) -> Option<CsrfToken> {
        CsrfToken::from_reply(|name| self.header(name).map(str::to_owned))
    }
}

/// A request's result, as the agent's session acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 2xx with `statusCode` 0; the body.
    Ok(String),
    /// HTTP 401, or `statusCode` 20: the user name or password is wrong.
    BadCredentials,
    /// HTTP 403 `Missing or invalid Csrf token`: the write went without the session's current
    /// token (it expired, or the server restarted).
    CsrfRefused,
    /// HTTP 429: too many requests; try again later.
    Throttled(String),
    /// The server answered no: its `statusMessage`, or the HTTP status.
    Refused(String),
    /// No answer (network down, timeout, the server is gone, or a gateway's 502/503/504).
    Unreachable(String),
}

impl Outcome {
    /// Classifies a reply, or the driver's reason that there was none.
    pub fn of(reply: &Result<HttpReply, String>) -> Outcome {
        let r = match reply {
            Ok(r) => r,
            Err(reason) => return Outcome::Unreachable(reason.clone()),
        };
        if CsrfToken::refused(r.status, &r.body) {
            return Outcome::CsrfRefused;
        }
        let status: Option<Status> = crate::json::from_str(&r.body).ok();
        match (r.status, status) {
            (200..=299, Some(s)) if s.status_code == 0 => Outcome::Ok(r.body.clone()),
            (401, _)
            | (
                _,
                Some(Status {
                    status_code: 20, ..
                }),
            ) => Outcome::BadCredentials,
            (code, s) => {
                let message = s
                    .and_then(|s| s.status_message)
                    .unwrap_or_else(|| format!("HTTP {code}"));
                match code {
                    429 => Outcome::Throttled(message),
                    // A gateway in front of the server: it is not there now.
                    502..=504 => Outcome::Unreachable(message),
                    _ => Outcome::Refused(message),
                }
            }
        }
    }

    /// A short text for logs and failed-message reasons (never shown as HTML).
    pub fn detail(&self) -> String {
        match self {
            Outcome::Ok(_) => "ok".into(),
            Outcome::BadCredentials => "the user name or password was refused".into(),
            Outcome::CsrfRefused => "missing or invalid CSRF token".into(),
            Outcome::Refused(m) | Outcome::Throttled(m) => m.clone(),
            Outcome::Unreachable(m) => format!("no answer: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Result<HttpReply, String> {
        Ok(HttpReply {
            status,
            headers: Vec::new(),
            body: body.into(),
        })
    }

    #[test]
    fn replies_are_classified_by_status_not_by_text() {
        assert_eq!(
            Outcome::of(&reply(200, r#"{"statusCode":0}"#)),
            Outcome::Ok(r#"{"statusCode":0}"#.into())
        );
        assert_eq!(
            Outcome::of(&reply(401, "anything")),
            Outcome::BadCredentials
        );
        assert_eq!(
            Outcome::of(&reply(200, r#"{"statusCode":20}"#)),
            Outcome::BadCredentials
        );
        assert_eq!(
            Outcome::of(&reply(403, "Missing or invalid Csrf token")),
            Outcome::CsrfRefused
        );
        assert_eq!(
            Outcome::of(&reply(
                400,
                r#"{"statusCode":2,"statusMessage":"accept the chat first"}"#
            )),
            Outcome::Refused("accept the chat first".into())
        );
        assert_eq!(
            Outcome::of(&reply(502, "<html>")),
            Outcome::Unreachable("HTTP 502".into())
        );
        assert_eq!(
            Outcome::of(&reply(500, "<html>")),
            Outcome::Refused("HTTP 500".into())
        );
        // A 2xx that is not a Genesys reply is no success.
        assert_eq!(
            Outcome::of(&reply(200, "<html>")),
            Outcome::Refused("HTTP 200".into())
        );
        let down = Outcome::of(&Err("connection refused".into()));
        assert_eq!(down, Outcome::Unreachable("connection refused".into()));
    }

    #[test]
    fn the_csrf_token_comes_from_the_reply_headers() {
        let r = HttpReply {
            status: 200,
            headers: vec![
                ("x-csrf-header".into(), "X-CSRF-TOKEN".into()),
                ("x-csrf-token".into(), "abc".into()),
            ],
            body: String::new(),
        };
        assert_eq!(r.csrf_token().map(|t| t.token), Some("abc".into()));
        assert_eq!(r.header("X-Csrf-Token"), Some("abc"));
    }
}
