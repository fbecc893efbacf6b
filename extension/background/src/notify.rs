//! System notifications for what needs the agent while no extension page is open, repeated
//! until the agent opens the popup. Driven by the stored desk (every change to it, and the
//! alarm for repeats), never called by the session. What was shown when lives in
//! `storage.session`; what is due is core's to say (`chat::attention`).

use cobrowse_agent::chat::attention::attention;
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

/// Shows what is new or due again, unless a page is open (the agent is looking already).
pub async fn refresh(pages_open: bool) {
    if pages_open {
        return;
    }
    let settings = store::notify_settings().await;
    let items = attention(&store::desk().await);
    let now = webext::now_ms() as i64;
    let due = store::change_shown(|shown| shown.due(&items, now, settings)).await;
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

/// The agent opened the popup: clear what was shown and do not repeat it.
pub async fn acknowledge() {
    let items = attention(&store::desk().await);
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
