//! The desk as the popup shows it: each chat as a [`ChatView`], in the order of the list.

use super::desk::{ChatRecord, Desk};
use crate::gws::OperationName;
use crate::protocol::ChatView;

impl ChatRecord {
    /// The chat as a page shows it; `read_only` while signed out (nothing can be done).
    pub fn view(&self, desk: &Desk, read_only: bool) -> ChatView {
        ChatView {
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
            lines: self
                .transcript
                .lines()
                .filter(|l| l.is_visible())
                .cloned()
                .collect(),
            outgoing: desk.outbox.for_chat(&self.id).cloned().collect(),
            typing: self.transcript.typing(),
        }
    }
}

impl Desk {
    /// The chats as the popup lists them: waiting first, then live ones, then finished;
    /// newest first within each.
    pub fn views(&self, read_only: bool) -> Vec<ChatView> {
        let mut views: Vec<ChatView> = self
            .chats
            .values()
            .map(|c| c.view(self, read_only))
            .collect();
        let rank = |v: &ChatView| match (v.waiting, v.state.is_finished()) {
            (true, _) => 0,
            (false, true) => 2,
            (false, false) => 1,
        };
        views.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.since_ms.cmp(&a.since_ms)));
        views
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{DeskChange, Retention};
    use crate::gws::Notification;

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
        let mut d = Desk::default();
        let r = Retention::default();
        d.change(state("done", "Completed", ""), 1, r);
        d.change(state("live", "Chatting", r#""SendMessage""#), 2, r);
        d.change(
            state("new", "Invited", r#""Accept","Reject","InFocus""#),
            3,
            r,
        );
        let ids: Vec<String> = d.views(false).into_iter().map(|v| v.id).collect();
        assert_eq!(ids, ["new", "live", "done"]);
        let new = &d.views(false)[0];
        // Capabilities we do not act on are left out.
        assert_eq!(
            new.capabilities,
            [OperationName::Accept, OperationName::Reject]
        );
        assert!(new.can(OperationName::Accept));
        let stored = &d.views(true)[0];
        assert!(stored.read_only && !stored.can(OperationName::Accept));
    }
}
