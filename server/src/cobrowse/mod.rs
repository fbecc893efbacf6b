//! Co-browse: the Genesys Co-browse live API (REST `/cobrowse/rest/live`, CometD
//! `/cobrowse/cometd`), sessions bound to the customer's chat, the agents' verification, and the
//! live view (the customer's recorded page relayed to the agent's view).
//!
//! A session is **idle** once created, **active** once an agent joined, **ended** when either
//! side exits, the controller stops it, its chat ends, the customer's page is gone longer than
//! a grace period, or no agent joined before the idle deadline. No re-join after the end; one
//! co-browse per agent at a time. The 9-digit token is a secret while the session lives: logs
//! name the history id instead.
//!
//! Documented additions to the Genesys shapes (README "Co-browse"): the customer creates a
//! session with its chat identity (`chatId`, `userId`, `secureKey`), which binds it to that chat;
//! creation answers a `customerToken` that the customer's page presents to stream into it;
//! agents ask `POST /api/v2/me/cobrowse/verifications` whether a token belongs to a chat of
//! theirs, and get a single-use join ticket that opens the agent view.
//!
//! Files: `api` (REST), `cometd` (the CometD endpoint and its service channels), `relay` (the
//! live streams between a customer's page and the agents' views), `verify` (the agents'
//! verification), `view` (the agent view page, the ticket exchange, the scripts it serves).
//! State is in SQLite (`store/cobrowse.rs`) first; the relay's streams and caches are
//! connections, rebuilt by the customer's page after a restart.

pub mod api;
pub mod cometd;
pub mod relay;
pub mod verify;
pub mod view;

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::auth::Sessions;
use crate::customer_api::RateLimits;
use crate::error::{ApiError, ApiResult};
use crate::hub::{ChatListener, Hub};
use crate::ids::{constant_time_eq, now_ms, random_hex};
use crate::model::ChatStatus;
use crate::store::{CobrowseRow, CobrowseState, CobrowseUser, StoreError};

/// Participant roles (Genesys' numbers).
pub const ROLE_CUSTOMER: i64 = 1;
pub const ROLE_AGENT: i64 = 2;
pub const ROLE_CONTROLLER: i64 = 3;

/// Live sessions at most: creating one more is refused until some end.
pub const MAX_LIVE_SESSIONS: usize = 10_000;
/// What the live API calls this node (`sessionServerName`).
pub const SERVER_NAME: &str = "cobrowse-server";

#[derive(Debug, Clone)]
pub struct CobrowseConfig {
    /// An idle session (no agent joined) ends this long after it was created.
    pub idle_ms: i64,
    /// A live session whose customer page is gone this long ends.
    pub customer_grace_ms: i64,
    /// A join ticket is good this long, once.
    pub ticket_ttl_ms: i64,
    /// Verifications one agent may ask per minute.
    pub verifications_per_minute: u32,
    /// Where `@rrweb/record` and `@rrweb/replay` are installed (`node_modules`).
    pub node_modules: std::path::PathBuf,
}

impl Default for CobrowseConfig {
    fn default() -> Self {
        CobrowseConfig {
            idle_ms: 5 * 60_000,
            customer_grace_ms: 30_000,
            ticket_ttl_ms: 60_000,
            verifications_per_minute: 30,
            node_modules: std::path::PathBuf::from("node_modules"),
        }
    }
}

/// Why a session ended (stored, and told to the views and the customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    CustomerExit,
    AgentExit,
    Stopped,
    ChatEnded,
    CustomerGone,
    IdleTimeout,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::CustomerExit => "customer-exit",
            EndReason::AgentExit => "agent-exit",
            EndReason::Stopped => "stopped",
            EndReason::ChatEnded => "chat-ended",
            EndReason::CustomerGone => "customer-gone",
            EndReason::IdleTimeout => "idle-timeout",
        }
    }
}

/// The chat a customer creates a session for (GMS names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatIdentity {
    pub chat_id: String,
    pub user_id: String,
    pub secure_key: String,
}

impl ChatIdentity {
    /// From request fields: all three, or none (an unbound session); some but not all is an
    /// error.
    pub fn from_fields(field: impl Fn(&str) -> Option<String>) -> ApiResult<Option<ChatIdentity>> {
        let (c, u, k) = (field("chatId"), field("userId"), field("secureKey"));
        match (c, u, k) {
            (None, None, None) => Ok(None),
            (Some(chat_id), Some(user_id), Some(secure_key))
                if !chat_id.is_empty() && !user_id.is_empty() && !secure_key.is_empty() =>
            {
                Ok(Some(ChatIdentity {
                    chat_id,
                    user_id,
                    secure_key,
                }))
            }
            _ => Err(ApiError::new(
                400,
                1,
                "binding to a chat needs chatId, userId and secureKey together",
            )),
        }
    }
}

/// Who is asking, as far as co-browse cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Visitor {
    /// A customer's page (or anyone): may create sessions and join one with its customer token.
    Anonymous,
    /// An authenticated agent.
    Agent(String),
}

/// What `/service/session/join` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub user: CobrowseUser,
    pub others: Vec<CobrowseUser>,
    pub session: CobrowseRow,
}

/// What a successful verification hands the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub session: CobrowseRow,
    pub ticket: String,
    pub ticket_expires_ms: i64,
}

pub struct Cobrowse {
    pub hub: Arc<Hub>,
    pub sessions: Arc<Sessions>,
    pub config: CobrowseConfig,
    pub bayeux: cometd::CobrowseBayeux,
    pub relay: relay::Relay,
    pub limits: RateLimits,
    pub assets: view::Assets,
}

impl std::fmt::Debug for Cobrowse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cobrowse")
            .field("config", &self.config)
            .finish()
    }
}

/// A 9-digit token from the OS CSPRNG (uniform: bytes beyond the largest multiple of 10^9
/// are drawn again).
pub fn new_token() -> String {
    const SPACE: u64 = 1_000_000_000;
    let limit = u64::MAX - u64::MAX % SPACE;
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the OS random source works");
        let n = u64::from_le_bytes(bytes);
        if n < limit {
            return format!("{:09}", n % SPACE);
        }
    }
}

/// A history id in UUID form (random, version 4).
pub fn new_history_id() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn not_found() -> ApiError {
    ApiError::new(404, 6, "no live co-browse session with this token")
}

impl Cobrowse {
    /// Builds the co-browse part and registers it for chat endings.
    pub fn new(hub: Arc<Hub>, sessions: Arc<Sessions>, config: CobrowseConfig) -> Arc<Cobrowse> {
        let assets = view::Assets::load(&config.node_modules);
        let cobrowse = Arc::new_cyclic(|me: &std::sync::Weak<Cobrowse>| Cobrowse {
            hub: hub.clone(),
            sessions,
            bayeux: cometd::endpoint(me.clone()),
            relay: relay::Relay::default(),
            limits: RateLimits::default(),
            assets,
            config,
        });
        hub.set_listener(cobrowse.clone());
        // Sessions that were live before a restart: their customer pages must come back.
        let live = hub.store().live_cobrowse();
        if let Ok(live) = live {
            for s in live {
                cobrowse.relay.expect_customer(&s.id, now_ms());
            }
        }
        cobrowse
    }

    /// Creates a session, bound to the chat when `binding` names one (checked: a wrong or
    /// foreign key binds nothing and is refused).
    pub fn create(&self, binding: Option<ChatIdentity>) -> ApiResult<CobrowseRow> {
        if let Some(b) = &binding {
            let chat = self
                .hub
                .customer_chat(&b.chat_id, &b.user_id, &b.secure_key)
                .map_err(|_| {
                    ApiError::new(403, 2, "the chat identity does not match a chat: not bound")
                })?;
            if Hub::chat_ended_for_customer(&chat) {
                return Err(ApiError::new(400, 2, "the chat has ended: not bound"));
            }
        }
        if self.relay.live_count() >= MAX_LIVE_SESSIONS {
            return Err(ApiError::new(503, 4, "too many live co-browse sessions"));
        }
        let now = now_ms();
        for _ in 0..10 {
            let row = CobrowseRow {
                id: new_history_id(),
                token: new_token(),
                state: CobrowseState::Idle,
                chat_id: binding.as_ref().map(|b| b.chat_id.clone()),
                customer_token: random_hex(16),
                agent_id: None,
                created_ms: now,
                idle_deadline_ms: now + self.config.idle_ms,
                activated_ms: None,
                deactivated_ms: None,
                end_reason: None,
            };
            if self.hub.store().insert_cobrowse(&row)? {
                self.relay.open(&row.id);
                tracing::info!(session = %row.id, bound = row.chat_id.is_some(), "co-browse created");
                return Ok(row);
            }
        }
        Err(ApiError::new(503, 4, "could not draw a free token"))
    }

    /// The live session with `token`.
    pub fn live(&self, token: &str) -> ApiResult<CobrowseRow> {
        self.hub
            .store()
            .live_cobrowse_by_token(token)?
            .ok_or_else(not_found)
    }

    fn customer_name(&self, s: &CobrowseRow) -> String {
        s.chat_id
            .as_deref()
            .and_then(|c| self.hub.store().chat(c).ok())
            .map(|c| c.nickname)
            .unwrap_or_else(|| "Customer".into())
    }

    fn agent_name(&self, agent_id: &str) -> String {
        self.hub
            .store()
            .agent(agent_id)
            .ok()
            .flatten()
            .map(|a| a.first_name)
            .unwrap_or_else(|| "Agent".into())
    }

    /// Whether `agent_id` may take part in `s` as agent or controller: its chat is theirs now
    /// (an unbound session: any signed-in agent, as Genesys has it for tokens read out).
    fn agent_may_join(&self, s: &CobrowseRow, agent_id: &str) -> ApiResult<bool> {
        let Some(chat_id) = &s.chat_id else {
            return Ok(true);
        };
        let chat = self.hub.store().chat(chat_id)?;
        Ok(chat.agent_id.as_deref() == Some(agent_id) && chat.status == ChatStatus::Active)
    }

    fn add_user(
        &self,
        s: &CobrowseRow,
        role: i64,
        name: String,
        agent_id: Option<String>,
        client_id: Option<String>,
    ) -> ApiResult<Joined> {
        let others = self.hub.store().cobrowse_users(&s.id)?;
        let user_id = others.iter().map(|u| u.user_id).max().unwrap_or(0) + 1;
        let user = CobrowseUser {
            user_token: random_hex(16),
            session_id: s.id.clone(),
            user_id,
            role,
            name,
            agent_id,
            client_id,
        };
        self.hub.store().insert_cobrowse_user(&user)?;
        self.notify_users(
            &others,
            "/service/session/joined",
            json!({ "userId": user.user_id.to_string(), "role": user.role, "name": user.name }),
        );
        Ok(Joined {
            user,
            others,
            session: s.clone(),
        })
    }

    /// Joins over CometD (`/service/session/join`): the customer with its customer token, an
    /// agent or a controller as themselves. An agent joining activates the session.
    pub fn join(
        &self,
        visitor: &Visitor,
        token: &str,
        role: i64,
        name: Option<String>,
        customer_token: Option<&str>,
        client_id: &str,
    ) -> ApiResult<Joined> {
        let s = self.live(token)?;
        match (role, visitor) {
            (ROLE_CUSTOMER, _) => {
                let ok = customer_token
                    .is_some_and(|t| constant_time_eq(t.as_bytes(), s.customer_token.as_bytes()));
                if !ok {
                    return Err(ApiError::new(403, 2, "the customer token does not match"));
                }
                let name = name.unwrap_or_else(|| self.customer_name(&s));
                self.add_user(&s, ROLE_CUSTOMER, name, None, Some(client_id.to_owned()))
            }
            (ROLE_AGENT | ROLE_CONTROLLER, Visitor::Agent(agent)) => {
                if !self.agent_may_join(&s, agent)? {
                    return Err(not_found());
                }
                let name = name.unwrap_or_else(|| self.agent_name(agent));
                if role == ROLE_AGENT {
                    let s = self.activate(&s, agent)?;
                    self.add_user(
                        &s,
                        ROLE_AGENT,
                        name,
                        Some(agent.clone()),
                        Some(client_id.into()),
                    )
                } else {
                    self.add_user(
                        &s,
                        ROLE_CONTROLLER,
                        name,
                        Some(agent.clone()),
                        Some(client_id.into()),
                    )
                }
            }
            (ROLE_AGENT | ROLE_CONTROLLER, Visitor::Anonymous) => Err(ApiError::new(
                401,
                20,
                "joining as agent or controller needs an authenticated agent",
            )),
            _ => Err(ApiError::new(400, 1, "role must be 1, 2 or 3")),
        }
    }

    /// An agent joins (over CometD or by exchanging a join ticket): one co-browse at a time,
    /// no re-join after the end. The first agent activates the session.
    pub fn activate(&self, s: &CobrowseRow, agent_id: &str) -> ApiResult<CobrowseRow> {
        // Bound first: the store's lock must not be held into the body, which takes it again.
        let active = self.hub.store().active_cobrowse_of_agent(agent_id)?;
        if let Some(other) = active {
            if other.id != s.id {
                let with = self.customer_name(&other);
                let chat = other.chat_id.as_deref().unwrap_or("no chat");
                return Err(ApiError::new(
                    409,
                    2,
                    format!(
                        "you are already co-browsing with {with} (chat {chat}): end that co-browse first"
                    ),
                ));
            }
            return Ok(other);
        }
        let mut s = self.hub.store().cobrowse(&s.id)?;
        match (s.state, s.agent_id.as_deref()) {
            (CobrowseState::Ended, _) => return Err(not_found()),
            (CobrowseState::Active, Some(a)) if a == agent_id => return Ok(s),
            (CobrowseState::Active, _) => {
                return Err(ApiError::new(409, 2, "another agent is in this co-browse"))
            }
            (CobrowseState::Idle, _) => {}
        }
        let now = now_ms();
        s.state = CobrowseState::Active;
        s.agent_id = Some(agent_id.to_owned());
        s.activated_ms = Some(now);
        self.hub.store().update_cobrowse(&s)?;
        tracing::info!(session = %s.id, agent = agent_id, "co-browse activated");
        let users = self.hub.store().cobrowse_users(&s.id)?;
        self.notify_users(
            &users,
            "/service/session/activated",
            json!({ "activationTime": now }),
        );
        self.relay.agent_joined(&s.id, 1);
        if let Some(chat_id) = &s.chat_id {
            self.report_joined(chat_id, &s, now);
        }
        self.tell_agents(&s);
        Ok(s)
    }

    /// Tells the agent holding the session's chat (and the agent in it, if another) its new
    /// state on `/v2/me/cobrowse` (our addition; never the token). Unbound sessions have no
    /// agent to tell until one joins.
    fn tell_agents(&self, s: &CobrowseRow) {
        use cobrowse_agent::gws::cobrowse::{
            SessionChanged, SessionChangedMessage, SessionState, COBROWSE_TOPIC, SESSION_CHANGED,
        };
        let Some(chat_id) = &s.chat_id else {
            return;
        };
        let holder = self.hub.store().chat(chat_id).ok().and_then(|c| c.agent_id);
        let mut agents: Vec<String> = holder.into_iter().chain(s.agent_id.clone()).collect();
        agents.dedup();
        let message = SessionChangedMessage {
            message_type: SESSION_CHANGED.into(),
            cobrowse: SessionChanged {
                chat_id: chat_id.clone(),
                session_history_id: s.id.clone(),
                state: match s.state {
                    CobrowseState::Idle => SessionState::Idle,
                    CobrowseState::Active => SessionState::Active,
                    CobrowseState::Ended => SessionState::Ended,
                },
                expires_at: (s.state == CobrowseState::Idle).then_some(s.idle_deadline_ms),
                end_reason: s.end_reason.clone(),
            },
        };
        let data = serde_json::to_value(message).expect("notifications serialize");
        for agent in agents {
            self.hub.notify_agent(&agent, COBROWSE_TOPIC, data.clone());
        }
    }

    /// The Genesys reporting keys when an agent joins a co-browse of this chat.
    fn report_joined(&self, chat_id: &str, s: &CobrowseRow, now: i64) {
        let result = (|| -> ApiResult<()> {
            let chat = self.hub.store().chat(chat_id)?;
            let quantity = self.hub.store().activated_cobrowse_count(chat_id)?;
            let mut data = Map::new();
            data.insert("CoBrowseAssociated".into(), json!("Yes"));
            data.insert("CoBrowseSessionId".into(), json!(s.id));
            data.insert("CoBrowseSessionsQuantity".into(), json!(quantity));
            if !chat.user_data.contains_key("CoBrowseStartTime") {
                data.insert("CoBrowseStartTime".into(), json!(now.to_string()));
            }
            if !chat.user_data.contains_key("CoBrowseDuration") {
                data.insert("CoBrowseDuration".into(), json!(0));
            }
            self.hub.update_user_data(chat_id, data)
        })();
        if let Err(e) = result {
            tracing::warn!(session = %s.id, error = ?e, "co-browse reporting keys not set");
        }
    }

    fn report_ended(&self, chat_id: &str, s: &CobrowseRow) {
        let result = (|| -> ApiResult<()> {
            let chat = self.hub.store().chat(chat_id)?;
            let so_far = chat
                .user_data
                .get("CoBrowseDuration")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let this = match (s.activated_ms, s.deactivated_ms) {
                (Some(a), Some(d)) => (d - a).max(0) / 1000,
                _ => 0,
            };
            let mut data = Map::new();
            data.insert("CoBrowseAssociated".into(), json!("No"));
            data.insert("CoBrowseDuration".into(), json!(so_far + this));
            self.hub.update_user_data(chat_id, data)
        })();
        if let Err(e) = result {
            tracing::warn!(session = %s.id, error = ?e, "co-browse reporting keys not set");
        }
    }

    /// Ends a live session for everyone: stored first, then told (CometD `deactivated`, the
    /// relay's `end`), then the chat's reporting keys.
    pub fn end(&self, session_id: &str, reason: EndReason) -> ApiResult<Option<CobrowseRow>> {
        let mut s = match self.hub.store().cobrowse(session_id) {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !s.state.is_live() {
            return Ok(None);
        }
        let was_active = s.state == CobrowseState::Active;
        let now = now_ms();
        s.state = CobrowseState::Ended;
        s.deactivated_ms = Some(now);
        s.end_reason = Some(reason.as_str().into());
        self.hub.store().update_cobrowse(&s)?;
        tracing::info!(session = %s.id, reason = reason.as_str(), "co-browse ended");
        let users = self.hub.store().cobrowse_users(&s.id)?;
        self.notify_users(
            &users,
            "/service/session/deactivated",
            json!({ "activationTime": s.activated_ms, "deactivationTime": now }),
        );
        self.relay.end(&s.id, reason);
        if let (true, Some(chat_id)) = (was_active, &s.chat_id) {
            self.report_ended(chat_id, &s);
        }
        self.tell_agents(&s);
        Ok(Some(s))
    }

    /// `/service/session/exit`: the customer or the agent leaving ends the session; a
    /// controller leaving does not.
    pub fn exit(&self, user_token: &str) -> ApiResult<()> {
        let user = self
            .hub
            .store()
            .cobrowse_user(user_token)?
            .ok_or_else(|| ApiError::new(404, 6, "no such user token"))?;
        let reason = match user.role {
            ROLE_CUSTOMER => EndReason::CustomerExit,
            ROLE_AGENT => EndReason::AgentExit,
            _ => return Ok(()),
        };
        self.end(&user.session_id, reason)?;
        Ok(())
    }

    /// `/service/session/stop`, or `GET …/users/{userToken}/session/stop`: a controller ends
    /// the session for everyone.
    pub fn stop(&self, user_token: &str) -> ApiResult<CobrowseRow> {
        let user = self
            .hub
            .store()
            .cobrowse_user(user_token)?
            .filter(|u| u.role == ROLE_CONTROLLER)
            .ok_or_else(|| ApiError::new(404, 6, "no such controller"))?;
        match self.end(&user.session_id, EndReason::Stopped)? {
            Some(s) => Ok(s),
            None => Err(not_found()),
        }
    }

    fn notify_users(&self, users: &[CobrowseUser], channel: &str, data: Value) {
        for u in users {
            if let Some(client) = &u.client_id {
                self.bayeux.deliver_to(client, channel, data.clone());
            }
        }
    }

    /// Ends what is due at `now`: idle sessions past their deadline, live sessions whose
    /// customer page has been gone longer than the grace period.
    pub fn sweep(&self, now: i64) {
        let idle = self.hub.store().idle_cobrowse_due(now);
        match idle {
            Ok(due) => {
                for s in due {
                    let _ = self.end(&s.id, EndReason::IdleTimeout);
                }
            }
            Err(e) => tracing::error!(error = %e, "co-browse sweep failed"),
        }
        for id in self
            .relay
            .customers_gone(now - self.config.customer_grace_ms)
        {
            let _ = self.end(&id, EndReason::CustomerGone);
        }
    }

    /// A verification: is `token` a live session bound to `chat_id`, which `agent_id` holds?
    /// Only a full match answers (with a fresh single-use join ticket); every other case is
    /// the same `None`.
    pub fn verify(
        &self,
        agent_id: &str,
        chat_id: &str,
        token: &str,
    ) -> ApiResult<Option<Verified>> {
        let live = self.hub.store().live_cobrowse_by_token(token)?;
        let Some(s) = live else {
            return Ok(None);
        };
        let bound_here = s
            .chat_id
            .as_deref()
            .is_some_and(|c| constant_time_eq(c.as_bytes(), chat_id.as_bytes()));
        if !bound_here || !self.agent_may_join(&s, agent_id)? {
            return Ok(None);
        }
        let ticket = random_hex(24);
        let expires = now_ms() + self.config.ticket_ttl_ms;
        self.hub
            .store()
            .insert_cobrowse_ticket(&ticket, &s.id, agent_id, expires)?;
        Ok(Some(Verified {
            session: s,
            ticket,
            ticket_expires_ms: expires,
        }))
    }

    /// Exchanges a join ticket (once): the agent joins; returns the view id for the cookie.
    pub fn redeem(&self, ticket: &str) -> ApiResult<(String, CobrowseRow)> {
        let now = now_ms();
        let (session_id, agent_id) = self
            .hub
            .store()
            .take_cobrowse_ticket(ticket, now)?
            .ok_or_else(|| {
                ApiError::new(403, 2, "this co-browse link was used or has expired: open it again from the agent desk")
            })?;
        let s = self.hub.store().cobrowse(&session_id)?;
        if !s.state.is_live() || !self.agent_may_join(&s, &agent_id)? {
            return Err(ApiError::new(410, 2, "this co-browse has ended"));
        }
        let s = self.activate(&s, &agent_id)?;
        // The agent in the view is a participant: the others hear that they joined.
        let users = self.hub.store().cobrowse_users(&s.id)?;
        let present = users
            .iter()
            .any(|u| u.role == ROLE_AGENT && u.agent_id.as_deref() == Some(agent_id.as_str()));
        if !present {
            let name = self.agent_name(&agent_id);
            self.add_user(&s, ROLE_AGENT, name, Some(agent_id.clone()), None)?;
        }
        let view = random_hex(24);
        self.hub
            .store()
            .insert_cobrowse_view(&view, &s.id, &agent_id, now)?;
        Ok((view, s))
    }

    /// The live session a view cookie names, for its agent.
    pub fn view_session(&self, view: &str) -> ApiResult<CobrowseRow> {
        let (session_id, agent_id) = self
            .hub
            .store()
            .cobrowse_view(view)?
            .ok_or_else(|| ApiError::new(401, 20, "open this co-browse from the agent desk"))?;
        let s = self.hub.store().cobrowse(&session_id)?;
        if !s.state.is_live() || s.agent_id.as_deref() != Some(agent_id.as_str()) {
            return Err(ApiError::new(410, 2, "this co-browse has ended"));
        }
        Ok(s)
    }

    /// The customer's page entered `url` (a new page's first event).
    pub fn page_entered(&self, session_id: &str, url: &str) {
        if let Err(e) = self
            .hub
            .store()
            .add_cobrowse_page(session_id, now_ms(), url)
        {
            tracing::warn!(session = session_id, error = %e, "co-browse page not recorded");
        }
    }
}

impl ChatListener for Cobrowse {
    fn chat_ended(&self, chat_id: &str) {
        let live = self.hub.store().live_cobrowse_of_chat(chat_id);
        match live {
            Ok(sessions) => {
                for s in sessions {
                    let _ = self.end(&s.id, EndReason::ChatEnded);
                }
            }
            Err(e) => tracing::error!(error = %e, chat = chat_id, "co-browse of an ended chat"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_nine_digits_and_vary() {
        let tokens: std::collections::BTreeSet<String> = (0..200).map(|_| new_token()).collect();
        assert!(tokens.len() > 190, "tokens repeat: {}", tokens.len());
        assert!(tokens
            .iter()
            .all(|t| t.len() == 9 && t.bytes().all(|b| b.is_ascii_digit())));
    }

    #[test]
    fn history_ids_look_like_uuids() {
        let id = new_history_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4') && parts[3].starts_with('a'));
    }

    #[test]
    fn a_binding_needs_all_three_fields() {
        let none = ChatIdentity::from_fields(|_| None).unwrap();
        assert_eq!(none, None);
        let some = ChatIdentity::from_fields(|k| Some(format!("v-{k}"))).unwrap();
        assert_eq!(some.unwrap().chat_id, "v-chatId");
        let partial = ChatIdentity::from_fields(|k| (k == "chatId").then(|| "x".to_owned()));
        assert!(partial.is_err());
    }
}
