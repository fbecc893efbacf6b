//! Everything the background keeps, in extension storage, and the one queue that serializes
//! changes to it: each change loads what it changes, applies a core rule and stores it, one at
//! a time, so two events never overwrite each other's facts.
//!
//! `storage.local`: settings, the desk (chats, transcripts, outbox), retention, notification
//! settings. `storage.session`: credentials, the CSRF token, the connection status, which
//! notifications were shown (secrets and per-browser-session facts).

use std::cell::RefCell;
use std::future::Future;

use cobrowse_agent::agent::Write;
use cobrowse_agent::chat::attention::{NotifySettings, Shown};
use cobrowse_agent::chat::{Desk, DeskChange, DeskOutcome, Retention};
use cobrowse_agent::gws::CsrfToken;
use cobrowse_agent::protocol::{AgentStatus, Credentials, StatusChange};
use cobrowse_agent::settings::Settings;
use cobrowse_agent::storage_keys as keys;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webext::storage::{self, get_or_default, Area};
use webext::WebExtError;

thread_local! {
    /// The last job in the queue: the next one waits for it.
    static TAIL: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
}

/// Runs `f` after every earlier serialized job has finished.
pub async fn serialized<T>(f: impl Future<Output = T>) -> T {
    let mut resolve: Option<js_sys::Function> = None;
    let done = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
    let previous = TAIL.with(|t| t.borrow_mut().replace(done));
    if let Some(p) = previous {
        let _ = JsFuture::from(p).await;
    }
    let out = f.await;
    if let Some(r) = resolve {
        let _ = r.call0(&JsValue::UNDEFINED);
    }
    out
}

fn log_failure(what: &str, result: Result<(), WebExtError>) {
    if let Err(e) = result {
        webext::log_error(&format!("[cobrowse-agent] {what}: {e}"));
    }
}

// ---- secrets (storage.session) ----

pub async fn credentials() -> Option<Credentials> {
    storage::get(Area::Session, keys::CREDENTIALS)
        .await
        .ok()
        .flatten()
}

pub async fn csrf_token() -> Option<CsrfToken> {
    storage::get(Area::Session, keys::CSRF_TOKEN)
        .await
        .ok()
        .flatten()
}

/// Performs one of the session's writes.
pub async fn save(write: Write) {
    let result = match &write {
        Write::Settings(s) => storage::set(Area::Local, keys::SETTINGS, s).await,
        Write::Credentials(c) => storage::set(Area::Session, keys::CREDENTIALS, c).await,
        Write::CsrfToken(t) => storage::set(Area::Session, keys::CSRF_TOKEN, t).await,
        Write::ForgetCsrfToken => storage::remove(Area::Session, keys::CSRF_TOKEN).await,
        Write::ForgetCredentials => storage::remove(Area::Session, keys::CREDENTIALS).await,
        Write::ForgetSecrets => {
            let mut result = Ok(());
            for key in [keys::CREDENTIALS, keys::CSRF_TOKEN, keys::AGENT_STATUS] {
                result = result.and(storage::remove(Area::Session, key).await);
            }
            result
        }
    };
    log_failure("saving", result);
}

// ---- the connection's status (storage.session) ----

/// The stored facts; `signed_in` is whether credentials are stored.
pub async fn status() -> AgentStatus {
    AgentStatus {
        signed_in: credentials().await.is_some(),
        ..get_or_default(Area::Session, keys::AGENT_STATUS).await
    }
}

pub async fn update_status(change: StatusChange) {
    serialized(async move {
        let mut s: AgentStatus = get_or_default(Area::Session, keys::AGENT_STATUS).await;
        change.apply(&mut s);
        log_failure(
            "saving the status",
            storage::set(Area::Session, keys::AGENT_STATUS, &s).await,
        );
    })
    .await
}

// ---- settings and the desk (storage.local) ----

/// The stored settings; `Ok(None)` before the agent saved any.
pub async fn settings() -> Result<Option<Settings>, WebExtError> {
    storage::get(Area::Local, keys::SETTINGS).await
}

pub async fn save_settings(settings: &Settings) -> Result<(), WebExtError> {
    storage::set(Area::Local, keys::SETTINGS, settings).await
}

pub async fn desk() -> Desk {
    get_or_default(Area::Local, keys::DESK).await
}

pub async fn retention() -> Retention {
    get_or_default(Area::Local, keys::RETENTION).await
}

/// Stores the new retention and prunes the desk to it at once.
pub async fn save_retention(r: Retention) -> Result<(), WebExtError> {
    storage::set(Area::Local, keys::RETENTION, &r).await?;
    change_desk(DeskChange::Prune).await;
    Ok(())
}

/// Loads the desk, applies `change` (pruning to the retention), stores it: one at a time.
pub async fn change_desk(change: DeskChange) -> DeskOutcome {
    serialized(async move {
        let mut desk = desk().await;
        let outcome = desk.change(change, webext::now_ms() as i64, retention().await);
        log_failure(
            "saving chats",
            storage::set(Area::Local, keys::DESK, &desk).await,
        );
        outcome
    })
    .await
}

// ---- notifications ----

pub async fn notify_settings() -> NotifySettings {
    get_or_default(Area::Local, keys::NOTIFY_SETTINGS).await
}

pub async fn save_notify_settings(settings: &NotifySettings) -> Result<(), WebExtError> {
    storage::set(Area::Local, keys::NOTIFY_SETTINGS, settings).await
}

/// Changes the record of notifications shown (one change at a time); returns what `f` says.
pub async fn change_shown<T>(f: impl FnOnce(&mut Shown) -> T) -> T {
    serialized(async move {
        let mut shown: Shown = get_or_default(Area::Session, keys::NOTIFICATIONS_SHOWN).await;
        let out = f(&mut shown);
        log_failure(
            "saving notifications shown",
            storage::set(Area::Session, keys::NOTIFICATIONS_SHOWN, &shown).await,
        );
        out
    })
    .await
}
