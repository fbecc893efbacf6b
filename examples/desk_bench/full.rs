//! The full desk the issue names: 20 live chats of 1,000 lines each, and 200 finished chats of
//! 1,000 lines kept (the retention's maximum).
//!
//! The live chats are real: twenty customers request chats and write their lines through the
//! reference server before the agent signs in (the per-chat write limit lifted), and the desk
//! takes each chat's history when the agent accepts it. The finished chats are seeded in
//! `storage.local` as the desk itself stores them (storage layout 2, made by core's
//! `DeskV1::into_desk` and `Desk::writes`, newest first). Chrome's `storage.local` holds 10 MB
//! (the extension asks for no `unlimitedStorage`), less than 200 such chats: there the seeding
//! stops with room left for the live chats, and the figures say how many finished chats were
//! held. Firefox has no such quota and holds all 200.

use cobrowse_agent::chat::legacy::DeskV1;
use cobrowse_agent::chat::Key;
use serde_json::{json, Value};
use testkit::browser::Session;
use testkit::popup::{accept, open_chat, sign_in};
use testkit::{Customer, ReferenceServer};

pub const LIVE_CHATS: usize = 20;
pub const LINES: usize = 1000;
pub const FINISHED_CHATS: usize = 200;
/// Room kept free in a quota'd `storage.local` for the live chats' lines (20 × 1,000 lines of
/// about 140 bytes each, with their heads).
const LIVE_ROOM_BYTES: u64 = 4_000_000;

/// The reference server's options for the full desk: twenty chats at once for the agent, the
/// per-chat write limit lifted so the history can be written fast, and invitations that wait
/// while the agent accepts them one by one.
pub const SERVER_OPTIONS: [&str; 8] = [
    "--per-address-limit",
    "100000",
    "--max-chats",
    "20",
    "--chat-writes-per-10s",
    "100000",
    "--invite-timeout-ms",
    "600000",
];

/// Layout 1's record of a finished chat of [`LINES`] lines, the customer and the agent taking
/// turns (`DeskV1` reads it, as the migration does).
fn finished_chat(n: usize) -> Value {
    let since_ms = 1_760_000_000_000i64 + n as i64 * 60_000;
    let mut lines = serde_json::Map::new();
    for i in 1..=LINES as i64 {
        let role = if i % 2 == 1 { "customer" } else { "agent" };
        lines.insert(
            i.to_string(),
            json!({"index": i, "kind": "text", "role": role, "nickname": role,
                   "text": format!("finished chat {n}, line {i}: words of a usual length here"),
                   "at_ms": since_ms + i * 1000, "internal": false}),
        );
    }
    json!({"id": format!("C-done-{n:03}"), "state": "Completed", "capabilities": [],
           "customer": format!("Customer {n}"), "subject": "An earlier question",
           "unread": 0, "since_ms": since_ms,
           "transcript": {"lines": lines, "complete_through": LINES}})
}

/// The desk records of the finished chats `ns`: per chat its own records (`chat:<id>`, its
/// pages), and the desk's shared records (`desk_meta`, `chat_index`, `waiting`, `outbox`).
fn finished_records(
    ns: &[usize],
) -> (
    Vec<serde_json::Map<String, Value>>,
    serde_json::Map<String, Value>,
) {
    let chats: serde_json::Map<String, Value> = ns
        .iter()
        .map(|&n| (format!("C-done-{n:03}"), finished_chat(n)))
        .collect();
    let v1: DeskV1 = serde_json::from_value(json!({"chats": chats, "outbox": {"items": []}}))
        .expect("layout 1 of the finished chats");
    let desk = v1.into_desk();
    let (records, removed) = desk.writes();
    assert!(removed.is_empty());
    let mut per_chat: Vec<(String, serde_json::Map<String, Value>)> = Vec::new();
    let mut shared = serde_json::Map::new();
    for (key, record) in records {
        let value = serde_json::to_value(&record).expect("a record");
        match &key {
            Key::Head(id) | Key::Page(id, _) => {
                match per_chat.iter_mut().find(|(chat, _)| chat == id) {
                    Some((_, m)) => m,
                    None => {
                        per_chat.push((id.clone(), serde_json::Map::new()));
                        &mut per_chat.last_mut().unwrap().1
                    }
                }
                .insert(key.name(), value);
            }
            _ => {
                shared.insert(key.name(), value);
            }
        }
    }
    (per_chat.into_iter().map(|(_, m)| m).collect(), shared)
}

/// Stores the records given, then answers `[bytes in use, quota]` (`null` where the browser
/// has no such figure: Firefox's `storage.local` has no quota).
const STORE: &str = "
    const done = arguments[arguments.length - 1];
    const local = (globalThis.browser ?? globalThis.chrome).storage.local;
    (async () => {
      await local.set(arguments[0]);
      const used = local.getBytesInUse ? await local.getBytesInUse(null) : null;
      done([used, local.QUOTA_BYTES ?? null]);
    })().catch((e) => done('error: ' + e));";

async fn store(s: &Session, records: serde_json::Map<String, Value>) -> (Option<u64>, Option<u64>) {
    let r = s
        .client
        .execute_async(STORE, vec![Value::Object(records)])
        .await
        .unwrap_or_else(|e| panic!("storing the finished chats: {e}"));
    match r.as_array() {
        Some(a) => (a[0].as_u64(), a[1].as_u64()),
        None => panic!("storing the finished chats: {r}"),
    }
}

/// Seeds the retention at its maximum and the finished chats, newest first, as many as the
/// browser's quota leaves room for beside the live chats; how many were stored.
async fn seed_finished(s: &Session) -> usize {
    s.goto("options.html").await.unwrap();
    let retention = serde_json::Map::from_iter([(
        "retention".to_owned(),
        json!({"finished_chats": FINISHED_CHATS}),
    )]);
    store(s, retention).await;
    let mut held = Vec::new();
    for n in (0..FINISHED_CHATS).rev() {
        let (mut chat, _) = finished_records(&[n]);
        let (used, quota) = store(s, chat.remove(0)).await;
        held.push(n);
        if let (Some(used), Some(quota)) = (used, quota) {
            if used + LIVE_ROOM_BYTES > quota {
                break;
            }
        }
    }
    // The shared records last: the index names only the chats stored.
    let (_, shared) = finished_records(&held);
    store(s, shared).await;
    held.len()
}

/// The last line each live chat's customer writes.
fn last_line(n: usize) -> String {
    format!("live chat {n}, line {LINES}")
}

/// How many of the live chats `ids` the background holds whole (their customer's newest words
/// are the last line written).
const LIVE_HELD: &str = "
    const done = arguments[arguments.length - 1];
    const [ids, last] = [arguments[0], arguments[1]];
    (globalThis.browser ?? globalThis.chrome).storage.local.get(ids.map((id) => 'chat:' + id))
      .then((got) => done(ids.filter((id, n) =>
          got['chat:' + id]?.transcript?.last_customer_text?.text === last[n]).length),
            (e) => done('error: ' + e));";

/// Fills the desk: the finished chats seeded, then [`LIVE_CHATS`] customers who each wrote
/// [`LINES`] lines, signed in and accepted, and every history held by the background. Answers
/// the live customers (the first one's chat open in the popup) and what the desk holds.
pub async fn fill(s: &Session, server: &ReferenceServer) -> (Vec<Customer>, Value) {
    let finished = seed_finished(s).await;
    let mut customers = Vec::new();
    for n in 0..LIVE_CHATS {
        customers.push(Customer::request(server, &format!("Live{n}")).await);
    }
    let writers = customers.iter().enumerate().map(|(n, c)| async move {
        let mut refused = Vec::new();
        for i in 1..=LINES {
            let text = if i == LINES {
                last_line(n)
            } else {
                format!("live chat {n}, line {i}")
            };
            // A refused write is reported and written again: the desk must hold every line.
            for _ in 0..5 {
                match c.try_call("send", &[("message", &text)]).await {
                    Ok((200, _)) => break,
                    Ok((status, r)) => refused.push(format!("HTTP {status}: {r}")),
                    Err(e) => refused.push(e),
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        refused
    });
    let refused: Vec<String> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    if !refused.is_empty() {
        println!(
            "the server refused {} of the history's writes (each written again), the first: {}",
            refused.len(),
            refused[0]
        );
    }
    sign_in(s, server).await.unwrap();
    for c in &customers {
        accept(s, c).await.unwrap();
    }
    let ids: Vec<Value> = customers.iter().map(|c| json!(c.chat_id)).collect();
    let last: Vec<Value> = (0..LIVE_CHATS).map(|n| json!(last_line(n))).collect();
    s.wait_for_within(
        "every live chat's history held",
        std::time::Duration::from_secs(600),
        || async {
            let held = s
                .client
                .execute_async(LIVE_HELD, vec![json!(ids), json!(last)])
                .await
                .ok()?;
            (held.as_u64() == Some(LIVE_CHATS as u64)).then_some(())
        },
    )
    .await
    .unwrap();
    open_chat(s, &customers[0].chat_id).await.unwrap();
    let held = json!({"live_chats": LIVE_CHATS, "lines_per_chat": LINES,
                      "finished_chats_held": finished, "finished_lines_per_chat": LINES,
                      "history_writes_refused": refused.len()});
    (customers, held)
}
