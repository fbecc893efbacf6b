//! The extension's own pages (popup, options): their requests and their events ports. Every
//! request is checked for a trusted sender first, then decoded, then answered from storage or
//! by asking the session; every answer carries a fresh snapshot.

use cobrowse_agent::sorted::{SortedMap, SortedSet};
use std::cell::Cell;

use cobrowse_agent::agent::PageCommand;
use cobrowse_agent::chat::{ChatHead, Key, Line, Outbox};
use cobrowse_agent::cobrowse::Attachments;
use cobrowse_agent::protocol::{
    decode_request, BackgroundEvent, ChatDelta, ChatSummary, PopupReply, PopupRequest, Problem,
    Refusal, RefusalReason, Snapshot, WorkerInfo, EVENTS_PORT_NAME, FINISHED_FIRST_LISTED,
    LINES_FIRST_SHOWN, PROTOCOL_VERSION,
};
use cobrowse_agent::sender::{classify_sender, MessageSender, SenderTrust};
use cobrowse_agent::storage_keys;
use wasm_bindgen::JsValue;
use webext::port::Port;
use webext::storage;
use webext::WebExtError;

use crate::join::join;
use crate::{notify, ports, session, store};

thread_local! {
    static STARTED_AT_MS: Cell<u64> = const { Cell::new(0) };
}

/// Notes when this worker instance started (a diagnostic pages show).
pub fn started() {
    STARTED_AT_MS.with(|s| s.set(webext::now_ms() as u64));
}

fn storage_refusal(e: WebExtError) -> Refusal {
    Refusal::of(Problem::Storage, e.to_string())
}

/// How many times a snapshot is read again because a change was stored while it was read;
/// after that it is read in the storage queue, where no change can come between.
const SNAPSHOT_READS: usize = 3;

/// Reads everything a page paints from storage, as of one moment. The reads take several
/// storage calls, and a change stored between them has its delta pushed before this snapshot
/// goes out: a page would then replace the newer state with the older one (a chat invited
/// while the desk was read went missing from the list). So the snapshot is read again until no
/// change was stored while it was read.
async fn load_snapshot() -> Result<Snapshot, Refusal> {
    load_snapshot_listing(FINISHED_FIRST_LISTED).await
}

/// [`load_snapshot`] with the newest `finished` finished chats in its list.
async fn load_snapshot_listing(finished: u32) -> Result<Snapshot, Refusal> {
    for _ in 0..SNAPSHOT_READS {
        let before = store::finished_jobs();
        let snapshot = read_snapshot(finished).await?;
        if store::finished_jobs() == before {
            return Ok(snapshot);
        }
    }
    store::serialized(read_snapshot(finished)).await
}

async fn read_snapshot(finished: u32) -> Result<Snapshot, Refusal> {
    // The desk (its index, then the listed heads, then the first chat's pages) and the small
    // records are read together.
    let desk = async {
        // The popup shows the first chat of the list first: its newest lines come with it.
        let (mut desk, finished_more) = store::listed_heads(finished).await;
        // Made read-only below when signed out (the list's order does not depend on it).
        let chats = desk.summaries(false);
        if let Some(first) = chats.first() {
            store::load_pages(&mut desk, &first.id, LINES_FIRST_SHOWN).await;
        }
        (desk, chats, finished_more)
    };
    let records = join(
        join(store::settings(), store::policy()),
        join(
            join(store::status(), store::attachments()),
            join(store::notify_settings(), store::retention()),
        ),
    );
    let ((desk, mut chats, finished_more), records) = join(desk, records).await;
    let ((stored, policy), ((mut agent, attachments), (notify, retention))) = records;
    let stored = match stored {
        Ok(s) => s,
        // A value we cannot read (older build, hand-edited) is shown as defaults, not an error
        // that locks the agent out of the options page.
        Err(e) if e.is_unreadable_value() => {
            webext::log_error(&format!("[cobrowse-agent] stored settings unreadable: {e}"));
            None
        }
        Err(e) => return Err(storage_refusal(e)),
    };
    agent.channel_state = desk.meta.channel_state;
    if !agent.signed_in {
        chats.iter_mut().for_each(ChatSummary::make_read_only);
    }
    // The popup shows the first chat of the list first: its newest lines came with the desk.
    let open = chats
        .first()
        .and_then(|first| desk.detail(&first.id, LINES_FIRST_SHOWN));
    Ok(Snapshot {
        protocol: PROTOCOL_VERSION,
        configured: stored.is_some(),
        settings: stored.unwrap_or_else(|| policy.default_settings()),
        cobrowse: attachments.views(),
        policy,
        worker: WorkerInfo {
            started_at_ms: STARTED_AT_MS.with(Cell::get),
        },
        notify,
        retention,
        chats,
        finished_more,
        open,
        agent,
    })
}

async fn handle_request(request: PopupRequest) -> Result<PopupReply, Refusal> {
    let command = match request {
        PopupRequest::GetSnapshot => return Ok(PopupReply::Snapshot(load_snapshot().await?)),
        PopupRequest::ListFinished { finished } => {
            return Ok(PopupReply::Snapshot(load_snapshot_listing(finished).await?))
        }
        PopupRequest::SaveSettings(settings) => {
            let settings = store::policy().await.allows(&settings).map_err(|e| {
                Refusal::new(
                    RefusalReason::InvalidSettings,
                    e.message_key(),
                    e.to_string(),
                )
            })?;
            store::save_settings(&settings)
                .await
                .map_err(storage_refusal)?;
            return Ok(PopupReply::SettingsSaved(load_snapshot().await?));
        }
        PopupRequest::SaveNotifySettings(settings) => {
            store::save_notify_settings(&settings.clamped())
                .await
                .map_err(storage_refusal)?;
            return Ok(PopupReply::SettingsSaved(load_snapshot().await?));
        }
        PopupRequest::SaveRetention(retention) => {
            store::save_retention(retention.clamped())
                .await
                .map_err(storage_refusal)?;
            return Ok(PopupReply::SettingsSaved(load_snapshot().await?));
        }
        PopupRequest::OpenChat { chat_id, lines } => {
            return store::one_chat(&chat_id, lines)
                .await
                .detail(&chat_id, lines)
                .map(PopupReply::Chat)
                .ok_or_else(|| {
                    Refusal::new(
                        RefusalReason::MalformedRequest,
                        "errorInternal",
                        "no such chat",
                    )
                });
        }
        PopupRequest::SignIn(credentials) => PageCommand::SignIn(credentials),
        PopupRequest::SignOut => PageCommand::SignOut,
        PopupRequest::SetReady(ready) => PageCommand::SetReady(ready),
        PopupRequest::ChatAction { chat_id, action } => PageCommand::ChatAction { chat_id, action },
        PopupRequest::SendMessage {
            chat_id,
            client_id,
            text,
        } => PageCommand::SendMessage {
            chat_id,
            client_id,
            text,
        },
        PopupRequest::RetryMessage { client_id } => PageCommand::RetryMessage { client_id },
        PopupRequest::MarkRead { chat_id } => PageCommand::MarkRead { chat_id },
        PopupRequest::Typing { chat_id, typing } => PageCommand::Typing { chat_id, typing },
        PopupRequest::JoinCobrowse { chat_id, end_other } => {
            PageCommand::JoinCobrowse { chat_id, end_other }
        }
        PopupRequest::EndCobrowse { chat_id } => PageCommand::EndCobrowse { chat_id },
        PopupRequest::EnterCobrowseCode { chat_id, code } => {
            PageCommand::EnterCobrowseCode { chat_id, code }
        }
    };
    session::ask(command).await?;
    Ok(PopupReply::Snapshot(load_snapshot().await?))
}

/// Whether `sender` is one of this extension's own pages.
fn check_sender(sender: &MessageSender) -> Result<(), Refusal> {
    let untrusted =
        |why: String| Refusal::new(RefusalReason::UntrustedSender, "errorUntrusted", why);
    let own = webext::runtime::own_extension().map_err(|e| untrusted(e.to_string()))?;
    match classify_sender(sender, &own) {
        SenderTrust::ExtensionPage => Ok(()),
        SenderTrust::Untrusted(why) => Err(untrusted(why.to_owned())),
    }
}

/// The whole request path: sender check first, then decoding, then the answer.
pub async fn reply_to(message_json: &str, sender: &MessageSender) -> PopupReply {
    let outcome = async {
        check_sender(sender)?;
        let request = decode_request(message_json)?;
        handle_request(request).await
    }
    .await;
    outcome.unwrap_or_else(|refusal| {
        webext::log_error(&format!(
            "[cobrowse-agent] refused a request: {} ({})",
            refusal.message_key, refusal.detail
        ));
        PopupReply::Refused(refusal)
    })
}

/// A page opened its events port: untrusted or unknown ports are closed; a trusted one gets
/// the snapshot (or why there is none), acknowledges what notifications said, and wakes the
/// session.
pub async fn connected(port: Port) {
    if port.name() != EVENTS_PORT_NAME || check_sender(&port.sender()).is_err() {
        webext::log_error("[cobrowse-agent] closed a port from an untrusted sender");
        port.disconnect();
        return;
    }
    ports::add(&port);
    // The page paints from this snapshot alone (it asks for no other), so a failure is told.
    match load_snapshot().await {
        Ok(snapshot) => ports::post(&port, &BackgroundEvent::Snapshot(snapshot)),
        Err(r) => {
            webext::log_error(&format!("[cobrowse-agent] snapshot: {}", r.detail));
            ports::post(&port, &BackgroundEvent::SnapshotRefused(r));
        }
    }
    // The agent is looking: what notifications said is acknowledged.
    notify::acknowledge().await;
    session::wake().await;
}

/// Something pages show changed: push them a fresh snapshot.
pub async fn repaint() {
    if !ports::any_open() {
        return;
    }
    match load_snapshot().await {
        Ok(snapshot) => ports::broadcast(&BackgroundEvent::Snapshot(snapshot)),
        Err(r) => webext::log_error(&format!("[cobrowse-agent] snapshot: {}", r.detail)),
    }
}

/// The co-browses changed in `storage.session`: push what pages show of them (never a token).
pub async fn cobrowse_changed(changes: &JsValue) {
    if !ports::any_open() {
        return;
    }
    let (now, _): (Option<Attachments>, Option<Attachments>) =
        storage::change(changes, storage_keys::COBROWSE);
    ports::broadcast(&BackgroundEvent::Cobrowse(now.unwrap_or_default().views()));
}

/// The connection's status changed: push it.
pub async fn status_changed() {
    if ports::any_open() {
        ports::broadcast(&BackgroundEvent::Status(store::status().await));
    }
}

/// Chats' records changed in storage: push each chat's change, built from the change itself
/// (the new head, the lines new in its pages, its messages on their way), not from a reload.
pub async fn chats_changed(changes: &JsValue, keys: &[String]) {
    if !ports::any_open() {
        return;
    }
    let read_only = store::credentials().await.is_none();
    let (outbox, old_outbox): (Option<Outbox>, Option<Outbox>) =
        if keys.iter().any(|k| *k == Key::Outbox.name()) {
            storage::change(changes, &Key::Outbox.name())
        } else {
            (None, None)
        };
    let mut deltas: SortedMap<String, ChatDelta> = SortedMap::new();
    let mut removed = Vec::new();
    for key in keys {
        if let Some(id) = Key::head_chat(key) {
            match storage::change::<ChatHead>(changes, key).0 {
                Some(head) => {
                    deltas.insert(
                        id.to_owned(),
                        ChatDelta {
                            chat: head.summary(read_only),
                            lines: Vec::new(),
                            outgoing: outbox.as_ref().map(|o| o.for_chat(id).cloned().collect()),
                        },
                    );
                }
                None => removed.push(id.to_owned()),
            }
        }
    }
    for key in keys {
        if let Some((id, _)) = Key::page_of_name(key) {
            let (new, old): (Option<Vec<Line>>, Option<Vec<Line>>) = storage::change(changes, key);
            let old = old.unwrap_or_default();
            if let Some(d) = deltas.get_mut(id) {
                d.lines.extend(
                    new.unwrap_or_default()
                        .into_iter()
                        .filter(|l| l.is_visible())
                        // New lines, and lines changed in place (a token masked).
                        .filter(|l| {
                            old.binary_search_by_key(&l.index, |o| o.index)
                                .map_or(true, |at| old[at] != *l)
                        }),
                );
            }
        }
    }
    for d in deltas.values_mut() {
        cobrowse_agent::sorted::sort_small_by(&mut d.lines, |a, b| a.index.cmp(&b.index));
    }
    if let Some(outbox) = &outbox {
        let before = old_outbox.unwrap_or_default();
        let chats: SortedSet<&str> = outbox.chats().chain(before.chats()).collect();
        for id in chats {
            let now: Vec<_> = outbox.for_chat(id).cloned().collect();
            let was: Vec<_> = before.for_chat(id).cloned().collect();
            if now != was && !deltas.contains_key(id) {
                ports::broadcast(&BackgroundEvent::OutgoingChanged {
                    chat_id: id.to_owned(),
                    outgoing: now,
                });
            }
        }
    }
    for d in deltas.into_values() {
        ports::broadcast(&BackgroundEvent::ChatChanged(d));
    }
    if !removed.is_empty() {
        ports::broadcast(&BackgroundEvent::ChatsRemoved(removed));
    }
}
