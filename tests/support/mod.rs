//! End-to-end harness: real headless Chromium (chromedriver) and Firefox ESR (geckodriver) with
//! the built extension from `dist/` loaded (`testkit::browser`), against the real reference
//! server (`testkit::ReferenceServer`) with scripted customers (`testkit::Customer`).
//!
//! The scenarios every browser runs are listed once, in [`for_each_browser`]'s caller
//! (`shared_scenarios!`): each suite expands the same list, so the two cannot drift.
#![allow(dead_code, unused_imports)]

pub mod accessibility;
pub mod agent_desk;
pub mod agent_desk_actions;
pub mod chat_view;
pub mod cobrowse;
pub mod desk_load;
pub mod scenarios;
pub mod soak;

pub use serde_json::{json, Value};
use std::time::{Duration, Instant};
pub use testkit::background::*;
pub use testkit::browser::*;
pub use testkit::{Customer, ReferenceServer, RestAgent};

/// Defines one `#[tokio::test]` per scenario (an `async fn(&Session) -> Result<(), String>` in
/// `support::scenarios`), each run in a fresh `$browser` with the extension.
#[macro_export]
macro_rules! for_each_browser {
    ($browser:expr; $($scenario:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                $crate::support::in_browser($browser, $crate::support::scenarios::$scenario).await;
            }
        )+
    };
}

/// The scenarios both browsers run: each e2e suite calls `shared_scenarios!(Browser::X)`.
#[macro_export]
macro_rules! shared_scenarios {
    ($browser:expr) => {
        $crate::for_each_browser!($browser;
            settings_saved_in_options_show_in_popup,
            open_popup_repaints_when_settings_change,
            agent_chats_with_a_customer_from_the_popup,
            chat_goes_on_after_the_server_restarts,
            three_customers_at_once_and_a_reject,
            a_message_while_the_popup_is_closed_notifies,
            badge_typing_retry_and_leave,
            chat_with_csrf_protection_across_a_server_restart,
            sign_in_is_refused_while_the_browser_holds_another_agents_session,
            ten_chatty_customers_are_kept_up_with,
            an_upgraded_desk_keeps_its_chats_and_outbox,
            cobrowse_from_the_demo_shop_is_verified_joined_and_ended,
            spoofed_and_foreign_tokens_are_never_attached,
            chats_survive_a_soak_of_faults,
            the_chat_view_follows_isolates_truncates_and_tells_lines_apart,
            the_queue_puts_the_longest_waiting_first_and_says_why_it_is_empty,
            the_chat_on_screen_stays_when_the_list_reorders,
            signing_out_with_live_chats_asks_first,
            the_indicator_banner_and_ready_switch_agree_through_an_outage,
            saving_without_a_permission_answer_says_what_to_do,
            the_pages_have_no_accessibility_violations,
            a_stopped_background_brings_the_cobrowse_card_back_right,
        );

        #[tokio::test]
        async fn restarted_browser_shows_chats_before_the_network_answers() {
            $crate::support::agent_desk::restarted_browser_shows_chats_before_the_network_answers(
                $browser,
            )
            .await;
        }
    };
}

/// Saves settings on the options page (already open) and waits for the outcome.
pub async fn save_settings(
    s: &Session,
    server_url: &str,
    agent_name: &str,
) -> Result<(String, String), String> {
    s.fill("#server-url", server_url).await?;
    s.fill("#agent-name", agent_name).await?;
    s.click("#save").await?;
    // Saved and the permission answered (a prompt that cannot show is a test of its own).
    let state = s
        .wait_for("a save outcome", || async {
            let state = s.attr("#save-status", "data-state").await?;
            let pending =
                s.attr("#save-status", "data-permission").await.as_deref() == Some("pending");
            (!state.is_empty() && !pending).then_some(state)
        })
        .await?;
    let text = s.text("#save-status").await.unwrap_or_default();
    Ok((state, text))
}

/// Opens the options page and waits until it loaded the current settings.
pub async fn open_options(s: &Session) -> Result<(), String> {
    s.goto("options.html").await?;
    s.wait_for("the options form to load", || async {
        (s.attr("#settings-form", "data-loaded").await.as_deref() == Some("true")).then_some(())
    })
    .await
}
