//! The desk under load and across an upgrade: ten customers writing at the server's per-chat
//! limit at once are all kept up with, and a desk stored by the previous layout comes back
//! whole.

use std::time::Duration;

use super::agent_desk::{accept, customer_lines, open_chat, sign_in};
use super::*;

/// How many customers write at once, and how many lines each.
const CHATTY_CUSTOMERS: usize = 10;
const LINES_EACH: usize = 45;
/// Each customer's pace: 30 writes per 10 s is the server's per-chat limit; a line every
/// 345 ms stays under it (29 in any 10 s), ~29 lines/s across the ten.
const PACE: Duration = Duration::from_millis(345);
/// How long the desk may take to show every line once the customers stop (a busy machine).
const CATCH_UP: Duration = Duration::from_secs(90);

/// Counts, in the popup page, every moment its connection badge stops saying connected (not
/// live, or a problem shown), from now on.
const WATCH_CONNECTION: &str = "
    window.__notConnected = [];
    const note = () => {
      const c = document.getElementById('connection');
      if (c && (c.dataset.live !== 'true' || c.dataset.problem)) {
        window.__notConnected.push(c.textContent);
      }
    };
    new MutationObserver(note).observe(document.body, {
      subtree: true, childList: true, attributes: true,
      attributeFilter: ['data-live', 'data-problem'],
    });
    note();";

/// Ten customers at the per-chat limit at once (~29 lines/s): every line reaches the popup, in
/// its chat, in order, and the connection never stops saying connected.
pub async fn ten_chatty_customers_are_kept_up_with(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&["--max-chats", "10"]);
    sign_in(s, &server).await?;
    let mut customers = Vec::new();
    for n in 0..CHATTY_CUSTOMERS {
        customers.push(Customer::request(&server, &format!("Customer{n}")).await);
    }
    for c in &customers {
        accept(s, c).await?;
    }
    s.client
        .execute(WATCH_CONNECTION, vec![])
        .await
        .map_err(|e| e.to_string())?;

    let writers = customers.iter().enumerate().map(|(n, c)| async move {
        for line in 1..=LINES_EACH {
            c.send(&format!("c{n} line {line}")).await;
            tokio::time::sleep(PACE).await;
        }
    });
    futures_util::future::join_all(writers).await;

    // The chat shown during the intake took its lines as deltas; the others load when opened.
    for (n, c) in customers.iter().enumerate() {
        open_chat(s, &c.chat_id).await?;
        let want: Vec<String> = (1..=LINES_EACH).map(|l| format!("c{n} line {l}")).collect();
        s.wait_for_within(
            &format!("every line of chat {n}, in order"),
            CATCH_UP,
            || async { (customer_lines(s).await == want).then_some(()) },
        )
        .await?;
    }
    let not_connected = s
        .client
        .execute("return window.__notConnected;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    if not_connected != json!([]) {
        return Err(format!(
            "the popup stopped saying connected during the intake: {not_connected}"
        ));
    }
    Ok(())
}

/// Lines of the upgraded live chat: three pages of 100 indexes (1–99, 100–199, 200–250).
const OLD_LINES: i64 = 250;

/// What the previous build (storage layout 1) kept: one `desk` key with every chat.
fn layout_1_desk() -> Value {
    let line = |index: i64, role: &str, text: &str| {
        json!({"index": index, "kind": "text", "role": role, "nickname": role,
               "text": text, "at_ms": 1_764_000_000_000i64 + index, "internal": false})
    };
    let mut lines = serde_json::Map::new();
    for i in 1..=OLD_LINES {
        let role = if i % 2 == 1 { "customer" } else { "agent" };
        lines.insert(i.to_string(), line(i, role, &format!("old line {i}")));
    }
    let mut chats = serde_json::Map::new();
    // Older finished chats beyond the 20 the list shows first.
    for n in 0..EXTRA_FINISHED {
        chats.insert(
            format!("C-past-{n:02}"),
            json!({"id": format!("C-past-{n:02}"), "state": "Completed", "capabilities": [],
                   "customer": format!("Past {n}"), "subject": "", "unread": 0,
                   "since_ms": 1_762_000_000_000i64 + n as i64,
                   "transcript": {"lines": {"1": line(1, "customer", "long ago")},
                                  "complete_through": 1}}),
        );
    }
    let mut desk = json!({
        "chats": {
            "C-old": {
                "id": "C-old", "state": "Chatting", "capabilities": ["SendMessage", "Complete"],
                "customer": "Olga", "subject": "Upgrade", "unread": 2, "since_ms": 1_764_000_000_000i64,
                "transcript": {"lines": lines, "complete_through": OLD_LINES}
            },
            "C-done": {
                "id": "C-done", "state": "Completed", "capabilities": [],
                "customer": "Dan", "subject": "", "unread": 0, "since_ms": 1_763_000_000_000i64,
                "transcript": {"lines": {"1": line(1, "customer", "thanks")}, "complete_through": 1}
            }
        },
        "outbox": {"items": [{
            "client_id": "m-old", "chat_id": "C-old", "text": "queued before the upgrade",
            "state": {"state": "queued"}, "attempts": 0, "after_index": OLD_LINES, "not_before_ms": 0
        }]},
        "channel_state": "Ready"
    });
    desk["chats"].as_object_mut().unwrap().extend(chats);
    desk
}

/// Finished chats of the upgraded desk besides `C-done`: 25 finished in all.
const EXTRA_FINISHED: usize = 24;

/// Runs `script` (its last argument is the callback) in the extension page shown.
async fn in_extension_page(s: &Session, script: &str, args: Vec<Value>) -> Result<Value, String> {
    s.client
        .execute_async(script, args)
        .await
        .map_err(|e| e.to_string())
}

/// An agent upgrading from layout 1 keeps every chat, line and queued message: the popup shows
/// them, and storage holds the new layout's records instead of the old key.
pub async fn an_upgraded_desk_keeps_its_chats_and_outbox(s: &Session) -> Result<(), String> {
    s.goto("options.html").await?;
    let seeded = in_extension_page(
        s,
        "const done = arguments[arguments.length - 1];
         (globalThis.browser ?? globalThis.chrome).storage.local.set({desk: arguments[0]})
           .then(() => done('ok'), (e) => done('error: ' + e));",
        vec![layout_1_desk()],
    )
    .await?;
    if seeded != json!("ok") {
        return Err(format!("seeding layout 1: {seeded}"));
    }

    s.goto("popup.html").await?;
    open_chat(s, "C-old").await?;
    // A long transcript shows its newest `LINES_FIRST_SHOWN` lines; each "Show earlier lines"
    // shows as many more, loading pages the popup does not hold yet (pages of 100 indexes:
    // opening it loaded 200–250 alone).
    let customer_lines_from = |first: i64| -> Vec<String> {
        (first..=OLD_LINES)
            .filter(|i| i % 2 == 1)
            .map(|i| format!("old line {i}"))
            .collect()
    };
    let window = i64::from(cobrowse_agent::protocol::LINES_FIRST_SHOWN);
    let newest_first = OLD_LINES - window + 1;
    let mut firsts: Vec<i64> = (0..)
        .map(|k| newest_first - k * window)
        .take_while(|f| *f > 1)
        .collect();
    firsts.push(1);
    for first in firsts {
        if first < newest_first {
            s.click("#earlier-lines").await?;
        }
        let want = customer_lines_from(first);
        s.wait_for(&format!("the old chat's lines from {first}"), || async {
            (customer_lines(s).await == want).then_some(())
        })
        .await?;
        let offered = s.text("#earlier-lines").await.is_some();
        if offered != (first > 1) {
            return Err(format!(
                "with lines from {first} shown, earlier lines offered: {offered}"
            ));
        }
    }
    s.wait_for("the message queued before the upgrade", || async {
        s.attr("li.outgoing[data-client-id='m-old']", "data-state")
            .await
    })
    .await?;
    if s.text("#chat-customer").await.as_deref() != Some("Olga") {
        return Err("the old chat's customer is not shown".into());
    }
    s.wait_for("the finished chat", || async {
        s.attr(".chat-item[data-chat='C-done']", "data-state")
            .await
            .filter(|v| v == "Completed")
    })
    .await?;

    let keys = in_extension_page(
        s,
        "const done = arguments[arguments.length - 1];
         (globalThis.browser ?? globalThis.chrome).storage.local.get(null)
           .then((all) => done(Object.keys(all).sort()), (e) => done(['error: ' + e]));",
        vec![],
    )
    .await?;
    let keys: Vec<String> = serde_json::from_value(keys).map_err(|e| e.to_string())?;
    for want in [
        "desk_meta",
        "chat_index",
        "outbox",
        "chat:C-old",
        "lines:C-old:0",
        "lines:C-old:1",
        "lines:C-old:2",
        "chat:C-done",
        "lines:C-done:0",
    ] {
        if !keys.iter().any(|k| k == want) {
            return Err(format!("storage lacks {want} after the upgrade: {keys:?}"));
        }
    }
    if keys.iter().any(|k| k == "desk") {
        return Err(format!("the layout 1 key is still stored: {keys:?}"));
    }
    // Opened afresh, the list holds the live chat and the newest 20 finished chats (while
    // migrating, each migrated chat came as a change); the other 5 on request.
    s.goto("popup.html").await?;
    open_chat(s, "C-old").await?;
    let finished_listed = || async {
        s.client
            .execute(
                "return document.querySelectorAll('.chat-item[data-state=Completed]').length;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
    };
    s.wait_for("the newest 20 finished chats listed", || async {
        (finished_listed().await == Some(20)).then_some(())
    })
    .await?;
    let more = s.text("#more-finished").await.unwrap_or_default();
    if !more.contains('5') {
        return Err(format!(
            "the 5 other finished chats are not offered: {more:?}"
        ));
    }
    s.click("#more-finished").await?;
    s.wait_for("all 25 finished chats listed", || async {
        (finished_listed().await == Some(25)).then_some(())
    })
    .await?;
    if s.text("#more-finished").await.is_some() {
        return Err("every finished chat is listed, yet more are offered".into());
    }
    if s.attr("#chat", "data-chat").await.as_deref() != Some("C-old") {
        return Err("listing more finished chats changed the chat shown".into());
    }
    // Settings saved elsewhere (the options page in another tab) push a fresh snapshot, which
    // lists the newest 20 finished chats only: the 5 listed on request stay listed.
    let saved = in_extension_page(
        s,
        "const done = arguments[arguments.length - 1];
         (globalThis.browser ?? globalThis.chrome).storage.local
           .set({settings: {server_url: 'http://127.0.0.1:9', agent_name: 'renamed-agent'}})
           .then(() => done('ok'), (e) => done('error: ' + e));",
        vec![],
    )
    .await?;
    if saved != json!("ok") {
        return Err(format!("saving settings: {saved}"));
    }
    // Signed out, the sign-in form shows the server the snapshot brought.
    s.wait_for("the pushed snapshot shown", || async {
        s.text("#server-url")
            .await
            .filter(|url| url == "http://127.0.0.1:9")
    })
    .await?;
    if finished_listed().await != Some(25) {
        return Err(format!(
            "a pushed snapshot undid Show more: {:?} finished chats listed",
            finished_listed().await
        ));
    }

    Ok(())
}

/// Fills `storage.local` up to Chrome's quota (`QUOTA_BYTES`, 10 MB) with one filler value
/// under the key `arguments[0]`, leaving less room than a line takes; answers the room left.
const FILL_STORAGE: &str = "
    const done = arguments[arguments.length - 1];
    const key = arguments[0];
    const local = (globalThis.browser ?? globalThis.chrome).storage.local;
    (async () => {
      const room = async () => local.QUOTA_BYTES - await local.getBytesInUse(null);
      // The key and the value's quotes count too; then step down until it fits.
      let size = await room() - key.length - 2 - 100;
      while (size > 0) {
        try { await local.set({[key]: 'x'.repeat(size)}); break; } catch (e) { size -= 50; }
      }
      done(await room());
    })().catch((e) => done('error: ' + e));";

/// Chrome's `storage.local` full (the extension asks for no `unlimitedStorage`): a customer's
/// line is still stored and shown, and what gives way is the oldest finished chat, not the
/// newer one and never a live one. When nothing fits even then, the popup says so, a message
/// of the agent's is refused and stays in the composer, and a customer's line is fetched once
/// there is room. (Firefox's `storage.local` has no such quota.)
pub async fn a_full_storage_gives_up_the_oldest_finished_chat(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    s.goto("options.html").await?;
    let line = |text: &str| {
        json!({"index": 1, "kind": "text", "role": "customer", "nickname": "customer",
               "text": text, "at_ms": 1_763_000_000_000i64, "internal": false})
    };
    let finished = |id: &str, since_ms: i64, text: &str| {
        json!({"id": id, "state": "Completed", "capabilities": [], "customer": id,
               "subject": "", "unread": 0, "since_ms": since_ms,
               "transcript": {"lines": {"1": line(text)}, "complete_through": 1}})
    };
    let desk = json!({
        "chats": {
            // Its records free far more room than a line takes.
            "C-older": finished("C-older", 1_763_000_000_000, &"long ago ".repeat(2000)),
            "C-newer": finished("C-newer", 1_763_500_000_000, "yesterday"),
        },
        // No channel state stored: a stored "Ready" would show until the server's own state
        // came, and sign-in would not know whether to switch it on.
        "outbox": {"items": []}
    });
    let seeded = in_extension_page(
        s,
        "const done = arguments[arguments.length - 1];
         (globalThis.browser ?? globalThis.chrome).storage.local.set({desk: arguments[0]})
           .then(() => done('ok'), (e) => done('error: ' + e));",
        vec![desk],
    )
    .await?;
    if seeded != json!("ok") {
        return Err(format!("seeding the finished chats: {seeded}"));
    }
    sign_in(s, &server).await?;
    for id in ["C-older", "C-newer"] {
        s.wait_for(&format!("the finished chat {id}"), || async {
            s.attr(&format!(".chat-item[data-chat='{id}']"), "data-state")
                .await
        })
        .await?;
    }
    let customer = Customer::request(&server, "Pat").await;
    accept(s, &customer).await?;

    let room = in_extension_page(s, FILL_STORAGE, vec![json!("filler")]).await?;
    if room.as_i64().is_none_or(|r| r >= 200) {
        return Err(format!("could not fill storage.local: {room}"));
    }
    let text = format!("written to a full storage {}", "!".repeat(400));
    customer.send(&text).await;
    s.wait_for("the customer's line, stored and shown", || async {
        customer_lines(s).await.contains(&text).then_some(())
    })
    .await?;
    s.wait_for("the oldest finished chat given up", || async {
        s.attr(".chat-item[data-chat='C-older']", "data-state")
            .await
            .is_none()
            .then_some(())
    })
    .await?;
    if s.attr(".chat-item[data-chat='C-newer']", "data-state")
        .await
        .is_none()
    {
        return Err("the newer finished chat was given up too".into());
    }

    // Full again, and what the agent writes does not fit even with the last finished chat
    // given up: the message is refused and stays in the composer, and nothing of it is sent.
    let room = in_extension_page(s, FILL_STORAGE, vec![json!("filler-2")]).await?;
    if room.as_i64().is_none_or(|r| r >= 200) {
        return Err(format!("could not fill storage.local again: {room}"));
    }
    let reply = format!("a long answer {}", "x".repeat(1500));
    s.fill("#composer-input", &reply).await?;
    s.click("#send").await?;
    s.wait_for("the message returned to the composer", || async {
        s.attr("#composer", "data-state")
            .await
            .filter(|v| v == "returned")
    })
    .await?;
    if s.value("#composer-input").await.as_deref() != Some(reply.as_str()) {
        return Err("the refused message is not back in the composer".into());
    }
    let error = s.text("#desk-error").await.unwrap_or_default();
    if error != super::scenarios::locale_en("errorStorage") {
        return Err(format!("the refusal reads {error:?}"));
    }
    s.wait_for_text(
        "#storage-banner",
        &super::scenarios::locale_en("errorDeskUnstored"),
    )
    .await?;
    // What the customer writes meanwhile is not kept in the browser, but not lost either.
    let meanwhile = format!("written while nothing fits {}", "?".repeat(1500));
    customer.send(&meanwhile).await;
    // With room again, the same text goes, and the customer's line is fetched.
    let freed = in_extension_page(
        s,
        "const done = arguments[arguments.length - 1];
         (globalThis.browser ?? globalThis.chrome).storage.local.remove(['filler', 'filler-2'])
           .then(() => done('ok'), (e) => done('error: ' + e));",
        vec![],
    )
    .await?;
    if freed != json!("ok") {
        return Err(format!("freeing storage.local: {freed}"));
    }
    s.click("#send").await?;
    customer.receives(&[reply.as_str()]).await?;
    s.wait_for(
        "the customer's line written while nothing fitted",
        || async { customer_lines(s).await.contains(&meanwhile).then_some(()) },
    )
    .await?;
    s.wait_for("the storage banner gone", || async {
        s.text("#storage-banner").await.is_none().then_some(())
    })
    .await?;
    Ok(())
}
