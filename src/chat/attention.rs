//! What deserves a system notification while no page of the extension is open: a new
//! invitation, a customer message the agent has not read, or a verified co-browse no agent has
//! joined yet. Notifications repeat at an
//! interval until the agent acknowledges them (opens the popup); the bookkeeping of what was
//! shown when is pure data here, stored by the background in `storage.session`.

use crate::sorted::SortedMap;

use serde::{Deserialize, Serialize};

use super::desk::ChatHead;
use crate::gws::ChatState;

/// The agent's choices (`storage.local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySettings {
    pub enabled: bool,
    /// Repeat an unacknowledged notification this often; 0 never repeats.
    pub repeat_seconds: u32,
}

impl NotifySettings {
    /// Within what the repeat's clock can do: alarms fire at most every 30 s; at most daily.
    pub fn clamped(self) -> NotifySettings {
        NotifySettings {
            repeat_seconds: match self.repeat_seconds {
                0 => 0,
                s => s.clamp(30, 24 * 3600),
            },
            ..self
        }
    }
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            enabled: true,
            repeat_seconds: 60,
        }
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionKind {
    Invitation,
    Message,
    /// A verified co-browse waits for the agent to join.
    Cobrowse,
}

/// One thing to tell the agent about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// What the bookkeeping of what was shown is keyed by: the chat, or its co-browse.
    pub key: String,
    pub chat_id: String,
    pub kind: AttentionKind,
    pub customer: String,
    /// The customer's last words (plain text), for a message.
    pub text: Option<String>,
    /// Identifies this state of the chat: a new message is a new thing to tell.
    pub mark: i64,
}

/// What was shown, per chat: its mark and when.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Shown {
    pub by_chat: SortedMap<String, (i64, i64)>,
    /// Marks the agent has seen (popup opened): not shown again.
    pub acknowledged: SortedMap<String, i64>,
}

/// What a chat needs from the agent now, if anything: an invitation, or the customer's words
/// the agent has not read.
pub fn attention_of(c: &ChatHead) -> Option<Attention> {
    if c.state == ChatState::Invited {
        return Some(Attention {
            key: c.id.clone(),
            chat_id: c.id.clone(),
            kind: AttentionKind::Invitation,
            customer: c.customer.clone(),
            text: None,
            mark: 0,
        });
    }
    if c.state != ChatState::Chatting || c.unread == 0 || !c.is_waiting() {
        return None;
    }
    let words = c.transcript.last_customer_text.clone()?;
    Some(Attention {
        key: c.id.clone(),
        chat_id: c.id.clone(),
        kind: AttentionKind::Message,
        customer: c.customer.clone(),
        // A system notification shows it outside the extension: never a token's digits.
        text: Some(crate::cobrowse::detect::mask_all_typed(&words.text)),
        mark: words.index,
    })
}

/// The key a chat's co-browse is shown under.
pub fn cobrowse_key(chat_id: &str) -> String {
    format!("cobrowse:{chat_id}")
}

/// A verified co-browse no agent joined yet, named by the chat's customer (`customer`); the
/// notification never carries the token.
pub fn cobrowse_attention(chat_id: &str, history_id: &str, customer: &str) -> Attention {
    // The session's history id marks it: a newer session is a new thing to tell.
    let mark = history_id
        .bytes()
        .fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b)));
    Attention {
        key: cobrowse_key(chat_id),
        chat_id: chat_id.to_owned(),
        kind: AttentionKind::Cobrowse,
        customer: customer.to_owned(),
        text: None,
        mark,
    }
}

/// Everything that currently needs the agent, of these chats.
pub fn attention<'a>(chats: impl IntoIterator<Item = &'a ChatHead>) -> Vec<Attention> {
    chats.into_iter().filter_map(attention_of).collect()
}

impl Shown {
    /// The items to show now (new ones, or repeats that are due), recorded as shown.
    pub fn due(
        &mut self,
        items: &[Attention],
        now_ms: i64,
        settings: NotifySettings,
    ) -> Vec<Attention> {
        if !settings.enabled {
            return Vec::new();
        }
        let repeat_ms = i64::from(settings.repeat_seconds) * 1000;
        let mut out = Vec::new();
        for a in items {
            if self.acknowledged.get(&a.key) == Some(&a.mark) {
                continue;
            }
            let show = match self.by_chat.get(&a.key) {
                None => true,
                Some((mark, _)) if *mark != a.mark => true,
                Some((_, at)) => repeat_ms > 0 && now_ms - at >= repeat_ms,
            };
            if show {
                self.by_chat.insert(a.key.clone(), (a.mark, now_ms));
                out.push(a.clone());
            }
        }
        // Forget chats that no longer need attention.
        self.by_chat
            .retain(|key, _| items.iter().any(|a| &a.key == key));
        out
    }

    /// [`Shown::due`] for one thing that changed (a chat, or a chat's co-browse, by its key):
    /// `item` is what it needs now (`None`: nothing any more, so it is forgotten).
    pub fn due_for(
        &mut self,
        key: &str,
        item: Option<&Attention>,
        now_ms: i64,
        settings: NotifySettings,
    ) -> Option<Attention> {
        let Some(a) = item else {
            self.by_chat.remove(key);
            return None;
        };
        if !settings.enabled || self.acknowledged.get(key) == Some(&a.mark) {
            return None;
        }
        let new = self
            .by_chat
            .get(key)
            .is_none_or(|(mark, _)| *mark != a.mark);
        new.then(|| {
            self.by_chat.insert(key.to_owned(), (a.mark, now_ms));
            a.clone()
        })
    }

    /// The agent looked (opened the popup): nothing shown so far is repeated.
    pub fn acknowledge(&mut self, items: &[Attention]) {
        self.acknowledged = items.iter().map(|a| (a.key.clone(), a.mark)).collect();
        self.by_chat.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repeat_interval_is_kept_within_what_alarms_can_do() {
        let s = |repeat_seconds| NotifySettings {
            enabled: true,
            repeat_seconds,
        };
        assert_eq!(s(0).clamped().repeat_seconds, 0, "never repeat");
        assert_eq!(s(5).clamped().repeat_seconds, 30);
        assert_eq!(s(90).clamped().repeat_seconds, 90);
        assert_eq!(s(u32::MAX).clamped().repeat_seconds, 24 * 3600);
    }

    fn item(id: &str, mark: i64) -> Attention {
        Attention {
            key: id.into(),
            chat_id: id.into(),
            kind: if mark == 0 {
                AttentionKind::Invitation
            } else {
                AttentionKind::Message
            },
            customer: "Pat".into(),
            text: None,
            mark,
        }
    }

    #[test]
    fn new_items_show_once_then_repeat_at_the_interval() {
        let mut shown = Shown::default();
        let s = NotifySettings {
            enabled: true,
            repeat_seconds: 30,
        };
        assert_eq!(shown.due(&[item("a", 0)], 0, s).len(), 1);
        assert!(shown.due(&[item("a", 0)], 10_000, s).is_empty());
        assert_eq!(shown.due(&[item("a", 0)], 30_000, s).len(), 1, "repeated");
        assert_eq!(
            shown.due(&[item("a", 5)], 31_000, s).len(),
            1,
            "a new message is new"
        );
    }

    #[test]
    fn acknowledged_items_stay_quiet_and_switching_off_silences_everything() {
        let mut shown = Shown::default();
        let s = NotifySettings::default();
        shown.due(&[item("a", 3)], 0, s);
        shown.acknowledge(&[item("a", 3)]);
        assert!(shown.due(&[item("a", 3)], 120_000, s).is_empty());
        assert_eq!(shown.due(&[item("a", 4)], 120_000, s).len(), 1);
        let off = NotifySettings {
            enabled: false,
            ..s
        };
        assert!(shown.due(&[item("b", 0)], 0, off).is_empty());
    }

    #[test]
    fn a_changed_chat_shows_what_is_new_for_it_alone() {
        let mut shown = Shown::default();
        let s = NotifySettings::default();
        shown.due(&[item("a", 1), item("b", 0)], 0, s);
        assert_eq!(
            shown.due_for("a", Some(&item("a", 1)), 5, s),
            None,
            "shown already"
        );
        assert_eq!(
            shown.due_for("a", Some(&item("a", 2)), 5, s),
            Some(item("a", 2))
        );
        assert_eq!(shown.due_for("b", None, 6, s), None);
        assert!(!shown.by_chat.contains_key("b"), "b needs nothing any more");
        assert!(shown.by_chat.contains_key("a"), "a was not touched by b");
    }

    #[test]
    fn a_co_browse_is_told_apart_from_its_chat_and_once_per_session() {
        let mut shown = Shown::default();
        let s = NotifySettings::default();
        let chat = item("a", 3);
        let cb = cobrowse_attention("a", "h-1", "Pat");
        assert_eq!(shown.due(&[chat.clone(), cb.clone()], 0, s).len(), 2);
        assert_eq!(
            shown.due_for(&cb.key, Some(&cb), 1, s),
            None,
            "shown already"
        );
        let next = cobrowse_attention("a", "h-2", "Pat");
        assert_eq!(shown.due_for(&next.key, Some(&next), 2, s), Some(next));
        assert!(
            shown.by_chat.contains_key("a"),
            "the chat's own is untouched"
        );
    }
}
