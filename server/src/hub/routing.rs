//! Routing: each queued chat is offered to the longest-idle ready agent with capacity who has
//! not refused it; an invitation not answered in time goes to the next agent; when everyone
//! refused, the round starts again. A chat nobody took within the queue timeout ends.
//!
//! Cost follows the offers made, not the queue: a pass stops as soon as no agent has room,
//! and takes the longest-waiting chat one at a time.

use super::{entry, system, Hub};
use crate::error::ApiResult;
use crate::ids::now_ms;
use crate::model::{AgentChatState, ChatStatus, MessageKind};

/// What the customer reads when their chat waited too long in the queue.
pub const QUEUE_TIMEOUT_NOTICE: &str =
    "No agent could take your chat in time. Please try again later.";

impl Hub {
    /// Offers waiting chats, longest-waiting first, while a ready agent has room.
    pub fn route(&self) {
        let _routing = self.routing.lock().unwrap_or_else(|e| e.into_inner());
        let result = (|| -> ApiResult<()> {
            loop {
                if !self.store().any_free_agent()? {
                    return Ok(());
                }
                let Some(queued) = self.store().first_queued_chat()? else {
                    return Ok(());
                };
                let _chat = self.chat_lock(&queued.id);
                let mut chat = self.store().chat(&queued.id)?;
                if chat.status != ChatStatus::Queued {
                    continue;
                }
                let mut agents = self.store().routable_agents(&chat.id)?;
                if agents.is_empty() {
                    // Everyone with room refused it or let it time out: go round again.
                    self.store().clear_refusals(&chat.id)?;
                    agents = self.store().routable_agents(&chat.id)?;
                }
                let Some(agent) = agents.into_iter().next() else {
                    // Cannot happen while an agent has room; never spin on it.
                    return Ok(());
                };
                chat.status = ChatStatus::Offered;
                chat.agent_id = Some(agent.clone());
                chat.invite_deadline_ms = Some(now_ms() + self.config.invite_timeout_ms);
                self.store().update_chat(&chat)?;
                tracing::info!(chat = %chat.id, agent = %agent, "offered");
                self.notify_state(&agent, "StatusChange", &chat, AgentChatState::Invited);
            }
        })();
        if let Err(e) = result {
            tracing::error!(error = ?e, "routing failed");
        }
    }

    /// Offers that were not answered in time go to the next agent.
    pub fn expire_invitations(&self) {
        let now = now_ms();
        let result = (|| -> ApiResult<()> {
            let offered = self.store().offered_chats()?;
            let mut expired = false;
            for candidate in offered {
                if candidate.invite_deadline_ms.is_none_or(|d| d > now) {
                    continue;
                }
                let _chat = self.chat_lock(&candidate.id);
                // Re-read under the lock: an Accept may have just won.
                let mut chat = self.store().chat(&candidate.id)?;
                if chat.status != ChatStatus::Offered
                    || chat.invite_deadline_ms.is_none_or(|d| d > now)
                {
                    continue;
                }
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
            if expired {
                self.route();
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = ?e, "invitation sweep failed");
        }
    }

    /// Queued chats that waited longer than the queue timeout end, with a notice to the
    /// customer (their page must not wait forever, and the queue must not grow forever).
    pub fn expire_queued(&self) {
        let before = now_ms() - self.config.queue_timeout_ms;
        let result = (|| -> ApiResult<()> {
            let waited = self.store().queued_before(before)?;
            for candidate in waited {
                {
                    let _chat = self.chat_lock(&candidate.id);
                    let mut chat = self.store().chat(&candidate.id)?;
                    if chat.status != ChatStatus::Queued {
                        continue;
                    }
                    self.store().append(
                        &chat.id,
                        &[entry(
                            MessageKind::Notice,
                            system(),
                            Some(QUEUE_TIMEOUT_NOTICE.into()),
                        )],
                    )?;
                    chat.status = ChatStatus::Ended;
                    chat.ended_ms = Some(now_ms());
                    self.store().update_chat(&chat)?;
                    tracing::info!(chat = %chat.id, "queue timeout: chat ended");
                }
                self.chat_ended(&candidate.id);
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = ?e, "queue sweep failed");
        }
    }
}
