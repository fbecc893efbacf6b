//! The server's behaviour: chats, routing and notifications, on top of the store. Every
//! operation commits to SQLite first and tells anyone (the agent over CometD, the customer on
//! their next refresh) only afterwards.
//!
//! Lock discipline: [`Hub::store`] returns a guard on a non-reentrant mutex. Bind query results
//! to a variable before looping over them (`for x in self.store().q()?` holds the guard for the
//! whole loop and deadlocks as soon as the body touches the store again).

use std::sync::{Mutex, MutexGuard};

use bayeux_net::server::Bayeux;
use cobrowse_agent::bayeux::channel::ChannelName;
use cobrowse_agent::bayeux::server::Authorizer;
use serde_json::{json, Map, Value};

use crate::model::{
    chat_state_change, message_log_updated, AgentChatState, Author, ChatRow, ChatStatus,
    MessageKind, NewMessage, Role, StoredMessage, Visibility,
};
use crate::store::{Store, StoreError};

/// The CometD topic of agent chat notifications.
pub const CHATS_CHANNEL: &str = "/v2/me/chats";
/// The CometD topic of agent channel-state notifications.
pub const CHANNELS_CHANNEL: &str = "/v2/me/channels";

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
}

/// A failed API call: HTTP status, Genesys `statusCode` and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub http: u16,
    pub status_code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(http: u16, status_code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            http,
            status_code,
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(404, 6, format!("{what} not found"))
    }
    pub fn invalid_state(message: &str) -> ApiError {
        ApiError::new(400, 2, message)
    }
    pub fn missing(param: &str) -> ApiError {
        ApiError::new(400, 1, format!("required parameter {param} is missing"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("chat"),
            StoreError::Sql(e) => {
                tracing::error!(error = %e, "database error");
                ApiError::new(500, 4, "internal error")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `n` random bytes as lower-case hex (ids, keys: from the OS CSPRNG).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

pub struct Hub {
    store: Mutex<Store>,
    pub bayeux: AgentBayeux,
    pub config: HubConfig,
    /// Agents holding chats whose CometD connection is gone, and since when.
    absent_since: Mutex<std::collections::HashMap<String, i64>>,
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

impl Hub {
    pub fn new(store: Store, bayeux: AgentBayeux, config: HubConfig) -> Hub {
        Hub {
            store: Mutex::new(store),
            bayeux,
            config,
            absent_since: Mutex::default(),
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self, agent_id: &str, channel: &str, data: Value) {
        self.bayeux
            .deliver_to_principal(&agent_id.to_owned(), channel, data);
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

    // ---- customer side ----

    pub fn request_chat(
        &self,
        service: &str,
        nickname: &str,
        subject: &str,
        email: &str,
        user_data: Map<String, Value>,
    ) -> ApiResult<(ChatRow, Vec<StoredMessage>)> {
        let chat = ChatRow {
            id: random_hex(8).to_uppercase(),
            service: service.to_owned(),
            status: ChatStatus::Queued,
            agent_id: None,
            agent_participant: None,
            agent_nickname: None,
            invite_deadline_ms: None,
            customer_user_id: random_hex(8).to_uppercase(),
            secure_key: random_hex(16),
            alias: "117".into(),
            customer_participant: random_hex(8).to_uppercase(),
            nickname: nickname.to_owned(),
            subject: subject.to_owned(),
            email: email.to_owned(),
            user_data,
            customer_left: false,
            created_ms: now_ms(),
            ended_ms: None,
        };
        let joined = entry(MessageKind::ParticipantJoined, customer_from(&chat), None);
        let first = self.store().insert_chat(&chat, &joined)?;
        tracing::info!(chat = %chat.id, service, "chat requested");
        self.route();
        let chat = self.store().chat(&chat.id)?;
        let mut messages = vec![first];
        if chat.status == ChatStatus::Queued {
            let notice = entry(
                MessageKind::Notice,
                system(),
                Some("All agents are busy. Please wait, an agent will be with you shortly.".into()),
            );
            messages.extend(self.store().append(&chat.id, &[notice])?);
        }
        Ok((chat, messages))
    }

    /// The chat if `user_id`, `secure_key` and `alias` match it (constant-time on the key).
    pub fn customer_chat(
        &self,
        chat_id: &str,
        user_id: &str,
        secure_key: &str,
    ) -> ApiResult<ChatRow> {
        let chat = self
            .store()
            .chat(chat_id)
            .map_err(|_| ApiError::new(404, 2, "unknown chat"))?;
        let key_ok = constant_time_eq(chat.secure_key.as_bytes(), secure_key.as_bytes());
        if !key_ok || chat.customer_user_id != user_id {
            return Err(ApiError::new(
                403,
                2,
                "userId or secureKey does not match this chat",
            ));
        }
        Ok(chat)
    }

    pub fn customer_input(&self, chat: &ChatRow, input: CustomerInput) -> ApiResult<()> {
        if chat.status == ChatStatus::Ended || chat.customer_left {
            return Err(ApiError::new(200, 2, "the chat has ended"));
        }
        let me = customer_from(chat);
        let new = match input {
            CustomerInput::Text(t) => entry(MessageKind::Text, me, Some(t)),
            CustomerInput::TypingStarted(preview) => {
                let text = if self.config.typing_preview {
                    preview
                } else {
                    None
                };
                entry(MessageKind::TypingStarted, me, text)
            }
            CustomerInput::TypingStopped => entry(MessageKind::TypingStopped, me, None),
            CustomerInput::CustomNotice(t) => entry(MessageKind::CustomNotice, me, Some(t)),
            CustomerInput::PushUrl(u) => entry(MessageKind::PushUrl, me, Some(checked_url(&u)?)),
        };
        let stored = self.store().append(&chat.id, &[new])?;
        self.notify_messages(chat, &stored);
        Ok(())
    }

    pub fn customer_update_data(&self, chat: &ChatRow, data: Map<String, Value>) -> ApiResult<()> {
        let mut chat = chat.clone();
        chat.user_data.extend(data);
        self.store().update_chat(&chat)?;
        if let (ChatStatus::Active | ChatStatus::Offered, Some(agent)) =
            (chat.status, &chat.agent_id)
        {
            self.notify_state(agent, "PropertiesUpdated", &chat, AgentChatState::of(&chat));
        }
        Ok(())
    }

    pub fn customer_update_nickname(&self, chat: &ChatRow, nickname: &str) -> ApiResult<()> {
        let mut chat = chat.clone();
        chat.nickname = nickname.to_owned();
        self.store().update_chat(&chat)?;
        if let (ChatStatus::Active, Some(agent)) = (chat.status, &chat.agent_id) {
            self.notify_state(
                agent,
                "ParticipantsUpdated",
                &chat,
                AgentChatState::Chatting,
            );
        }
        Ok(())
    }

    pub fn customer_disconnect(&self, chat: &ChatRow) -> ApiResult<()> {
        if chat.customer_left || chat.status == ChatStatus::Ended {
            return Ok(());
        }
        let mut chat = chat.clone();
        let left = self.store().append(
            &chat.id,
            &[entry(
                MessageKind::ParticipantLeft,
                customer_from(&chat),
                None,
            )],
        )?;
        chat.customer_left = true;
        match chat.status {
            ChatStatus::Active => {
                // The agent still completes it.
                self.store().update_chat(&chat)?;
                self.notify_messages(&chat, &left);
                if let Some(agent) = &chat.agent_id {
                    self.notify_state(
                        agent,
                        "ParticipantsUpdated",
                        &chat,
                        AgentChatState::Chatting,
                    );
                }
            }
            ChatStatus::Offered => {
                let agent = chat.agent_id.clone();
                chat.status = ChatStatus::Ended;
                chat.ended_ms = Some(now_ms());
                self.store().update_chat(&chat)?;
                if let Some(agent) = agent {
                    self.notify_state(&agent, "StatusChange", &chat, AgentChatState::Revoked);
                }
            }
            ChatStatus::Queued | ChatStatus::Ended => {
                chat.status = ChatStatus::Ended;
                chat.ended_ms = Some(now_ms());
                self.store().update_chat(&chat)?;
            }
        }
        tracing::info!(chat = %chat.id, "customer left");
        Ok(())
    }

    /// Whether the customer's side has ended.
    pub fn chat_ended_for_customer(chat: &ChatRow) -> bool {
        chat.status == ChatStatus::Ended || chat.customer_left
    }

    // ---- agent side ----

    /// The chat if `agent_id` holds it; another agent's chat is "not found" (no oracle).
    fn agent_chat(&self, agent_id: &str, chat_id: &str) -> ApiResult<ChatRow> {
        let chat = self
            .store()
            .chat(chat_id)
            .map_err(|_| ApiError::not_found("chat"))?;
        if chat.agent_id.as_deref() != Some(agent_id)
            || !matches!(chat.status, ChatStatus::Offered | ChatStatus::Active)
        {
            return Err(ApiError::not_found("chat"));
        }
        Ok(chat)
    }

    /// The chats an agent holds, with their transcripts readable through [`Hub::agent_messages`].
    pub fn agent_chats(&self, agent_id: &str) -> ApiResult<Vec<ChatRow>> {
        Ok(self.store().agent_chats(agent_id)?)
    }

    pub fn agent_messages(
        &self,
        agent_id: &str,
        chat_id: &str,
        start: i64,
        count: i64,
    ) -> ApiResult<Vec<StoredMessage>> {
        let chat = self.agent_chat(agent_id, chat_id)?;
        if chat.status != ChatStatus::Active {
            return Err(ApiError::invalid_state("accept the chat first"));
        }
        Ok(self.store().messages(chat_id, start, count)?)
    }

    pub fn agent_op(&self, agent_id: &str, chat_id: &str, op: AgentOp) -> ApiResult<()> {
        let mut chat = self.agent_chat(agent_id, chat_id)?;
        let state = AgentChatState::of(&chat);
        let allowed = match &op {
            AgentOp::Accept { .. } => "Accept",
            AgentOp::Reject => "Reject",
            AgentOp::SendMessage { .. } => "SendMessage",
            AgentOp::StartTyping => "SendStartTypingNotification",
            AgentOp::StopTyping => "SendStopTypingNotification",
            AgentOp::SendCustomNotice { .. } => "SendCustomNotice",
            AgentOp::SendUrl { .. } => "SendUrl",
            AgentOp::Leave => "Leave",
            AgentOp::Complete => "Complete",
            AgentOp::UpdateUserData { .. } => "UpdateUserData",
            AgentOp::RequestChatHistory => "RequestChatHistory",
            AgentOp::Transfer { .. } => "Transfer",
        };
        if !state.capabilities().contains(&allowed) {
            return Err(ApiError::invalid_state(&format!(
                "{allowed} is not possible while the chat is {}",
                state.as_str()
            )));
        }
        match op {
            AgentOp::Accept { nickname } => {
                let agent = self
                    .store()
                    .agent(agent_id)?
                    .ok_or_else(|| ApiError::not_found("agent"))?;
                chat.status = ChatStatus::Active;
                chat.invite_deadline_ms = None;
                chat.agent_participant = Some(random_hex(8).to_uppercase());
                chat.agent_nickname = Some(
                    nickname
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or(agent.first_name),
                );
                self.store().update_chat(&chat)?;
                self.store().append(
                    &chat.id,
                    &[entry(
                        MessageKind::ParticipantJoined,
                        agent_from(&chat),
                        None,
                    )],
                )?;
                self.notify_state(agent_id, "StatusChange", &chat, AgentChatState::Chatting);
                self.notify_state(
                    agent_id,
                    "ParticipantsUpdated",
                    &chat,
                    AgentChatState::Chatting,
                );
                let history = self.store().messages(&chat.id, 0, i64::MAX)?;
                self.notify_messages(&chat, &history);
                tracing::info!(chat = %chat.id, agent = agent_id, "accepted");
            }
            AgentOp::Reject => {
                self.store().add_refusal(&chat.id, agent_id)?;
                chat.status = ChatStatus::Queued;
                chat.agent_id = None;
                chat.invite_deadline_ms = None;
                self.store().update_chat(&chat)?;
                self.notify_state(agent_id, "StatusChange", &chat, AgentChatState::Completed);
                tracing::info!(chat = %chat.id, agent = agent_id, "rejected");
                self.route();
            }
            AgentOp::SendMessage { text } => {
                self.agent_says(&chat, MessageKind::Text, Some(text))?
            }
            AgentOp::StartTyping => self.agent_says(&chat, MessageKind::TypingStarted, None)?,
            AgentOp::StopTyping => self.agent_says(&chat, MessageKind::TypingStopped, None)?,
            AgentOp::SendCustomNotice { text } => {
                self.agent_says(&chat, MessageKind::CustomNotice, Some(text))?
            }
            AgentOp::SendUrl { url } => {
                self.agent_says(&chat, MessageKind::PushUrl, Some(checked_url(&url)?))?
            }
            AgentOp::Leave | AgentOp::Complete => {
                let leave = matches!(op, AgentOp::Leave);
                let left = self.store().append(
                    &chat.id,
                    &[entry(MessageKind::ParticipantLeft, agent_from(&chat), None)],
                )?;
                self.notify_messages(&chat, &left);
                chat.status = ChatStatus::Ended;
                chat.ended_ms = Some(now_ms());
                self.store().update_chat(&chat)?;
                if leave {
                    self.notify_state(agent_id, "StatusChange", &chat, AgentChatState::LeftChat);
                }
                self.notify_state(agent_id, "StatusChange", &chat, AgentChatState::Completed);
                self.agent_freed(agent_id)?;
                tracing::info!(chat = %chat.id, agent = agent_id, "completed");
                self.route();
            }
            AgentOp::UpdateUserData { user_data } => {
                chat.user_data.extend(user_data);
                self.store().update_chat(&chat)?;
                self.notify_state(agent_id, "PropertiesUpdated", &chat, state);
            }
            AgentOp::RequestChatHistory => {
                let history = self.store().messages(&chat.id, 0, i64::MAX)?;
                self.notify_messages(&chat, &history);
            }
            AgentOp::Transfer {
                target_agent,
                queue,
            } => self.transfer(agent_id, chat, target_agent, queue)?,
        }
        Ok(())
    }

    /// Moves an active chat, transcript and all, to another agent (offered to them) or back to
    /// a queue; this agent is done with it.
    fn transfer(
        &self,
        agent_id: &str,
        mut chat: ChatRow,
        target_agent: Option<String>,
        queue: Option<String>,
    ) -> ApiResult<()> {
        let target = match (&target_agent, &queue) {
            (Some(t), _) => {
                let agent = self
                    .store()
                    .agent(t)?
                    .ok_or_else(|| ApiError::new(400, 10, "no such target agent"))?;
                if agent.id == agent_id {
                    return Err(ApiError::new(400, 10, "cannot transfer a chat to yourself"));
                }
                Some(agent.id)
            }
            (None, Some(q)) if self.config.services.contains(q) => None,
            (None, Some(_)) => return Err(ApiError::new(400, 10, "no such queue")),
            (None, None) => return Err(ApiError::missing("targetUri or queueName")),
        };
        let left = self.store().append(
            &chat.id,
            &[entry(MessageKind::ParticipantLeft, agent_from(&chat), None)],
        )?;
        self.notify_messages(&chat, &left);
        chat.agent_participant = None;
        chat.agent_nickname = None;
        match &target {
            Some(t) => {
                chat.status = ChatStatus::Offered;
                chat.agent_id = Some(t.clone());
                chat.invite_deadline_ms = Some(now_ms() + self.config.invite_timeout_ms);
            }
            None => {
                chat.status = ChatStatus::Queued;
                chat.agent_id = None;
                chat.service = queue.unwrap_or(chat.service);
                self.store().add_refusal(&chat.id, agent_id)?;
            }
        }
        self.store().update_chat(&chat)?;
        self.notify_state(agent_id, "StatusChange", &chat, AgentChatState::Completed);
        self.agent_freed(agent_id)?;
        tracing::info!(chat = %chat.id, from = agent_id, to = ?target, "transferred");
        match target {
            Some(t) => self.notify_state(&t, "StatusChange", &chat, AgentChatState::Invited),
            None => self.route(),
        }
        Ok(())
    }

    fn agent_says(&self, chat: &ChatRow, kind: MessageKind, text: Option<String>) -> ApiResult<()> {
        if chat.customer_left && kind != MessageKind::TypingStopped {
            return Err(ApiError::invalid_state("the customer has left the chat"));
        }
        let stored = self
            .store()
            .append(&chat.id, &[entry(kind, agent_from(chat), text)])?;
        self.notify_messages(chat, &stored);
        Ok(())
    }

    /// After a chat ends for an agent: if they hold no other chat, they become idle now.
    fn agent_freed(&self, agent_id: &str) -> ApiResult<()> {
        let store = self.store();
        if store.agent_chats(agent_id)?.is_empty() {
            let mut s = store.agent_state(agent_id)?;
            s.idle_since_ms = now_ms();
            store.set_agent_state(agent_id, s)?;
        }
        Ok(())
    }

    pub fn set_session(&self, agent_id: &str, in_session: bool) -> ApiResult<()> {
        {
            let store = self.store();
            let mut s = store.agent_state(agent_id)?;
            s.in_session = in_session;
            if !in_session {
                s.ready = false;
            }
            store.set_agent_state(agent_id, s)?;
        }
        self.notify_channels(agent_id)?;
        self.route();
        Ok(())
    }

    pub fn set_ready(&self, agent_id: &str, ready: bool) -> ApiResult<()> {
        {
            let store = self.store();
            let mut s = store.agent_state(agent_id)?;
            if !s.in_session {
                return Err(ApiError::invalid_state(
                    "start a contact-center session with the chat channel first",
                ));
            }
            if ready && !s.ready {
                s.idle_since_ms = now_ms();
            }
            s.ready = ready;
            store.set_agent_state(agent_id, s)?;
        }
        self.notify_channels(agent_id)?;
        if ready {
            self.route();
        }
        Ok(())
    }

    /// The agent's chat channel state as `GET /api/v2/me?subresources=*` and
    /// `ChannelStateChangeMessageV2` show it.
    pub fn channel_states(&self, agent_id: &str) -> ApiResult<Value> {
        let s = self.store().agent_state(agent_id)?;
        let (state, display) = match (s.in_session, s.ready) {
            (false, _) => ("LoggedOut", "Logged Out"),
            (true, true) => ("Ready", "Ready"),
            (true, false) => ("NotReady", "Not Ready"),
        };
        Ok(
            json!([{ "channel": "chat", "dndState": "Off", "userState": { "displayName": display, "id": state, "state": state } }]),
        )
    }

    fn notify_channels(&self, agent_id: &str) -> ApiResult<()> {
        let channels = self.channel_states(agent_id)?;
        self.notify(
            agent_id,
            CHANNELS_CHANNEL,
            json!({ "messageType": "ChannelStateChangeMessageV2", "channels": channels }),
        );
        Ok(())
    }

    // ---- routing ----

    /// Offers every waiting chat to the longest-idle ready agent with capacity.
    pub fn route(&self) {
        let result = (|| -> ApiResult<()> {
            let queued = self.store().queued_chats()?;
            for mut chat in queued {
                let mut agents = self.store().routable_agents(&chat.id)?;
                if agents.is_empty() {
                    // Everyone refused it or let it time out: go round again.
                    let refused = self.store().clear_refusals(&chat.id)?;
                    if refused > 0 {
                        agents = self.store().routable_agents(&chat.id)?;
                    }
                }
                let Some(agent) = agents.into_iter().next() else {
                    continue;
                };
                chat.status = ChatStatus::Offered;
                chat.agent_id = Some(agent.clone());
                chat.invite_deadline_ms = Some(now_ms() + self.config.invite_timeout_ms);
                self.store().update_chat(&chat)?;
                tracing::info!(chat = %chat.id, agent = %agent, "offered");
                self.notify_state(&agent, "StatusChange", &chat, AgentChatState::Invited);
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = ?e, "routing failed");
        }
    }

    /// Agents whose CometD connection has been gone for the grace period lose their chats to
    /// the queue (and become Not Ready): a closed laptop must not strand customers.
    pub fn requeue_absent_agents(&self) {
        let now = now_ms();
        let holders = self.store().agents_with_chats();
        let holders = match holders {
            Ok(h) => h,
            Err(e) => return tracing::error!(error = %e, "absent-agent sweep failed"),
        };
        let mut gone = Vec::new();
        {
            let mut absent = self.absent_since.lock().unwrap_or_else(|e| e.into_inner());
            absent.retain(|a, _| holders.contains(a));
            for agent in holders {
                if self.bayeux.has_session(&agent) {
                    absent.remove(&agent);
                    continue;
                }
                let since = *absent.entry(agent.clone()).or_insert(now);
                if now - since >= self.config.requeue_grace_ms {
                    absent.remove(&agent);
                    gone.push(agent);
                }
            }
        }
        for agent in gone {
            if let Err(e) = self.requeue_agent(&agent) {
                tracing::error!(error = ?e, agent = %agent, "re-queueing failed");
            }
        }
    }

    fn requeue_agent(&self, agent_id: &str) -> ApiResult<()> {
        // Bound first: the store lock must not be held across the loop, which locks it again.
        let chats = self.store().agent_chats(agent_id)?;
        for mut chat in chats {
            if chat.status == ChatStatus::Active {
                self.store().append(
                    &chat.id,
                    &[entry(MessageKind::ParticipantLeft, agent_from(&chat), None)],
                )?;
            }
            self.store().add_refusal(&chat.id, agent_id)?;
            chat.status = ChatStatus::Queued;
            chat.agent_id = None;
            chat.agent_participant = None;
            chat.agent_nickname = None;
            chat.invite_deadline_ms = None;
            self.store().update_chat(&chat)?;
            self.notify_state(agent_id, "StatusChange", &chat, AgentChatState::Revoked);
            tracing::warn!(chat = %chat.id, agent = agent_id, "agent gone: chat re-queued");
        }
        {
            let store = self.store();
            let mut s = store.agent_state(agent_id)?;
            s.ready = false;
            store.set_agent_state(agent_id, s)?;
        }
        self.route();
        Ok(())
    }

    /// Offers that were not answered in time go to the next agent.
    pub fn expire_invitations(&self) {
        let now = now_ms();
        let result = (|| -> ApiResult<()> {
            let offered = self.store().offered_chats()?;
            let mut expired = false;
            for mut chat in offered {
                if chat.invite_deadline_ms.is_some_and(|d| d <= now) {
                    let Some(agent) = chat.agent_id.take() else {
                        continue;
                    };
                    self.store().add_refusal(&chat.id, &agent)?;
                    chat.status = ChatStatus::Queued;
                    chat.invite_deadline_ms = None;
                    self.store().update_chat(&chat)?;
                    tracing::info!(chat = %chat.id, agent = %agent, "invitation timed out");
                    self.notify_state(&agent, "StatusChange", &chat, AgentChatState::Revoked);
                    expired = true;
                }
            }
            if expired {
                self.route();
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = ?e, "invitation sweep failed");
        }
    }
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
