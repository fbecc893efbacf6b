//! What an agent does with a chat (`POST /api/v2/me/chats/{id}`): accept, reject, write,
//! leave, complete, transfer; and reading their chats. Agents see and act on their own chats
//! only: another agent's chat is "not found".

use super::{agent_from, checked_url, entry, Afterwards, AgentOp, Hub};
use crate::error::{ApiError, ApiResult};
use crate::ids::{now_ms, random_hex};
use crate::model::{AgentChatState, ChatRow, ChatStatus, MessageKind, StoredMessage};

impl Hub {
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

    /// One agent operation on a chat: its check and its change under the chat's lock (Accept
    /// and Reject sent together: exactly one happens; so with two Completes).
    pub fn agent_op(&self, agent_id: &str, chat_id: &str, op: AgentOp) -> ApiResult<()> {
        let after = {
            let _chat = self.chat_lock(chat_id);
            self.agent_op_locked(agent_id, chat_id, op)?
        };
        self.afterwards(chat_id, after);
        Ok(())
    }

    fn agent_op_locked(&self, agent_id: &str, chat_id: &str, op: AgentOp) -> ApiResult<Afterwards> {
        let mut after = Afterwards::default();
        let mut chat = self.agent_chat(agent_id, chat_id)?;
        let state = AgentChatState::of(&chat);
        let allowed = op.name();
        if !state.capabilities().contains(&allowed) {
            return Err(ApiError::invalid_state(&format!(
                "{} is not possible while the chat is {}",
                allowed.as_str(),
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
                after.route = true;
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
                after = Afterwards {
                    route: true,
                    ended: true,
                };
            }
            AgentOp::UpdateUserData { user_data } => {
                super::customer::merge_user_data(&mut chat.user_data, user_data)?;
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
            } => after.route = self.transfer(agent_id, chat, target_agent, queue)?,
        }
        Ok(after)
    }

    /// Moves an active chat, transcript and all, to another agent (offered to them) or back to
    /// a queue; this agent is done with it. The target agent must be able to take it now (in
    /// a session, with room for another chat). Returns whether the queue needs routing.
    fn transfer(
        &self,
        agent_id: &str,
        mut chat: ChatRow,
        target_agent: Option<String>,
        queue: Option<String>,
    ) -> ApiResult<bool> {
        let target = match (&target_agent, &queue) {
            (Some(t), _) => {
                let agent = self
                    .store()
                    .agent(t)?
                    .ok_or_else(|| ApiError::new(400, 10, "no such target agent"))?;
                if agent.id == agent_id {
                    return Err(ApiError::new(400, 10, "cannot transfer a chat to yourself"));
                }
                if !self.store().can_take_chat(&agent.id)? {
                    return Err(ApiError::invalid_state(
                        "the target agent cannot take a chat now (signed out or at capacity): transfer to a queue",
                    ));
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
            Some(t) => {
                self.notify_state(&t, "StatusChange", &chat, AgentChatState::Invited);
                Ok(false)
            }
            None => Ok(true),
        }
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
}
