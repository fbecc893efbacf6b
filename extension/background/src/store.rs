//! Everything the background keeps, in extension storage, and the one queue that serializes
//! changes to it: each change loads what it changes, applies a core rule and stores it, one at
//! a time, so two events never overwrite each other's facts.
//!
//! `storage.local`: settings, the desk (its records, layout 2: see `chat::desk`), retention,
//! notification settings. `storage.session`: credentials, the CSRF token, the connection status, which
//! notifications were shown, the co-browses attached to chats (secrets and per-browser-session
//! facts). `storage.managed`: the administrator's policy (read only).

use std::cell::{Cell, RefCell};
use std::future::Future;

use cobrowse_agent::agent::Write;
use cobrowse_agent::chat::attention::{NotifySettings, Shown};
use cobrowse_agent::chat::legacy::{DeskV1, DESK_V1_KEY};
use cobrowse_agent::chat::{
    ChatHead, Desk, DeskChange, DeskOutcome, Key, Line, Record, Retention, Stored,
};
use cobrowse_agent::cobrowse::{Attachments, CobrowseChange, CobrowseOutcome};
use cobrowse_agent::gws::CsrfToken;
use cobrowse_agent::protocol::{AgentStatus, Credentials, StatusChange};
use cobrowse_agent::settings::{Policy, Settings};
use cobrowse_agent::storage_keys as keys;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webext::storage::{self, get_or_default, Area};
use webext::WebExtError;

use crate::join::join;

thread_local! {
    /// The last job in the queue: the next one waits for it.
    static TAIL: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
    /// How many serialized jobs this instance has finished: a reader that spans several
    /// storage calls compares it before and after to know nothing was written in between
    /// (a count, not state: nothing is decided from its value).
    static FINISHED_JOBS: Cell<u64> = const { Cell::new(0) };
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
    FINISHED_JOBS.with(|n| n.set(n.get() + 1));
    if let Some(r) = resolve {
        let _ = r.call0(&JsValue::UNDEFINED);
    }
    out
}

/// The serialized jobs finished so far (see [`serialized`]).
pub fn finished_jobs() -> u64 {
    FINISHED_JOBS.with(Cell::get)
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
    let (credentials, status) = join(
        credentials(),
        get_or_default::<AgentStatus>(Area::Session, keys::AGENT_STATUS),
    )
    .await;
    AgentStatus {
        signed_in: credentials.is_some(),
        ..status
    }
}

pub async fn update_status(change: StatusChange) {
    serialized(async move {
        let mut s: AgentStatus = get_or_default(Area::Session, keys::AGENT_STATUS).await;
        if change.apply(&mut s) {
            log_failure(
                "saving the status",
                storage::set(Area::Session, keys::AGENT_STATUS, &s).await,
            );
        }
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

// ---- the desk (storage.local, layout 2: one record per key, see `chat::desk`) ----

fn log_unreadable(key: &str, e: WebExtError) {
    webext::log_error(&format!("[cobrowse-agent] {key} unreadable, dropped: {e}"));
}

/// Reads these records into `desk` (one storage call); unreadable ones count as absent.
async fn load(desk: &mut Desk, keys: &[Key]) -> Result<(), WebExtError> {
    if keys.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = keys.iter().map(Key::name).collect();
    let items = storage::get_many(Area::Local, &names).await?;
    for (key, name) in keys.iter().zip(&names) {
        match key {
            Key::Head(_) => match storage::item::<ChatHead>(&items, name) {
                Ok(Some(h)) => desk.insert_head(h),
                Ok(None) => {}
                Err(e) => log_unreadable(name, e),
            },
            Key::Page(id, p) => match storage::item::<Vec<Line>>(&items, name) {
                Ok(Some(lines)) => desk.insert_page(id, *p, lines),
                Ok(None) => {}
                Err(e) => log_unreadable(name, e),
            },
            Key::Meta | Key::Index | Key::Waiting | Key::Outbox => {}
        }
    }
    Ok(())
}

/// Whether a reader of layout 1 stores the migration (only a change in the storage queue
/// does: a reader outside it would race a change and could store the old desk over it).
#[derive(Clone, Copy, PartialEq)]
enum Migration {
    Store,
    ReadOnly,
}

/// The small records every change reads; an agent's layout-1 desk is migrated the first time
/// a change reads it (readers outside the queue see it migrated, unstored).
async fn load_base(migration: Migration) -> Result<Desk, WebExtError> {
    let names: Vec<String> = Key::BASE.iter().map(Key::name).collect();
    let items = storage::get_many(Area::Local, &names).await?;
    // An unreadable record (a hand edit, a bug) counts as absent: the server resyncs it.
    let meta = storage::item(&items, &Key::Meta.name()).unwrap_or(None);
    if meta.is_none() {
        if let Some(migrated) = migrate(migration).await? {
            return Ok(migrated);
        }
    }
    Ok(Desk::loaded(
        meta,
        storage::item(&items, &Key::Index.name()).unwrap_or(None),
        storage::item(&items, &Key::Waiting.name()).unwrap_or(None),
        storage::item(&items, &Key::Outbox.name()).unwrap_or(None),
    ))
}

/// Layout 1 (one `desk` key) → layout 2, keeping every chat, line and queued message.
async fn migrate(migration: Migration) -> Result<Option<Desk>, WebExtError> {
    let old: Option<DeskV1> = match storage::get(Area::Local, DESK_V1_KEY).await {
        Ok(d) => d,
        Err(e) => {
            log_unreadable(DESK_V1_KEY, e);
            None
        }
    };
    let Some(old) = old else {
        return Ok(None);
    };
    let desk = old.into_desk();
    if migration == Migration::ReadOnly {
        // The migration is stored by a change, in the queue.
        wasm_bindgen_futures::spawn_local(async {
            change_desk(DeskChange::Prune).await;
        });
        return Ok(Some(desk));
    }
    store(&desk, false).await?;
    storage::remove(Area::Local, DESK_V1_KEY).await?;
    webext::log("[cobrowse-agent] chats moved to storage layout 2");
    Ok(Some(desk))
}

/// Stores what a change altered and removes what it dropped; with `removes_first`, the other
/// way round (to free room before writing). Answers whether there was anything to store.
async fn store(desk: &Desk, removes_first: bool) -> Result<bool, WebExtError> {
    let (writes, removes) = desk.writes();
    let any = !writes.is_empty() || !removes.is_empty();
    let items: Vec<(String, Record<'_>)> = writes.into_iter().map(|(k, r)| (k.name(), r)).collect();
    let removes: Vec<String> = removes.iter().map(Key::name).collect();
    if removes_first {
        storage::remove_many(Area::Local, &removes).await?;
    }
    storage::set_many(Area::Local, &items).await?;
    if !removes_first {
        storage::remove_many(Area::Local, &removes).await?;
    }
    Ok(any)
}

/// Chrome's refusal when `storage.local` is full (`QUOTA_BYTES quota exceeded`, or
/// `Resource::kQuotaBytes quota exceeded` in newer versions). Firefox has no such quota.
fn is_storage_full(e: &WebExtError) -> bool {
    e.message.contains("QuotaBytes") || e.message.contains("QUOTA_BYTES")
}

/// The small records, or an empty desk when they cannot be read (logged).
async fn base_or_empty() -> Desk {
    load_base(Migration::ReadOnly).await.unwrap_or_else(|e| {
        log_failure("reading chats", Err(e));
        Desk::new()
    })
}

/// The heads of the chats a list shows first (every live one and the newest `finished`
/// finished ones: what a snapshot reads does not grow with the finished chats kept), and how
/// many finished chats are kept beyond them.
pub async fn listed_heads(finished: u32) -> (Desk, u32) {
    let mut desk = base_or_empty().await;
    let (ids, more) = desk.listed(finished as usize);
    load_heads(&mut desk, ids.into_iter()).await;
    (desk, more)
}

/// One chat with the pages of its newest `lines` lines (and the small records): what opening
/// it costs does not grow with the rest of the desk.
pub async fn one_chat(chat_id: &str, lines: u32) -> Desk {
    let mut desk = base_or_empty().await;
    load_heads(&mut desk, std::iter::once(chat_id.to_owned())).await;
    load_pages(&mut desk, chat_id, lines).await;
    desk
}

/// Loads these chats' heads into `desk`.
pub async fn load_heads(desk: &mut Desk, ids: impl Iterator<Item = String>) {
    let heads: Vec<Key> = ids.map(Key::Head).collect();
    log_failure("reading chats", load(desk, &heads).await);
}

/// Loads the pages of one chat's newest `lines` lines (its head loaded) into `desk`.
pub async fn load_pages(desk: &mut Desk, chat_id: &str, lines: u32) {
    let pages = desk.newest_pages(chat_id, lines);
    log_failure("reading a transcript", load(desk, &pages).await);
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

/// Loads what `change` reads, applies it, prunes to the retention, stores what changed: one
/// change at a time.
pub async fn change_desk(change: DeskChange) -> DeskOutcome {
    serialized(async move {
        let mut desk = match load_base(Migration::Store).await {
            Ok(d) => d,
            Err(e) => {
                log_failure("reading chats", Err(e));
                return DeskOutcome {
                    stored: Stored::Failed,
                    ..DeskOutcome::default()
                };
            }
        };
        let reads = change.reads(&desk.index);
        log_failure("reading chats", load(&mut desk, &reads).await);
        let mut outcome = desk.change(change, webext::now_ms() as i64);
        let prunable = desk.prunable(retention().await);
        if !prunable.is_empty() {
            let heads: Vec<Key> = prunable.iter().map(|id| Key::Head(id.clone())).collect();
            log_failure("reading chats", load(&mut desk, &heads).await);
            desk.drop_chats(&prunable);
            outcome.removed.extend(prunable);
        }
        let mut stored = store(&desk, false).await;
        // Storage full: what is live must be stored, so the oldest finished chats go first
        // (core says which), one at a time until the change fits or none is left.
        while stored.as_ref().is_err_and(is_storage_full) {
            let Some(id) = desk.to_give_up_for_room() else {
                break;
            };
            log_failure("reading chats", load(&mut desk, &[Key::Head(id.clone())]).await);
            desk.drop_chats(std::slice::from_ref(&id));
            webext::log(&format!(
                "[cobrowse-agent] storage is full: gave up the finished chat {id} to store what is live"
            ));
            outcome.removed.push(id);
            stored = store(&desk, true).await;
        }
        outcome.stored = match stored {
            Ok(false) => Stored::Nothing,
            Ok(true) => Stored::Stored,
            Err(e) => {
                log_failure("saving chats", Err(e));
                Stored::Failed
            }
        };
        outcome
    })
    .await
}

// ---- co-browse (storage.session) ----

pub async fn attachments() -> Attachments {
    match storage::get(Area::Session, keys::COBROWSE).await {
        Ok(a) => a.unwrap_or_default(),
        Err(e) => {
            log_unreadable(keys::COBROWSE, e);
            Attachments::default()
        }
    }
}

/// Loads the attachments, applies `change`, stores them if it altered them: one at a time.
pub async fn change_cobrowse(change: CobrowseChange) -> CobrowseOutcome {
    serialized(async move {
        let mut a = attachments().await;
        let outcome = a.change(change, webext::now_ms() as i64);
        if outcome.changed {
            log_failure(
                "saving co-browses",
                storage::set(Area::Session, keys::COBROWSE, &a).await,
            );
        }
        outcome
    })
    .await
}

// ---- the administrator's policy (storage.managed) ----

pub async fn policy() -> Policy {
    match storage::managed_values().await {
        Ok(values) => {
            let (policy, warnings) = Policy::from_managed(&values);
            for w in warnings {
                webext::log_error(&format!("[cobrowse-agent] {w}"));
            }
            policy
        }
        Err(e) => {
            log_failure("reading the managed policy", Err(e));
            Policy::default()
        }
    }
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
