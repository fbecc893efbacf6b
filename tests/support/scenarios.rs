//! Scenarios that run the same way in every browser (`shared_scenarios!` lists them).

use std::path::PathBuf;

use fantoccini::Locator;

pub use super::accessibility::the_pages_have_no_accessibility_violations;
pub use super::agent_desk::{
    a_message_while_the_popup_is_closed_notifies, agent_chats_with_a_customer_from_the_popup,
    chat_goes_on_after_the_server_restarts, three_customers_at_once_and_a_reject,
};
pub use super::agent_desk_actions::{
    badge_typing_retry_and_leave, chat_with_csrf_protection_across_a_server_restart,
    sign_in_is_refused_while_the_browser_holds_another_agents_session,
};
pub use super::chat_view::{
    signing_out_with_live_chats_asks_first, the_chat_on_screen_stays_when_the_list_reorders,
    the_chat_view_follows_isolates_truncates_and_tells_lines_apart,
    the_indicator_banner_and_ready_switch_agree_through_an_outage,
    the_queue_puts_the_longest_waiting_first_and_says_why_it_is_empty,
};
pub use super::cobrowse::{
    a_stopped_background_brings_the_cobrowse_card_back_right,
    cobrowse_from_the_demo_shop_is_verified_joined_and_ended,
    spoofed_and_foreign_tokens_are_never_attached,
};
pub use super::desk_load::{
    an_upgraded_desk_keeps_its_chats_and_outbox, ten_chatty_customers_are_kept_up_with,
};
pub use super::soak::chats_survive_a_soak_of_faults;
use super::*;

/// English text of a `_locales` message (the browsers run with an English UI).
pub fn locale_en(key: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/_locales/en/messages.json");
    let messages: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    messages[key]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message {key}"))
        .to_owned()
}

/// Options page → background → storage → popup, including a refused save; the sign-in form
/// asks for the server only until one is set up, and the popup carries no debug text.
pub async fn settings_saved_in_options_show_in_popup(s: &Session) -> Result<(), String> {
    s.goto("popup.html").await?;
    // A fresh install: the form asks for the server, filled with the default; no notice sends
    // the agent elsewhere for the same fields.
    s.wait_for_value("#signin-server", "http://127.0.0.1:8700")
        .await?;
    for gone in ["#not-configured", "#worker-started"] {
        if s.attr(gone, "id").await.is_some() {
            return Err(format!("the popup still shows {gone}"));
        }
    }

    open_options(s).await?;
    let (state, text) = save_settings(s, "ftp://files.example", "agent-e2e").await?;
    if state != "failed" || text != locale_en("errorUrlScheme") {
        return Err(format!("ftp URL: expected a refusal, got {state}: {text}"));
    }
    let (state, text) = save_settings(s, " HTTP://LOCALHOST:8700/gws/ ", " agent-e2e ").await?;
    if state != "saved" || text != locale_en("statusSaved") {
        return Err(format!(
            "expected saved with permission, got {state}: {text}"
        ));
    }
    // The diagnostics moved here.
    if s.attr("#diagnostics #worker-started", "data-ms")
        .await
        .is_none()
    {
        return Err("the options page has no diagnostics".into());
    }

    s.goto("popup.html").await?;
    s.wait_for_value("#signin-agent", "agent-e2e").await?;
    // Set up: the server is shown, not asked for again, and can still be changed.
    s.wait_for_text("#server-url", "http://localhost:8700/gws")
        .await?;
    if s.attr("#signin-server", "id").await.is_some() {
        return Err("the sign-in form asks for the server it already has".into());
    }
    s.click("#signin-change-server").await?;
    s.wait_for_value("#signin-server", "http://localhost:8700/gws")
        .await
}

/// Saving a server whose origin needs a permission the browser cannot ask for here (headless,
/// no prompt) never hangs at "Saving…": the settings are saved and the page says what to do.
pub async fn saving_without_a_permission_answer_says_what_to_do(s: &Session) -> Result<(), String> {
    open_options(s).await?;
    s.fill("#server-url", "https://chat.example.test").await?;
    s.fill("#agent-name", "agent-perm").await?;
    s.click("#save").await?;
    let (permission, text) = s
        .wait_for("the save to finish", || async {
            let state = s.attr("#save-status", "data-state").await?;
            let permission = s.attr("#save-status", "data-permission").await?;
            (state == "saved").then_some((permission, s.text("#save-status").await?))
        })
        .await?;
    let expected = match permission.as_str() {
        "pending" => locale_en("statusSavedPermissionPending"),
        "refused" => locale_en("statusSavedNoPermission"),
        other => return Err(format!("a permission nobody could grant reads {other:?}")),
    }
    .replace("$ORIGIN$", "https://chat.example.test");
    if text != expected {
        return Err(format!("the page says {text:?}, not {expected:?}"));
    }
    if s.attr("#save", "disabled").await.is_some() {
        return Err("Save stays disabled".into());
    }
    // Saved for real: a fresh page shows it.
    open_options(s).await?;
    s.wait_for_value("#server-url", "https://chat.example.test")
        .await?;
    s.wait_for_value("#agent-name", "agent-perm").await
}

/// A popup left open repaints from the events port when settings change in another tab, and
/// markup in a value is shown as text.
pub async fn open_popup_repaints_when_settings_change(s: &Session) -> Result<(), String> {
    s.goto("popup.html").await?;
    s.wait_for_value("#signin-server", "http://127.0.0.1:8700")
        .await?;
    let popup_window = s.client.window().await.map_err(|e| e.to_string())?;
    let options_window = s.client.new_window(true).await.map_err(|e| e.to_string())?;
    s.client
        .switch_to_window(options_window.handle)
        .await
        .map_err(|e| e.to_string())?;
    open_options(s).await?;
    let hostile = "<img src=x onerror=alert(1)>agent-live";
    let (state, text) = save_settings(s, "http://127.0.0.1:8700", hostile).await?;
    if state != "saved" {
        return Err(format!("save failed: {text}"));
    }
    s.client
        .switch_to_window(popup_window)
        .await
        .map_err(|e| e.to_string())?;
    s.wait_for_value("#signin-agent", hostile).await?;
    let images = s
        .client
        .find_all(Locator::Css("img"))
        .await
        .map_err(|e| e.to_string())?;
    if !images.is_empty() {
        return Err("the agent name was parsed as HTML".into());
    }
    Ok(())
}
