//! Messages the agent wrote, from the keystroke to the server's echo.
//!
//! Each message gets a client id before anything is sent and lives here (in storage) until the
//! server's own transcript entry for it arrives; that echo replaces it, so it is never shown
//! twice. Genesys' `SendMessage` has no idempotency key, so a message whose send was in flight
//! when the worker died (state `Sending`: outcome unknown) is checked against the transcript
//! after the resync before it is sent again: delivered exactly once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::transcript::{Line, LineKind, Role};
use crate::backoff::Backoff;

/// Attempts before a message is marked failed (the agent can still Retry).
pub const MAX_ATTEMPTS: u32 = 5;
/// The wait after the first failed attempt; it doubles with each further one (1, 2, 4, 8 s:
/// a message that cannot get through is shown failed about 15 s after it was written).
pub const FIRST_RETRY_DELAY_MS: i64 = 1000;
/// The waits between attempts (the last wait before giving up is 8 s).
pub const RETRY_BACKOFF: Backoff = Backoff::new(
    FIRST_RETRY_DELAY_MS as u64,
    (FIRST_RETRY_DELAY_MS as u64) << (MAX_ATTEMPTS - 2),
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum OutgoingState {
    /// Waiting to be sent.
    Queued,
    /// Handed to the network; the outcome is not known yet.
    Sending,
    /// The server accepted it (`statusCode` 0); its transcript entry has not arrived yet.
    Sent,
    /// Gave up; the agent may retry.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub client_id: String,
    pub chat_id: String,
    pub text: String,
    pub state: OutgoingState,
    pub attempts: u32,
    /// The chat's last transcript index when the agent wrote it: its echo comes after.
    pub after_index: i64,
    /// A `Queued` message after a failed attempt waits until then (ms since the epoch).
    #[serde(default)]
    pub not_before_ms: i64,
}

impl OutgoingState {
    pub fn is_failed(&self) -> bool {
        matches!(self, OutgoingState::Failed(_))
    }

    /// The name pages use for it (a CSS class, a `data-state`): `pending`, `sent`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            OutgoingState::Queued | OutgoingState::Sending => "pending",
            OutgoingState::Sent => "sent",
            OutgoingState::Failed(_) => "failed",
        }
    }

    /// The `_locales` message that says it to a person.
    pub fn message_key(&self) -> &'static str {
        match self {
            OutgoingState::Queued | OutgoingState::Sending => "messagePending",
            OutgoingState::Sent => "messageSent",
            OutgoingState::Failed(_) => "messageFailed",
        }
    }

    /// One of each kind (for checks that every state has its message).
    pub fn examples() -> [OutgoingState; 4] {
        [
            OutgoingState::Queued,
            OutgoingState::Sending,
            OutgoingState::Sent,
            OutgoingState::Failed(String::new()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outbox {
    items: Vec<OutgoingMessage>,
}

impl Outbox {
    pub fn push(&mut self, client_id: &str, chat_id: &str, text: &str, after_index: i64) {
        self.items.push(OutgoingMessage {
            client_id: client_id.to_owned(),
            chat_id: chat_id.to_owned(),
            text: text.to_owned(),
            state: OutgoingState::Queued,
            attempts: 0,
            after_index,
            not_before_ms: 0,
        });
    }

    /// The next message due at `now_ms`, marked `Sending`. Messages of one chat go in order:
    /// nothing of a chat is sent while an earlier one of it is on its way or waiting for its
    /// next attempt.
    pub fn take_next(&mut self, now_ms: i64) -> Option<OutgoingMessage> {
        let mut blocked: BTreeSet<&str> = self
            .items
            .iter()
            .filter(|m| m.state == OutgoingState::Sending)
            .map(|m| m.chat_id.as_str())
            .collect();
        let mut next = None;
        for (i, m) in self.items.iter().enumerate() {
            if m.state != OutgoingState::Queued || blocked.contains(m.chat_id.as_str()) {
                continue;
            }
            if m.not_before_ms > now_ms {
                blocked.insert(m.chat_id.as_str());
                continue;
            }
            next = Some(i);
            break;
        }
        let m = &mut self.items[next?];
        m.state = OutgoingState::Sending;
        m.attempts += 1;
        Some(m.clone())
    }

    /// The server accepted the send.
    pub fn sent(&mut self, client_id: &str) {
        if let Some(m) = self.find(client_id) {
            if m.state == OutgoingState::Sending {
                m.state = OutgoingState::Sent;
            }
        }
    }

    /// The send failed: retried later (waiting longer after each attempt) unless it cannot
    /// succeed or the attempts are used up.
    pub fn send_failed(&mut self, client_id: &str, reason: &str, retryable: bool, now_ms: i64) {
        if let Some(m) = self.find(client_id) {
            if retryable && m.attempts < MAX_ATTEMPTS {
                m.state = OutgoingState::Queued;
                m.not_before_ms = now_ms + RETRY_BACKOFF.delay_ms(m.attempts) as i64;
            } else {
                m.state = OutgoingState::Failed(reason.to_owned());
            }
        }
    }

    /// A message taken by [`Outbox::take_next`] was not sent after all: it waits again, and
    /// the attempt does not count.
    pub fn put_back(&mut self, client_id: &str) {
        if let Some(m) = self.find(client_id) {
            if m.state == OutgoingState::Sending {
                m.state = OutgoingState::Queued;
                m.attempts = m.attempts.saturating_sub(1);
            }
        }
    }

    /// When the earliest message waiting for its next attempt is due, if any is waiting.
    pub fn next_attempt_at(&self) -> Option<i64> {
        self.items
            .iter()
            .filter(|m| m.state == OutgoingState::Queued)
            .map(|m| m.not_before_ms)
            .min()
    }

    /// The agent pressed Retry.
    pub fn retry(&mut self, client_id: &str) {
        if let Some(m) = self.find(client_id) {
            if matches!(m.state, OutgoingState::Failed(_)) {
                m.state = OutgoingState::Queued;
                m.attempts = 0;
                m.not_before_ms = 0;
            }
        }
    }

    /// Matches entries new in a chat's transcript against messages on their way: each new
    /// agent `Text` line confirms the earliest message of that chat with its text that was
    /// written before it; that message leaves the outbox (the line replaces it). Returns the
    /// confirmed client ids. When `after_restart` is set (the first fetch by a new worker),
    /// messages still `Sending` from before and not confirmed go back to `Queued`: their send
    /// never reached the server.
    pub fn reconcile(
        &mut self,
        chat_id: &str,
        new_lines: &[Line],
        after_restart: bool,
    ) -> Vec<String> {
        let mut confirmed: Vec<String> = Vec::new();
        for line in new_lines
            .iter()
            .filter(|l| l.role == Role::Agent && l.kind == LineKind::Text)
        {
            let echo = self.items.iter().find(|m| {
                m.chat_id == chat_id
                    && matches!(m.state, OutgoingState::Sending | OutgoingState::Sent)
                    && m.after_index < line.index
                    && line.text.as_deref() == Some(m.text.as_str())
                    && !confirmed.contains(&m.client_id)
            });
            if let Some(m) = echo {
                confirmed.push(m.client_id.clone());
            }
        }
        if after_restart {
            for m in self.items.iter_mut().filter(|m| m.chat_id == chat_id) {
                if m.state == OutgoingState::Sending && !confirmed.contains(&m.client_id) {
                    m.state = OutgoingState::Queued;
                }
            }
        }
        self.items.retain(|m| !confirmed.contains(&m.client_id));
        confirmed
    }

    /// The chats with messages on their way.
    pub fn chats(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|m| m.chat_id.as_str())
    }

    /// The chat ended: what was not sent cannot be any more.
    pub fn fail_chat(&mut self, chat_id: &str, reason: &str) {
        for m in self.items.iter_mut().filter(|m| m.chat_id == chat_id) {
            if matches!(m.state, OutgoingState::Queued | OutgoingState::Failed(_)) {
                m.state = OutgoingState::Failed(reason.to_owned());
            }
        }
    }

    pub fn for_chat<'a>(
        &'a self,
        chat_id: &'a str,
    ) -> impl Iterator<Item = &'a OutgoingMessage> + 'a {
        self.items.iter().filter(move |m| m.chat_id == chat_id)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn find(&mut self, client_id: &str) -> Option<&mut OutgoingMessage> {
        self.items.iter_mut().find(|m| m.client_id == client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gws::{Message, MessageType, Participant};

    fn agent_text(index: i64, text: &str) -> Line {
        Line::from_wire(&Message {
            index,
            kind: MessageType::Text,
            text: Some(text.into()),
            url: None,
            visibility: None,
            from: Participant {
                nickname: "Ann".into(),
                kind: "Agent".into(),
                participant_id: "a".into(),
            },
            timestamp: None,
            timestamp_ms: None,
        })
    }

    #[test]
    fn the_echo_replaces_the_pending_message() {
        let mut o = Outbox::default();
        o.push("c1", "chat", "hello", 3);
        let m = o.take_next(0).unwrap();
        assert_eq!(m.state, OutgoingState::Sending);
        o.sent("c1");
        assert_eq!(
            o.reconcile("chat", &[agent_text(4, "hello")], false),
            vec!["c1".to_string()]
        );
        assert!(o.is_empty());
    }

    #[test]
    fn identical_texts_are_confirmed_one_echo_each() {
        let mut o = Outbox::default();
        o.push("c1", "chat", "ok", 1);
        o.push("c2", "chat", "ok", 1);
        o.take_next(0);
        o.sent("c1");
        o.take_next(0);
        o.sent("c2");
        // Index 1 was there before they were written: only index 2 is an echo.
        assert_eq!(
            o.reconcile("chat", &[agent_text(1, "ok"), agent_text(2, "ok")], false),
            vec!["c1".to_string()]
        );
        assert_eq!(o.for_chat("chat").count(), 1);
    }

    #[test]
    fn a_send_cut_by_a_restart_is_resent_only_if_it_did_not_arrive() {
        // Both were `Sending` when the worker died; only the first reached the server.
        let mut o = Outbox::default();
        o.push("arrived", "chat", "first", 0);
        o.push("lost", "chat2", "second", 0);
        o.take_next(0);
        o.take_next(0);
        assert_eq!(
            o.reconcile("chat", &[agent_text(1, "first")], true),
            vec!["arrived".to_string()]
        );
        assert_eq!(o.reconcile("chat2", &[], true), Vec::<String>::new());
        let again = o.take_next(0).unwrap();
        assert_eq!((again.client_id.as_str(), again.attempts), ("lost", 2));
    }

    #[test]
    fn messages_of_a_chat_go_one_at_a_time_in_order() {
        let mut o = Outbox::default();
        o.push("a1", "a", "1", 0);
        o.push("a2", "a", "2", 0);
        o.push("b1", "b", "1", 0);
        assert_eq!(o.take_next(0).unwrap().client_id, "a1");
        assert_eq!(o.take_next(0).unwrap().client_id, "b1", "a2 waits for a1");
        assert!(o.take_next(0).is_none());
        o.sent("a1");
        assert_eq!(o.take_next(0).unwrap().client_id, "a2");
    }

    #[test]
    fn a_message_waiting_for_its_retry_holds_back_the_later_ones_of_its_chat() {
        let mut o = Outbox::default();
        o.push("a1", "a", "1", 0);
        o.push("a2", "a", "2", 0);
        o.push("b1", "b", "1", 0);
        o.take_next(0);
        o.send_failed("a1", "network down", true, 0);
        assert_eq!(
            o.take_next(0).unwrap().client_id,
            "b1",
            "a2 must not overtake a1"
        );
        assert!(o.take_next(0).is_none());
        assert_eq!(o.take_next(FIRST_RETRY_DELAY_MS).unwrap().client_id, "a1");
    }

    #[test]
    fn failures_retry_then_give_up_and_retry_really_resends() {
        let mut o = Outbox::default();
        o.push("c", "chat", "x", 0);
        let mut now = 0;
        for attempt in 1..=MAX_ATTEMPTS {
            let m = o.take_next(now).unwrap();
            assert_eq!(m.attempts, attempt);
            o.send_failed("c", "network down", true, now);
            if attempt < MAX_ATTEMPTS {
                // Not before its time, then due.
                let due = o.next_attempt_at().unwrap();
                assert_eq!(due - now, FIRST_RETRY_DELAY_MS << (attempt - 1));
                assert!(o.take_next(due - 1).is_none());
                now = due;
            }
        }
        assert_eq!(
            o.for_chat("chat").next().unwrap().state,
            OutgoingState::Failed("network down".into())
        );
        assert!(o.take_next(now + 3_600_000).is_none());
        assert_eq!(o.next_attempt_at(), None);
        o.retry("c");
        assert_eq!(o.take_next(now).unwrap().attempts, 1);
        o.send_failed("c", "chat is over", false, now);
        assert!(matches!(
            o.for_chat("chat").next().unwrap().state,
            OutgoingState::Failed(_)
        ));
    }
}
