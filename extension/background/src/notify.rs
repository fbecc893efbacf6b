//! System notifications for what needs the agent while no extension page is open, repeated
//! until the agent opens the popup. Driven by changes of chats in storage (each change tells
//! what it is about) and the alarm for repeats, never called by the session. What was shown when lives in
//! `storage.session`; what is due is core's to say (`chat::attention`).

use cobrowse_agent::chat::attention::{attention, attention_of, Attention};
use cobrowse_agent::chat::{ChatHead, Key};
use wasm_bindgen::JsValue;
use webext::notifications::{self, BasicNotification};

use crate::store;

fn notification_id(chat_id: &str) -> String {
    format!("chat-{chat_id}")
}

/// The chat a notification id names.
pub fn chat_of(notification_id: &str) -> Option<&str> {
    notification_id.strip_prefix("chat-")
}

fn text(key: &str, subs: &[&str]) -> String {
    webext::i18n::message(key, subs).unwrap_or_else(|| key.to_owned())
}

async fn show(due: Vec<Attention>) {
    for a in due {
        let (title, message) = if a.invitation {
            (
                text("notifyInvitationTitle", &[&a.customer]),
                text("notifyInvitationBody", &[]),
            )
        } else {
            (
                text("notifyMessageTitle", &[&a.customer]),
                a.text.clone().unwrap_or_default(),
            )
        };
        let n = BasicNotification {
            title: &title,
            message: &message,
            icon_path: "icons/icon-128.png",
        };
        if let Err(e) = notifications::show(&notification_id(&a.chat_id), &n).await {
            webext::log_error(&format!("[cobrowse-agent] notification: {e}"));
        }
    }
}

/// Shows what is new or due again across every chat (the alarm's repeat), unless a page is
/// open (the agent is looking already).
pub async fn refresh(pages_open: bool) {
    if pages_open {
        return;
    }
    let settings = store::notify_settings().await;
    let desk = store::desk_heads().await;
    let items = attention(desk.heads.values());
    let now = webext::now_ms() as i64;
    let due = store::change_shown(|shown| shown.due(&items, now, settings)).await;
    show(due).await;
}

/// Chats' heads changed in storage: what each needs now, from the change itself.
pub async fn chats_changed(changes: &JsValue, keys: &[String], pages_open: bool) {
    let heads: Vec<(String, Option<ChatHead>)> = keys
        .iter()
        .filter_map(|k| {
            Key::head_chat(k).map(|id| (id.to_owned(), webext::storage::change(changes, k).0))
        })
        .collect();
    if heads.is_empty() || pages_open {
        return;
    }
    let settings = store::notify_settings().await;
    let now = webext::now_ms() as i64;
    let due = store::change_shown(|shown| {
        heads
            .iter()
            .filter_map(|(id, head)| {
                let item = head.as_ref().and_then(attention_of);
                shown.due_for(id, item.as_ref(), now, settings)
            })
            .collect::<Vec<_>>()
    })
    .await;
    show(due).await;
}

/// The agent opened the popup: clear what was shown and do not repeat it.
pub async fn acknowledge() {
    let items = attention(store::desk_heads().await.heads.values());
    let cleared = store::change_shown(|shown| {
        let ids: Vec<String> = shown
            .by_chat
            .keys()
            .cloned()
            .chain(items.iter().map(|a| a.chat_id.clone()))
            .collect();
        shown.acknowledge(&items);
        ids
    })
    .await;
    for id in cleared {
        let _ = notifications::clear(&notification_id(&id)).await;
    }
}

/// The agent clicked notification `id`: open the popup's page on that chat.
pub async fn clicked(id: &str) {
    let Some(chat) = chat_of(id) else {
        return;
    };
    let url = match webext::runtime::url(&format!("popup.html#chat={chat}")) {
        Ok(u) => u,
        Err(e) => return webext::log_error(&format!("[cobrowse-agent] {e}")),
    };
    if let Err(e) = webext::tabs::open(&url).await {
        webext::log_error(&format!("[cobrowse-agent] {e}"));
    }
    let _ = notifications::clear(id).await;
}
