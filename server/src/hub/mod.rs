//! The server's behaviour: chats, routing and notifications, on top of the store. Every
//! operation commits to SQLite first and tells anyone (the agent over CometD, the customer on
//! their next refresh) only afterwards.
//!
//! One file per behaviour: `customer` (the customer's side of a chat), `agent_ops` (what an
//! agent does with a chat), `presence` (sessions, Ready, agents gone), `routing` (offering
//! queued chats, invitations that time out); `fanout` is how notifications reach agents.
//!
//! Lock discipline: [`Hub::store`] returns a guard on a non-reentrant mutex. Bind query results
//! to a variable before looping over them (`for x in self.store().q()?` holds the guard for the
//! whole loop and deadlocks as soon as the body touches the store again).

mod agent_ops;
mod customer;
mod fanout;
mod presence;
mod routing;

use std::sync::{Arc, Mutex, MutexGuard};

use bayeux_net::server::Bayeux;
use cobrowse_agent::bayeux::channel::ChannelName;
use cobrowse_agent::bayeux::server::Authorizer;
use cobrowse_agent::gws::{paths, OperationName};
use serde_json::{Map, Value};

pub use crate::error::{ApiError, ApiResult};
pub use crate::ids::{constant_time_eq, now_ms, random_hex};
use crate::model::{
    chat_state_change, message_log_updated, AgentChatState, Author, ChatRow, ChatStatus,
    MessageKind, NewMessage, Role, StoredMessage, Visibility,
};
use crate::store::Store;
pub use fanout::Fanout;

/// The CometD topic of agent chat notifications.
pub const CHATS_CHANNEL: &str = paths::CHATS_TOPIC;
/// The CometD topic of agent channel-state notifications.
pub const CHANNELS_CHANNEL: &str = paths::CHANNELS_TOPIC;

/// Agents subscribe to their own `/v2/me/**` topics (delivery is per agent); nobody publishes:
/// agents act through REST, as with Genesys Web Services.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentTopics;

impl Authorizer<String> for AgentTopics {
    fn may_subscribe(&self, _: &String, channel: &ChannelName) -> bool {
        channel.as_str().starts_with("/v2/me/") || channel.as_str() == "/v2/me/**"
    }
    fn may_publish(&self, _: &String, _: &ChannelName) -> bool {
        false
    }
}

pub type AgentBayeux = Bayeux<String, AgentTopics>;

#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How the server is reached, for `uri` fields (`http://127.0.0.1:8700`).
    pub base_url: String,
    /// How long an offered chat waits for Accept before it goes to the next agent.
    pub invite_timeout_ms: i64,
    /// Forward the customer's typing preview text to the agent.
    pub typing_preview: bool,
    /// Require the CSRF token on POST/PUT/DELETE (Genesys `enableCsrfProtection`).
    pub csrf: bool,
    /// Hand out single-use CometD WebSocket tokens (`X-Cobrowse-Notifications-Token`).
    pub notifications_tokens: bool,
    /// Chat services (queues) customers may request, e.g. `customer-support`.
    pub services: Vec<String>,
    /// An agent whose CometD connection is gone this long loses their chats to the queue.
    pub requeue_grace_ms: i64,
    /// A chat no agent took within this long of its request ends (`--queue-timeout-ms`).
    pub queue_timeout_ms: i64,
    /// Chats one client address may request a minute (co-browse sessions too; lookups 3×).
    pub per_address_per_minute: u32,
    /// Writes one customer chat may make per 10 s, in fixed windows.
    pub chat_writes_per_10_s: u32,
}

/// What an agent asks of a chat (`POST /api/v2/me/chats/{id}`).
#[derive(Debug, Clone, PartialEq)]
pub enum AgentOp {
    Accept {
        nickname: Option<String>,
    },
    Reject,
    SendMessage {
        text: String,
    },
    StartTyping,
    StopTyping,
    SendCustomNotice {
        text: String,
    },
    SendUrl {
        url: String,
    },
    Leave,
    Complete,
    UpdateUserData {
        user_data: Map<String, Value>,
    },
    RequestChatHistory,
    /// Single-step transfer to another agent (`targetUri`) or to a queue (`queueName`).
    Transfer {
        target_agent: Option<String>,
        queue: Option<String>,
    },
}

/// What a customer sends into a chat.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerInput {
    Text(String),
    TypingStarted(Option<String>),
    TypingStopped,
    CustomNotice(String),
    PushUrl(String),
}

/// Told when a chat ends for good (the customer left, or the agent completed or left it): what
/// rides on a chat (its co-browse) ends with it.
pub trait ChatListener: Send + Sync {
    fn chat_ended(&self, chat_id: &str);
}

pub struct Hub {
    store: Store,
    fanout: Arc<dyn Fanout>,
    listener: std::sync::OnceLock<Arc<dyn ChatListener>>,
    pub config: HubConfig,
    /// Agents holding chats whose CometD connection is gone, and since when.
    absent_since: Mutex<std::collections::HashMap<String, i64>>,
    /// A chat's check-and-change (read its row, decide, write it) runs under its lock, so two
    /// operations on one chat never both act on the same state. Striped: bounded, and chats
    /// rarely share one. Order: `routing`, then a chat's lock, then the store.
    chat_locks: Vec<Mutex<()>>,
    /// One routing pass at a time (each is a decision over the queue and the agents).
    routing: Mutex<()>,
}

const CHAT_LOCK_STRIPES: usize = 64;

/// What an operation leaves to do once its chat's lock is released (these lock other chats,
/// or call out to listeners that lock this one).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) struct Afterwards {
    pub route: bool,
    pub ended: bool,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("config", &self.config).finish()
    }
}

fn system() -> Author {
    Author {
        role: Role::System,
        nickname: "system".into(),
        participant: "0000000000000000".into(),
        number: 0,
    }
}

fn customer_from(chat: &ChatRow) -> Author {
    Author {
        role: Role::Customer,
        nickname: chat.nickname.clone(),
        participant: chat.customer_participant.clone(),
        number: 1,
    }
}

fn agent_from(chat: &ChatRow) -> Author {
    Author {
        role: Role::Agent,
        nickname: chat.agent_nickname.clone().unwrap_or_default(),
        participant: chat.agent_participant.clone().unwrap_or_default(),
        number: 2,
    }
}

fn entry(kind: MessageKind, from: Author, text: Option<String>) -> NewMessage {
    NewMessage {
        kind,
        from,
        text,
        visibility: Visibility::All,
        ts_ms: now_ms(),
    }
}

/// Accepts `http(s)://…` URLs only (a pushed URL becomes a link on the other side).
pub fn checked_url(url: &str) -> ApiResult<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(char::is_whitespace)
    {
        Ok(url.to_owned())
    } else {
        Err(ApiError::new(
            400,
            10,
            "the URL must be http:// or https://",
        ))
    }
}

impl AgentOp {
    /// The operation's Genesys name (what `capabilities` must list for it to be allowed).
    pub fn name(&self) -> OperationName {
        match self {
            AgentOp::Accept { .. } => OperationName::Accept,
            AgentOp::Reject => OperationName::Reject,
            AgentOp::SendMessage { .. } => OperationName::SendMessage,
            AgentOp::StartTyping => OperationName::SendStartTypingNotification,
            AgentOp::StopTyping => OperationName::SendStopTypingNotification,
            AgentOp::SendCustomNotice { .. } => OperationName::SendCustomNotice,
            AgentOp::SendUrl { .. } => OperationName::SendUrl,
            AgentOp::Leave => OperationName::Leave,
            AgentOp::Complete => OperationName::Complete,
            AgentOp::UpdateUserData { .. } => OperationName::UpdateUserData,
            AgentOp::RequestChatHistory => OperationName::RequestChatHistory,
            AgentOp::Transfer { .. } => OperationName::Transfer,
        }
    }
}

impl Hub {
    pub fn new(store: Store, fanout: Arc<dyn Fanout>, config: HubConfig) -> Hub {
        Hub {
            store,
            fanout,
            listener: std::sync::OnceLock::new(),
            config,
            absent_since: Mutex::default(),
            chat_locks: (0..CHAT_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            routing: Mutex::new(()),
        }
    }

    /// The lock of `chat_id`'s check-and-change (its stripe of `chat_locks`).
    fn chat_lock(&self, chat_id: &str) -> MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        chat_id.hash(&mut h);
        let stripe = (h.finish() as usize) % CHAT_LOCK_STRIPES;
        self.chat_locks[stripe]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Does what an operation left for after its chat's lock.
    fn afterwards(&self, chat_id: &str, after: Afterwards) {
        if after.ended {
            self.chat_ended(chat_id);
        }
        if after.route {
            self.route();
        }
    }

    /// Who hears of chats ending (set once, at start-up).
    pub fn set_listener(&self, listener: Arc<dyn ChatListener>) {
        let _ = self.listener.set(listener);
    }

    fn chat_ended(&self, chat_id: &str) {
        if let Some(l) = self.listener.get() {
            l.chat_ended(chat_id);
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn notify(&self, agent_id: &str, channel: &str, data: Value) {
        self.fanout.deliver(agent_id, channel, data);
    }

    /// Ends the agent's CometD sessions (sign-out revokes them).
    pub fn disconnect_agent(&self, agent_id: &str) {
        self.fanout.disconnect(agent_id);
    }

    /// Delivers `data` on `channel` to one agent (co-browse tells agents through this).
    pub fn notify_agent(&self, agent_id: &str, channel: &str, data: Value) {
        self.notify(agent_id, channel, data);
    }

    fn notify_state(
        &self,
        agent_id: &str,
        notification: &str,
        chat: &ChatRow,
        state: AgentChatState,
    ) {
        self.notify(
            agent_id,
            CHATS_CHANNEL,
            chat_state_change(notification, chat, state, &self.config.base_url),
        );
    }

    fn notify_messages(&self, chat: &ChatRow, messages: &[StoredMessage]) {
        if let (ChatStatus::Active, Some(agent)) = (chat.status, &chat.agent_id) {
            self.notify(
                agent,
                CHATS_CHANNEL,
                message_log_updated(chat, messages, &self.config.base_url),
            );
        }
    }
}
