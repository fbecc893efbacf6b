//! One chat's transcript, keyed by the server's `index`.
//!
//! Indices strictly increase but may skip numbers (Genesys clients see non-contiguous indices),
//! so order is by index, never by arrival or position. A live notification that starts beyond
//! what is known to be complete may mean something was missed: [`Applied::resync_from`] asks
//! the caller to fetch `GET /api/v2/me/chats/{id}/messages?startIndex=N`; the reply to that is
//! complete by definition, so any number it does not contain is a real skip, not a loss.
//!
//! Stored in pages of [`PAGE_SPAN`] indices plus a small [`TranscriptHead`]: a new entry
//! touches the head and one page, whatever the chat's length.

use crate::sorted::{SortedMap, SortedSet};

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
    /// A participant renamed themselves: `nickname` is the new name, `text` the old one.
    Renamed,
    /// The customer's page handed over a co-browse (our adapter's marker notice); the token it
    /// carried is not kept in the transcript.
    Cobrowse,
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
            MessageType::NicknameUpdated => LineKind::Renamed,
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

/// How many consecutive indices one page of a transcript covers (a page is one storage record:
/// a new line rewrites only its page).
pub const PAGE_SPAN: i64 = 100;

/// The page an index belongs to.
pub fn page_of(index: i64) -> i64 {
    index.div_euclid(PAGE_SPAN)
}

/// What a chat keeps about its transcript besides the lines themselves (small; stored with the
/// chat): how far it is known complete, the newest index, who is typing, who spoke last, and
/// which pages of lines exist.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TranscriptHead {
    /// Every index up to here is known: present, or confirmed absent by a resync.
    pub complete_through: i64,
    /// The newest index held.
    pub last_index: i64,
    /// Indices held beyond `complete_through` (after a gap; usually none).
    #[serde(default, skip_serializing_if = "SortedSet::is_empty")]
    pub known_beyond: SortedSet<i64>,
    /// Who is typing now.
    pub typing: Option<Role>,
    /// Who wrote the newest message (text, custom notice or pushed URL).
    pub last_said: Option<Role>,
    /// Since when the customer's words wait for an answer: the first customer message after
    /// the agent's last one (server time; `None` once the agent answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered_since_ms: Option<i64>,
    /// The customer's newest text (for notifications and announcements).
    pub last_customer_text: Option<CustomerWords>,
    /// The pages held: page number → how many lines it has.
    pub pages: SortedMap<i64, u32>,
}

/// The customer's newest words in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerWords {
    pub index: i64,
    pub text: String,
    pub at_ms: Option<i64>,
}

/// A chat's pages of lines as loaded for a change: page number → its lines in index order.
pub type Pages = SortedMap<i64, Vec<Line>>;

/// A chat's transcript for one change: its head, and the pages the change needs loaded (every
/// page an entry of the change falls in).
#[derive(Debug)]
pub struct Transcript<'a> {
    pub head: &'a mut TranscriptHead,
    pub pages: &'a mut Pages,
}

impl TranscriptHead {
    /// Where a resync after a wake-up or reconnect starts.
    pub fn resync_from(&self) -> i64 {
        self.complete_through + 1
    }

    pub fn line_count(&self) -> u32 {
        self.pages.values().sum()
    }

    /// Drops whole pages, oldest first, while the rest still holds `keep` lines or more
    /// (bounded storage for long chats). Returns the pages dropped.
    pub fn truncate_front(&mut self, keep: usize) -> Vec<i64> {
        let mut dropped = Vec::new();
        while let Some((&first, &n)) = self.pages.iter().next() {
            if (self.line_count() - n) as usize >= keep && self.pages.len() > 1 {
                self.pages.remove(&first);
                dropped.push(first);
            } else {
                break;
            }
        }
        dropped
    }

    /// Marks what the line means for the chat's state (typing, who spoke last), if it is the
    /// newest.
    fn note(&mut self, line: &Line) {
        if line.index <= self.last_index {
            return;
        }
        self.last_index = line.index;
        match line.kind {
            LineKind::TypingStarted => self.typing = Some(line.role),
            LineKind::TypingStopped | LineKind::Text | LineKind::Left => self.typing = None,
            _ => {}
        }
        if line.is_visible()
            && matches!(
                line.kind,
                LineKind::Text | LineKind::CustomNotice | LineKind::PushUrl
            )
        {
            if line.role == Role::Customer && self.last_said != Some(Role::Customer) {
                self.unanswered_since_ms = line.at_ms;
            } else if line.role == Role::Agent {
                self.unanswered_since_ms = None;
            }
            self.last_said = Some(line.role);
        }
        if line.role == Role::Customer && line.kind == LineKind::Text {
            self.last_customer_text = line.text.clone().map(|text| CustomerWords {
                index: line.index,
                text,
                at_ms: line.at_ms,
            });
        }
    }

    /// Moves `complete_through` over entries that follow it without a hole.
    fn advance(&mut self) {
        self.known_beyond.retain(|i| *i > self.complete_through);
        while self.known_beyond.first() == Some(&(self.complete_through + 1)) {
            self.known_beyond.pop_first();
            self.complete_through += 1;
        }
    }
}

impl Transcript<'_> {
    /// Entries pushed live (a `MessageLogUpdated` notification).
    pub fn apply_live(&mut self, messages: &[Message]) -> Applied {
        let mut applied = self.insert(messages);
        self.head.advance();
        if !self.head.known_beyond.is_empty() {
            applied.resync_from = Some(self.head.complete_through + 1);
        }
        applied
    }

    /// The reply to a fetch from `from` (`startIndex`): everything the server has from there,
    /// so numbers it skips do not exist.
    pub fn apply_fetched(&mut self, from: i64, messages: &[Message]) -> Applied {
        let applied = self.insert(messages);
        if from <= self.head.complete_through + 1 {
            let last = messages
                .iter()
                .map(|m| m.index)
                .max()
                .unwrap_or(self.head.complete_through);
            self.head.complete_through = self.head.complete_through.max(last);
        }
        self.head.advance();
        applied
    }

    fn insert(&mut self, messages: &[Message]) -> Applied {
        let mut applied = Applied::default();
        let mut sorted: Vec<&Message> = messages.iter().collect();
        crate::sorted::sort_small_by(&mut sorted, |a, b| a.index.cmp(&b.index));
        for m in sorted {
            if self.insert_line(Line::from_wire(m)) {
                applied.added.push(m.index);
            } else {
                applied.duplicates += 1;
            }
        }
        applied
    }

    /// Adds one line in its place; false if its index is known already (or not an index).
    pub fn insert_line(&mut self, line: Line) -> bool {
        if line.index < 1 {
            return false;
        }
        let p = page_of(line.index);
        let page = self.pages.entry(p).or_default();
        let Err(at) = page.binary_search_by_key(&line.index, |l| l.index) else {
            return false;
        };
        self.head.note(&line);
        if line.index > self.head.complete_through {
            self.head.known_beyond.insert(line.index);
        }
        page.insert(at, line);
        *self.head.pages.entry(p).or_default() += 1;
        true
    }

    pub fn get_mut(&mut self, index: i64) -> Option<&mut Line> {
        let page = self.pages.get_mut(&page_of(index))?;
        page.binary_search_by_key(&index, |l| l.index)
            .ok()
            .map(|i| &mut page[i])
    }

    pub fn get(&self, index: i64) -> Option<&Line> {
        let page = self.pages.get(&page_of(index))?;
        page.binary_search_by_key(&index, |l| l.index)
            .ok()
            .map(|i| &page[i])
    }

    /// The loaded entries, in index order.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.pages.values().flatten()
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

    /// A transcript with every page loaded (as a test holds it).
    #[derive(Default)]
    struct Owned {
        head: TranscriptHead,
        pages: Pages,
    }

    impl Owned {
        fn t(&mut self) -> Transcript<'_> {
            Transcript {
                head: &mut self.head,
                pages: &mut self.pages,
            }
        }
    }

    fn texts(t: &Transcript) -> Vec<(i64, String)> {
        t.lines()
            .filter(|l| l.is_visible())
            .map(|l| (l.index, l.text.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn duplicates_are_dropped_and_order_is_by_index() {
        let mut o = Owned::default();
        let mut t = o.t();
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
        let mut o = Owned::default();
        let mut t = o.t();
        t.apply_fetched(1, &[text(1, "a"), text(2, "b")]);
        // 3 and 4 were missed (the worker was asleep); 5 arrives live.
        let a = t.apply_live(&[text(5, "e")]);
        assert_eq!(a.resync_from, Some(3));
        let f = t.apply_fetched(3, &[text(3, "c"), text(4, "d"), text(5, "e")]);
        assert_eq!(f.added, vec![3, 4]);
        assert_eq!(f.duplicates, 1);
        assert_eq!(t.head.resync_from(), 6);
        assert_eq!(texts(&t).len(), 5);
    }

    #[test]
    fn skipped_indices_confirmed_by_a_fetch_are_not_asked_for_again() {
        let mut o = Owned::default();
        let mut t = o.t();
        t.apply_fetched(1, &[text(1, "a")]);
        assert_eq!(t.apply_live(&[text(3, "c")]).resync_from, Some(2));
        // The server has nothing at 2: a real skip.
        t.apply_fetched(2, &[text(3, "c")]);
        assert_eq!(t.head.resync_from(), 4);
        assert_eq!(t.apply_live(&[text(4, "d")]).resync_from, None);
    }

    #[test]
    fn typing_state_follows_the_last_typing_event() {
        let mut o = Owned::default();
        let mut t = o.t();
        t.apply_fetched(
            1,
            &[
                text(1, "a"),
                msg(2, MessageType::TypingStarted, "Pat", None),
            ],
        );
        assert_eq!(t.head.typing, Some(Role::Customer));
        t.apply_live(&[text(3, "hi")]);
        assert_eq!(t.head.typing, None);
        t.apply_live(&[
            msg(4, MessageType::TypingStarted, "Pat", None),
            msg(5, MessageType::TypingStopped, "Pat", None),
        ]);
        assert_eq!(t.head.typing, None);
        assert_eq!(texts(&t).len(), 2, "typing events are not shown as lines");
    }

    #[test]
    fn markup_is_kept_as_plain_text_and_push_urls_use_the_url_field() {
        let mut o = Owned::default();
        let mut t = o.t();
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
    fn storage_is_bounded_by_whole_pages_and_the_head_remembers_what_it_knows() {
        let mut o = Owned::default();
        let mut t = o.t();
        let many: Vec<Message> = (1..=450).map(|i| text(i, "x")).collect();
        t.apply_fetched(1, &many);
        assert_eq!(t.head.pages.len(), 5, "pages 0..=4");
        let dropped = t.head.truncate_front(120);
        assert_eq!(dropped, [0, 1, 2]);
        assert_eq!(
            t.head.line_count(),
            151,
            "the newest lines (pages 3 and 4), at least 120"
        );
        assert_eq!(
            t.head.resync_from(),
            451,
            "what was dropped is not fetched again"
        );
    }

    #[test]
    fn a_new_entry_touches_its_page_only() {
        let mut o = Owned::default();
        o.t()
            .apply_fetched(1, &(1..=250).map(|i| text(i, "x")).collect::<Vec<_>>());
        // A later change loads only the page its entry falls in.
        let mut head = o.head.clone();
        let mut pages = Pages::new();
        pages.insert(2, o.pages[&2].clone());
        let a = Transcript {
            head: &mut head,
            pages: &mut pages,
        }
        .apply_live(&[text(251, "new"), text(250, "dup")]);
        assert_eq!((a.added, a.duplicates), (vec![251], 1));
        assert_eq!(pages.keys().collect::<Vec<_>>(), [&2]);
        assert_eq!(
            head.last_customer_text.map(|w| (w.index, w.text)),
            Some((251, "new".into()))
        );
        assert_eq!(head.last_said, Some(Role::Customer));
    }
}
