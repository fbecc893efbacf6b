//! The agent's desk: every chat the agent holds (state, capabilities, customer, transcript,
//! unread count) plus the outbox, as one value the background loads from storage, changes with
//! a notification or a reply, and stores again. Pure: the effects it asks for (fetch a
//! transcript from an index) are returned, not performed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::outbox::{Outbox, OutgoingMessage};
use super::transcript::{LineKind, Role, Transcript};
use crate::gws::{AgentState, Chat, ChatState, ChatsReply, Message, Notification};

/// What the caller must do after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fetch `GET /api/v2/me/chats/{chat_id}/messages?startIndex={from}`.
    Fetch { chat_id: String, from: i64 },
}

/// One change to the stored desk, as the agent's session asks for it; the store applies it
/// with [`Desk::change`] (load, change, prune, store: one at a time).
#[derive(Debug, Clone, PartialEq)]
pub enum DeskChange {
    /// A notification from `/v2/me/chats` or `/v2/me/channels`.
    ApplyNotification(Notification),
    /// The chat list after a (re)connect.
    ApplyChatList(ChatsReply),
    /// A transcript fetched from `from`.
    ApplyFetched {
        chat_id: String,
        from: i64,
        messages: Vec<Message>,
        after_restart: bool,
    },
    /// The agent wrote a message.
    QueueMessage {
        client_id: String,
        chat_id: String,
        text: String,
    },
    /// The next message due to be sent (marked as on its way).
    TakeNextOutgoing,
    /// How a send ended; then, like [`DeskChange::TakeNextOutgoing`], the next message due.
    SendSettled {
        client_id: String,
        result: SendResult,
    },
    /// The agent pressed Retry on a failed message.
    Retry {
        client_id: String,
    },
    MarkRead {
        chat_id: String,
    },
    /// Signed out: every chat goes.
    Clear,
    /// Nothing but the pruning every change gets (the retention changed).
    Prune,
}

/// How one send of a message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Sent,
    Failed {
        reason: String,
        retryable: bool,
    },
    /// It was taken but never sent (the agent was signed out meanwhile): it waits again.
    NotSent,
}

/// What a [`DeskChange`] left for the caller.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeskOutcome {
    /// Transcripts to fetch.
    pub fetch: Vec<Effect>,
    /// For [`DeskChange::TakeNextOutgoing`] and [`DeskChange::SendSettled`]: the message to
    /// send now.
    pub next_outgoing: Option<OutgoingMessage>,
    /// When the earliest message waiting for a retry is due.
    pub next_attempt_at: Option<i64>,
    /// Chats waiting for the agent (the toolbar badge).
    pub waiting: usize,
}

/// How much of the past the desk keeps in `storage.local` (options page). Live chats are
/// always kept; finished ones beyond the newest `finished_chats` are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub finished_chats: u32,
}

impl Retention {
    /// Entries kept per transcript (the oldest go first).
    pub const LINES_PER_CHAT: usize = 1000;
    /// The most finished chats an agent may keep: storage.local is shared by everything the
    /// extension keeps and every transcript is rewritten with the desk.
    pub const MAX_FINISHED_CHATS: u32 = 200;

    /// Within the bounds.
    pub fn clamped(self) -> Retention {
        Retention {
            finished_chats: self.finished_chats.min(Self::MAX_FINISHED_CHATS),
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention { finished_chats: 30 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRecord {
    pub id: String,
    pub state: ChatState,
    pub capabilities: Vec<String>,
    pub customer: String,
    pub subject: String,
    pub transcript: Transcript,
    /// Customer lines the agent has not looked at.
    pub unread: u32,
    /// When the agent first saw the chat (ms).
    pub since_ms: i64,
}

impl ChatRecord {
    /// The chat needs the agent: invited, or the customer spoke last.
    pub fn is_waiting(&self) -> bool {
        if self.state == ChatState::Invited {
            return true;
        }
        self.state == ChatState::Chatting
            && self
                .transcript
                .lines()
                .filter(|l| {
                    l.is_visible()
                        && matches!(
                            l.kind,
                            LineKind::Text | LineKind::CustomNotice | LineKind::PushUrl
                        )
                })
                .last()
                .is_some_and(|l| l.role == Role::Customer)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Desk {
    pub chats: BTreeMap<String, ChatRecord>,
    pub outbox: Outbox,
    /// The chat channel's state as the server last said (`Ready`, `NotReady`, …).
    pub channel_state: Option<AgentState>,
}

impl Desk {
    /// Applies `change` at `now_ms`, then prunes to `retention`.
    pub fn change(&mut self, change: DeskChange, now_ms: i64, retention: Retention) -> DeskOutcome {
        let mut outcome = DeskOutcome::default();
        match change {
            DeskChange::ApplyNotification(n) => outcome.fetch = self.apply(&n, now_ms),
            DeskChange::ApplyChatList(list) => outcome.fetch = self.apply_chat_list(&list, now_ms),
            DeskChange::ApplyFetched {
                chat_id,
                from,
                messages,
                after_restart,
            } => self.apply_fetched(&chat_id, from, &messages, after_restart),
            DeskChange::QueueMessage {
                client_id,
                chat_id,
                text,
            } => {
                let after = self
                    .chats
                    .get(&chat_id)
                    .map(|c| c.transcript.last_index())
                    .unwrap_or(0);
                self.outbox.push(&client_id, &chat_id, &text, after);
            }
            DeskChange::TakeNextOutgoing => {
                outcome.next_outgoing = self.outbox.take_next(now_ms);
            }
            DeskChange::SendSettled { client_id, result } => {
                // A message put back is not taken again at once: nothing is sent now.
                let go_on = result != SendResult::NotSent;
                match result {
                    SendResult::Sent => self.outbox.sent(&client_id),
                    SendResult::Failed { reason, retryable } => self
                        .outbox
                        .send_failed(&client_id, &reason, retryable, now_ms),
                    SendResult::NotSent => self.outbox.put_back(&client_id),
                }
                if go_on {
                    outcome.next_outgoing = self.outbox.take_next(now_ms);
                }
            }
            DeskChange::Retry { client_id } => self.outbox.retry(&client_id),
            DeskChange::MarkRead { chat_id } => self.mark_read(&chat_id),
            DeskChange::Clear => *self = Desk::default(),
            DeskChange::Prune => {}
        }
        self.prune(retention);
        outcome.next_attempt_at = self.outbox.next_attempt_at();
        outcome.waiting = self.waiting();
        outcome
    }

    fn upsert(&mut self, chat: &Chat, now_ms: i64) -> &mut ChatRecord {
        let customer = chat
            .participants
            .iter()
            .find(|p| p.kind == "Customer" || p.kind == "Client")
            .map(|p| p.nickname.clone());
        let subject = chat
            .user_data
            .get("Subject")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let record = self
            .chats
            .entry(chat.id.clone())
            .or_insert_with(|| ChatRecord {
                id: chat.id.clone(),
                state: chat.state.clone(),
                capabilities: Vec::new(),
                customer: String::new(),
                subject: String::new(),
                transcript: Transcript::new(),
                unread: 0,
                since_ms: now_ms,
            });
        record.state = chat.state.clone();
        record.capabilities = chat.capabilities.clone();
        if let Some(c) = customer {
            record.customer = c;
        }
        if let Some(s) = subject {
            record.subject = s;
        }
        record
    }

    /// Applies a notification from `/v2/me/chats` or `/v2/me/channels`.
    pub fn apply(&mut self, n: &Notification, now_ms: i64) -> Vec<Effect> {
        match n {
            Notification::ChatStateChangeMessage(c) => {
                let record = self.upsert(&c.chat, now_ms);
                // Accepting: the transcript so far comes with (or right after) this; fetch it
                // so nothing before the first live entry is missed.
                if record.state == ChatState::Chatting && record.transcript.last_index() == 0 {
                    return vec![Effect::Fetch {
                        chat_id: record.id.clone(),
                        from: 1,
                    }];
                }
                if record.state.is_finished() {
                    let id = record.id.clone();
                    self.outbox.fail_chat(&id, "the chat has ended");
                }
                Vec::new()
            }
            Notification::MessageLogUpdated(log) => {
                let Some(id) = log.chat_id() else {
                    return Vec::new();
                };
                let Some(record) = self.chats.get_mut(id) else {
                    // A log for a chat we do not know yet: learn it by fetching.
                    return vec![Effect::Fetch {
                        chat_id: id.to_owned(),
                        from: 1,
                    }];
                };
                let applied = record.transcript.apply_live(&log.messages);
                record.unread += count_customer_lines(&record.transcript, &applied.added);
                self.outbox.reconcile(id, &self.chats[id].transcript, false);
                applied
                    .resync_from
                    .map(|from| {
                        vec![Effect::Fetch {
                            chat_id: id.to_owned(),
                            from,
                        }]
                    })
                    .unwrap_or_default()
            }
            Notification::ChannelStateChangeMessageV2(c) => {
                if let Some(chat) = c.channels.iter().find(|c| c.channel == "chat") {
                    self.channel_state = Some(chat.user_state.state);
                }
                Vec::new()
            }
            Notification::Unknown => Vec::new(),
        }
    }

    /// The reply to `GET /api/v2/me/chats` after a (re)connect: the server's list is the truth.
    /// Chats it no longer lists are over for this agent. Returns the transcripts to fetch.
    pub fn apply_chat_list(&mut self, reply: &ChatsReply, now_ms: i64) -> Vec<Effect> {
        let listed: Vec<&str> = reply.chats.iter().map(|c| c.id.as_str()).collect();
        for record in self.chats.values_mut() {
            if !listed.contains(&record.id.as_str()) && !record.state.is_finished() {
                record.state = ChatState::Revoked;
                record.capabilities.clear();
            }
        }
        let mut effects = Vec::new();
        for chat in &reply.chats {
            let record = self.upsert(chat, now_ms);
            if record.state == ChatState::Chatting {
                effects.push(Effect::Fetch {
                    chat_id: record.id.clone(),
                    from: record.transcript.resync_from(),
                });
            }
        }
        effects
    }

    /// The reply to a transcript fetch from `from`; after a worker restart, also settles
    /// messages whose send outcome was unknown.
    pub fn apply_fetched(
        &mut self,
        chat_id: &str,
        from: i64,
        messages: &[Message],
        after_restart: bool,
    ) {
        let Some(record) = self.chats.get_mut(chat_id) else {
            return;
        };
        let applied = record.transcript.apply_fetched(from, messages);
        record.unread += count_customer_lines(&record.transcript, &applied.added);
        self.outbox
            .reconcile(chat_id, &self.chats[chat_id].transcript, after_restart);
    }

    pub fn mark_read(&mut self, chat_id: &str) {
        if let Some(r) = self.chats.get_mut(chat_id) {
            r.unread = 0;
        }
    }

    /// Chats waiting for the agent (the toolbar badge).
    pub fn waiting(&self) -> usize {
        self.chats.values().filter(|c| c.is_waiting()).count()
    }

    /// Keeps what `retention` says: the newest finished chats, and bounded transcripts.
    pub fn prune(&mut self, retention: Retention) {
        let (keep, max_lines) = (
            retention.clamped().finished_chats as usize,
            Retention::LINES_PER_CHAT,
        );
        let mut finished: Vec<(i64, String)> = self
            .chats
            .values()
            .filter(|c| c.state.is_finished())
            .map(|c| (c.since_ms, c.id.clone()))
            .collect();
        finished.sort();
        let drop = finished.len().saturating_sub(keep);
        for (_, id) in finished.into_iter().take(drop) {
            self.chats.remove(&id);
        }
        for c in self.chats.values_mut() {
            c.transcript.truncate_front(max_lines);
        }
    }
}

fn count_customer_lines(t: &Transcript, added: &[i64]) -> u32 {
    added
        .iter()
        .filter_map(|i| t.get(*i))
        .filter(|l| {
            l.role == Role::Customer
                && matches!(
                    l.kind,
                    LineKind::Text | LineKind::CustomNotice | LineKind::PushUrl
                )
        })
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(json: &str) -> Notification {
        serde_json::from_str(json).unwrap()
    }

    fn state(id: &str, state: &str) -> Notification {
        notification(&format!(
            r#"{{"messageType":"ChatStateChangeMessage","notificationType":"StatusChange","chat":{{"id":"{id}","state":"{state}",
               "capabilities":["Accept","Reject"],"participants":[{{"type":"Customer","nickname":"Pat","participantId":"c"}}],
               "userData":{{"Subject":"Order 42"}}}}}}"#
        ))
    }

    fn log(id: &str, entries: &[(i64, &str, &str)]) -> Notification {
        let messages: Vec<String> = entries
            .iter()
            .map(|(i, who, text)| format!(r#"{{"index":{i},"type":"Text","text":"{text}","from":{{"type":"{who}","nickname":"x"}}}}"#))
            .collect();
        notification(&format!(
            r#"{{"messageType":"MessageLogUpdated","notificationType":"NewMessages","chatId":"{id}","messages":[{}]}}"#,
            messages.join(",")
        ))
    }

    #[test]
    fn an_invitation_waits_then_accepting_fetches_the_history() {
        let mut d = Desk::default();
        assert!(d.apply(&state("c1", "Invited"), 5).is_empty());
        assert_eq!(d.waiting(), 1);
        assert_eq!(d.chats["c1"].customer, "Pat");
        assert_eq!(d.chats["c1"].subject, "Order 42");
        let effects = d.apply(&state("c1", "Chatting"), 6);
        assert_eq!(
            effects,
            vec![Effect::Fetch {
                chat_id: "c1".into(),
                from: 1
            }]
        );
    }

    #[test]
    fn customer_lines_count_as_unread_and_make_the_chat_wait() {
        let mut d = Desk::default();
        d.apply(&state("c1", "Chatting"), 0);
        d.apply_fetched("c1", 1, &[], false);
        d.apply(
            &log("c1", &[(1, "Customer", "hi"), (2, "Customer", "anyone?")]),
            1,
        );
        assert_eq!(d.chats["c1"].unread, 2);
        assert!(d.chats["c1"].is_waiting());
        d.apply(&log("c1", &[(3, "Agent", "yes")]), 2);
        assert!(!d.chats["c1"].is_waiting());
        d.mark_read("c1");
        assert_eq!(d.chats["c1"].unread, 0);
        // Redelivered entries count once.
        d.apply(&log("c1", &[(2, "Customer", "anyone?")]), 3);
        assert_eq!(d.chats["c1"].unread, 0);
    }

    #[test]
    fn a_gap_in_a_live_log_asks_for_a_fetch() {
        let mut d = Desk::default();
        d.apply(&state("c1", "Chatting"), 0);
        d.apply_fetched("c1", 1, &[], false);
        let effects = d.apply(&log("c1", &[(3, "Customer", "c")]), 1);
        assert_eq!(
            effects,
            vec![Effect::Fetch {
                chat_id: "c1".into(),
                from: 1
            }]
        );
    }

    #[test]
    fn the_server_list_after_a_reconnect_is_the_truth() {
        let mut d = Desk::default();
        d.apply(&state("gone", "Chatting"), 0);
        d.apply(&state("kept", "Chatting"), 0);
        let reply: ChatsReply =
            serde_json::from_str(r#"{"statusCode":0,"chats":[{"id":"kept","state":"Chatting"}]}"#)
                .unwrap();
        let effects = d.apply_chat_list(&reply, 1);
        assert_eq!(d.chats["gone"].state, ChatState::Revoked);
        assert_eq!(
            effects,
            vec![Effect::Fetch {
                chat_id: "kept".into(),
                from: 1
            }]
        );
    }

    #[test]
    fn the_echo_of_a_sent_message_settles_the_outbox() {
        let mut d = Desk::default();
        d.apply(&state("c1", "Chatting"), 0);
        d.outbox.push("m1", "c1", "hello", 0);
        d.outbox.take_next(0);
        d.outbox.sent("m1");
        d.apply(&log("c1", &[(1, "Agent", "hello")]), 1);
        assert!(d.outbox.is_empty());
    }

    #[test]
    fn pruning_keeps_the_newest_finished_chats() {
        let mut d = Desk::default();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            d.apply(&state(id, "Completed"), i as i64);
        }
        d.apply(&state("live", "Chatting"), 0);
        d.prune(Retention { finished_chats: 1 });
        let left: Vec<&str> = d.chats.keys().map(String::as_str).collect();
        assert_eq!(left, ["c", "live"]);
    }
}
