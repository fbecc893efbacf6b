//! The chat view as an agent reads it: it follows the newest line unless the agent scrolled up
//! (then a "new messages" button), a 128-character name never widens the popup, customer text
//! is isolated for bidi, notices, custom notices and pushed URLs look different from messages,
//! and a customer renaming themselves leaves a line naming both names; the chat on screen stays
//! there when the list reorders; the desk bar (indicator, banner, Ready switch) tells one story
//! through an outage.

use fantoccini::Locator;

use super::agent_desk::{accept, sign_in};
use super::*;

/// The transcript's scroll position: (distance from the bottom, whether it can scroll at all).
async fn from_bottom(s: &Session) -> Result<(f64, bool), String> {
    let v = s
        .client
        .execute(
            "const t = document.getElementById('transcript');
             return [t.scrollHeight - t.scrollTop - t.clientHeight, t.scrollHeight > t.clientHeight];",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((v[0].as_f64().unwrap_or(f64::MAX), v[1] == json!(true)))
}

async fn lines_shown(s: &Session) -> usize {
    s.client
        .execute(
            "return document.querySelectorAll('#transcript li').length;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize
}

pub async fn the_chat_view_follows_isolates_truncates_and_tells_lines_apart(
    s: &Session,
) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let long_name = "N".repeat(128);
    let customer = Customer::request(&server, &long_name).await;
    accept(s, &customer).await?;

    // No horizontal overflow, the full name on hover.
    let overflow = s
        .client
        .execute(
            "const d = document.documentElement;
             return [d.scrollWidth - d.clientWidth, document.querySelector('main').scrollWidth - document.querySelector('main').clientWidth];",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if overflow != json!([0, 0]) {
        let wide = s
            .client
            .execute(
                "const w = document.querySelector('main').getBoundingClientRect().right;
                 return [...document.querySelectorAll('main *')]
                   .filter(e => e.getBoundingClientRect().right > w + 1)
                   .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 10);",
                vec![],
            )
            .await
            .unwrap_or_default();
        return Err(format!(
            "a 128-character name overflows the popup by {overflow}: {wide}"
        ));
    }
    if s.attr("#chat-customer", "title").await.as_deref() != Some(long_name.as_str()) {
        return Err("the chat's full name is not on hover".into());
    }
    let item = format!(".chat-item[data-chat='{}'] .customer", customer.chat_id);
    if s.attr(&item, "title").await.as_deref() != Some(long_name.as_str()) {
        return Err("the list's full name is not on hover".into());
    }

    // Follows the newest line while the agent is at the bottom.
    let before = lines_shown(s).await;
    for n in 0..20 {
        customer.send(&format!("line {n}")).await;
    }
    s.wait_for("twenty lines", || async {
        (lines_shown(s).await >= before + 20).then_some(())
    })
    .await?;
    s.wait_for("the newest line in view", || async {
        let (gap, scrolls) = from_bottom(s).await.ok()?;
        (scrolls && gap <= 2.0).then_some(())
    })
    .await?;

    // Scrolled up: it stays put and offers the new messages.
    s.client
        .execute(
            "const t = document.getElementById('transcript'); t.scrollTop = 0;
             t.dispatchEvent(new Event('scroll'));",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    customer.send("while you read back").await;
    s.wait_for("the new-messages button", || async {
        s.attr("#new-messages", "id").await
    })
    .await?;
    let (gap, _) = from_bottom(s).await?;
    if gap <= 2.0 {
        return Err("the view jumped to the bottom while the agent read back".into());
    }
    s.click("#new-messages").await?;
    s.wait_for("back at the newest line", || async {
        let (gap, _) = from_bottom(s).await.ok()?;
        let gone = s.attr("#new-messages", "id").await.is_none();
        (gap <= 2.0 && gone).then_some(())
    })
    .await?;

    // A right-to-left override stays inside its line's text.
    customer.send("abc \u{202e}def").await;
    s.wait_for("the override line", || async {
        let dir = s
            .client
            .execute(
                "const b = [...document.querySelectorAll('#transcript li .body')].find(e => e.textContent.includes('\u{202e}'));
                 return b ? [b.getAttribute('dir'), getComputedStyle(b).unicodeBidi] : null;",
                vec![],
            )
            .await
            .ok()?;
        (dir == json!(["auto", "isolate"])).then_some(())
    })
    .await?;

    // Notices, custom notices and pushed URLs are told apart from messages.
    customer
        .call("customNotice", &[("message", "order #123 attached")])
        .await;
    customer
        .call("pushUrl", &[("pushUrl", "https://shop.example/order/123")])
        .await;
    let kinds = s
        .wait_for("a custom notice and a URL", || async {
            let kinds = s
                .client
                .execute(
                    "return [...document.querySelectorAll('#transcript li')].map(l => l.dataset.kind);",
                    vec![],
                )
                .await
                .ok()?;
            let has = |k: &str| kinds.as_array()?.iter().any(|v| v == k).then_some(());
            has("custom-notice")?;
            has("url")?;
            Some(kinds)
        })
        .await?;
    if !kinds.as_array().into_iter().flatten().any(|v| v == "text") {
        return Err(format!("no plain message among {kinds}"));
    }

    // A rename is a line with both names.
    customer
        .call("updateNickname", &[("nickname", "Supervisor")])
        .await;
    s.wait_for("the rename line", || async {
        let renamed = s
            .client
            .execute(
                "const l = document.querySelector('#transcript li[data-kind=\"renamed\"]');
                 return l ? l.textContent : null;",
                vec![],
            )
            .await
            .ok()?;
        let text = renamed.as_str()?.to_owned();
        (text.contains(&long_name) && text.contains("Supervisor")).then_some(())
    })
    .await?;
    drop(server);
    Ok(())
}

/// The chat list's ids, top to bottom.
async fn list_order(s: &Session) -> Vec<String> {
    s.client
        .execute(
            "return [...document.querySelectorAll('.chat-item')].map(e => e.dataset.chat);",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// The queue as agents need it: the customer who has waited longest on top, how long as a
/// duration, and an empty list that says why it is empty.
pub async fn the_queue_puts_the_longest_waiting_first_and_says_why_it_is_empty(
    s: &Session,
) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let empty = |ready: &'static str, key: &'static str| async move {
        s.wait_for(&format!("the empty list (ready {ready})"), || async {
            let shown = s.attr("#no-chats", "data-ready").await?;
            let text = s.text("#no-chats").await?;
            (shown == ready && text == scenarios::locale_en(key)).then_some(())
        })
        .await
    };
    empty("true", "noChats").await?;
    s.click("#ready-toggle").await?;
    empty("false", "noChatsNotReady").await?;
    s.click("#ready-toggle").await?;
    empty("true", "noChats").await?;

    let first = Customer::request(&server, "Ada").await;
    let second = Customer::request(&server, "Ben").await;
    s.wait_for("both invitations, the older on top", || async {
        (list_order(s).await == [first.chat_id.clone(), second.chat_id.clone()]).then_some(())
    })
    .await?;
    accept(s, &first).await?;
    accept(s, &second).await?;
    // Ben's question now waits longer than Ada's.
    second.send("are you there?").await;
    s.wait_for("Ben waiting", || async {
        let class = s
            .attr(
                &format!(".chat-item[data-chat='{}']", second.chat_id),
                "class",
            )
            .await?;
        class.contains("waiting").then_some(())
    })
    .await?;
    first.send("hello").await;
    s.wait_for("Ben, who waited longer, on top", || async {
        (list_order(s).await == [second.chat_id.clone(), first.chat_id.clone()]).then_some(())
    })
    .await?;
    let waited = s
        .text(&format!(
            ".chat-item[data-chat='{}'] .waited",
            second.chat_id
        ))
        .await
        .unwrap_or_default();
    if waited != scenarios::locale_en("waitedUnderAMinute") {
        return Err(format!("the wait reads {waited:?}"));
    }

    // Roving focus: the list is one Tab stop; arrow keys move focus with the selection.
    let top = format!(".chat-item[data-chat='{}']", second.chat_id);
    s.click(&top).await?;
    let item = s
        .client
        .find(Locator::Css(&top))
        .await
        .map_err(|e| e.to_string())?;
    item.send_keys(&fantoccini::key::Key::Down.to_string())
        .await
        .map_err(|e| e.to_string())?;
    s.wait_for("focus and selection on the next chat", || async {
        let focused: Value = s
            .client
            .execute(
                "const a = document.activeElement;
                 return [a.dataset.chat || null, a.getAttribute('aria-selected'),
                         [...document.querySelectorAll('.chat-item[tabindex=\"0\"]')].length];",
                vec![],
            )
            .await
            .ok()?;
        (focused == json!([first.chat_id, "true", 1])).then_some(())
    })
    .await?;
    drop(server);
    Ok(())
}

/// The chat on screen stays there when the list reorders: with nothing picked, the pane shows
/// the list's top; a line from another customer moves that chat to the top, and the pane (and
/// what the agent types next) must not follow it.
pub async fn the_chat_on_screen_stays_when_the_list_reorders(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let first = Customer::request(&server, "Ada").await;
    accept(s, &first).await?;
    let second = Customer::request(&server, "Ben").await;
    accept(s, &second).await?;
    // Opened afresh, nothing is picked: the pane shows the list's top.
    s.goto("popup.html").await?;
    let top = s
        .wait_for("the list", || async {
            list_order(s).await.first().cloned()
        })
        .await?;
    let on_screen = s
        .wait_for("a chat on screen", || async {
            s.attr("#chat", "data-chat").await
        })
        .await?;
    if on_screen != top {
        return Err(format!(
            "the pane shows {on_screen}, the list's top is {top}"
        ));
    }
    let (shown, other) = if on_screen == first.chat_id {
        (&first, &second)
    } else {
        (&second, &first)
    };
    other.send("me first, please").await;
    s.wait_for("the other customer's chat on top", || async {
        (list_order(s).await.first() == Some(&other.chat_id)).then_some(())
    })
    .await?;
    let now = s.attr("#chat", "data-chat").await.unwrap_or_default();
    if now != shown.chat_id {
        return Err(format!(
            "the pane moved to {now} when {} wrote",
            other.chat_id
        ));
    }
    s.fill("#composer-input", "for you").await?;
    s.click("#send").await?;
    shown.receives(&["for you"]).await?;
    let elsewhere = other.agent_texts().await;
    if !elsewhere.is_empty() {
        return Err(format!("the other customer got {elsewhere:?}"));
    }
    drop(server);
    Ok(())
}

/// Signing out with live chats asks first and says what happens to them; staying keeps the
/// desk, going signs out.
pub async fn signing_out_with_live_chats_asks_first(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let customer = Customer::request(&server, "Pat").await;
    accept(s, &customer).await?;
    s.click("#sign-out").await?;
    let question = s
        .wait_for("the question", || async {
            s.text("#sign-out-question").await
        })
        .await?;
    if !question.contains('1') || !question.contains("queue") {
        return Err(format!(
            "the question does not say what happens: {question:?}"
        ));
    }
    s.click("#sign-out-stay").await?;
    s.wait_for("the question gone, still signed in", || async {
        let gone = s.attr("#sign-out-confirm", "id").await.is_none();
        let desk = s.attr("#desk", "id").await.is_some();
        (gone && desk).then_some(())
    })
    .await?;
    s.click("#sign-out").await?;
    s.wait_for("the question again", || async {
        s.attr("#sign-out-yes", "id").await
    })
    .await?;
    s.click("#sign-out-yes").await?;
    s.wait_for("the sign-in form", || async {
        s.attr("#sign-in", "id").await
    })
    .await?;
    drop(server);
    Ok(())
}

/// Records, in the popup, every moment the indicator, the banner and the Ready switch tell
/// different stories (checked after each render, from now on).
const WATCH_PRESENCE: &str = "
    window.__disagreements = [];
    const check = () => {
      const c = document.getElementById('connection');
      const state = document.getElementById('agent-state');
      const toggle = document.getElementById('ready-toggle');
      if (!c || !state || !toggle) return;
      const banner = document.getElementById('connection-banner');
      const down = c.dataset.state === 'down';
      const live = c.dataset.state === 'live';
      const known = state.dataset.state !== 'unknown';
      const story = [c.dataset.state, state.dataset.state, toggle.getAttribute('aria-checked'),
                     toggle.disabled, !!banner].join(' ');
      if (down !== !!banner || live !== known || live === toggle.disabled
          || (known && (toggle.getAttribute('aria-checked') === 'true') !== (state.dataset.state === 'ready'))) {
        window.__disagreements.push(story);
      }
    };
    new MutationObserver(check).observe(document.body, {
      subtree: true, childList: true, attributes: true, characterData: true,
    });
    check();";

/// What the desk bar says: (connection state, banner text, agent state, switch checked,
/// switch usable).
async fn presence(s: &Session) -> Option<(String, Option<String>, String, bool, bool)> {
    Some((
        s.attr("#connection", "data-state").await?,
        s.text("#connection-banner").await,
        s.attr("#agent-state", "data-state").await?,
        s.attr("#ready-toggle", "aria-checked").await? == "true",
        s.attr("#ready-toggle", "disabled").await.is_none(),
    ))
}

/// One source of truth: through an outage and back, the indicator, the banner and the Ready
/// switch agree at every render; the outage shows in all three and clears from all three.
pub async fn the_indicator_banner_and_ready_switch_agree_through_an_outage(
    s: &Session,
) -> Result<(), String> {
    let mut server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    s.client
        .execute(WATCH_PRESENCE, vec![])
        .await
        .map_err(|e| e.to_string())?;
    let before = presence(s).await.ok_or("no desk bar")?;
    if before != ("live".into(), None, "ready".into(), true, true) {
        return Err(format!("signed in and Ready, the bar says {before:?}"));
    }

    server.kill();
    let unreachable = scenarios::locale_en("errorServerUnreachable");
    s.wait_for(
        "the outage in the indicator, the banner and the switch",
        || async {
            let p = presence(s).await?;
            (p == (
                "down".into(),
                Some(unreachable.clone()),
                "unknown".into(),
                p.3,
                false,
            ))
                .then_some(())
        },
    )
    .await?;
    let words = s.text("#agent-state").await.unwrap_or_default();
    if words != scenarios::locale_en("stateUnknownOffline") {
        return Err(format!("offline, the state reads {words:?}"));
    }

    let server = server.restart();
    s.wait_for("all three to recover", || async {
        let p = presence(s).await?;
        (p.0 == "live" && p.1.is_none() && p.2 != "unknown" && p.4).then_some(())
    })
    .await?;
    if s.text("#desk-error").await.is_some() {
        return Err("an error stayed after the connection came back".into());
    }
    let disagreements: Vec<String> = s
        .client
        .execute("return window.__disagreements;", vec![])
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or("the watcher is gone (the popup reloaded)")?;
    if !disagreements.is_empty() {
        return Err(format!("the bar disagreed with itself: {disagreements:?}"));
    }
    drop(server);
    Ok(())
}
