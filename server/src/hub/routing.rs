//! Routing: each queued chat is offered to the longest-idle ready agent with capacity who has
//! not refused it; an invitation not answered in time goes to the next agent; when everyone
//! refused, the round starts again.

use super::Hub;
use crate::error::ApiResult;
use crate::ids::now_ms;
use crate::model::{AgentChatState, ChatStatus};

impl Hub {
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
