//! Where agents are: their contact-center session, Ready / Not Ready, becoming idle, and
//! agents whose CometD connection is gone (their chats go back to the queue after a grace
//! period).

use serde_json::{json, Value};

use super::{agent_from, entry, Hub, CHANNELS_CHANNEL};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;
use crate::model::{AgentChatState, ChatStatus, MessageKind};

impl Hub {
    /// After a chat ends for an agent: if they hold no other chat, they become idle now.
    pub(super) fn agent_freed(&self, agent_id: &str) -> ApiResult<()> {
        if self.store().agent_chats(agent_id)?.is_empty() {
            self.store()
                .update_agent_state(agent_id, |s| -> ApiResult<()> {
                    s.idle_since_ms = now_ms();
                    Ok(())
                })?;
        }
        Ok(())
    }

    pub fn set_session(&self, agent_id: &str, in_session: bool) -> ApiResult<()> {
        self.store()
            .update_agent_state(agent_id, |s| -> ApiResult<()> {
                s.in_session = in_session;
                if !in_session {
                    s.ready = false;
                }
                Ok(())
            })?;
        self.notify_channels(agent_id)?;
        self.route();
        Ok(())
    }

    pub fn set_ready(&self, agent_id: &str, ready: bool) -> ApiResult<()> {
        self.store().update_agent_state(agent_id, |s| {
            if !s.in_session {
                return Err(ApiError::invalid_state(
                    "start a contact-center session with the chat channel first",
                ));
            }
            if ready && !s.ready {
                s.idle_since_ms = now_ms();
            }
            s.ready = ready;
            Ok(())
        })?;
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
                if self.fanout.is_connected(&agent) {
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
        for candidate in chats {
            let _chat = self.chat_lock(&candidate.id);
            // Re-read under the lock: the agent may have just completed or transferred it.
            let mut chat = self.store().chat(&candidate.id)?;
            if chat.agent_id.as_deref() != Some(agent_id)
                || !matches!(chat.status, ChatStatus::Offered | ChatStatus::Active)
            {
                continue;
            }
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
        self.store()
            .update_agent_state(agent_id, |s| -> ApiResult<()> {
                s.ready = false;
                Ok(())
            })?;
        self.route();
        Ok(())
    }
}
