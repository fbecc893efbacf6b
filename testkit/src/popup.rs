//! The extension's popup driven as an agent drives it, over WebDriver: sign in and go Ready,
//! find, open and accept chats. One copy for the end-to-end suites, the benchmarks and the
//! screenshots; it reads the popup's stable ids and `data-` attributes, never its words.

use crate::browser::Session;
use crate::{Customer, ReferenceServer};

/// Signs in from the popup and goes Ready.
pub async fn sign_in(s: &Session, server: &ReferenceServer) -> Result<(), String> {
    sign_in_at(s, &server.url).await
}

/// Signs in from the popup to the server at `url` (e.g. through a proxy) and goes Ready.
pub async fn sign_in_at(s: &Session, url: &str) -> Result<(), String> {
    s.goto("popup.html").await?;
    submit_sign_in_at(s, url, "agent1").await?;
    s.wait_for("the desk", || async {
        s.attr("#connection", "data-live")
            .await
            .filter(|v| v == "true")
    })
    .await?;
    let state = s
        .wait_for("the channel state", || async {
            s.attr("#agent-state", "data-state")
                .await
                .filter(|v| v != "unknown")
        })
        .await?;
    if state != "ready" {
        s.click("#ready-toggle").await?;
    }
    s.wait_for("Ready", || async {
        let on = s.attr("#ready-toggle", "aria-checked").await? == "true";
        let state = s.attr("#agent-state", "data-state").await? == "ready";
        (on && state).then_some(())
    })
    .await?;
    Ok(())
}

/// Fills in the popup's sign-in form (once it shows) for a demo agent (password = name) and
/// submits it.
pub async fn submit_sign_in(
    s: &Session,
    server: &ReferenceServer,
    agent: &str,
) -> Result<(), String> {
    submit_sign_in_at(s, &server.url, agent).await
}

async fn submit_sign_in_at(s: &Session, url: &str, agent: &str) -> Result<(), String> {
    s.wait_for("the sign-in form", || async {
        s.attr("#signin-submit", "id").await
    })
    .await?;
    // A server already set up is shown, not asked for: change it.
    if s.attr("#signin-server", "id").await.is_none() {
        s.click("#signin-change-server").await?;
    }
    s.fill("#signin-server", url).await?;
    s.fill("#signin-agent", agent).await?;
    s.fill("#signin-password", agent).await?;
    s.click("#signin-submit").await
}

/// Waits until the chat list shows `chat_id` in `state` (`Chatting`, `Completed`, …).
pub async fn wait_for_chat_state(s: &Session, chat_id: &str, state: &str) -> Result<(), String> {
    let item = format!(".chat-item[data-chat='{chat_id}']");
    s.wait_for(&format!("chat {chat_id} to be {state}"), || async {
        s.attr(&item, "data-state").await.filter(|v| v == state)
    })
    .await
    .map(|_| ())
}

/// Shows the chat `chat_id` in the popup (clicks its entry until it is the one shown).
pub async fn open_chat(s: &Session, chat_id: &str) -> Result<(), String> {
    let item = format!(".chat-item[data-chat='{chat_id}']");
    s.wait_for(&format!("chat {chat_id} shown"), || async {
        if s.attr("#chat", "data-chat").await.as_deref() == Some(chat_id) {
            return Some(());
        }
        let _ = s.click(&item).await;
        None
    })
    .await
}

/// Accepts the invitation for `customer` in the popup and waits until the chat is live.
pub async fn accept(s: &Session, customer: &Customer) -> Result<(), String> {
    wait_for_chat_state(s, &customer.chat_id, "Invited").await?;
    open_chat(s, &customer.chat_id).await?;
    s.click("#accept").await?;
    wait_for_chat_state(s, &customer.chat_id, "Chatting").await
}
