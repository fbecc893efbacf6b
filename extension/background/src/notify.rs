//! System notifications for what needs the agent while no extension page is open, repeated
//! until the agent opens the popup. What was shown when lives in `storage.session`.

use cobrowse_agent::chat::attention::{attention, NotifySettings, Shown};
use cobrowse_agent::storage_keys;
use webext::notifications::{self, BasicNotification};
use webext::storage::{self, Area};

use crate::agent;

fn notification_id(chat_id: &str) -> String {
    format!("chat-{chat_id}")
}

/// The chat a notification id names.
pub fn chat_of(notification_id: &str) -> Option<&str> {
    notification_id.strip_prefix("chat-")
}

pub async fn settings() -> NotifySettings {
    storage::get::<NotifySettings>(Area::Local, storage_keys::NOTIFY_SETTINGS)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn shown() -> Shown {
    storage::get::<Shown>(Area::Session, storage_keys::NOTIFICATIONS_SHOWN)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn text(key: &str, subs: &[&str]) -> String {
    webext::i18n::message(key, subs).unwrap_or_else(|| key.to_owned())
}

/// Shows what is new or due again, unless a page is open (the agent is looking already).
pub async fn refresh(pages_open: bool) {
    if pages_open {
        return;
    }
    let settings = settings().await;
    let items = attention(&agent::load_desk().await);
    let due = agent::serialized(async {
        let mut shown = shown().await;
        let due = shown.due(&items, webext::now_ms() as i64, settings);
        let _ = storage::set(Area::Session, storage_keys::NOTIFICATIONS_SHOWN, &shown).await;
        due
    })
    .await;
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
    let items = attention(&agent::load_desk().await);
    let cleared = agent::serialized(async {
        let mut shown = shown().await;
        let ids: Vec<String> = shown
            .by_chat
            .keys()
            .cloned()
            .chain(items.iter().map(|a| a.chat_id.clone()))
            .collect();
        shown.acknowledge(&items);
        let _ = storage::set(Area::Session, storage_keys::NOTIFICATIONS_SHOWN, &shown).await;
        ids
    })
    .await;
    for id in cleared {
        let _ = notifications::clear(&notification_id(&id)).await;
    }
}
