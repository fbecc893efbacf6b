//! The customer's side of a chat (GMS Chat API v2): requesting a chat, writing into it,
//! changing its data or nickname, leaving.

use serde_json::{Map, Value};

use super::{checked_url, customer_from, entry, system, CustomerInput, Hub};
use crate::error::{ApiError, ApiResult};
use crate::ids::{constant_time_eq, now_ms, random_hex};
use crate::model::{AgentChatState, ChatRow, ChatStatus, MessageKind, StoredMessage};

impl Hub {
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
        let _chat = self.chat_lock(&chat.id);
        let chat = &self.store().chat(&chat.id)?;
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
        let _chat = self.chat_lock(&chat.id);
        let mut chat = self.store().chat(&chat.id)?;
        if chat.status == ChatStatus::Ended || chat.customer_left {
            return Err(ApiError::new(400, 2, "the chat has ended"));
        }
        merge_user_data(&mut chat.user_data, data)?;
        self.store_user_data(chat)
    }

    /// Adds `data` to a chat's user data and tells its agent (`PropertiesUpdated`). Callers
    /// bound what comes from outside ([`merge_user_data`]); the server's own keys (co-browse
    /// reporting) are a fixed few.
    pub fn update_user_data(&self, chat_id: &str, data: Map<String, Value>) -> ApiResult<()> {
        let _chat = self.chat_lock(chat_id);
        let mut chat = self.store().chat(chat_id)?;
        chat.user_data.extend(data);
        self.store_user_data(chat)
    }

    /// Writes a chat's (already merged) user data and tells its agent; under the chat's lock.
    fn store_user_data(&self, chat: ChatRow) -> ApiResult<()> {
        self.store().update_chat(&chat)?;
        if let (ChatStatus::Active | ChatStatus::Offered, Some(agent)) =
            (chat.status, &chat.agent_id)
        {
            self.notify_state(agent, "PropertiesUpdated", &chat, AgentChatState::of(&chat));
        }
        Ok(())
    }

    pub fn customer_update_nickname(&self, chat: &ChatRow, nickname: &str) -> ApiResult<()> {
        let _chat = self.chat_lock(&chat.id);
        let mut chat = self.store().chat(&chat.id)?;
        if chat.status == ChatStatus::Ended || chat.customer_left {
            return Err(ApiError::new(400, 2, "the chat has ended"));
        }
        if chat.nickname == nickname {
            return Ok(());
        }
        let old = std::mem::replace(&mut chat.nickname, nickname.to_owned());
        self.store().update_chat(&chat)?;
        // Everyone reads who is now who: a rename ("Supervisor") is never silent.
        let renamed = self.store().append(
            &chat.id,
            &[entry(
                MessageKind::NicknameUpdated,
                customer_from(&chat),
                Some(old),
            )],
        )?;
        self.notify_messages(&chat, &renamed);
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
        let ended = {
            let _chat = self.chat_lock(&chat.id);
            self.customer_disconnect_locked(&chat.id)?
        };
        if ended {
            self.chat_ended(&chat.id);
        }
        Ok(())
    }

    /// Returns whether the customer's leaving changed anything.
    fn customer_disconnect_locked(&self, chat_id: &str) -> ApiResult<bool> {
        let mut chat = self.store().chat(chat_id)?;
        if chat.customer_left || chat.status == ChatStatus::Ended {
            return Ok(false);
        }
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
        Ok(true)
    }

    /// Whether the customer's side has ended.
    pub fn chat_ended_for_customer(chat: &ChatRow) -> bool {
        chat.status == ChatStatus::Ended || chat.customer_left
    }
}

/// Keys a chat's user data may hold, and its size as JSON: what customers and agents write is
/// refused beyond these (the server's own reporting keys always fit in the margin).
pub const MAX_USER_DATA_KEYS: usize = 64;
pub const MAX_USER_DATA_BYTES: usize = 16 * 1024;

/// Merges `data` into `user_data` if the result stays within the bounds; unchanged otherwise.
pub fn merge_user_data(
    user_data: &mut Map<String, Value>,
    data: Map<String, Value>,
) -> ApiResult<()> {
    let mut merged = user_data.clone();
    merged.extend(data);
    let bytes = serde_json::to_string(&merged)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if merged.len() > MAX_USER_DATA_KEYS || bytes > MAX_USER_DATA_BYTES {
        return Err(ApiError::new(
            413,
            10,
            format!(
                "user data would exceed {MAX_USER_DATA_KEYS} keys or {MAX_USER_DATA_BYTES} bytes"
            ),
        ));
    }
    *user_data = merged;
    Ok(())
}
