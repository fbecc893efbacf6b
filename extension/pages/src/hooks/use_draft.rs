//! A chat's draft: kept per chat in the page's own `localStorage` (never a secret), so it
//! survives closing the popup and switching chats.

use gloo_storage::{LocalStorage, Storage};
use yew::prelude::*;

fn draft_key(chat_id: &str) -> String {
    format!("cobrowse-agent.draft.{chat_id}")
}

fn stored(chat_id: &str) -> String {
    LocalStorage::get::<String>(draft_key(chat_id)).unwrap_or_default()
}

/// The draft of one chat; derefs to its text.
#[derive(Clone, PartialEq)]
pub struct UseDraftHandle {
    chat_id: String,
    text: UseStateHandle<String>,
}

impl UseDraftHandle {
    /// The agent typed: keep it.
    pub fn set(&self, text: String) {
        let _ = LocalStorage::set(draft_key(&self.chat_id), &text);
        self.text.set(text);
    }

    /// A send the background did not take: the text comes back, unless the agent has typed
    /// something new since (the stored draft is the truth, not this handle's copy).
    pub fn restore(&self, text: String) {
        if stored(&self.chat_id).is_empty() {
            self.set(text);
        }
    }

    /// Sent: forget it.
    pub fn clear(&self) {
        LocalStorage::delete(draft_key(&self.chat_id));
        self.text.set(String::new());
    }
}

impl std::ops::Deref for UseDraftHandle {
    type Target = String;
    fn deref(&self) -> &String {
        &self.text
    }
}

#[hook]
pub fn use_draft(chat_id: &str) -> UseDraftHandle {
    let text = use_state(|| stored(chat_id));
    {
        // Another chat selected: show its draft.
        let text = text.setter();
        use_effect_with(chat_id.to_owned(), move |id| text.set(stored(id)));
    }
    UseDraftHandle {
        chat_id: chat_id.to_owned(),
        text,
    }
}
