//! System notifications for what needs the agent while no extension page is open, repeated
//! until the agent opens the popup. Driven by changes of chats and co-browses in storage (each
//! change tells what it is about) and the alarm for repeats, never called by the session. What
//! was shown when lives in `storage.session`; what is due is core's to say (`chat::attention`).
//! A notification never carries a co-browse token.

use cobrowse_agent::sorted::SortedSet;

use cobrowse_agent::chat::attention::{
    attention, attention_of, cobrowse_attention, cobrowse_key, Attention, AttentionKind,
};
use cobrowse_agent::chat::{ChatHead, Key};
use cobrowse_agent::cobrowse::Attachments;
use cobrowse_agent::gws::cobrowse::SessionState;
use cobrowse_agent::storage_keys;
use wasm_bindgen::JsValue;
use webext::notifications::{self, BasicNotification};

use crate::store;

fn notification_id(a: &Attention) -> String {
    match a.kind {
        AttentionKind::Cobrowse => format!("cobrowse-{}", a.chat_id),
        AttentionKind::Invitation | AttentionKind::Message => format!("chat-{}", a.chat_id),
    }
}

/// The chat a notification id names.
pub fn chat_of(notification_id: &str) -> Option<&str> {
    notification_id
        .strip_prefix("chat-")
        .or_else(|| notification_id.strip_prefix("cobrowse-"))
}

fn text(key: &str, subs: &[&str]) -> String {
    webext::i18n::message(key, subs).unwrap_or_else(|| key.to_owned())
}

async fn show(due: Vec<Attention>) {
    for a in due {
        let (title, message) = match a.kind {
            AttentionKind::Invitation => (
                text("notifyInvitationTitle", &[&a.customer]),
                text("notifyInvitationBody", &[]),
            ),
            AttentionKind::Message => (
                text("notifyMessageTitle", &[&a.customer]),
                a.text.clone().unwrap_or_default(),
            ),
            AttentionKind::Cobrowse => (
                text("notifyCobrowseTitle", &[&a.customer]),
                text("notifyCobrowseBody", &[]),
            ),
        };
        let n = BasicNotification {
            title: &title,
            message: &message,
            icon_path: "icons/icon-128.png",
        };
        if let Err(e) = notifications::show(&notification_id(&a), &n).await {
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
    let items = everything().await;
    let now = webext::now_ms() as i64;
    let due = store::change_shown(|shown| shown.due(&items, now, settings)).await;
    show(due).await;
}

/// Chats' heads changed in storage: what each needs now, from the change itself.
pub async fn chats_changed(changes: &JsValue, keys: &[String], pages_open: bool) {
    if pages_open {
        return;
    }
    let heads: Vec<(String, Option<ChatHead>)> = keys
        .iter()
        .filter_map(|k| {
            Key::head_chat(k).map(|id| (id.to_owned(), webext::storage::change(changes, k).0))
        })
        .collect();
    if heads.is_empty() {
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

/// The co-browses waiting for the agent, named by their chats' customers.
fn cobrowse_items(attachments: &Attachments, customer: impl Fn(&str) -> String) -> Vec<Attention> {
    attachments
        .chats
        .iter()
        .filter_map(|(id, c)| {
            let s = c
                .session
                .as_ref()
                .filter(|s| s.state == SessionState::Idle)?;
            Some(cobrowse_attention(id, &s.history_id, &customer(id)))
        })
        .collect()
}

/// Everything that needs the agent now: chats and co-browses (only live chats can need the
/// agent, so the finished ones kept are not read).
async fn everything() -> Vec<Attention> {
    let (desk, _) = store::listed_heads(0).await;
    let customer = |id: &str| {
        desk.heads
            .get(id)
            .map(|h| h.customer.clone())
            .unwrap_or_default()
    };
    let mut items = attention(desk.heads.values());
    items.extend(cobrowse_items(&store::attachments().await, customer));
    items
}

/// The co-browses changed in storage: a newly verified one no agent joined is told.
pub async fn cobrowse_changed(changes: &JsValue, pages_open: bool) {
    if pages_open {
        return;
    }
    let (now, before): (Option<Attachments>, Option<Attachments>) =
        webext::storage::change(changes, storage_keys::COBROWSE);
    let (now, before) = (now.unwrap_or_default(), before.unwrap_or_default());
    let mut chats = now.waiting();
    chats.extend(before.waiting());
    if chats.is_empty() {
        return;
    }
    let mut desk = cobrowse_agent::chat::Desk::new();
    store::load_heads(&mut desk, chats.iter().cloned()).await;
    let items = cobrowse_items(&now, |id| {
        desk.heads
            .get(id)
            .map(|h| h.customer.clone())
            .unwrap_or_default()
    });
    let settings = store::notify_settings().await;
    let at = webext::now_ms() as i64;
    let due = store::change_shown(|shown| {
        chats
            .iter()
            .filter_map(|id| {
                let item = items.iter().find(|a| &a.chat_id == id);
                shown.due_for(&cobrowse_key(id), item, at, settings)
            })
            .collect::<Vec<_>>()
    })
    .await;
    show(due).await;
}

/// The agent opened the popup: clear what was shown and do not repeat it.
pub async fn acknowledge() {
    let items = everything().await;
    let shown_keys = store::change_shown(|shown| {
        let keys: Vec<String> = shown.by_chat.keys().cloned().collect();
        shown.acknowledge(&items);
        keys
    })
    .await;
    let ids: SortedSet<String> = items
        .iter()
        .map(notification_id)
        .chain(
            shown_keys
                .iter()
                .map(|key| match key.strip_prefix("cobrowse:") {
                    Some(chat) => format!("cobrowse-{chat}"),
                    None => format!("chat-{key}"),
                }),
        )
        .collect();
    for id in ids {
        let _ = notifications::clear(&id).await;
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
