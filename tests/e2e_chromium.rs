//! End-to-end in headless Chromium: the unpacked extension from `dist/chrome`, its background
//! running as a module service worker that the tests stop the way Chrome does when idle.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use serde_json::{json, Value};
use support::agent_desk::{
    accept, agent_chats_with_a_customer_from_the_popup, customer_lines, sign_in, Customer,
    ReferenceServer,
};
use support::scenarios::*;
use support::{in_browser, open_options, popup_worker_started_ms, save_settings, Browser, Session};

#[tokio::test]
async fn chromium_settings_saved_in_options_show_in_popup() {
    in_browser(Browser::Chromium, settings_saved_in_options_show_in_popup).await;
}

#[tokio::test]
async fn chromium_open_popup_repaints_when_settings_change() {
    in_browser(Browser::Chromium, open_popup_repaints_when_settings_change).await;
}

/// The extension's service worker targets, as CDP sees them.
async fn service_workers(s: &Session) -> Result<Vec<Value>, String> {
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

/// Stops the extension's service worker as Chrome does when it is idle, and waits until it is
/// gone.
async fn stop_service_worker(s: &Session) -> Result<(), String> {
    let workers = s
        .wait_for("the service worker to be running", || async {
            service_workers(s).await.ok().filter(|w| !w.is_empty())
        })
        .await?;
    for w in workers {
        s.cdp("Target.closeTarget", json!({ "targetId": w["targetId"] }))
            .await?;
    }
    s.wait_for("the service worker to stop", || async {
        service_workers(s)
            .await
            .ok()
            .filter(|w| w.is_empty())
            .map(|_| ())
    })
    .await
}

#[tokio::test]
async fn chromium_stopped_service_worker_answers_at_cold_start_and_settings_survive() {
    in_browser(Browser::Chromium, async |s: &Session| {
        open_options(s).await?;
        let (state, text) = save_settings(s, "http://127.0.0.1:8700", "agent-cold").await?;
        if state != "saved" {
            return Err(format!("save failed: {text}"));
        }
        s.goto("popup.html").await?;
        s.wait_for_text("#agent-name", "agent-cold").await?;
        let first = popup_worker_started_ms(s)
            .await
            .ok_or("no worker start time")?;

        // With no page open, stop the worker; opening the popup must wake it and be answered.
        s.client
            .goto("about:blank")
            .await
            .map_err(|e| e.to_string())?;
        stop_service_worker(s).await?;
        s.goto("popup.html").await?;
        s.wait_for_text("#agent-name", "agent-cold").await?;
        s.wait_for_text("#server-url", "http://127.0.0.1:8700")
            .await?;
        let second = popup_worker_started_ms(s)
            .await
            .ok_or("no worker start time")?;
        if second <= first {
            return Err(format!(
                "the reply did not come from a new worker ({first} -> {second})"
            ));
        }

        // Stop it under an open popup: the popup re-opens its port, which wakes a new worker,
        // whose snapshot it then shows.
        stop_service_worker(s).await?;
        s.wait_for("the popup to show a newer worker", || async {
            popup_worker_started_ms(s).await.filter(|t| *t > second)
        })
        .await?;
        s.wait_for_text("#agent-name", "agent-cold").await
    })
    .await;
}

#[tokio::test]
async fn chromium_loads_the_extension_without_manifest_errors_or_warnings() {
    in_browser(Browser::Chromium, async |s: &Session| {
        s.client
            .goto("chrome://extensions/")
            .await
            .map_err(|e| e.to_string())?;
        let info = s
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 chrome.developerPrivate.getExtensionsInfo().then(done, (e) => done(String(e)));",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        let ours = info
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["id"] == s.extension_id.as_str())
            .ok_or_else(|| format!("extension {} not installed: {info}", s.extension_id))?;
        for key in ["installWarnings", "manifestErrors"] {
            match ours[key].as_array() {
                Some(list) if list.is_empty() => {}
                other => return Err(format!("{key}: {other:?}")),
            }
        }
        if ours["state"] != "ENABLED" {
            return Err(format!("extension state {}", ours["state"]));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn chromium_agent_chats_with_a_customer_from_the_popup() {
    in_browser(
        Browser::Chromium,
        agent_chats_with_a_customer_from_the_popup,
    )
    .await;
}

#[tokio::test]
async fn chromium_worker_stopped_mid_chat_loses_and_doubles_nothing() {
    in_browser(Browser::Chromium, async |s: &Session| {
        let server = ReferenceServer::start();
        sign_in(s, &server).await?;
        let customer = Customer::request(&server, "Pat").await;
        accept(s, &customer).await?;
        for n in 1..=3 {
            customer.send(&format!("before {n}")).await;
        }
        s.wait_for("the customer's first messages", || async {
            (customer_lines(s).await.len() == 3).then_some(())
        })
        .await?;

        // The agent sends, and the worker dies right after; the customer keeps writing.
        s.fill("#composer-input", "written just before the stop")
            .await?;
        s.click("#send").await?;
        s.client
            .goto("about:blank")
            .await
            .map_err(|e| e.to_string())?;
        stop_service_worker(s).await?;
        for n in 1..=3 {
            customer.send(&format!("while stopped {n}")).await;
        }

        // Opening the popup wakes a new worker, which reconnects and resyncs.
        s.goto("popup.html").await?;
        support::agent_desk::open_chat(s, &customer.chat_id).await?;
        let want: Vec<String> = [
            "before 1",
            "before 2",
            "before 3",
            "while stopped 1",
            "while stopped 2",
            "while stopped 3",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        s.wait_for("every customer message, once, in order", || async {
            let got = customer_lines(s).await;
            (got == want).then_some(())
        })
        .await?;
        for _ in 0..100 {
            if !customer.agent_texts().await.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // A little longer: a duplicate would show up now.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let delivered = customer.agent_texts().await;
        if delivered != ["written just before the stop"] {
            return Err(format!("the customer got {delivered:?}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn chromium_chat_goes_on_after_the_server_restarts() {
    in_browser(
        Browser::Chromium,
        support::agent_desk::chat_goes_on_after_the_server_restarts,
    )
    .await;
}

#[tokio::test]
async fn chromium_three_customers_at_once_and_a_reject() {
    in_browser(
        Browser::Chromium,
        support::agent_desk::three_customers_at_once_and_a_reject,
    )
    .await;
}

#[tokio::test]
async fn chromium_restarted_browser_shows_chats_before_the_network_answers() {
    support::agent_desk::restarted_browser_shows_chats_before_the_network_answers(
        Browser::Chromium,
    )
    .await;
}

#[tokio::test]
async fn chromium_a_message_while_the_popup_is_closed_notifies() {
    in_browser(
        Browser::Chromium,
        support::agent_desk::a_message_while_the_popup_is_closed_notifies,
    )
    .await;
}

#[tokio::test]
async fn chromium_badge_typing_retry_and_leave() {
    in_browser(
        Browser::Chromium,
        support::agent_desk_actions::badge_typing_retry_and_leave,
    )
    .await;
}

#[tokio::test]
async fn chromium_chat_with_csrf_protection_across_a_server_restart() {
    in_browser(
        Browser::Chromium,
        support::agent_desk_actions::chat_with_csrf_protection_across_a_server_restart,
    )
    .await;
}

#[tokio::test]
async fn chromium_sign_in_is_refused_while_the_browser_holds_another_agents_session() {
    in_browser(
        Browser::Chromium,
        support::agent_desk_actions::sign_in_is_refused_while_the_browser_holds_another_agents_session,
    )
    .await;
}
