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

/// Chromium: the extension's service worker targets, as CDP sees them.
pub async fn service_workers(s: &Session) -> Result<Vec<Value>, String> {
    let targets = s.cdp("Target.getTargets", json!({})).await?;
    Ok(targets["targetInfos"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["type"] == "service_worker"
                && t["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(&s.base_url))
        })
        .cloned()
        .collect())
}

/// Chromium: stops the extension's service worker as Chrome does when it is idle, and waits
/// until that instance is gone. Not for a moment with no worker: an open port or an alarm may
/// start the next instance at once, which is what a stop looks like then.
pub async fn stop_service_worker(s: &Session) -> Result<(), String> {
    let workers = s
        .wait_for("the service worker to be running", || async {
            service_workers(s).await.ok().filter(|w| !w.is_empty())
        })
        .await?;
    let stopped: Vec<Value> = workers.iter().map(|w| w["targetId"].clone()).collect();
    // A worker caught while it starts or handles an event may outlive one close: close what
    // is still there again, every few seconds, until it is gone.
    let last_close = std::cell::Cell::new(None::<Instant>);
    s.wait_for("the stopped service worker to be gone", || async {
        let running = service_workers(s).await.ok()?;
        let left: Vec<&Value> = running
            .iter()
            .map(|w| &w["targetId"])
            .filter(|id| stopped.contains(id))
            .collect();
        if left.is_empty() {
            return Some(());
        }
        if last_close
            .get()
            .is_none_or(|t| t.elapsed() > Duration::from_secs(3))
        {
            for id in left {
                // A target that went away meanwhile answers with an error: nothing to do.
                let _ = s.cdp("Target.closeTarget", json!({ "targetId": id })).await;
            }
            last_close.set(Some(Instant::now()));
        }
        None
    })
    .await
}

/// Firefox: stops the extension's event page as about:debugging's *Terminate background
/// script* does (a second window, then back), and waits until the popup in the current window
/// is answered by a new instance (its port dropped, re-opened, and woke one). A click that
/// stopped nothing (about:debugging still connecting to its runtime, or the page caught
/// starting) is followed by another, until a new instance answers.
pub async fn terminate_event_page(s: &Session) -> Result<(), String> {
    assert_eq!(s.browser, Browser::Firefox, "about:debugging is Firefox's");
    let before = popup_worker_started_ms(s)
        .await
        .ok_or("the popup shows no worker start time")?;
    let mut last = String::new();
    for _ in 0..5 {
        click_terminate_background_script(s).await?;
        match s
            .wait_for_within(
                "the popup to be answered by a newer worker",
                Duration::from_secs(10),
                || async { popup_worker_started_ms(s).await.filter(|t| *t > before) },
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(format!("five Terminate clicks stopped nothing: {last}"))
}

/// Clicks about:debugging's *Terminate background script* for the extension, in a second
/// window, and comes back to the current one.
async fn click_terminate_background_script(s: &Session) -> Result<(), String> {
    let popup = s.client.window().await.map_err(|e| e.to_string())?;
    let debugging = s.client.new_window(true).await.map_err(|e| e.to_string())?;
    s.client
        .switch_to_window(debugging.handle)
        .await
        .map_err(|e| e.to_string())?;
    let clicked = async {
        s.client
            .goto("about:debugging#/runtime/this-firefox")
            .await
            .map_err(|e| e.to_string())?;
        let button = ".qa-temporary-extension-terminate-bgscript-button";
        s.wait_for("about:debugging's Terminate background script", || async {
            s.attr(button, "class").await
        })
        .await?;
        s.click(button).await
    }
    .await;
    let closed = s.client.close_window().await.map_err(|e| e.to_string());
    s.client
        .switch_to_window(popup)
        .await
        .map_err(|e| e.to_string())?;
    clicked?;
    closed
}

/// Stops the background under the open popup the way each browser can be made to (Chromium:
/// the service worker closed through CDP; Firefox: the event page terminated), and waits for
/// the popup to be answered by a new instance.
pub async fn stop_background_under_the_popup(s: &Session) -> Result<(), String> {
    match s.browser {
        Browser::Chromium => {
            let before = popup_worker_started_ms(s)
                .await
                .ok_or("the popup shows no worker start time")?;
            stop_service_worker(s).await?;
            popup_answered_by_a_worker_newer_than(s, before).await
        }
        Browser::Firefox => terminate_event_page(s).await,
    }
}

/// Waits until the popup shows a snapshot from a worker instance started after `before_ms`.
pub async fn popup_answered_by_a_worker_newer_than(
    s: &Session,
    before_ms: u64,
) -> Result<(), String> {
    s.wait_for("the popup to be answered by a newer worker", || async {
        popup_worker_started_ms(s).await.filter(|t| *t > before_ms)
    })
    .await
    .map(|_| ())
}

/// The `data-ms` start time of the worker instance the popup's last snapshot came from.
pub async fn popup_worker_started_ms(s: &Session) -> Option<u64> {
    s.attr("#snapshot", "data-worker-ms").await?.parse().ok()
}
