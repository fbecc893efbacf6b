//! Messages the agent wrote, from the keystroke to the server's echo.
//!
//! Each message gets a client id before anything is sent and lives here (in storage) until the
//! server's own transcript entry for it arrives; that echo replaces it, so it is never shown
//! twice. Genesys' `SendMessage` has no idempotency key, so a send whose outcome is not known
//! (no answer came, or the worker that sent it stopped) leaves its message `Unconfirmed`: the
//! chat's transcript, fetched after the send could still have landed, says whether it arrived
//! before it is sent again. Delivered exactly once.
//!
//! Nothing the agent wrote is given up because the network or the server is away, or because
//! the server asked to slow down: only a refusal (the chat is over, the text is refused) fails
//! a message, and then the agent can Retry.

use crate::sorted::SortedSet;

use serde::{Deserialize, Serialize};

use super::transcript::{Line, LineKind, Role};
use crate::backoff::Backoff;

/// The waits between attempts after no answer or a "too many requests" (1, 2, 4, 8 s, then
/// 8 s on).
pub const RETRY_BACKOFF: Backoff = Backoff::new(1000, 8000);
/// An unconfirmed message's transcript check whose answer never came is asked again after
/// this long.
pub const CHECK_AGAIN_MS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum OutgoingState {
    /// Waiting to be sent.
    Queued,
    /// Handed to the network by this worker; the outcome is not known yet.
    Sending,
    /// May or may not have reached the server (no answer came, or the worker sending it
    /// stopped): the transcript decides, and holds back the chat's later messages meanwhile.
    Unconfirmed,
    /// The server accepted it (`statusCode` 0); its transcript entry has not arrived yet.
    Sent,
    /// The server refused it; the agent may retry.
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
    /// A `Queued` message after a failed attempt waits until then; an `Unconfirmed` one has
    /// its transcript checked then (ms since the epoch).
    #[serde(default)]
    pub not_before_ms: i64,
    /// `Unconfirmed`: a transcript asked for at or after this moment shows whether it arrived
    /// (a send still on its way would have landed by then).
    #[serde(default)]
    pub check_from_ms: i64,
}

/// Why a send did not end in the server's acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// No answer (network down, timeout, server gone): it may have arrived.
    NoAnswer,
    /// The server asked to slow down (HTTP 429): it did not arrive; it goes again later.
    Throttled,
    /// The server said no: it did not arrive and will not as it is.
    Refused(String),
}

/// A chat whose transcript must be fetched from `from` to settle unconfirmed messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub chat_id: String,
    pub from: i64,
}

/// Read as the derive writes it, `{"state": "failed", "reason": "…"}` or `{"state": "sent"}`,
/// with the fields in either order. Derived, the adjacent tag would buffer the fields in serde's
/// `Content` when `reason` comes first: more code in the wasm modules (the background and the
/// popup read the outbox) for the same answers, which a unit test holds it to. The one
/// difference: a `reason` beside a state that has none is ignored, not refused.
impl<'de> Deserialize<'de> for OutgoingState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Name {
            Queued,
            Sending,
            Unconfirmed,
            Sent,
            Failed,
        }

        #[derive(Deserialize)]
        struct Fields {
            state: Name,
            #[serde(default)]
            reason: Option<String>,
        }

        let fields = Fields::deserialize(d)?;
        Ok(match fields.state {
            Name::Queued => OutgoingState::Queued,
            Name::Sending => OutgoingState::Sending,
            Name::Unconfirmed => OutgoingState::Unconfirmed,
            Name::Sent => OutgoingState::Sent,
            Name::Failed => match fields.reason {
                Some(reason) => OutgoingState::Failed(reason),
                None => return Err(serde::de::Error::missing_field("reason")),
            },
        })
    }
}

impl OutgoingState {
    pub fn is_failed(&self) -> bool {
        matches!(self, OutgoingState::Failed(_))
    }

    /// The name pages use for it (a CSS class, a `data-state`): `pending`, `sent`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            OutgoingState::Queued | OutgoingState::Sending | OutgoingState::Unconfirmed => {
                "pending"
            }
            OutgoingState::Sent => "sent",
            OutgoingState::Failed(_) => "failed",
        }
    }

    /// The `_locales` message that says it to a person.
    pub fn message_key(&self) -> &'static str {
        match self {
            OutgoingState::Queued | OutgoingState::Sending | OutgoingState::Unconfirmed => {
                "messagePending"
            }
            OutgoingState::Sent => "messageSent",
            OutgoingState::Failed(_) => "messageFailed",
        }
    }

    /// One of each kind (for checks that every state has its message).
    pub fn examples() -> [OutgoingState; 5] {
        [
            OutgoingState::Queued,
            OutgoingState::Sending,
            OutgoingState::Unconfirmed,
            OutgoingState::Sent,
            OutgoingState::Failed(String::new()),
        ]
    }

    /// Handed to the network at least once and not refused: its echo may come.
    fn may_have_arrived(&self) -> bool {
        matches!(
            self,
            OutgoingState::Sending | OutgoingState::Unconfirmed | OutgoingState::Sent
        )
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
            check_from_ms: 0,
        });
    }

    /// A worker instance that has sent nothing yet takes the outbox over at `now_ms`: sends an
    /// earlier instance left on their way have no one to hear their answer, so whether they
    /// arrived is for the transcript to say.
    pub fn take_over(&mut self, now_ms: i64) {
        for m in self
            .items
            .iter_mut()
            .filter(|m| m.state == OutgoingState::Sending)
        {
            m.state = OutgoingState::Unconfirmed;
            m.not_before_ms = now_ms;
            m.check_from_ms = now_ms;
        }
    }

    /// The next message due at `now_ms`, marked `Sending`. Messages of one chat go in order:
    /// nothing of a chat is sent while an earlier one of it is on its way, unconfirmed, or
    /// waiting for its next attempt.
    pub fn take_next(&mut self, now_ms: i64) -> Option<OutgoingMessage> {
        let mut blocked: SortedSet<&str> = self
            .items
            .iter()
            .filter(|m| matches!(m.state, OutgoingState::Sending | OutgoingState::Unconfirmed))
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

    /// The transcripts to fetch at `now_ms` to settle unconfirmed messages whose check is
    /// due, one per chat; each is asked again after [`CHECK_AGAIN_MS`] if no answer settles it.
    pub fn due_checks(&mut self, now_ms: i64) -> Vec<Check> {
        let mut checks: Vec<Check> = Vec::new();
        for m in self
            .items
            .iter_mut()
            .filter(|m| m.state == OutgoingState::Unconfirmed && m.not_before_ms <= now_ms)
        {
            m.not_before_ms = now_ms + CHECK_AGAIN_MS;
            match checks.iter_mut().find(|c| c.chat_id == m.chat_id) {
                Some(c) => c.from = c.from.min(m.after_index + 1),
                None => checks.push(Check {
                    chat_id: m.chat_id.clone(),
                    from: m.after_index + 1,
                }),
            }
        }
        checks
    }

    /// The server accepted the send.
    pub fn sent(&mut self, client_id: &str) {
        if let Some(m) = self.find(client_id) {
            if m.state == OutgoingState::Sending {
                m.state = OutgoingState::Sent;
            }
        }
    }

    /// The send at `now_ms` did not end in the server's acceptance.
    pub fn send_failed(&mut self, client_id: &str, failure: SendFailure, now_ms: i64) {
        let Some(m) = self.find(client_id) else {
            return;
        };
        if m.state != OutgoingState::Sending {
            return;
        }
        let wait = RETRY_BACKOFF.delay_ms(m.attempts) as i64;
        match failure {
            SendFailure::NoAnswer => {
                m.state = OutgoingState::Unconfirmed;
                m.not_before_ms = now_ms + wait;
                m.check_from_ms = now_ms + wait;
            }
            SendFailure::Throttled => {
                m.state = OutgoingState::Queued;
                m.not_before_ms = now_ms + wait;
            }
            SendFailure::Refused(reason) => m.state = OutgoingState::Failed(reason),
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

    /// When the next attempt or check is due, if one is waited for: per chat, that of the
    /// message that holds the others back (none while one is on its way: its answer comes
    /// first).
    pub fn next_attempt_at(&self) -> Option<i64> {
        let mut seen: SortedSet<&str> = SortedSet::new();
        let mut next: Option<i64> = None;
        for m in &self.items {
            let waits = match m.state {
                OutgoingState::Queued | OutgoingState::Unconfirmed => Some(m.not_before_ms),
                OutgoingState::Sending => None,
                OutgoingState::Sent | OutgoingState::Failed(_) => continue,
            };
            if !seen.insert(m.chat_id.as_str()) {
                continue;
            }
            if let Some(at) = waits {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next
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
    /// written before it and may have arrived; that message leaves the outbox (the line
    /// replaces it). Returns the confirmed client ids.
    ///
    /// `fetched_at_ms` is when the transcript these lines come from was asked for, when they
    /// come from a fetch (everything the server had from where it started): an unconfirmed
    /// message it could show, and does not, did not arrive, and is sent again.
    pub fn reconcile(
        &mut self,
        chat_id: &str,
        new_lines: &[Line],
        fetched_at_ms: Option<i64>,
    ) -> Vec<String> {
        let mut confirmed: Vec<String> = Vec::new();
        for line in new_lines
            .iter()
            .filter(|l| l.role == Role::Agent && l.kind == LineKind::Text)
        {
            let echo = self.items.iter().find(|m| {
                m.chat_id == chat_id
                    && m.state.may_have_arrived()
                    && m.after_index < line.index
                    && line.text.as_deref() == Some(m.text.as_str())
                    && !confirmed.contains(&m.client_id)
            });
            if let Some(m) = echo {
                confirmed.push(m.client_id.clone());
            }
        }
        if let Some(asked_at) = fetched_at_ms {
            for m in self.items.iter_mut().filter(|m| {
                m.chat_id == chat_id
                    && m.state == OutgoingState::Unconfirmed
                    && m.check_from_ms <= asked_at
                    && !confirmed.contains(&m.client_id)
            }) {
                m.state = OutgoingState::Queued;
                m.not_before_ms = 0;
            }
        }
        self.items.retain(|m| !confirmed.contains(&m.client_id));
        confirmed
    }

    /// The chats with messages on their way.
    pub fn chats(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|m| m.chat_id.as_str())
    }

    /// The chat ended: what was not sent cannot be any more (nor sent again).
    pub fn fail_chat(&mut self, chat_id: &str, reason: &str) {
        for m in self.items.iter_mut().filter(|m| m.chat_id == chat_id) {
            if matches!(
                m.state,
                OutgoingState::Queued | OutgoingState::Unconfirmed | OutgoingState::Failed(_)
            ) {
                m.state = OutgoingState::Failed(reason.to_owned());
            }
        }
    }

    /// The chat is dropped from the desk (pruned, or given up for room): its messages go with
    /// it, whatever their state, so nothing is sent, checked or kept for a chat the desk no
    /// longer holds. Whether there were any.
    pub fn forget_chat(&mut self, chat_id: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|m| m.chat_id != chat_id);
        self.items.len() != before
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

    #[test]
    fn outgoing_state_reads_as_the_adjacently_tagged_derive_does() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(tag = "state", content = "reason", rename_all = "snake_case")]
        enum Derived {
            Queued,
            Sending,
            Unconfirmed,
            Sent,
            Failed(String),
        }
        let as_derived = |s: OutgoingState| match s {
            OutgoingState::Queued => Derived::Queued,
            OutgoingState::Sending => Derived::Sending,
            OutgoingState::Unconfirmed => Derived::Unconfirmed,
            OutgoingState::Sent => Derived::Sent,
            OutgoingState::Failed(r) => Derived::Failed(r),
        };
        for state in OutgoingState::examples() {
            let text = serde_json::to_string(&state).unwrap();
            assert_eq!(
                crate::json::from_str::<OutgoingState>(&text).unwrap(),
                state
            );
        }
        for text in [
            r#"{"state":"queued"}"#,
            r#"{"state":"sent","other":1}"#,
            r#"{"state":"failed","reason":"no"}"#,
            r#"{"reason":"no","state":"failed"}"#,
            r#"{"state":"failed"}"#,
            r#"{"state":"failed","reason":1}"#,
            r#"{"state":"failed","reason":null}"#,
            r#"{"state":"lost"}"#,
            r#"{"state":1}"#,
            r#"{"reason":"no"}"#,
            r#"{"state":"sent","state":"queued"}"#,
            r#"{"state":"queued","reason":null}"#,
            r#""queued""#,
            "[]",
            "{}",
            "null",
        ] {
            let ours = crate::json::from_str::<OutgoingState>(text).map(as_derived);
            let derived = serde_json::from_str::<Derived>(text);
            match (ours, derived) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{text}: ours {a:?}, derived {b:?}"),
            }
        }
        // The one difference: a reason beside a state without one is ignored.
        let text = r#"{"state":"sent","reason":"left over"}"#;
        assert_eq!(
            crate::json::from_str::<OutgoingState>(text).unwrap(),
            OutgoingState::Sent
        );
    }

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
            o.reconcile("chat", &[agent_text(4, "hello")], None),
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
            o.reconcile("chat", &[agent_text(1, "ok"), agent_text(2, "ok")], None),
            vec!["c1".to_string()]
        );
        assert_eq!(o.for_chat("chat").count(), 1);
    }

    fn state(o: &Outbox, client_id: &str) -> OutgoingState {
        o.items
            .iter()
            .find(|m| m.client_id == client_id)
            .map(|m| m.state.clone())
            .expect("in the outbox")
    }

    #[test]
    fn a_send_cut_by_a_restart_is_resent_only_if_it_did_not_arrive() {
        // Both were `Sending` when the worker died; only the first reached the server.
        let mut o = Outbox::default();
        o.push("arrived", "chat", "first", 0);
        o.push("lost", "chat2", "second", 0);
        o.take_next(0);
        o.take_next(0);
        o.take_over(100);
        assert_eq!(state(&o, "lost"), OutgoingState::Unconfirmed);
        assert!(o.take_next(100).is_none(), "nothing goes before the check");
        let checks = o.due_checks(100);
        assert_eq!(
            checks,
            [
                Check {
                    chat_id: "chat".into(),
                    from: 1
                },
                Check {
                    chat_id: "chat2".into(),
                    from: 1
                }
            ]
        );
        assert!(o.due_checks(100).is_empty(), "one check at a time");
        assert_eq!(
            o.reconcile("chat", &[agent_text(1, "first")], Some(100)),
            vec!["arrived".to_string()]
        );
        assert_eq!(o.reconcile("chat2", &[], Some(100)), Vec::<String>::new());
        let again = o.take_next(100).unwrap();
        assert_eq!((again.client_id.as_str(), again.attempts), ("lost", 2));
    }

    #[test]
    fn a_send_without_an_answer_waits_for_a_check_asked_after_it_could_have_landed() {
        let mut o = Outbox::default();
        o.push("m", "chat", "hello", 5);
        o.push("later", "chat", "and then", 5);
        o.take_next(0);
        o.send_failed("m", SendFailure::NoAnswer, 0);
        assert_eq!(state(&o, "m"), OutgoingState::Unconfirmed);
        assert!(o.take_next(0).is_none(), "the chat waits for the check");
        assert!(o.due_checks(999).is_empty(), "not before the first wait");
        assert_eq!(o.next_attempt_at(), Some(1000));
        // A transcript asked for before then cannot say it did not arrive...
        o.reconcile("chat", &[], Some(500));
        assert_eq!(state(&o, "m"), OutgoingState::Unconfirmed);
        // ...a check asked after can; a check whose answer never comes is asked again.
        assert_eq!(o.due_checks(1000).len(), 1);
        assert_eq!(o.next_attempt_at(), Some(1000 + CHECK_AGAIN_MS));
        assert_eq!(o.due_checks(1000 + CHECK_AGAIN_MS)[0].from, 6);
        o.reconcile("chat", &[], Some(1000 + CHECK_AGAIN_MS));
        assert_eq!(o.take_next(20_000).unwrap().client_id, "m");
        // This time it arrives, but the answer is lost again: its echo settles it.
        o.send_failed("m", SendFailure::NoAnswer, 20_000);
        assert_eq!(
            o.reconcile("chat", &[agent_text(9, "hello")], None),
            vec!["m".to_string()]
        );
        assert_eq!(o.take_next(20_000).unwrap().client_id, "later");
    }

    #[test]
    fn no_answer_or_slow_down_never_gives_a_message_up_and_waits_longer_each_time() {
        let mut o = Outbox::default();
        o.push("c", "chat", "x", 0);
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            o.take_next(now).expect("due");
            o.send_failed("c", SendFailure::Throttled, now);
            let due = o.next_attempt_at().unwrap();
            assert!(o.take_next(due - 1).is_none(), "not before its time");
            waits.push(due - now);
            now = due;
        }
        assert_eq!(waits, [1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000]);
        assert_eq!(state(&o, "c"), OutgoingState::Queued);
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
    fn messages_held_back_by_one_on_its_way_ask_for_no_timer() {
        // A timer due at once for a message that cannot go would spin the pump.
        let mut o = Outbox::default();
        o.push("a1", "a", "1", 0);
        o.push("a2", "a", "2", 0);
        o.take_next(0);
        assert_eq!(o.next_attempt_at(), None, "a1's answer comes first");
        o.send_failed("a1", SendFailure::NoAnswer, 0);
        assert_eq!(o.next_attempt_at(), Some(1000), "a1's check, not a2");
        o.push("b1", "b", "1", 0);
        assert_eq!(o.next_attempt_at(), Some(0), "b1 may go now");
    }

    #[test]
    fn a_message_waiting_for_its_retry_holds_back_the_later_ones_of_its_chat() {
        let mut o = Outbox::default();
        o.push("a1", "a", "1", 0);
        o.push("a2", "a", "2", 0);
        o.push("b1", "b", "1", 0);
        o.take_next(0);
        o.send_failed("a1", SendFailure::Throttled, 0);
        assert_eq!(
            o.take_next(0).unwrap().client_id,
            "b1",
            "a2 must not overtake a1"
        );
        assert!(o.take_next(0).is_none());
        assert_eq!(o.take_next(1000).unwrap().client_id, "a1");
    }

    #[test]
    fn a_refusal_fails_at_once_and_retry_really_resends() {
        let mut o = Outbox::default();
        o.push("c", "chat", "x", 0);
        o.take_next(0);
        o.send_failed("c", SendFailure::Refused("the text is refused".into()), 0);
        assert_eq!(
            state(&o, "c"),
            OutgoingState::Failed("the text is refused".into())
        );
        assert!(o.take_next(3_600_000).is_none());
        assert_eq!(o.next_attempt_at(), None);
        o.retry("c");
        assert_eq!(o.take_next(0).unwrap().attempts, 1);
    }

    #[test]
    fn the_chats_end_fails_what_was_not_sent_and_what_is_unconfirmed() {
        let mut o = Outbox::default();
        o.push("q", "chat", "queued", 0);
        o.push("u", "chat2", "unconfirmed", 0);
        o.take_next(0);
        o.take_next(0);
        o.put_back("q");
        o.send_failed("u", SendFailure::NoAnswer, 0);
        o.fail_chat("chat", "over");
        o.fail_chat("chat2", "over");
        assert!(state(&o, "q").is_failed() && state(&o, "u").is_failed());
        assert!(o.due_checks(i64::MAX).is_empty());
    }
}
