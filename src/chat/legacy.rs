//! The desk as layout 1 stored it (one `desk` key holding every chat and transcript), read once
//! to migrate an agent's chats and outbox to the current layout (`super::desk`).

use crate::sorted::SortedMap;

use serde::Deserialize;

use super::desk::{ChatHead, Desk, IndexEntry};
use super::outbox::Outbox;
use super::transcript::{Line, Pages, Transcript, TranscriptHead};
use crate::gws::{AgentState, ChatState};

/// The `storage.local` key layout 1 used.
pub const DESK_V1_KEY: &str = "desk";

#[derive(Debug, Deserialize)]
pub struct DeskV1 {
    #[serde(default)]
    chats: SortedMap<String, ChatRecordV1>,
    #[serde(default)]
    outbox: Outbox,
    #[serde(default)]
    channel_state: Option<AgentState>,
}

#[derive(Debug, Deserialize)]
struct ChatRecordV1 {
    id: String,
    state: ChatState,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    subject: String,
    transcript: TranscriptV1,
    #[serde(default)]
    unread: u32,
    #[serde(default)]
    since_ms: i64,
}

#[derive(Debug, Deserialize)]
struct TranscriptV1 {
    #[serde(default)]
    lines: SortedMap<i64, Line>,
    #[serde(default)]
    complete_through: i64,
}

impl DeskV1 {
    /// The same chats and outbox in the current layout, every record to be stored.
    pub fn into_desk(self) -> Desk {
        let mut desk = Desk::new();
        desk.meta.channel_state = self.channel_state;
        desk.outbox = self.outbox;
        for (_, c) in self.chats {
            let mut head = TranscriptHead {
                complete_through: c.transcript.complete_through,
                ..TranscriptHead::default()
            };
            let mut pages = Pages::new();
            {
                let mut t = Transcript {
                    head: &mut head,
                    pages: &mut pages,
                };
                for (_, line) in c.transcript.lines {
                    t.insert_line(line);
                }
            }
            desk.index.chats.insert(
                c.id.clone(),
                IndexEntry {
                    since_ms: c.since_ms,
                    finished: c.state.is_finished(),
                },
            );
            let chat = ChatHead {
                id: c.id.clone(),
                state: c.state,
                capabilities: c.capabilities,
                customer: c.customer,
                subject: c.subject,
                unread: c.unread,
                since_ms: c.since_ms,
                transcript: head,
            };
            if chat.is_waiting() {
                desk.waiting.insert(chat.id.clone());
            }
            desk.insert_head(chat);
            for (p, lines) in pages {
                desk.insert_page(&c.id, p, lines);
            }
        }
        desk.mark_all_dirty();
        desk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::desk::Key;

    #[test]
    fn a_layout_1_desk_migrates_with_its_chats_lines_and_outbox() {
        // As layout 1 stored it (from the last build that wrote it).
        let v1: DeskV1 = serde_json::from_str(
            r#"{"chats":{"C1":{"id":"C1","state":"Chatting","capabilities":["SendMessage"],
                "customer":"Pat","subject":"Order 42","unread":1,"since_ms":5,
                "transcript":{"lines":{
                  "1":{"index":1,"kind":"joined","role":"customer","nickname":"Pat","text":null,"at_ms":1,"internal":false},
                  "2":{"index":2,"kind":"text","role":"customer","nickname":"Pat","text":"hello","at_ms":2,"internal":false},
                  "150":{"index":150,"kind":"text","role":"agent","nickname":"Ann","text":"hi","at_ms":3,"internal":false}},
                  "complete_through":2}}},
               "outbox":{"items":[{"client_id":"m1","chat_id":"C1","text":"x","state":{"state":"queued"},
                 "attempts":0,"after_index":150,"not_before_ms":0}]},
               "channel_state":"Ready"}"#,
        )
        .unwrap();
        let d = v1.into_desk();
        let head = &d.heads["C1"];
        assert_eq!((head.customer.as_str(), head.unread), ("Pat", 1));
        assert_eq!(head.transcript.complete_through, 2);
        assert_eq!(head.transcript.resync_from(), 3, "the gap is still known");
        assert_eq!(head.transcript.pages.keys().collect::<Vec<_>>(), [&0, &1]);
        assert_eq!(d.detail("C1", 1000).unwrap().lines.len(), 3);
        assert_eq!(d.outbox.for_chat("C1").count(), 1);
        assert_eq!(d.meta.channel_state, Some(AgentState::Ready));
        let (writes, _) = d.writes();
        let names: Vec<String> = writes.iter().map(|(k, _)| k.name()).collect();
        for key in [Key::Meta, Key::Index, Key::Outbox, Key::Head("C1".into())] {
            assert!(names.contains(&key.name()), "{names:?}");
        }
        assert!(names.contains(&"lines:C1:1".to_owned()));
    }
}
