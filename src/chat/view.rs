//! The desk as pages show it: each chat's summary for the list (in the list's order), one
//! chat's newest lines and messages on their way, and what changed in a chat.

use std::rc::Rc;

use super::desk::{ChatChanged, ChatHead, Desk, Key};
use super::outbox::Outbox;
use super::transcript::Line;
use crate::gws::OperationName;
use crate::protocol::{BackgroundEvent, ChatDelta, ChatDetail, ChatSummary, Snapshot};

impl ChatHead {
    /// The chat as the list shows it; `read_only` while signed out (nothing can be done).
    pub fn summary(&self, read_only: bool) -> ChatSummary {
        let mut summary = ChatSummary {
            id: self.id.clone(),
            state: self.state.clone(),
            capabilities: self
                .capabilities
                .iter()
                .filter_map(|c| OperationName::parse(c))
                .collect(),
            read_only: false,
            customer: self.customer.clone(),
            subject: self.subject.clone(),
            unread: self.unread,
            waiting: self.is_waiting(),
            since_ms: self.since_ms,
            waiting_since_ms: self.waiting_since_ms(),
            typing: self.transcript.typing,
            customer_words: self.transcript.last_customer_text.clone(),
        };
        if read_only {
            summary.make_read_only();
        }
        summary
    }
}

impl ChatSummary {
    /// Signed out: the chat shows, and nothing can be done in it.
    pub fn make_read_only(&mut self) {
        self.capabilities.clear();
        self.read_only = true;
    }
}

/// The list's order: waiting chats first, the customer who has waited longest at the top; then
/// live chats, then finished ones, newest first.
pub fn sort_summaries(chats: &mut [ChatSummary]) {
    let rank = |v: &ChatSummary| match (v.waiting, v.state.is_finished()) {
        (true, _) => 0,
        (false, true) => 2,
        (false, false) => 1,
    };
    crate::sorted::sort_small_by(chats, |a, b| {
        let order = if a.waiting && b.waiting {
            let waited = |v: &ChatSummary| v.waiting_since_ms.unwrap_or(v.since_ms);
            waited(a).cmp(&waited(b))
        } else {
            b.since_ms.cmp(&a.since_ms)
        };
        rank(a).cmp(&rank(b)).then(order).then(a.id.cmp(&b.id))
    });
}

impl Desk {
    /// Every loaded chat's summary, in the list's order.
    pub fn summaries(&self, read_only: bool) -> Vec<ChatSummary> {
        let mut chats: Vec<ChatSummary> =
            self.heads.values().map(|h| h.summary(read_only)).collect();
        sort_summaries(&mut chats);
        chats
    }

    /// The chats a list shows first: every live one, and the newest `finished` finished ones
    /// (by the index alone, no head read); and how many finished ones are kept beyond those.
    pub fn listed(&self, finished: usize) -> (Vec<String>, u32) {
        let mut done = self.finished_chats();
        crate::sorted::sort_small_by(&mut done, |a, b| b.cmp(a));
        let more = done.len().saturating_sub(finished);
        let ids = self
            .index
            .chats
            .iter()
            .filter(|(_, e)| !e.finished)
            .map(|(id, _)| id.clone())
            .chain(done.into_iter().take(finished).map(|(_, id)| id.clone()))
            .collect();
        (ids, u32::try_from(more).unwrap_or(u32::MAX))
    }

    /// The pages of a loaded chat's head that hold its newest `lines` lines (all its pages
    /// when it has fewer), the newest first: what opening the chat loads.
    pub fn newest_pages(&self, chat_id: &str, lines: u32) -> Vec<Key> {
        let Some(head) = self.heads.get(chat_id) else {
            return Vec::new();
        };
        let mut held = 0u32;
        head.transcript
            .pages
            .iter()
            .rev()
            .take_while(|(_, count)| {
                let more = held < lines;
                held = held.saturating_add(**count);
                more
            })
            .map(|(page, _)| Key::Page(chat_id.to_owned(), *page))
            .collect()
    }

    /// One loaded chat's newest `newest` lines, as far as its pages are loaded; whether
    /// earlier lines are kept beyond them (in pages not loaded, or left out); its messages on
    /// their way.
    pub fn detail(&self, chat_id: &str, newest: u32) -> Option<ChatDetail> {
        let head = self.heads.get(chat_id)?;
        let pages = self.pages.get(chat_id);
        let visible = || {
            pages
                .into_iter()
                .flat_map(|p| p.values().flatten())
                .filter(|l| l.is_visible())
        };
        // Only the lines kept are copied.
        let left_out = visible().count().saturating_sub(newest as usize);
        let lines: Vec<Line> = visible().skip(left_out).cloned().collect();
        let earlier = left_out > 0
            || head
                .transcript
                .pages
                .keys()
                .any(|p| pages.is_none_or(|loaded| loaded.get(p).is_none()));
        Some(ChatDetail {
            id: chat_id.to_owned(),
            lines,
            earlier,
            outgoing: self.outbox.for_chat(chat_id).cloned().collect(),
        })
    }
}

impl ChatChanged {
    /// What a page merges.
    pub fn delta(&self, outbox: &Outbox, read_only: bool) -> ChatDelta {
        ChatDelta {
            chat: self.head.summary(read_only),
            lines: self
                .lines
                .iter()
                .filter(|l| l.is_visible())
                .cloned()
                .collect(),
            outgoing: Some(outbox.for_chat(&self.head.id).cloned().collect()),
        }
    }
}

impl ChatDetail {
    /// Merges what a delta brings: new lines by index (a line already shown is not doubled),
    /// the messages on their way as they are now. Lines before the first one held, while
    /// earlier ones are kept, are left to be loaded when asked for: what is held stays the
    /// newest lines without a gap, and `earlier` stays true (a migrated chat's delta brings
    /// every line it has).
    pub fn merge(&mut self, delta: &ChatDelta) {
        let first = self.lines.first().map(|l| l.index);
        for line in &delta.lines {
            if self.earlier && first.is_some_and(|first| line.index < first) {
                continue;
            }
            match self.lines.binary_search_by_key(&line.index, |l| l.index) {
                Ok(at) => self.lines[at] = line.clone(),
                Err(at) => self.lines.insert(at, line.clone()),
            }
        }
        if let Some(outgoing) = &delta.outgoing {
            self.outgoing = outgoing.clone();
        }
    }
}

/// What a page shows of the desk: the snapshot it painted first, kept up to date by what the
/// background pushes, and the chat it has open, as far as loaded. The open chat is held in
/// `open` alone (taken out of the snapshot, which views copy) and shared: a page's views and
/// its previous state hold it without copying its lines; a change copies it once.
#[derive(Debug, Clone, PartialEq)]
pub struct PageModel {
    /// The snapshot, its `open` taken out.
    pub snapshot: Snapshot,
    pub open: Option<Rc<ChatDetail>>,
}

impl PageModel {
    pub fn new(mut snapshot: Snapshot) -> PageModel {
        PageModel {
            open: snapshot.open.take().map(Rc::new),
            snapshot,
        }
    }

    /// The page opened (or reloaded) a chat.
    pub fn opened(&mut self, detail: ChatDetail) {
        self.open = Some(Rc::new(detail));
    }

    /// Merges what the background pushed. A new snapshot replaces everything but the open
    /// chat, unless it is the one the snapshot brings (the page asks for its chat again), and
    /// the finished chats the agent listed beyond the snapshot's (see [`keep_listed`]).
    pub fn apply(&mut self, event: BackgroundEvent) {
        match event {
            BackgroundEvent::Snapshot(mut s) => {
                let new = s.open.take();
                let same = match (&self.open, &new) {
                    (Some(open), Some(new)) => open.id == new.id,
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                if same {
                    self.open = new.map(Rc::new);
                }
                keep_listed(&mut self.snapshot.chats, &mut s);
                self.snapshot = s;
            }
            BackgroundEvent::ChatChanged(delta) => {
                let chats = &mut self.snapshot.chats;
                match chats.iter_mut().find(|c| c.id == delta.chat.id) {
                    Some(c) => *c = delta.chat.clone(),
                    None => chats.push(delta.chat.clone()),
                }
                sort_summaries(chats);
                if let Some(open) = self.open.as_mut().filter(|o| o.id == delta.chat.id) {
                    Rc::make_mut(open).merge(&delta);
                }
            }
            BackgroundEvent::ChatsRemoved(ids) => {
                self.snapshot.chats.retain(|c| !ids.contains(&c.id));
                if self.open.as_ref().is_some_and(|o| ids.contains(&o.id)) {
                    self.open = None;
                }
            }
            BackgroundEvent::OutgoingChanged { chat_id, outgoing } => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == chat_id) {
                    Rc::make_mut(open).outgoing = outgoing;
                }
            }
            BackgroundEvent::Cobrowse(views) => self.snapshot.cobrowse = views,
            // A page already painted keeps what it shows.
            BackgroundEvent::SnapshotRefused(_) => {}
            BackgroundEvent::Status(status) => {
                // The channel's state comes with the desk's snapshots, not the status record.
                let channel_state = self.snapshot.agent.channel_state;
                self.snapshot.agent = status;
                self.snapshot.agent.channel_state = channel_state;
            }
        }
    }
}

/// Keeps in `new` the finished chats a page listed (`listed`) that `new` leaves out: a pushed
/// snapshot lists the newest finished ones only, and the older ones the agent asked for stay
/// listed. At most as many as `new` says are kept beyond its own, the newest of them; `new`
/// then counts the rest. A kept chat is as current as its own deltas made it (a finished chat
/// changes little, and one pruned meanwhile was removed by `ChatsRemoved`); whether the desk
/// is read-only is the new snapshot's.
fn keep_listed(listed: &mut Vec<ChatSummary>, new: &mut Snapshot) {
    // A scan of the snapshot per kept chat: both lists are bounded by the retention (at most
    // 200 finished chats), and a set of ids would be one more generic type in the popup.
    let mut kept: Vec<ChatSummary> = std::mem::take(listed)
        .into_iter()
        .filter(|c| c.state.is_finished() && !new.chats.iter().any(|n| n.id == c.id))
        .collect();
    if kept.is_empty() || new.finished_more == 0 {
        return;
    }
    crate::sorted::sort_small_by(&mut kept, |a, b| b.since_ms.cmp(&a.since_ms));
    kept.truncate(new.finished_more as usize);
    if new.agent.signed_in {
        kept.iter_mut().for_each(|c| c.read_only = false);
    } else {
        kept.iter_mut().for_each(ChatSummary::make_read_only);
    }
    new.finished_more -= u32::try_from(kept.len()).unwrap_or(u32::MAX);
    new.chats.extend(kept);
    sort_summaries(&mut new.chats);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::transcript::{Line, LineKind, Role};
    use crate::chat::DeskChange;
    use crate::gws::{ChatState, Notification};

    fn state(id: &str, state: &str, capabilities: &str) -> DeskChange {
        DeskChange::ApplyNotification(
            serde_json::from_str::<Notification>(&format!(
                r#"{{"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
                    "chat":{{"id":"{id}","state":"{state}","capabilities":[{capabilities}]}}}}"#
            ))
            .unwrap(),
        )
    }

    /// A desk holding one chat of `lines` text lines (indexes 1 … `lines`, pages of 100).
    fn desk_with_lines(lines: i64) -> Desk {
        let lines: serde_json::Map<String, serde_json::Value> = (1..=lines)
            .map(|i| {
                (
                    i.to_string(),
                    serde_json::json!({"index": i, "kind": "text", "role": "customer",
                        "nickname": "Pat", "text": format!("line {i}"), "at_ms": i,
                        "internal": false}),
                )
            })
            .collect();
        let v1: crate::chat::legacy::DeskV1 = serde_json::from_value(serde_json::json!({
            "chats": {"c": {"id": "c", "state": "Chatting", "capabilities": [],
                "transcript": {"lines": lines, "complete_through": lines.len()}}}
        }))
        .unwrap();
        v1.into_desk()
    }

    #[test]
    fn the_list_shows_every_live_chat_and_the_newest_finished_ones() {
        let mut d = Desk::new();
        d.change(state("live", "Chatting", r#""SendMessage""#), 5);
        for (n, at) in [("old", 1), ("newer", 3), ("newest", 4), ("mid", 2)] {
            d.change(state(n, "Chatting", ""), at);
            d.change(state(n, "Completed", ""), at);
        }
        assert_eq!(
            d.listed(2),
            (vec!["live".into(), "newest".into(), "newer".into()], 2)
        );
        assert_eq!(d.listed(10).1, 0);
        assert_eq!(d.listed(10).0.len(), 5);
        assert_eq!(d.listed(0), (vec!["live".into()], 4));
    }

    #[test]
    fn opening_a_chat_loads_the_pages_of_its_newest_lines() {
        let d = desk_with_lines(250);
        let page = |p: i64| Key::Page("c".into(), p);
        // Pages of 100 indexes: 1–99, 100–199, 200–250.
        assert_eq!(d.newest_pages("c", 50), [page(2)]);
        assert_eq!(d.newest_pages("c", 51), [page(2)]);
        assert_eq!(d.newest_pages("c", 52), [page(2), page(1)]);
        assert_eq!(d.newest_pages("c", 1000), [page(2), page(1), page(0)]);
        assert_eq!(d.newest_pages("c", 0), Vec::<Key>::new());
        assert_eq!(d.newest_pages("unknown", 100), Vec::<Key>::new());

        // What is loaded is what the detail brings; earlier pages are said to exist.
        let whole = d.detail("c", 1000).unwrap();
        assert_eq!(whole.lines.len(), 250);
        assert!(!whole.earlier);
        let mut newest = d.clone();
        newest.pages.get_mut("c").unwrap().retain(|p, _| *p == 2);
        let detail = newest.detail("c", 1000).unwrap();
        assert_eq!(detail.lines.first().map(|l| l.index), Some(200));
        assert_eq!(detail.lines.len(), 51);
        assert!(detail.earlier);
        // No more than asked for: the pages' older lines are left out, and said to exist.
        let asked = d.detail("c", 30).unwrap();
        assert_eq!(asked.lines.first().map(|l| l.index), Some(221));
        assert_eq!(asked.lines.len(), 30);
        assert!(asked.earlier);
    }

    #[test]
    fn waiting_chats_come_first_and_finished_ones_last() {
        let mut d = Desk::new();
        d.change(state("done", "Completed", ""), 1);
        d.change(state("live", "Chatting", r#""SendMessage""#), 2);
        d.change(state("new", "Invited", r#""Accept","Reject","InFocus""#), 3);
        let ids: Vec<String> = d.summaries(false).into_iter().map(|v| v.id).collect();
        assert_eq!(ids, ["new", "live", "done"]);
        let new = &d.summaries(false)[0];
        // Capabilities we do not act on are left out.
        assert_eq!(
            new.capabilities,
            [OperationName::Accept, OperationName::Reject]
        );
        assert!(new.can(OperationName::Accept));
        assert_eq!(new.state, ChatState::Invited);
        let stored = &d.summaries(true)[0];
        assert!(stored.read_only && !stored.can(OperationName::Accept));
    }

    #[test]
    fn the_customer_who_waited_longest_comes_first() {
        let mut d = Desk::new();
        d.change(state("later", "Invited", r#""Accept""#), 20);
        d.change(state("first", "Invited", r#""Accept""#), 10);
        let ids: Vec<String> = d.summaries(false).into_iter().map(|v| v.id).collect();
        assert_eq!(
            ids,
            ["first", "later"],
            "invited: the older invitation first"
        );
        assert_eq!(d.summaries(false)[0].waiting_since_ms, Some(10));

        // Chatting: who waits is whose words are unanswered, from their first unanswered one.
        let said = |chat: &str, index: i64, from: &str, at: i64| {
            DeskChange::ApplyNotification(
                serde_json::from_str::<Notification>(&format!(
                    r#"{{"messageType":"MessageLogUpdated","notificationType":"NewMessages",
                        "chatId":"{chat}",
                        "messages":[{{"index":{index},"type":"Text","text":"t","timestampSeconds":{at},
                                      "from":{{"type":"{from}","nickname":"n"}}}}]}}"#
                ))
                .unwrap(),
            )
        };
        d.change(state("first", "Chatting", r#""SendMessage""#), 30);
        d.change(state("later", "Chatting", r#""SendMessage""#), 30);
        d.change(said("later", 1, "Customer", 100), 100);
        d.change(said("later", 2, "Customer", 150), 150);
        d.change(said("first", 1, "Customer", 120), 120);
        let order: Vec<(String, Option<i64>)> = d
            .summaries(false)
            .into_iter()
            .map(|v| (v.id, v.waiting_since_ms))
            .collect();
        assert_eq!(
            order,
            [("later".into(), Some(100)), ("first".into(), Some(120))]
        );
        d.change(said("later", 3, "Agent", 160), 160);
        let later = d
            .summaries(false)
            .into_iter()
            .find(|v| v.id == "later")
            .unwrap();
        assert_eq!((later.waiting, later.waiting_since_ms), (false, None));
    }

    #[test]
    fn a_delta_merges_by_index_without_doubling() {
        let line = |index: i64, text: &str| Line {
            index,
            kind: LineKind::Text,
            role: Role::Customer,
            nickname: "Pat".into(),
            text: Some(text.into()),
            at_ms: None,
            internal: false,
        };
        let mut shown = ChatDetail {
            id: "c".into(),
            lines: vec![line(1, "a"), line(3, "c")],
            earlier: false,
            outgoing: Vec::new(),
        };
        let mut d = Desk::new();
        d.change(state("c", "Chatting", ""), 0);
        let delta = ChatDelta {
            chat: d.heads["c"].summary(false),
            lines: vec![line(2, "b"), line(3, "c")],
            outgoing: None,
        };
        shown.merge(&delta);
        let texts: Vec<&str> = shown
            .lines
            .iter()
            .map(|l| l.text.as_deref().unwrap())
            .collect();
        assert_eq!(texts, ["a", "b", "c"]);

        // Held: the newest lines, earlier ones kept. Lines before them (a migrated chat's
        // delta brings every line) are left for later, the new one is added.
        shown.earlier = true;
        let delta = ChatDelta {
            lines: vec![line(0, "older"), line(2, "b"), line(4, "d")],
            ..delta
        };
        shown.merge(&delta);
        let indices: Vec<i64> = shown.lines.iter().map(|l| l.index).collect();
        assert_eq!(indices, [1, 2, 3, 4]);
        assert!(shown.earlier);
    }

    /// The snapshot the protocol's golden fixture pushes.
    fn fixture_snapshot() -> Snapshot {
        let event: BackgroundEvent = serde_json::from_str(include_str!(
            "../../tests/fixtures/protocol/event_snapshot.json"
        ))
        .unwrap();
        match event {
            BackgroundEvent::Snapshot(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_page_model_follows_what_the_background_pushes() {
        let snapshot = fixture_snapshot();
        let mut m = PageModel::new(snapshot.clone());
        let id = snapshot.chats[0].id.clone();
        let mut chat = snapshot.chats[0].clone();
        chat.unread = 7;
        let line = |index: i64| Line {
            index,
            kind: LineKind::Text,
            role: Role::Customer,
            nickname: "Pat".into(),
            text: Some(format!("line {index}")),
            at_ms: None,
            internal: false,
        };
        m.apply(BackgroundEvent::ChatChanged(ChatDelta {
            chat: chat.clone(),
            lines: vec![line(10)],
            outgoing: None,
        }));
        assert_eq!(m.snapshot.chats[0].unread, 7);
        assert_eq!(m.open.as_ref().unwrap().lines.last().unwrap().index, 10);
        m.apply(BackgroundEvent::OutgoingChanged {
            chat_id: id.clone(),
            outgoing: Vec::new(),
        });
        assert!(m.open.as_ref().unwrap().outgoing.is_empty());
        m.apply(BackgroundEvent::ChatsRemoved(vec![id]));
        assert!(m.snapshot.chats.is_empty() && m.open.is_none());
        // The open chat is held once, not in the snapshot the views copy too.
        assert!(m.snapshot.open.is_none());
    }

    #[test]
    fn finished_chats_listed_on_request_stay_listed_when_a_snapshot_is_pushed() {
        let fixture = fixture_snapshot();
        let mut d = Desk::new();
        d.change(state("live", "Chatting", r#""SendMessage""#), 100);
        for at in 1..=6 {
            d.change(state(&format!("f{at}"), "Chatting", ""), at);
            d.change(state(&format!("f{at}"), "Completed", ""), at);
        }
        // What the background lists when the newest `finished` finished chats are asked for.
        let listing = |d: &Desk, finished: u32, signed_in: bool| {
            let (ids, more) = d.listed(finished as usize);
            let mut s = fixture.clone();
            s.agent.signed_in = signed_in;
            s.chats = d
                .summaries(!signed_in)
                .into_iter()
                .filter(|c| ids.contains(&c.id))
                .collect();
            s.finished_more = more;
            s.open = None;
            s
        };
        let ids = |m: &PageModel| -> Vec<String> {
            m.snapshot.chats.iter().map(|c| c.id.clone()).collect()
        };
        let mut m = PageModel::new(listing(&d, 2, true));
        assert_eq!(ids(&m), ["live", "f6", "f5"]);
        // The agent asks for more; then a settings change pushes the first listing again.
        m.apply(BackgroundEvent::Snapshot(listing(&d, 4, true)));
        assert_eq!(m.snapshot.finished_more, 2);
        m.apply(BackgroundEvent::Snapshot(listing(&d, 2, true)));
        assert_eq!(ids(&m), ["live", "f6", "f5", "f4", "f3"]);
        assert_eq!(
            m.snapshot.finished_more, 2,
            "f2 and f1 are still to ask for"
        );

        // A chat finishing meanwhile comes first of the finished ones; the one it pushes out of
        // the snapshot's listing stays listed, and nothing already listed is lost.
        d.change(state("live", "Completed", ""), 100);
        m.apply(BackgroundEvent::Snapshot(listing(&d, 2, true)));
        assert_eq!(ids(&m), ["live", "f6", "f5", "f4", "f3"]);
        assert!(m.snapshot.chats[0].state.is_finished());
        assert_eq!(m.snapshot.finished_more, 2);

        // Signed out: every chat listed is read-only, the kept ones too.
        m.apply(BackgroundEvent::Snapshot(listing(&d, 2, false)));
        assert_eq!(ids(&m).len(), 5);
        assert!(m.snapshot.chats.iter().all(|c| c.read_only));

        // A snapshot that says fewer are kept beyond it (the others were pruned) keeps no more
        // than that, the newest.
        let mut fewer = listing(&d, 2, true);
        fewer.finished_more = 1;
        m.apply(BackgroundEvent::Snapshot(fewer));
        assert_eq!(ids(&m), ["live", "f6", "f5"]);
        assert_eq!(m.snapshot.finished_more, 0);
    }
}
