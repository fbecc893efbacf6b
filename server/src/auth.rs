//! Agent authentication as Genesys Web Services does it: no sign-in endpoint; HTTP Basic on
//! any request, and the first authenticated request opens a session (cookie `JSESSIONID`) that
//! later requests may use instead; a CSRF token per session when enabled.
//!
//! Addition for browsers (documented in README "Reference server"): a WebSocket cannot carry
//! an `Authorization` header, so the CometD handshake also accepts a short-lived, single-use
//! token in `ext.cobrowse.token`, handed out in the `X-Cobrowse-Notifications-Token` header of
//! every authenticated `GET /api/v2/me`. (The session cookie works for WebSocket too.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
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
/// Sessions one agent may hold; a further Basic sign-in replaces their least recently used
/// one, so a client that never sends the cookie back only ever displaces its own agent's.
pub const MAX_SESSIONS_PER_AGENT: usize = 16;

/// Failed sign-ins are counted in windows of this length …
pub const SIGN_IN_WINDOW_MS: i64 = 5 * 60_000;
/// … and refused (429) once a user name has this many in a window …
pub const MAX_FAILED_SIGN_INS_PER_USER: u32 = 10;
/// … or a client address this many (guessing across user names).
pub const MAX_FAILED_SIGN_INS_PER_ADDRESS: u32 = 30;
/// Bound on the user names and addresses tracked.
const MAX_TRACKED: usize = 10_000;

/// The peer's address, when the server was started with connection info (it always is).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Peer, Self::Rejection> {
        Ok(Peer(peer_of(parts)))
    }
}

pub fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Who asks, as far as authentication cares: the request's headers and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub headers: &'a HeaderMap,
    pub peer: Option<IpAddr>,
}

/// Failed sign-ins per key (`user:…`, `addr:…`) in fixed windows.
#[derive(Debug, Default)]
struct Failures {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl Failures {
    /// How long `key` must wait (ms) if it reached `max` failures in its window.
    fn blocked(&self, key: &str, max: u32, now: i64) -> Option<i64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = *windows.get(key)?;
        let left = start + SIGN_IN_WINDOW_MS - now;
        (left > 0 && count >= max).then_some(left)
    }

    fn record(&self, key: String, now: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&key) {
            windows.retain(|_, (start, _)| now - *start < SIGN_IN_WINDOW_MS);
            if windows.len() >= MAX_TRACKED {
                let oldest = windows
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    windows.remove(&oldest);
                }
            }
        }
        let w = windows.entry(key).or_insert((now, 0));
        if now - w.0 >= SIGN_IN_WINDOW_MS {
            *w = (now, 0);
        }
        w.1 += 1;
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No credentials, or wrong ones.
    Denied,
    /// Too many failed sign-ins for this user name or address: retry after this many ms.
    Throttled { retry_after_ms: i64 },
    /// Credentials sent by a page of another origin (cross-site requests carry the cookie).
    ForeignOrigin,
}

impl Refusal {
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Refusal::Denied => ApiError::new(401, 20, "Access denied: authentication required"),
            Refusal::Throttled { retry_after_ms } => ApiError::new(
                429,
                4,
                format!(
                    "too many failed sign-ins, try again in {} s",
                    (retry_after_ms + 999) / 1000
                ),
            ),
            Refusal::ForeignOrigin => ApiError::new(
                403,
                20,
                "requests from this origin are not allowed (see --allow-origin)",
            ),
        }
    }
}

#[derive(Debug)]
pub struct Sessions {
    by_cookie: Mutex<HashMap<String, HttpSession>>,
    /// `user:password` already checked against its argon2 hash (argon2 is slow on purpose; Basic
    /// comes with every request).
    verified: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashMap<String, (String, i64)>>,
    failures: Failures,
    /// Origins (besides the server's own and browser extensions) whose requests may carry
    /// credentials.
    allowed_origins: Vec<String>,
    /// Where argon2 checks run.
    hashing: PasswordChecks,
}

/// argon2 checks on a few threads of their own: each check takes ~19 MiB and a core for tens
/// of milliseconds, so a burst of sign-ins (every agent after a restart) queues here instead
/// of spreading over the blocking pool — where every thread's allocator arena would keep its
/// 19 MiB, growing the process by hundreds of megabytes — and starving everything else.
#[derive(Debug)]
struct PasswordChecks {
    jobs: std::sync::mpsc::Sender<PasswordCheck>,
}

type PasswordCheck = (String, String, tokio::sync::oneshot::Sender<bool>);

impl PasswordChecks {
    /// One thread per core, at most four.
    fn start() -> PasswordChecks {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let (tx, rx) = std::sync::mpsc::channel::<PasswordCheck>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for n in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{n}"))
                .spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((password, hash, answer)) = job else {
                        return;
                    };
                    let _ = answer.send(password_matches(&password, &hash));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-check thread");
            }
        }
        PasswordChecks { jobs: tx }
    }

    /// Whether `password` matches `hash`; `false` if no check thread answers.
    async fn matches(&self, password: String, hash: String) -> bool {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let sent = self.jobs.send((password, hash, answer));
        sent.is_ok() && answered.await.unwrap_or(false)
    }
}

/// Hashes a password for storage (argon2id, random salt).
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .expect("argon2 hashes with its default parameters")
}

/// What an unknown user's password is checked against, so that a wrong user name costs what a
/// wrong password costs (the time of a refusal tells nothing about which user names exist).
static UNKNOWN_USER_HASH: LazyLock<String> = LazyLock::new(|| hash_password(&random_hex(16)));

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
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

/// A user name as it may appear in a log line: bounded, control characters escaped by `{:?}`.
fn loggable(user: &str) -> String {
    user.chars().take(64).collect()
}

impl Sessions {
    pub fn new(allowed_origins: Vec<String>) -> Sessions {
        Sessions {
            by_cookie: Mutex::default(),
            verified: Mutex::default(),
            tokens: Mutex::default(),
            failures: Failures::default(),
            hashing: PasswordChecks::start(),
            allowed_origins: allowed_origins
                .into_iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether a request's `Origin` may carry credentials: none (not a browser, or a same-origin
    /// GET), the server's own (the `Host` it was sent to), a browser extension, or one allowed
    /// with `--allow-origin`.
    pub fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if origin.starts_with("chrome-extension://") || origin.starts_with("moz-extension://") {
            return true;
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let (Some(host), Some(rest)) = (
            host,
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://")),
        ) {
            if rest == host {
                return true;
            }
        }
        self.allowed_origins.contains(&origin)
    }

    /// The agent behind `Authorization: Basic`: `Ok(None)` without Basic credentials.
    async fn basic(&self, hub: &Hub, caller: Caller<'_>) -> Result<Option<String>, Refusal> {
        let Some(value) = caller
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let Some(encoded) = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
        else {
            return Ok(None);
        };
        let pair = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or(Refusal::Denied)?;
        if let Some(id) = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pair)
        {
            return Ok(Some(id.clone()));
        }
        let (user, password) = pair.split_once(':').ok_or(Refusal::Denied)?;
        let now = now_ms();
        let user_key = format!("user:{user}");
        let address_key = caller.peer.map(|ip| format!("addr:{ip}"));
        let blocked = self
            .failures
            .blocked(&user_key, MAX_FAILED_SIGN_INS_PER_USER, now)
            .or_else(|| {
                address_key.as_deref().and_then(|k| {
                    self.failures
                        .blocked(k, MAX_FAILED_SIGN_INS_PER_ADDRESS, now)
                })
            });
        if let Some(retry_after_ms) = blocked {
            tracing::warn!(user = ?loggable(user), peer = ?caller.peer, "sign-in refused: too many failures");
            return Err(Refusal::Throttled { retry_after_ms });
        }
        let agent = hub.store().agent_by_user(user).ok().flatten();
        let hash = agent
            .as_ref()
            .map_or_else(|| UNKNOWN_USER_HASH.clone(), |a| a.password_hash.clone());
        let password = password.to_owned();
        // argon2 takes tens of milliseconds on purpose: never on the async worker threads, and
        // only a few at once.
        let matches = self.hashing.matches(password, hash).await;
        match agent {
            Some(agent) if matches => {
                self.verified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(pair, agent.id.clone());
                Ok(Some(agent.id))
            }
            _ => {
                tracing::warn!(user = ?loggable(user), peer = ?caller.peer, "sign-in failed");
                self.failures.record(user_key, now);
                if let Some(k) = address_key {
                    self.failures.record(k, now);
                }
                Err(Refusal::Denied)
            }
        }
    }

    /// The session of the request's cookie, marked used now; `None` if absent or idle too long.
    fn session(&self, headers: &HeaderMap) -> Option<HttpSession> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let now = now_ms();
        let mut sessions = self.by_cookie.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.get_mut(id)?;
        if now - session.last_used_ms > SESSION_IDLE_MS {
            sessions.remove(id);
            return None;
        }
        session.last_used_ms = now;
        Some(session.clone())
    }

    /// Authenticates a REST request: the session cookie, else Basic (which opens a session).
    pub async fn authenticate(&self, hub: &Hub, caller: Caller<'_>) -> Result<Agent, ApiError> {
        if !self.origin_allowed(caller.headers) {
            return Err(Refusal::ForeignOrigin.to_api_error());
        }
        if let Some(s) = self.session(caller.headers) {
            return Ok(Agent {
                agent_id: s.agent_id,
                csrf_token: s.csrf_token,
                set_cookie: None,
            });
        }
        let agent_id = self
            .basic(hub, caller)
            .await
            .map_err(|r| r.to_api_error())?
            .ok_or_else(|| Refusal::Denied.to_api_error())?;
        let cookie_value = random_hex(16);
        let now = now_ms();
        let session = HttpSession {
            agent_id: agent_id.clone(),
            csrf_token: random_hex(16),
            last_used_ms: now,
        };
        {
            let mut sessions = self.by_cookie.lock().unwrap_or_else(|e| e.into_inner());
            let mut own: Vec<(i64, String)> = sessions
                .iter()
                .filter(|(_, s)| s.agent_id == agent_id)
                .map(|(k, s)| (s.last_used_ms, k.clone()))
                .collect();
            if own.len() >= MAX_SESSIONS_PER_AGENT {
                own.sort();
                for (_, k) in own.iter().take(own.len() + 1 - MAX_SESSIONS_PER_AGENT) {
                    sessions.remove(k);
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

    /// Sign-out (EndContactCenterSession): ends this request's session, and revokes the agent's
    /// unredeemed notifications tokens. (The caller ends their CometD sessions.)
    pub fn sign_out(&self, headers: &HeaderMap, agent_id: &str) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.by_cookie
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (agent, _)| agent != agent_id);
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

    /// The agent an HTTP request is from (session cookie, else Basic); `None` if neither, or
    /// if the request comes from a page of another origin.
    pub async fn agent_from(&self, hub: &Hub, caller: Caller<'_>) -> Option<String> {
        if !self.origin_allowed(caller.headers) {
            return None;
        }
        if let Some(s) = self.session(caller.headers) {
            return Some(s.agent_id);
        }
        self.basic(hub, caller).await.ok().flatten()
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

    async fn principal_from_headers(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Option<String> {
        self.sessions
            .agent_from(&self.hub, Caller { headers, peer })
            .await
    }

    async fn principal_from_handshake_ext(&self, ext: &Map<String, Value>) -> Option<String> {
        let token = cobrowse_agent::gws::notifications_token_in(ext)?;
        self.sessions.redeem_token(token)
    }
}
