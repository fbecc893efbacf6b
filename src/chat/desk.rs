//! The agent's desk: every chat the agent holds, the outbox, and the chat channel's state, as
//! records a change loads, changes and stores again. Pure: the effects a change asks for (fetch
//! a transcript from an index) are returned, not performed.
//!
//! **Storage layout 2**, one record per key (names in [`Key::name`]), so that a change touches
//! only what it is about, whatever the desk holds:
//! - `desk_meta` ([`DeskMeta`]: the layout number, the chat channel's state);
//! - `chat_index` ([`ChatIndex`]: every chat with when it began and whether it is over; changes
//!   only when chats come, finish or go);
//! - `waiting` (the chats that wait for the agent: the badge);
//! - `outbox` (messages on their way: usually none or few);
//! - `chat:<id>` ([`ChatHead`]: one chat's state, customer, unread count, transcript head);
//! - `lines:<id>:<page>` (one page of a chat's transcript, [`super::transcript::PAGE_SPAN`]
//!   indices).
//!
//! A customer's message loads and stores `chat:<id>` and one page (and `waiting` when it starts
//! or stops waiting): its cost does not grow with the number of chats or lines held.

use crate::sorted::{SortedMap, SortedSet};

use serde::{Deserialize, Serialize};

use super::outbox::{Outbox, OutgoingMessage, SendFailure};
use super::transcript::{page_of, Line, LineKind, Pages, Role, Transcript, TranscriptHead};
use crate::cobrowse::detect::{self, Carrier, Found};
use crate::cobrowse::Token;
use crate::gws::{AgentState, Chat, ChatState, ChatsReply, Message, Notification};

/// The storage layout these records make up (bumped with an incompatible change; a migration
/// goes with every bump).
pub const LAYOUT: u32 = 2;

/// What the caller must do after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fetch `GET /api/v2/me/chats/{chat_id}/messages?startIndex={from}`.
    Fetch { chat_id: String, from: i64 },
}

/// How much of the past the desk keeps (options page). Live chats are always kept; finished
/// ones beyond the newest `finished_chats` are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub finished_chats: u32,
}

impl Retention {
    /// Entries kept per transcript, at least (whole pages go, the oldest first).
    pub const LINES_PER_CHAT: usize = 1000;
    /// The most finished chats an agent may keep (storage.local is shared by everything the
    /// extension keeps).
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

/// A record of the desk in storage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Meta,
    Index,
    Waiting,
    Outbox,
    Head(String),
    Page(String, i64),
}

impl Key {
    /// Its key in `storage.local`.
    pub fn name(&self) -> String {
        match self {
            Key::Meta => "desk_meta".into(),
            Key::Index => "chat_index".into(),
            Key::Waiting => "waiting".into(),
            Key::Outbox => "outbox".into(),
            Key::Head(id) => format!("{}{id}", crate::storage_keys::CHAT_HEAD_PREFIX),
            Key::Page(id, p) => format!("{}{id}:{p}", crate::storage_keys::LINES_PREFIX),
        }
    }

    /// The records every change reads (all small).
    pub const BASE: [Key; 4] = [Key::Meta, Key::Index, Key::Waiting, Key::Outbox];

    /// The chat whose head a storage key holds.
    pub fn head_chat(name: &str) -> Option<&str> {
        name.strip_prefix(crate::storage_keys::CHAT_HEAD_PREFIX)
    }

    /// The chat and page a storage key holds lines of.
    pub fn page_of_name(name: &str) -> Option<(&str, i64)> {
        let rest = name.strip_prefix(crate::storage_keys::LINES_PREFIX)?;
        let (id, page) = rest.rsplit_once(':')?;
        Some((id, page.parse().ok()?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeskMeta {
    pub layout: u32,
    /// The chat channel's state as the server last said.
    pub channel_state: Option<AgentState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// When the agent first saw the chat (ms).
    pub since_ms: i64,
    pub finished: bool,
}

/// Every chat of the desk.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatIndex {
    pub chats: SortedMap<String, IndexEntry>,
}

/// One chat, without its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatHead {
    pub id: String,
    pub state: ChatState,
    pub capabilities: Vec<String>,
    pub customer: String,
    pub subject: String,
    /// Customer lines the agent has not looked at.
    pub unread: u32,
    /// When the agent first saw the chat (ms).
    pub since_ms: i64,
    pub transcript: TranscriptHead,
}

impl ChatHead {
    fn new(id: &str, state: ChatState, now_ms: i64) -> ChatHead {
        ChatHead {
            id: id.to_owned(),
            state,
            capabilities: Vec::new(),
            customer: String::new(),
            subject: String::new(),
            unread: 0,
            since_ms: now_ms,
            transcript: TranscriptHead::default(),
        }
    }

    /// While it waits for the agent: since when (the invitation as the agent first saw it, or
    /// the customer's first unanswered message).
    pub fn waiting_since_ms(&self) -> Option<i64> {
        if !self.is_waiting() {
            return None;
        }
        match self.state {
            ChatState::Invited => Some(self.since_ms),
            _ => Some(self.transcript.unanswered_since_ms.unwrap_or(self.since_ms)),
        }
    }

    /// The chat needs the agent: invited, or the customer spoke last.
    pub fn is_waiting(&self) -> bool {
        self.state == ChatState::Invited
            || (self.state == ChatState::Chatting
                && self.transcript.last_said == Some(Role::Customer))
    }

    /// Its records: the head and every page.
    fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        std::iter::once(Key::Head(self.id.clone())).chain(
            self.transcript
                .pages
                .keys()
                .map(|p| Key::Page(self.id.clone(), *p)),
        )
    }
}

/// One change to the stored desk, as the agent's session asks for it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeskChange {
    /// A notification from `/v2/me/chats` or `/v2/me/channels`.
    ApplyNotification(Notification),
    /// The chat list after a (re)connect.
    ApplyChatList(ChatsReply),
    /// A transcript fetched from `from`, asked for at `asked_at_ms`.
    ApplyFetched {
        chat_id: String,
        from: i64,
        messages: Vec<Message>,
        asked_at_ms: i64,
    },
    /// This worker instance is about to send for the first time (its first resync is done):
    /// what an earlier instance left on its way is unconfirmed.
    TakeOverOutbox,
    /// The agent wrote a message.
    QueueMessage {
        client_id: String,
        chat_id: String,
        text: String,
    },
    /// The next message due to be sent (marked as on its way), and the transcripts to fetch
    /// to settle unconfirmed ones.
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
    /// A co-browse token the customer typed was verified: its digits leave the stored line.
    MaskToken {
        chat_id: String,
        index: i64,
        token: Token,
    },
}

fn page_keys<'a>(chat_id: &'a str, messages: &[Message]) -> impl Iterator<Item = Key> + 'a {
    messages
        .iter()
        .map(|m| page_of(m.index))
        .collect::<SortedSet<_>>()
        .into_iter()
        .map(move |p| Key::Page(chat_id.to_owned(), p))
}

impl DeskChange {
    /// The records this change reads beyond [`Key::BASE`] (pages that do not exist yet are
    /// simply absent).
    pub fn reads(&self, index: &ChatIndex) -> Vec<Key> {
        let head = |id: &str| Key::Head(id.to_owned());
        match self {
            DeskChange::ApplyNotification(Notification::ChatStateChangeMessage(c)) => {
                vec![head(&c.chat.id)]
            }
            DeskChange::ApplyNotification(Notification::MessageLogUpdated(log)) => {
                match log.chat_id() {
                    Some(id) => std::iter::once(head(id))
                        .chain(page_keys(id, &log.messages))
                        .collect(),
                    None => Vec::new(),
                }
            }
            DeskChange::ApplyNotification(_) => Vec::new(),
            DeskChange::ApplyChatList(list) => {
                let listed = list.chats.iter().map(|c| c.id.as_str());
                let live = index
                    .chats
                    .iter()
                    .filter(|(_, e)| !e.finished)
                    .map(|(id, _)| id.as_str());
                listed
                    .chain(live)
                    .collect::<SortedSet<_>>()
                    .into_iter()
                    .map(head)
                    .collect()
            }
            DeskChange::ApplyFetched {
                chat_id, messages, ..
            } => std::iter::once(head(chat_id))
                .chain(page_keys(chat_id, messages))
                .collect(),
            DeskChange::QueueMessage { chat_id, .. } | DeskChange::MarkRead { chat_id } => {
                vec![head(chat_id)]
            }
            DeskChange::MaskToken { chat_id, index, .. } => {
                vec![head(chat_id), Key::Page(chat_id.clone(), page_of(*index))]
            }
            DeskChange::Clear => index.chats.keys().map(|id| head(id)).collect(),
            DeskChange::TakeNextOutgoing
            | DeskChange::SendSettled { .. }
            | DeskChange::Retry { .. }
            | DeskChange::TakeOverOutbox
            | DeskChange::Prune => Vec::new(),
        }
    }
}

/// How one send of a message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Sent,
    Failed(SendFailure),
    /// It was taken but never sent (the agent was signed out meanwhile): it waits again.
    NotSent,
}

/// What changed in one chat, for the pages that show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatChanged {
    pub head: ChatHead,
    /// Lines that are new (in index order).
    pub lines: Vec<Line>,
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
    pub waiting: SortedSet<String>,
    /// Chats whose head or lines changed.
    pub changed: Vec<ChatChanged>,
    /// Chats whose messages on their way changed (the outbox), besides those in `changed`.
    pub outbox_changed: Vec<String>,
    /// Chats that are gone (pruned, or signed out).
    pub removed: Vec<String>,
    /// Co-browse tokens the customers of live chats sent with this change (candidates: the
    /// server verifies them).
    pub found: Vec<Found>,
    /// Set by the store.
    pub stored: Stored,
}

/// What the store made of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stored {
    /// The change altered nothing to store.
    #[default]
    Nothing,
    /// What it altered is stored.
    Stored,
    /// It could not be stored (the browser's storage is full even without the finished chats
    /// given up for room, or failing). What it altered is not stored; the finished chats given
    /// up (in `removed`) are gone all the same.
    Failed,
}

/// The desk's records as loaded for a change; what the change alters is marked to be stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desk {
    pub meta: DeskMeta,
    pub index: ChatIndex,
    pub waiting: SortedSet<String>,
    pub outbox: Outbox,
    /// Heads loaded.
    pub heads: SortedMap<String, ChatHead>,
    /// Pages loaded, per chat.
    pub pages: SortedMap<String, Pages>,
    dirty: SortedSet<Key>,
    removed: SortedSet<Key>,
    /// Lines added per chat during this change.
    added: SortedMap<String, Vec<i64>>,
    /// Lines changed in place per chat during this change (a token masked).
    rewritten: SortedMap<String, Vec<i64>>,
    /// Co-browse candidates found during this change.
    found: Vec<Found>,
}

/// A record to store, by type.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Record<'a> {
    Meta(&'a DeskMeta),
    Index(&'a ChatIndex),
    Waiting(&'a SortedSet<String>),
    Outbox(&'a Outbox),
    Head(&'a ChatHead),
    Page(&'a Vec<Line>),
}

impl Desk {
    /// An empty desk of the current layout (everything new is to be stored).
    pub fn new() -> Desk {
        let mut d = Desk {
            meta: DeskMeta {
                layout: LAYOUT,
                channel_state: None,
            },
            ..Desk::default()
        };
        d.dirty.extend(Key::BASE);
        d
    }

    /// A desk from the base records as stored (`None`: not stored yet).
    pub fn loaded(
        meta: Option<DeskMeta>,
        index: Option<ChatIndex>,
        waiting: Option<SortedSet<String>>,
        outbox: Option<Outbox>,
    ) -> Desk {
        let mut d = Desk {
            meta: meta.clone().unwrap_or(DeskMeta {
                layout: LAYOUT,
                channel_state: None,
            }),
            index: index.unwrap_or_default(),
            waiting: waiting.unwrap_or_default(),
            outbox: outbox.unwrap_or_default(),
            ..Desk::default()
        };
        if meta.is_none() {
            d.dirty.insert(Key::Meta);
        }
        d
    }

    /// A chat's head as stored.
    pub fn insert_head(&mut self, head: ChatHead) {
        self.heads.insert(head.id.clone(), head);
    }

    /// A page of a chat's lines as stored.
    pub fn insert_page(&mut self, chat_id: &str, page: i64, lines: Vec<Line>) {
        self.pages
            .entry(chat_id.to_owned())
            .or_default()
            .insert(page, lines);
    }

    /// Every record is to be stored (a migrated desk).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(Key::BASE);
        for head in self.heads.values() {
            self.dirty.extend(head.keys());
        }
    }

    fn touch(&mut self, key: Key) {
        self.removed.remove(&key);
        self.dirty.insert(key);
    }

    /// The records to store after the change, and the keys to remove.
    pub fn writes(&self) -> (Vec<(Key, Record<'_>)>, Vec<Key>) {
        let records = self
            .dirty
            .iter()
            .filter_map(|k| {
                let r = match k {
                    Key::Meta => Record::Meta(&self.meta),
                    Key::Index => Record::Index(&self.index),
                    Key::Waiting => Record::Waiting(&self.waiting),
                    Key::Outbox => Record::Outbox(&self.outbox),
                    Key::Head(id) => Record::Head(self.heads.get(id)?),
                    Key::Page(id, p) => Record::Page(self.pages.get(id)?.get(p)?),
                };
                Some((k.clone(), r))
            })
            .collect();
        (records, self.removed.iter().cloned().collect())
    }

    /// The transcript of a loaded chat (its pages as loaded).
    pub fn transcript(&mut self, chat_id: &str) -> Option<Transcript<'_>> {
        let head = self.heads.get_mut(chat_id)?;
        Some(Transcript {
            head: &mut head.transcript,
            pages: self.pages.entry(chat_id.to_owned()).or_default(),
        })
    }

    /// Applies `change` at `now_ms`; the outcome says what to do next and what changed.
    pub fn change(&mut self, change: DeskChange, now_ms: i64) -> DeskOutcome {
        let mut outcome = DeskOutcome::default();
        let outbox_before = self.outbox.clone();
        match change {
            DeskChange::ApplyNotification(n) => outcome.fetch = self.apply(&n, now_ms),
            DeskChange::ApplyChatList(list) => outcome.fetch = self.apply_chat_list(&list, now_ms),
            DeskChange::ApplyFetched {
                chat_id,
                from,
                messages,
                asked_at_ms,
            } => self.apply_fetched(&chat_id, from, &messages, asked_at_ms),
            DeskChange::TakeOverOutbox => self.outbox.take_over(now_ms),
            DeskChange::QueueMessage {
                client_id,
                chat_id,
                text,
            } => {
                let after = self
                    .heads
                    .get(&chat_id)
                    .map(|c| c.transcript.last_index)
                    .unwrap_or(0);
                self.outbox.push(&client_id, &chat_id, &text, after);
            }
            DeskChange::TakeNextOutgoing => {
                outcome.next_outgoing = self.outbox.take_next(now_ms);
                outcome.fetch = self.checks_due(now_ms);
            }
            DeskChange::SendSettled { client_id, result } => {
                // A message put back is not taken again at once: nothing is sent now.
                let go_on = result != SendResult::NotSent;
                match result {
                    SendResult::Sent => self.outbox.sent(&client_id),
                    SendResult::Failed(failure) => {
                        self.outbox.send_failed(&client_id, failure, now_ms)
                    }
                    SendResult::NotSent => self.outbox.put_back(&client_id),
                }
                if go_on {
                    outcome.next_outgoing = self.outbox.take_next(now_ms);
                    outcome.fetch = self.checks_due(now_ms);
                }
            }
            DeskChange::Retry { client_id } => self.outbox.retry(&client_id),
            DeskChange::MarkRead { chat_id } => self.mark_read(&chat_id),
            DeskChange::Clear => {
                let ids: Vec<String> = self.index.chats.keys().cloned().collect();
                for id in &ids {
                    self.drop_chat(id);
                }
                self.outbox = Outbox::default();
                self.meta.channel_state = None;
                self.touch(Key::Meta);
                outcome.removed = ids;
            }
            DeskChange::Prune => {}
            DeskChange::MaskToken {
                chat_id,
                index,
                token,
            } => self.mask_token(&chat_id, index, &token),
        }
        if self.outbox != outbox_before {
            self.touch(Key::Outbox);
            let chats: SortedSet<String> = self
                .outbox
                .chats()
                .chain(outbox_before.chats())
                .map(str::to_owned)
                .collect();
            outcome.outbox_changed = chats.into_iter().collect();
        }
        self.update_waiting();
        outcome.next_attempt_at = self.outbox.next_attempt_at();
        outcome.waiting = self.waiting.clone();
        outcome.changed = self
            .dirty
            .iter()
            .filter_map(|k| match k {
                Key::Head(id) => self.heads.get(id),
                _ => None,
            })
            .map(|head| ChatChanged {
                lines: self.added_lines(&head.id),
                head: head.clone(),
            })
            .collect();
        crate::sorted::sort_small_by(&mut outcome.removed, |a, b| a.cmp(b));
        outcome.found = std::mem::take(&mut self.found);
        outcome
    }

    fn mask_token(&mut self, chat_id: &str, index: i64, token: &Token) {
        let Some(mut t) = self.transcript(chat_id) else {
            return;
        };
        let Some(line) = t.get_mut(index) else {
            return;
        };
        let Some(masked) = line
            .text
            .as_deref()
            .map(|text| detect::mask_typed(text, token))
        else {
            return;
        };
        if line.text.as_deref() == Some(masked.as_str()) {
            return;
        }
        line.text = Some(masked.clone());
        if let Some(words) = t
            .head
            .last_customer_text
            .as_mut()
            .filter(|w| w.index == index)
        {
            words.text = masked;
        }
        self.touch(Key::Head(chat_id.to_owned()));
        self.touch(Key::Page(chat_id.to_owned(), page_of(index)));
        self.rewritten
            .entry(chat_id.to_owned())
            .or_default()
            .push(index);
    }

    /// A live chat's user data may carry a co-browse token.
    fn detect_in_user_data(&mut self, chat: &Chat) {
        if chat.state != ChatState::Chatting {
            return;
        }
        if let Some(token) = detect::in_user_data(&chat.user_data) {
            self.found.push(Found {
                chat_id: chat.id.clone(),
                token,
                carrier: Carrier::UserData,
                index: None,
            });
        }
    }

    fn added_lines(&self, chat_id: &str) -> Vec<Line> {
        let Some(pages) = self.pages.get(chat_id) else {
            return Vec::new();
        };
        let mut indexes: Vec<i64> = self
            .added
            .get(chat_id)
            .into_iter()
            .chain(self.rewritten.get(chat_id))
            .flatten()
            .copied()
            .collect();
        crate::sorted::sort_small_by(&mut indexes, |a, b| a.cmp(b));
        indexes.dedup();
        indexes
            .iter()
            .filter_map(|i| {
                let page = pages.get(&page_of(*i))?;
                page.binary_search_by_key(i, |l| l.index)
                    .ok()
                    .map(|at| page[at].clone())
            })
            .collect()
    }

    /// Keeps `waiting` true to the loaded heads.
    fn update_waiting(&mut self) {
        let mut changed = false;
        for head in self.heads.values() {
            let now = head.is_waiting();
            if now != self.waiting.contains(&head.id) {
                changed = true;
                if now {
                    self.waiting.insert(head.id.clone());
                } else {
                    self.waiting.remove(&head.id);
                }
            }
        }
        let before = self.waiting.len();
        let index = &self.index;
        self.waiting.retain(|id| index.chats.contains_key(id));
        if changed || self.waiting.len() != before {
            self.touch(Key::Waiting);
        }
    }

    fn upsert(&mut self, chat: &Chat, now_ms: i64) -> &mut ChatHead {
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
        let finished = chat.state.is_finished();
        let entry = self.index.chats.get(&chat.id).copied();
        match entry {
            None => {
                self.index.chats.insert(
                    chat.id.clone(),
                    IndexEntry {
                        since_ms: now_ms,
                        finished,
                    },
                );
                self.touch(Key::Index);
            }
            Some(e) if e.finished != finished => {
                self.index
                    .chats
                    .insert(chat.id.clone(), IndexEntry { finished, ..e });
                self.touch(Key::Index);
            }
            Some(_) => {}
        }
        let since = self.index.chats[&chat.id].since_ms;
        self.touch(Key::Head(chat.id.clone()));
        let head = self
            .heads
            .entry(chat.id.clone())
            .or_insert_with(|| ChatHead::new(&chat.id, chat.state.clone(), since));
        head.state = chat.state.clone();
        head.capabilities = chat.capabilities.clone();
        if let Some(c) = customer {
            head.customer = c;
        }
        if let Some(s) = subject {
            head.subject = s;
        }
        head
    }

    fn set_finished(&mut self, chat_id: &str) {
        if let Some(e) = self.index.chats.get_mut(chat_id) {
            if !e.finished {
                e.finished = true;
                self.touch(Key::Index);
            }
        }
    }

    /// Applies a notification from `/v2/me/chats` or `/v2/me/channels`.
    fn apply(&mut self, n: &Notification, now_ms: i64) -> Vec<Effect> {
        match n {
            Notification::ChatStateChangeMessage(c) => {
                self.detect_in_user_data(&c.chat);
                let head = self.upsert(&c.chat, now_ms);
                // Accepting: the transcript so far comes with (or right after) this; fetch it
                // so nothing before the first live entry is missed.
                if head.state == ChatState::Chatting && head.transcript.last_index == 0 {
                    return vec![Effect::Fetch {
                        chat_id: head.id.clone(),
                        from: 1,
                    }];
                }
                if head.state.is_finished() {
                    let id = head.id.clone();
                    self.outbox.fail_chat(&id, "the chat has ended");
                }
                Vec::new()
            }
            Notification::MessageLogUpdated(log) => {
                let Some(id) = log.chat_id().map(str::to_owned) else {
                    return Vec::new();
                };
                if !self.heads.contains_key(&id) {
                    // A log for a chat we do not know yet: learn it by fetching.
                    return vec![Effect::Fetch {
                        chat_id: id,
                        from: 1,
                    }];
                }
                let resync_from = self.add_lines(&id, |t| t.apply_live(&log.messages), None);
                resync_from
                    .map(|from| vec![Effect::Fetch { chat_id: id, from }])
                    .unwrap_or_default()
            }
            Notification::ChannelStateChangeMessageV2(c) => {
                if let Some(chat) = c.channels.iter().find(|c| c.channel == "chat") {
                    if self.meta.channel_state != Some(chat.user_state.state) {
                        self.meta.channel_state = Some(chat.user_state.state);
                        self.touch(Key::Meta);
                    }
                }
                Vec::new()
            }
            Notification::Unknown => Vec::new(),
        }
    }

    /// Applies entries to a loaded chat through `f`; counts unread customer lines, marks the
    /// pages touched, settles the outbox against new agent lines. Returns where to resync.
    fn add_lines(
        &mut self,
        chat_id: &str,
        f: impl FnOnce(&mut Transcript<'_>) -> super::transcript::Applied,
        fetched_at_ms: Option<i64>,
    ) -> Option<i64> {
        let before = self.heads.get(chat_id)?.clone();
        let live = before.state == ChatState::Chatting;
        let mut t = self.transcript(chat_id)?;
        let applied = f(&mut t);
        // The customer's co-browse tokens: candidates if the chat is live; a marker notice
        // never keeps its token in the transcript.
        let mut found = Vec::new();
        for i in &applied.added {
            let Some(line) = t.get_mut(*i) else { continue };
            let here = detect::in_line(chat_id, line);
            if here.iter().any(|f| f.carrier == Carrier::Notice) {
                line.kind = LineKind::Cobrowse;
                line.text = None;
            }
            if live {
                found.extend(here);
            }
        }
        let new_lines: Vec<Line> = applied
            .added
            .iter()
            .filter_map(|i| t.get(*i).cloned())
            .collect();
        let unread = new_lines
            .iter()
            .filter(|l| {
                l.role == Role::Customer
                    && matches!(
                        l.kind,
                        LineKind::Text
                            | LineKind::CustomNotice
                            | LineKind::PushUrl
                            | LineKind::Cobrowse
                    )
            })
            .count() as u32;
        if let Some(head) = self.heads.get_mut(chat_id) {
            head.unread += unread;
            if *head != before {
                self.touch(Key::Head(chat_id.to_owned()));
            }
        }
        for p in applied
            .added
            .iter()
            .map(|i| page_of(*i))
            .collect::<SortedSet<_>>()
        {
            self.touch(Key::Page(chat_id.to_owned(), p));
        }
        self.added
            .entry(chat_id.to_owned())
            .or_default()
            .extend(applied.added.iter().copied());
        self.outbox.reconcile(chat_id, &new_lines, fetched_at_ms);
        self.found.extend(found);
        self.truncate(chat_id);
        applied.resync_from
    }

    /// Keeps a chat's transcript within [`Retention::LINES_PER_CHAT`].
    fn truncate(&mut self, chat_id: &str) {
        let Some(head) = self.heads.get_mut(chat_id) else {
            return;
        };
        let dropped = head.transcript.truncate_front(Retention::LINES_PER_CHAT);
        for p in dropped {
            if let Some(pages) = self.pages.get_mut(chat_id) {
                pages.remove(&p);
            }
            let key = Key::Page(chat_id.to_owned(), p);
            self.dirty.remove(&key);
            self.removed.insert(key);
        }
    }

    /// The reply to `GET /api/v2/me/chats` after a (re)connect: the server's list is the truth.
    /// Chats it no longer lists are over for this agent. Returns the transcripts to fetch.
    fn apply_chat_list(&mut self, reply: &ChatsReply, now_ms: i64) -> Vec<Effect> {
        let listed: SortedSet<&str> = reply.chats.iter().map(|c| c.id.as_str()).collect();
        let gone: Vec<String> = self
            .heads
            .values()
            .filter(|h| !listed.contains(h.id.as_str()) && !h.state.is_finished())
            .map(|h| h.id.clone())
            .collect();
        for id in gone {
            if let Some(h) = self.heads.get_mut(&id) {
                h.state = ChatState::Revoked;
                h.capabilities.clear();
            }
            self.touch(Key::Head(id.clone()));
            self.set_finished(&id);
            // As when the server says a chat ended: nothing is sent to it or checked any more.
            self.outbox.fail_chat(&id, "the chat has ended");
        }
        let mut effects = Vec::new();
        for chat in &reply.chats {
            self.detect_in_user_data(chat);
            let head = self.upsert(chat, now_ms);
            if head.state == ChatState::Chatting {
                effects.push(Effect::Fetch {
                    chat_id: head.id.clone(),
                    from: head.transcript.resync_from(),
                });
            }
        }
        effects
    }

    /// The transcripts to fetch now to settle the outbox's unconfirmed messages.
    fn checks_due(&mut self, now_ms: i64) -> Vec<Effect> {
        self.outbox
            .due_checks(now_ms)
            .into_iter()
            .map(|c| Effect::Fetch {
                chat_id: c.chat_id,
                from: c.from,
            })
            .collect()
    }

    /// The reply to a transcript fetch from `from`, asked for at `asked_at_ms`; also settles
    /// the chat's messages whose send outcome was unknown.
    fn apply_fetched(&mut self, chat_id: &str, from: i64, messages: &[Message], asked_at_ms: i64) {
        // A full page may end before an echo it would show: it cannot say one is missing.
        let whole = messages.len() < crate::gws::paths::MAX_MESSAGES_PER_FETCH as usize;
        self.add_lines(
            chat_id,
            |t| t.apply_fetched(from, messages),
            whole.then_some(asked_at_ms),
        );
    }

    fn mark_read(&mut self, chat_id: &str) {
        if let Some(h) = self.heads.get_mut(chat_id) {
            if h.unread != 0 {
                h.unread = 0;
                self.touch(Key::Head(chat_id.to_owned()));
            }
        }
    }

    /// Chats to drop to keep what `retention` says: the oldest finished beyond the newest
    /// `finished_chats`. Their heads must be loaded before [`Desk::drop_chats`] drops them.
    pub fn prunable(&self, retention: Retention) -> Vec<String> {
        let keep = retention.clamped().finished_chats as usize;
        let mut finished = self.finished_chats();
        let drop = finished.len().saturating_sub(keep);
        if drop == 0 {
            return Vec::new();
        }
        crate::sorted::sort_small_by(&mut finished, |a, b| a.cmp(b));
        finished
            .into_iter()
            .take(drop)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// The finished chats of the index, each with when the agent first saw it (unsorted).
    pub(crate) fn finished_chats(&self) -> Vec<(i64, &String)> {
        self.index
            .chats
            .iter()
            .filter(|(_, e)| e.finished)
            .map(|(id, e)| (e.since_ms, id))
            .collect()
    }

    /// When storage refuses a change for want of room (Chrome's 10 MB `storage.local` quota;
    /// the extension does not ask for `unlimitedStorage`), the finished chat to give up first,
    /// whatever the retention keeps: the oldest, as pruning would. What is live must be stored;
    /// `None` when no finished chat is left to give up. Load its head before dropping it.
    pub fn to_give_up_for_room(&self) -> Option<String> {
        self.index
            .chats
            .iter()
            .filter(|(_, e)| e.finished)
            .min_by_key(|(id, e)| (e.since_ms, *id))
            .map(|(id, _)| id.clone())
    }

    /// Drops these chats (their heads loaded): every record of theirs goes.
    pub fn drop_chats(&mut self, ids: &[String]) {
        for id in ids {
            self.drop_chat(id);
        }
    }

    fn drop_chat(&mut self, id: &str) {
        if let Some(head) = self.heads.remove(id) {
            for k in head.keys() {
                self.dirty.remove(&k);
                self.removed.insert(k);
            }
        } else {
            self.removed.insert(Key::Head(id.to_owned()));
        }
        self.pages.remove(id);
        if self.index.chats.remove(id).is_some() {
            self.touch(Key::Index);
        }
        if self.outbox.forget_chat(id) {
            self.touch(Key::Outbox);
        }
        if self.waiting.remove(id) {
            self.touch(Key::Waiting);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(json: &str) -> Notification {
        serde_json::from_str(json).unwrap()
    }

    fn state(id: &str, state: &str) -> DeskChange {
        DeskChange::ApplyNotification(notification(&format!(
            r#"{{"messageType":"ChatStateChangeMessage","notificationType":"StatusChange","chat":{{"id":"{id}","state":"{state}",
               "capabilities":["Accept","Reject"],"participants":[{{"type":"Customer","nickname":"Pat","participantId":"c"}}],
               "userData":{{"Subject":"Order 42"}}}}}}"#
        )))
    }

    fn log(id: &str, entries: &[(i64, &str, &str)]) -> DeskChange {
        let messages: Vec<String> = entries
            .iter()
            .map(|(i, who, text)| format!(r#"{{"index":{i},"type":"Text","text":"{text}","from":{{"type":"{who}","nickname":"x"}}}}"#))
            .collect();
        DeskChange::ApplyNotification(notification(&format!(
            r#"{{"messageType":"MessageLogUpdated","notificationType":"NewMessages","chatId":"{id}","messages":[{}]}}"#,
            messages.join(",")
        )))
    }

    fn fetched(id: &str) -> DeskChange {
        DeskChange::ApplyFetched {
            chat_id: id.into(),
            from: 1,
            messages: Vec::new(),
            asked_at_ms: 0,
        }
    }

    /// A simulated store: the records by key, loaded and stored the way the background does.
    #[derive(Default)]
    struct Store {
        records: SortedMap<String, serde_json::Value>,
        /// Keys read and written by the last change.
        read: Vec<String>,
        written: Vec<String>,
    }

    impl Store {
        fn get<T: serde::de::DeserializeOwned>(&self, key: &Key) -> Option<T> {
            self.records
                .get(&key.name())
                .map(|v| serde_json::from_value(v.clone()).unwrap())
        }

        fn change(&mut self, change: DeskChange, now: i64) -> DeskOutcome {
            let mut d = Desk::new();
            d.dirty.clear();
            d.meta = self.get(&Key::Meta).unwrap_or(d.meta);
            d.index = self.get(&Key::Index).unwrap_or_default();
            d.waiting = self.get(&Key::Waiting).unwrap_or_default();
            d.outbox = self.get(&Key::Outbox).unwrap_or_default();
            self.read = change.reads(&d.index).iter().map(Key::name).collect();
            self.read.sort();
            for k in change.reads(&d.index) {
                if let Key::Head(id) = &k {
                    if let Some(h) = self.get::<ChatHead>(&k) {
                        d.heads.insert(id.clone(), h);
                    }
                }
                if let Key::Page(id, p) = &k {
                    if let Some(lines) = self.get::<Vec<Line>>(&k) {
                        d.pages.entry(id.clone()).or_default().insert(*p, lines);
                    }
                }
            }
            let outcome = d.change(change, now);
            let (writes, removes) = d.writes();
            self.written = writes.iter().map(|(k, _)| k.name()).collect();
            self.written.sort();
            for (k, r) in writes {
                self.records
                    .insert(k.name(), serde_json::to_value(r).unwrap());
            }
            for k in removes {
                self.records.remove(&k.name());
            }
            outcome
        }

        fn head(&self, id: &str) -> ChatHead {
            self.get(&Key::Head(id.into())).expect("the chat is stored")
        }
    }

    #[test]
    fn an_invitation_waits_then_accepting_fetches_the_history() {
        let mut s = Store::default();
        let o = s.change(state("c1", "Invited"), 5);
        assert!(o.fetch.is_empty());
        assert_eq!(o.waiting.len(), 1);
        assert_eq!(s.head("c1").customer, "Pat");
        assert_eq!(s.head("c1").subject, "Order 42");
        let o = s.change(state("c1", "Chatting"), 6);
        assert_eq!(
            o.fetch,
            vec![Effect::Fetch {
                chat_id: "c1".into(),
                from: 1
            }]
        );
        assert_eq!(o.waiting.len(), 0);
    }

    #[test]
    fn customer_lines_count_as_unread_and_make_the_chat_wait() {
        let mut s = Store::default();
        s.change(state("c1", "Chatting"), 0);
        s.change(fetched("c1"), 0);
        let o = s.change(
            log("c1", &[(1, "Customer", "hi"), (2, "Customer", "anyone?")]),
            1,
        );
        assert_eq!(s.head("c1").unread, 2);
        assert_eq!(o.waiting.len(), 1);
        assert_eq!(
            o.changed[0].lines.len(),
            2,
            "the new lines travel with the change"
        );
        let o = s.change(log("c1", &[(3, "Agent", "yes")]), 2);
        assert_eq!(o.waiting.len(), 0);
        s.change(
            DeskChange::MarkRead {
                chat_id: "c1".into(),
            },
            3,
        );
        assert_eq!(s.head("c1").unread, 0);
        // Redelivered entries count once.
        let o = s.change(log("c1", &[(2, "Customer", "anyone?")]), 3);
        assert_eq!(s.head("c1").unread, 0);
        assert!(o.changed.is_empty(), "a redelivery stores nothing");
    }

    #[test]
    fn a_message_touches_its_chat_and_page_whatever_the_desk_holds() {
        let mut s = Store::default();
        for n in 0..50 {
            let id = format!("c{n}");
            s.change(state(&id, "Chatting"), n);
            s.change(fetched(&id), n);
            let lines: Vec<(i64, &str, &str)> = (1..=300).map(|i| (i, "Customer", "x")).collect();
            s.change(log(&id, &lines), n);
        }
        s.change(log("c7", &[(301, "Customer", "new")]), 100);
        assert_eq!(s.read, ["chat:c7", "lines:c7:3"]);
        assert_eq!(
            s.written,
            ["chat:c7", "lines:c7:3"],
            "waiting did not change"
        );
        let o = s.change(log("c7", &[(302, "Agent", "answer")]), 101);
        assert_eq!(s.written, ["chat:c7", "lines:c7:3", "waiting"]);
        assert!(s.read.len() <= 2, "{:?}", s.read);
        assert_eq!(o.waiting.len(), 49);
    }

    #[test]
    fn a_gap_in_a_live_log_asks_for_a_fetch() {
        let mut s = Store::default();
        s.change(state("c1", "Chatting"), 0);
        s.change(fetched("c1"), 0);
        let o = s.change(log("c1", &[(3, "Customer", "c")]), 1);
        assert_eq!(
            o.fetch,
            vec![Effect::Fetch {
                chat_id: "c1".into(),
                from: 1
            }]
        );
    }

    #[test]
    fn the_server_list_after_a_reconnect_is_the_truth() {
        let mut s = Store::default();
        s.change(state("gone", "Chatting"), 0);
        s.change(state("kept", "Chatting"), 0);
        let reply: ChatsReply =
            serde_json::from_str(r#"{"statusCode":0,"chats":[{"id":"kept","state":"Chatting"}]}"#)
                .unwrap();
        let o = s.change(DeskChange::ApplyChatList(reply), 1);
        assert_eq!(s.head("gone").state, ChatState::Revoked);
        assert_eq!(
            o.fetch,
            vec![Effect::Fetch {
                chat_id: "kept".into(),
                from: 1
            }]
        );
    }

    #[test]
    fn a_chat_the_server_no_longer_lists_is_not_sent_to_or_checked() {
        use crate::chat::OutgoingState;
        let mut s = Store::default();
        s.change(state("gone", "Chatting"), 0);
        s.change(fetched("gone"), 0);
        for id in ["m1", "m2"] {
            s.change(
                DeskChange::QueueMessage {
                    client_id: id.into(),
                    chat_id: "gone".into(),
                    text: id.into(),
                },
                0,
            );
        }
        s.change(DeskChange::TakeNextOutgoing, 0);
        s.change(
            DeskChange::SendSettled {
                client_id: "m1".into(),
                result: SendResult::Failed(SendFailure::NoAnswer),
            },
            0,
        );
        let reply: ChatsReply = serde_json::from_str(r#"{"statusCode":0,"chats":[]}"#).unwrap();
        let o = s.change(DeskChange::ApplyChatList(reply), 1);
        assert_eq!(o.outbox_changed, ["gone"]);
        let states: Vec<OutgoingState> = s
            .get::<Outbox>(&Key::Outbox)
            .unwrap()
            .for_chat("gone")
            .map(|m| m.state.clone())
            .collect();
        let ended = OutgoingState::Failed("the chat has ended".into());
        assert_eq!(
            states,
            [ended.clone(), ended],
            "unconfirmed and queued alike"
        );
        let o = s.change(DeskChange::TakeNextOutgoing, 60_000);
        assert_eq!((o.fetch, o.next_outgoing), (Vec::new(), None));
        assert_eq!(o.next_attempt_at, None, "no timer for a chat that is gone");
    }

    #[test]
    fn the_echo_of_a_sent_message_settles_the_outbox() {
        let mut s = Store::default();
        s.change(state("c1", "Chatting"), 0);
        s.change(
            DeskChange::QueueMessage {
                client_id: "m1".into(),
                chat_id: "c1".into(),
                text: "hello".into(),
            },
            0,
        );
        let o = s.change(DeskChange::TakeNextOutgoing, 0);
        assert_eq!(o.next_outgoing.unwrap().client_id, "m1");
        s.change(
            DeskChange::SendSettled {
                client_id: "m1".into(),
                result: SendResult::Sent,
            },
            0,
        );
        let o = s.change(log("c1", &[(1, "Agent", "hello")]), 1);
        assert_eq!(o.outbox_changed, ["c1"]);
        assert!(s.get::<Outbox>(&Key::Outbox).unwrap().is_empty());
    }

    #[test]
    fn an_unanswered_send_is_checked_and_only_a_whole_transcript_says_it_is_missing() {
        use crate::chat::OutgoingState;
        let mut s = Store::default();
        s.change(state("c1", "Chatting"), 0);
        s.change(fetched("c1"), 0);
        s.change(
            DeskChange::QueueMessage {
                client_id: "m1".into(),
                chat_id: "c1".into(),
                text: "hello".into(),
            },
            0,
        );
        s.change(DeskChange::TakeNextOutgoing, 0);
        let o = s.change(
            DeskChange::SendSettled {
                client_id: "m1".into(),
                result: SendResult::Failed(SendFailure::NoAnswer),
            },
            0,
        );
        assert_eq!((o.next_outgoing, o.next_attempt_at), (None, Some(1000)));
        let o = s.change(DeskChange::TakeNextOutgoing, 1000);
        assert_eq!(
            o.fetch,
            [Effect::Fetch {
                chat_id: "c1".into(),
                from: 1
            }]
        );
        let unconfirmed = |s: &Store| {
            s.get::<Outbox>(&Key::Outbox)
                .unwrap()
                .for_chat("c1")
                .next()
                .map(|m| m.state.clone())
        };
        // A full page of customer lines: the echo could lie beyond it.
        let page: Vec<String> = (1..=crate::gws::paths::MAX_MESSAGES_PER_FETCH)
            .map(|i| format!(r#"{{"index":{i},"type":"Text","text":"c","from":{{"type":"Client","nickname":"x"}}}}"#))
            .collect();
        let messages: Vec<Message> =
            serde_json::from_str(&format!("[{}]", page.join(","))).unwrap();
        s.change(
            DeskChange::ApplyFetched {
                chat_id: "c1".into(),
                from: 1,
                messages,
                asked_at_ms: 1000,
            },
            1000,
        );
        assert_eq!(unconfirmed(&s), Some(OutgoingState::Unconfirmed));
        s.change(
            DeskChange::ApplyFetched {
                chat_id: "c1".into(),
                from: 1001,
                messages: Vec::new(),
                asked_at_ms: 1000,
            },
            1000,
        );
        assert_eq!(unconfirmed(&s), Some(OutgoingState::Queued));
    }

    #[test]
    fn pruning_drops_the_oldest_finished_chats_with_every_record() {
        let mut s = Store::default();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            s.change(state(id, "Chatting"), i as i64);
            s.change(fetched(id), 0);
            s.change(log(id, &[(1, "Customer", "x")]), 0);
            s.change(state(id, "Completed"), i as i64);
        }
        s.change(state("live", "Chatting"), 0);
        let mut d = Desk {
            index: s.get(&Key::Index).unwrap(),
            ..Desk::default()
        };
        assert_eq!(d.prunable(Retention { finished_chats: 1 }), ["a", "b"]);
        for id in ["a", "b"] {
            d.heads.insert(id.into(), s.head(id));
        }
        d.drop_chats(&["a".into(), "b".into()]);
        let (_, removes) = d.writes();
        let removed: Vec<String> = removes.iter().map(Key::name).collect();
        assert_eq!(removed, ["chat:a", "chat:b", "lines:a:0", "lines:b:0"]);
    }

    #[test]
    fn a_dropped_chat_takes_its_outbox_messages_with_it() {
        let mut s = Store::default();
        for id in ["a", "b"] {
            s.change(state(id, "Chatting"), 0);
            s.change(
                DeskChange::QueueMessage {
                    client_id: format!("m-{id}"),
                    chat_id: id.into(),
                    text: "x".into(),
                },
                0,
            );
        }
        // Taken and accepted: its echo never came before the chat ended, so the chat's end
        // leaves it `Sent` (only what was not sent fails).
        s.change(DeskChange::TakeNextOutgoing, 0);
        s.change(
            DeskChange::SendSettled {
                client_id: "m-a".into(),
                result: SendResult::Sent,
            },
            0,
        );
        s.change(state("a", "Completed"), 1);
        let mut d = Desk {
            index: s.get(&Key::Index).unwrap(),
            outbox: s.get(&Key::Outbox).unwrap(),
            ..Desk::default()
        };
        d.heads.insert("a".into(), s.head("a"));
        d.drop_chats(&["a".into()]);
        assert_eq!(d.outbox.chats().collect::<Vec<_>>(), ["b"]);
        let (writes, _) = d.writes();
        let written: Vec<String> = writes.iter().map(|(k, _)| k.name()).collect();
        assert!(written.contains(&"outbox".to_owned()), "{written:?}");
    }

    #[test]
    fn storage_full_gives_up_the_oldest_finished_chat_first_and_never_a_live_one() {
        let mut s = Store::default();
        for (id, since) in [("newer", 20), ("older", 10)] {
            s.change(state(id, "Chatting"), since);
            s.change(state(id, "Completed"), since);
        }
        s.change(state("live", "Chatting"), 0);
        let mut d = Desk {
            index: s.get(&Key::Index).unwrap(),
            ..Desk::default()
        };
        assert_eq!(d.to_give_up_for_room().as_deref(), Some("older"));
        d.drop_chats(&["older".into()]);
        assert_eq!(d.to_give_up_for_room().as_deref(), Some("newer"));
        d.drop_chats(&["newer".into()]);
        assert_eq!(
            d.to_give_up_for_room(),
            None,
            "the live chat is never given up"
        );
    }

    #[test]
    fn long_chats_keep_their_newest_pages() {
        let mut s = Store::default();
        s.change(state("c1", "Chatting"), 0);
        s.change(fetched("c1"), 0);
        for start in (1..=1200).step_by(100) {
            let lines: Vec<(i64, &str, &str)> =
                (start..start + 100).map(|i| (i, "Customer", "x")).collect();
            s.change(log("c1", &lines), 0);
        }
        let head = s.head("c1");
        assert!(head.transcript.line_count() >= 1000 && head.transcript.line_count() < 1100);
        assert!(
            !s.records.contains_key("lines:c1:0"),
            "the oldest page went"
        );
        assert_eq!(head.transcript.resync_from(), 1201);
    }

    fn notice(id: &str, index: i64, who: &str, text: &str) -> DeskChange {
        DeskChange::ApplyNotification(
            serde_json::from_str(&format!(
                r#"{{"messageType":"MessageLogUpdated","notificationType":"NewMessages","chatId":"{id}",
                    "messages":[{{"index":{index},"type":"CustomNotice","text":"{text}","from":{{"type":"{who}","nickname":"x"}}}}]}}"#
            ))
            .unwrap(),
        )
    }

    fn live_chat(s: &mut Store) {
        s.change(state("C", "Chatting"), 0);
        s.change(fetched("C"), 0);
    }

    #[test]
    fn the_customers_tokens_are_candidates_and_a_marker_notice_keeps_no_digits() {
        let mut s = Store::default();
        live_chat(&mut s);
        let out = s.change(notice("C", 2, "Customer", "cobrowse-token:535176834"), 1);
        assert_eq!(out.found.len(), 1);
        assert_eq!(out.found[0].carrier, Carrier::Notice);
        let page = serde_json::to_string(&s.records["lines:C:0"]).unwrap();
        assert!(!page.contains("535176834"), "{page}");
        assert!(page.contains(r#""kind":"cobrowse""#), "{page}");

        let out = s.change(log("C", &[(3, "Customer", "it is 111 222 333")]), 2);
        assert_eq!(out.found[0].token.expose(), "111222333");
        assert_eq!(out.found[0].index, Some(3));
        let out = s.change(log("C", &[(4, "Agent", "try 444555666")]), 3);
        assert!(out.found.is_empty(), "the agent's digits never count");
        let out = s.change(notice("C", 5, "Agent", "cobrowse-token:777888999"), 4);
        assert!(out.found.is_empty());

        let out = s.change(
            DeskChange::MaskToken {
                chat_id: "C".into(),
                index: 3,
                token: Token::parse("111222333").unwrap(),
            },
            5,
        );
        assert_eq!(
            out.changed[0].lines[0].text.as_deref(),
            Some("it is ••• ••• •••")
        );
        let stored = serde_json::to_string(&s.records).unwrap();
        assert!(
            !stored.contains("111222333") && !stored.contains("111 222 333"),
            "{stored}"
        );
    }

    #[test]
    fn user_data_of_a_live_chat_carries_a_candidate_and_finished_chats_none() {
        let with_data = |id: &str, state: &str| {
            DeskChange::ApplyNotification(
                serde_json::from_str(&format!(
                    r#"{{"messageType":"ChatStateChangeMessage","notificationType":"PropertiesUpdated",
                        "chat":{{"id":"{id}","state":"{state}","userData":{{"cobrowse-token":"246813579"}}}}}}"#
                ))
                .unwrap(),
            )
        };
        let mut s = Store::default();
        live_chat(&mut s);
        let out = s.change(with_data("C", "Chatting"), 1);
        assert_eq!(out.found[0].carrier, Carrier::UserData);
        assert!(s.change(with_data("C", "Completed"), 2).found.is_empty());
    }
}
