//! One chat's transcript, keyed by the server's `index`.
//!
//! Indices strictly increase but may skip numbers (Genesys clients see non-contiguous indices),
//! so order is by index, never by arrival or position. A live notification that starts beyond
//! what is known to be complete may mean something was missed: [`Applied::resync_from`] asks
//! the caller to fetch `GET /api/v2/me/chats/{id}/messages?startIndex=N`; the reply to that is
//! complete by definition, so any number it does not contain is a real skip, not a loss.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gws::{Message, MessageType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Agent,
    System,
}

impl Role {
    /// The name pages use for it (a CSS class, a `data-role`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::System => "system",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Text,
    Joined,
    Left,
    Notice,
    CustomNotice,
    PushUrl,
    TypingStarted,
    TypingStopped,
    /// A type this version does not know (kept, shown as a notice if it has text).
    Other(String),
}

/// A transcript entry as the extension keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub index: i64,
    pub kind: LineKind,
    pub role: Role,
    pub nickname: String,
    /// Text (or the URL of a `PushUrl`), as text: never to be rendered as HTML.
    pub text: Option<String>,
    pub at_ms: Option<i64>,
    /// Only agents see it (`visibility: Agents`).
    pub internal: bool,
}

impl Line {
    pub fn from_wire(m: &Message) -> Line {
        let role = match m.from.kind.as_str() {
            "Customer" | "Client" => Role::Customer,
            "Agent" | "Supervisor" => Role::Agent,
            _ => Role::System,
        };
        let kind = match &m.kind {
            MessageType::Text => LineKind::Text,
            MessageType::ParticipantJoined | MessageType::ParticipantRejoined => LineKind::Joined,
            MessageType::ParticipantLeft => LineKind::Left,
            MessageType::TypingStarted => LineKind::TypingStarted,
            MessageType::TypingStopped => LineKind::TypingStopped,
            MessageType::PushUrl => LineKind::PushUrl,
            MessageType::Notice => LineKind::Notice,
            MessageType::CustomNotice => LineKind::CustomNotice,
            MessageType::Other(o) => LineKind::Other(o.clone()),
        };
        let text = if kind == LineKind::PushUrl {
            m.url.clone().or_else(|| m.text.clone())
        } else {
            m.text.clone()
        };
        Line {
            index: m.index,
            kind,
            role,
            nickname: m.from.nickname.clone(),
            text,
            at_ms: m.timestamp_ms,
            internal: m.visibility.as_deref() == Some("Agents"),
        }
    }

    /// Typing events are transcript entries (they have indices) but not lines to show.
    pub fn is_visible(&self) -> bool {
        !matches!(self.kind, LineKind::TypingStarted | LineKind::TypingStopped)
    }
}

/// What applying entries did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// Indices that were new, in order.
    pub added: Vec<i64>,
    /// Entries already known (redelivered after a reconnect, or overlapping a resync).
    pub duplicates: usize,
    /// Fetch the transcript from this index: something before the new entries may be missing.
    pub resync_from: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Transcript {
    lines: BTreeMap<i64, Line>,
    /// Every index up to here is known: present, or confirmed absent by a resync.
    complete_through: i64,
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// Entries pushed live (a `MessageLogUpdated` notification).
    pub fn apply_live(&mut self, messages: &[Message]) -> Applied {
        let mut applied = self.insert(messages);
        self.advance();
        if self
            .lines
            .keys()
            .next_back()
            .is_some_and(|last| *last > self.complete_through)
        {
            applied.resync_from = Some(self.complete_through + 1);
        }
        applied
    }

    /// The reply to a fetch from `from` (`startIndex`): everything the server has from there,
    /// so numbers it skips do not exist.
    pub fn apply_fetched(&mut self, from: i64, messages: &[Message]) -> Applied {
        let applied = self.insert(messages);
        if from <= self.complete_through + 1 {
            let last = messages
                .iter()
                .map(|m| m.index)
                .max()
                .unwrap_or(self.complete_through);
            self.complete_through = self.complete_through.max(last);
        }
        self.advance();
        applied
    }

    fn insert(&mut self, messages: &[Message]) -> Applied {
        let mut applied = Applied::default();
        let mut sorted: Vec<&Message> = messages.iter().collect();
        sorted.sort_by_key(|m| m.index);
        for m in sorted {
            if m.index < 1 || self.lines.contains_key(&m.index) {
                applied.duplicates += 1;
                continue;
            }
            self.lines.insert(m.index, Line::from_wire(m));
            applied.added.push(m.index);
        }
        applied
    }

    /// Moves `complete_through` over entries that follow it without a hole.
    fn advance(&mut self) {
        while self.lines.contains_key(&(self.complete_through + 1)) {
            self.complete_through += 1;
        }
    }

    /// Where a resync after a wake-up or reconnect starts.
    pub fn resync_from(&self) -> i64 {
        self.complete_through + 1
    }

    pub fn last_index(&self) -> i64 {
        self.lines.keys().next_back().copied().unwrap_or(0)
    }

    /// All entries, in index order.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.values()
    }

    pub fn get(&self, index: i64) -> Option<&Line> {
        self.lines.get(&index)
    }

    /// Who is typing now: the role of the last typing event, unless a stop or a message from
    /// that role came after it.
    pub fn typing(&self) -> Option<Role> {
        for line in self.lines.values().rev() {
            match line.kind {
                LineKind::TypingStarted => return Some(line.role),
                LineKind::TypingStopped | LineKind::Text | LineKind::Left => return None,
                _ => continue,
            }
        }
        None
    }

    /// Drops all but the last `keep` entries (bounded storage for long chats).
    pub fn truncate_front(&mut self, keep: usize) {
        while self.lines.len() > keep {
            self.lines.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gws::Participant;

    fn msg(index: i64, kind: MessageType, who: &str, text: Option<&str>) -> Message {
        Message {
            index,
            kind,
            text: text.map(Into::into),
            url: None,
            visibility: Some("All".into()),
            from: Participant {
                nickname: who.into(),
                kind: if who == "Ann" {
                    "Agent".into()
                } else {
                    "Customer".into()
                },
                participant_id: "p".into(),
            },
            timestamp: None,
            timestamp_ms: Some(index * 1000),
        }
    }

    fn text(index: i64, t: &str) -> Message {
        msg(index, MessageType::Text, "Pat", Some(t))
    }

    fn texts(t: &Transcript) -> Vec<(i64, String)> {
        t.lines()
            .filter(|l| l.is_visible())
            .map(|l| (l.index, l.text.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn duplicates_are_dropped_and_order_is_by_index() {
        let mut t = Transcript::new();
        t.apply_fetched(1, &[text(1, "a"), text(2, "b")]);
        let a = t.apply_live(&[text(4, "d"), text(3, "c"), text(2, "b")]);
        assert_eq!(a.added, vec![3, 4]);
        assert_eq!(a.duplicates, 1);
        assert_eq!(a.resync_from, None);
        assert_eq!(
            texts(&t),
            vec![
                (1, "a".into()),
                (2, "b".into()),
                (3, "c".into()),
                (4, "d".into())
            ]
        );
    }

    #[test]
    fn a_hole_asks_for_a_resync_and_the_fetch_settles_it() {
        let mut t = Transcript::new();
        t.apply_fetched(1, &[text(1, "a"), text(2, "b")]);
        // 3 and 4 were missed (the worker was asleep); 5 arrives live.
        let a = t.apply_live(&[text(5, "e")]);
        assert_eq!(a.resync_from, Some(3));
        let f = t.apply_fetched(3, &[text(3, "c"), text(4, "d"), text(5, "e")]);
        assert_eq!(f.added, vec![3, 4]);
        assert_eq!(f.duplicates, 1);
        assert_eq!(t.resync_from(), 6);
        assert_eq!(texts(&t).len(), 5);
    }

    #[test]
    fn skipped_indices_confirmed_by_a_fetch_are_not_asked_for_again() {
        let mut t = Transcript::new();
        t.apply_fetched(1, &[text(1, "a")]);
        assert_eq!(t.apply_live(&[text(3, "c")]).resync_from, Some(2));
        // The server has nothing at 2: a real skip.
        t.apply_fetched(2, &[text(3, "c")]);
        assert_eq!(t.resync_from(), 4);
        assert_eq!(t.apply_live(&[text(4, "d")]).resync_from, None);
    }

    #[test]
    fn typing_state_follows_the_last_typing_event() {
        let mut t = Transcript::new();
        t.apply_fetched(
            1,
            &[
                text(1, "a"),
                msg(2, MessageType::TypingStarted, "Pat", None),
            ],
        );
        assert_eq!(t.typing(), Some(Role::Customer));
        t.apply_live(&[text(3, "hi")]);
        assert_eq!(t.typing(), None);
        t.apply_live(&[
            msg(4, MessageType::TypingStarted, "Pat", None),
            msg(5, MessageType::TypingStopped, "Pat", None),
        ]);
        assert_eq!(t.typing(), None);
        assert_eq!(texts(&t).len(), 2, "typing events are not shown as lines");
    }

    #[test]
    fn markup_is_kept_as_plain_text_and_push_urls_use_the_url_field() {
        let mut t = Transcript::new();
        let mut url = msg(2, MessageType::PushUrl, "Ann", None);
        url.url = Some("https://shop.example/help".into());
        t.apply_fetched(1, &[text(1, "<script>alert(1)</script>"), url]);
        assert_eq!(
            t.get(1).unwrap().text.as_deref(),
            Some("<script>alert(1)</script>")
        );
        assert_eq!(
            t.get(2).unwrap().text.as_deref(),
            Some("https://shop.example/help")
        );
        assert_eq!(t.get(2).unwrap().role, Role::Agent);
    }

    #[test]
    fn storage_is_bounded() {
        let mut t = Transcript::new();
        let many: Vec<Message> = (1..=50).map(|i| text(i, "x")).collect();
        t.apply_fetched(1, &many);
        t.truncate_front(10);
        assert_eq!(t.lines().count(), 10);
        assert_eq!(t.lines().next().unwrap().index, 41);
        assert_eq!(t.resync_from(), 51, "what was dropped is not fetched again");
    }
}
