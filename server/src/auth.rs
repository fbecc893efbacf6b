//! Agent authentication as Genesys Web Services does it: no sign-in endpoint; HTTP Basic on
//! any request, and the first authenticated request opens a session (cookie `JSESSIONID`) that
//! later requests may use instead; a CSRF token per session when enabled.
//!
//! Addition for browsers (documented in README "Reference server"): a WebSocket cannot carry
//! an `Authorization` header, so the CometD handshake also accepts a short-lived, single-use
//! token in `ext.cobrowse.token`, handed out in the `X-Cobrowse-Notifications-Token` header of
//! every authenticated `GET /api/v2/me`. (The session cookie works for WebSocket too.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::http::HeaderMap;
use base64::Engine as _;
use bayeux_net::server::Authenticator;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::hub::Hub;
use crate::ids::{now_ms, random_hex};

pub const SESSION_COOKIE: &str = "JSESSIONID";
const TOKEN_TTL_MS: i64 = 60_000;

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Agent {
    pub agent_id: String,
    pub csrf_token: String,
    /// A `Set-Cookie` value when this request opened the session.
    pub set_cookie: Option<String>,
}

#[derive(Debug, Clone)]
struct HttpSession {
    agent_id: String,
    csrf_token: String,
    last_used_ms: i64,
}

/// Sessions unused this long are forgotten (the client re-authenticates with Basic).
const SESSION_IDLE_MS: i64 = 8 * 3600 * 1000;
/// A bound on sessions kept, against clients that never send the cookie back.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Default)]
pub struct Sessions {
    by_cookie: Mutex<HashMap<String, HttpSession>>,
    /// `user:password` already checked against its argon2 hash (argon2 is slow on purpose; Basic
    /// comes with every request).
    verified: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

/// Hashes a password for storage (argon2id, random salt).
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .expect("argon2 hashes with its default parameters")
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Sessions {
    /// The agent behind `Authorization: Basic`, if the credentials are right.
    fn basic(&self, hub: &Hub, headers: &HeaderMap) -> Option<String> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let encoded = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        if let Some(id) = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pair)
        {
            return Some(id.clone());
        }
        let (user, password) = pair.split_once(':')?;
        let agent = hub.store().agent_by_user(user).ok()??;
        let hash = PasswordHash::new(&agent.password_hash).ok()?;
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .ok()?;
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pair, agent.id.clone());
        Some(agent.id)
    }

    fn session(&self, headers: &HeaderMap) -> Option<HttpSession> {
        let id = cookie(headers, SESSION_COOKIE)?;
        self.by_cookie
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Authenticates a REST request: the session cookie, else Basic (which opens a session).
    pub fn authenticate(&self, hub: &Hub, headers: &HeaderMap) -> Result<Agent, ApiError> {
        if let Some(s) = self.session(headers) {
            return Ok(Agent {
                agent_id: s.agent_id,
                csrf_token: s.csrf_token,
                set_cookie: None,
            });
        }
        let agent_id = self
            .basic(hub, headers)
            .ok_or_else(|| ApiError::new(401, 20, "Access denied: authentication required"))?;
        let cookie_value = random_hex(16);
        let now = now_ms();
        let session = HttpSession {
            agent_id: agent_id.clone(),
            csrf_token: random_hex(16),
            last_used_ms: now,
        };
        {
            let mut sessions = self.by_cookie.lock().unwrap_or_else(|e| e.into_inner());
            sessions.retain(|_, s| now - s.last_used_ms <= SESSION_IDLE_MS);
            if sessions.len() >= MAX_SESSIONS {
                let oldest = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_used_ms)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    sessions.remove(&oldest);
                }
            }
            sessions.insert(cookie_value.clone(), session.clone());
        }
        Ok(Agent {
            agent_id,
            csrf_token: session.csrf_token,
            set_cookie: Some(format!(
                "{SESSION_COOKIE}={cookie_value}; Path=/; HttpOnly; SameSite=Lax"
            )),
        })
    }

    /// Ends the session of this request (EndContactCenterSession / sign-out).
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.by_cookie
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
    }

    /// A new single-use token for the CometD handshake `ext`.
    pub fn issue_token(&self, agent_id: &str) -> String {
        let token = random_hex(16);
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms();
        tokens.retain(|_, (_, exp)| *exp > now);
        tokens.insert(token.clone(), (agent_id.to_owned(), now + TOKEN_TTL_MS));
        token
    }

    /// The agent an HTTP request is from (session cookie, else Basic); `None` if neither.
    pub fn agent_from_headers(&self, hub: &Hub, headers: &HeaderMap) -> Option<String> {
        if let Some(s) = self.session(headers) {
            return Some(s.agent_id);
        }
        self.basic(hub, headers)
    }

    pub(crate) fn redeem_token(&self, token: &str) -> Option<String> {
        let (agent, expires) = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token)?;
        (expires > now_ms()).then_some(agent)
    }
}

/// Authenticates CometD requests for the agent notifications endpoint.
pub struct AgentAuthenticator {
    pub hub: Arc<Hub>,
    pub sessions: Arc<Sessions>,
}

impl Authenticator for AgentAuthenticator {
    type Principal = String;

    async fn principal_from_headers(&self, headers: &HeaderMap) -> Option<String> {
        self.sessions.agent_from_headers(&self.hub, headers)
    }

    async fn principal_from_handshake_ext(&self, ext: &Map<String, Value>) -> Option<String> {
        let token = cobrowse_agent::gws::notifications_token_in(ext)?;
        self.sessions.redeem_token(token)
    }
}
