//! The desk as pages show it: each chat's summary for the list (in the list's order), one chat
//! whole (its lines and messages on their way), and what changed in a chat.

use super::desk::{ChatChanged, ChatHead, Desk};
use super::outbox::Outbox;
use crate::gws::OperationName;
use crate::protocol::{BackgroundEvent, ChatDelta, ChatDetail, ChatSummary, Snapshot};

impl ChatHead {
    /// The chat as the list shows it; `read_only` while signed out (nothing can be done).
    pub fn summary(&self, read_only: bool) -> ChatSummary {
        ChatSummary {
            id: self.id.clone(),
            state: self.state.clone(),
            capabilities: if read_only {
                Vec::new()
            } else {
                self.capabilities
                    .iter()
                    .filter_map(|c| OperationName::parse(c))
                    .collect()
            },
            read_only,
            customer: self.customer.clone(),
            subject: self.subject.clone(),
            unread: self.unread,
            waiting: self.is_waiting(),
            since_ms: self.since_ms,
            waiting_since_ms: self.waiting_since_ms(),
            typing: self.transcript.typing,
            customer_words: self.transcript.last_customer_text.clone(),
        }
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

    /// One loaded chat whole (its pages loaded): the lines to show, its messages on their way.
    pub fn detail(&self, chat_id: &str) -> Option<ChatDetail> {
        self.heads.get(chat_id)?;
        Some(ChatDetail {
            id: chat_id.to_owned(),
            lines: self
                .pages
                .get(chat_id)
                .into_iter()
                .flat_map(|p| p.values().flatten())
                .filter(|l| l.is_visible())
                .cloned()
                .collect(),
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
    /// the messages on their way as they are now.
    pub fn merge(&mut self, delta: &ChatDelta) {
        for line in &delta.lines {
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
/// background pushes, and the chat it has open, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct PageModel {
    pub snapshot: Snapshot,
    pub open: Option<ChatDetail>,
}

impl PageModel {
    pub fn new(snapshot: Snapshot) -> PageModel {
        PageModel {
            open: snapshot.open.clone(),
            snapshot,
        }
    }

    /// The page opened (or reloaded) a chat.
    pub fn opened(&mut self, detail: ChatDetail) {
        self.open = Some(detail);
    }

    /// Merges what the background pushed. A new snapshot replaces everything but the open
    /// chat, unless it is the one the snapshot brings (the page asks for its chat again).
    pub fn apply(&mut self, event: BackgroundEvent) {
        match event {
            BackgroundEvent::Snapshot(s) => {
                let same = match (&self.open, &s.open) {
                    (Some(open), Some(new)) => open.id == new.id,
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                if same {
                    self.open = s.open.clone();
                }
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
                    open.merge(&delta);
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
                    open.outgoing = outgoing;
                }
            }
            BackgroundEvent::Cobrowse(views) => self.snapshot.cobrowse = views,
            BackgroundEvent::Status(status) => {
                // The channel's state comes with the desk's snapshots, not the status record.
                let channel_state = self.snapshot.agent.channel_state;
                self.snapshot.agent = status;
                self.snapshot.agent.channel_state = channel_state;
            }
        }
    }
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
    }

    #[test]
    fn a_page_model_follows_what_the_background_pushes() {
        let snapshot: Snapshot = serde_json::from_str(include_str!(
            "../../tests/fixtures/protocol/event_snapshot.json"
        ))
        .map(|e: BackgroundEvent| match e {
            BackgroundEvent::Snapshot(s) => s,
            other => panic!("{other:?}"),
        })
        .unwrap();
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
    }
}
