//! End-to-end in headless Chromium: the unpacked extension from `dist/chrome`, its background
//! running as a module service worker that the tests stop the way Chrome does when idle.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::agent_desk::{accept, customer_lines, open_chat, sign_in};
use support::cobrowse::wait_for_card;
use support::{
    in_browser, open_options, popup_answered_by_a_worker_newer_than, popup_worker_started_ms,
    save_settings, stop_service_worker, Browser, Customer, ReferenceServer, RestAgent, Session,
};

// Everything both browsers run.
shared_scenarios!(Browser::Chromium);

// What only Chromium has: a service worker stopped the way Chrome does when idle, the
// extensions page.

/// Leaves the extension's pages (none holds the worker) and stops its service worker.
async fn stop_worker_with_no_page_open(s: &Session) -> Result<(), String> {
    s.client
        .goto("about:blank")
        .await
        .map_err(|e| e.to_string())?;
    stop_service_worker(s).await
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
        s.wait_for_value("#signin-agent", "agent-cold").await?;
        let first = popup_worker_started_ms(s)
            .await
            .ok_or("no worker start time")?;

        // With no page open, stop the worker; opening the popup must wake it and be answered.
        stop_worker_with_no_page_open(s).await?;
        s.goto("popup.html").await?;
        s.wait_for_value("#signin-agent", "agent-cold").await?;
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
        popup_answered_by_a_worker_newer_than(s, second).await?;
        s.wait_for_value("#signin-agent", "agent-cold").await
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
async fn chromium_worker_stopped_mid_chat_loses_and_doubles_nothing() {
    in_browser(Browser::Chromium, async |s: &Session| {
        let server = ReferenceServer::start_from_env(&[]);
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
        stop_worker_with_no_page_open(s).await?;
        for n in 1..=3 {
            customer.send(&format!("while stopped {n}")).await;
        }

        // Opening the popup wakes a new worker, which reconnects and resyncs.
        s.goto("popup.html").await?;
        open_chat(s, &customer.chat_id).await?;
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
        // A barrier instead of a pause: a message written now goes after any resend of the
        // first, so exactly these two prove it went once.
        s.fill("#composer-input", "and this one after").await?;
        s.click("#send").await?;
        customer
            .receives(&["written just before the stop", "and this one after"])
            .await?;
        Ok(())
    })
    .await;
}

/// The agent's state changes elsewhere (another client, a supervisor) while the worker is
/// stopped: the notification went to a link that is gone, so the next worker reads the state
/// at its resync instead of showing the one stored before the stop.
#[tokio::test]
async fn chromium_a_state_changed_while_the_worker_was_stopped_shows_after_it() {
    in_browser(Browser::Chromium, async |s: &Session| {
        let server = ReferenceServer::start_from_env(&[]);
        sign_in(s, &server).await?;
        stop_worker_with_no_page_open(s).await?;
        let elsewhere = RestAgent::new(&server, "agent1");
        let (status, reply) = elsewhere
            .post(
                cobrowse_agent::gws::paths::CHAT_CHANNEL,
                serde_json::json!(cobrowse_agent::gws::Operation::NotReady),
            )
            .await;
        if (status, &reply["statusCode"]) != (200, &serde_json::json!(0)) {
            return Err(format!("Not ready from another client: {status} {reply}"));
        }
        s.goto("popup.html").await?;
        s.wait_for("Not ready, as the server has it", || async {
            s.attr("#agent-state", "data-state")
                .await
                .filter(|state| state == "not-ready")
        })
        .await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn chromium_full_storage_gives_up_the_oldest_finished_chat() {
    in_browser(
        Browser::Chromium,
        support::desk_load::a_full_storage_gives_up_the_oldest_finished_chat,
    )
    .await;
}

/// The service worker stopped while a co-browse is attached: a new worker shows the card as
/// it was, and after a stop during which the co-browse ended, shows it ended.
#[tokio::test]
async fn chromium_worker_stopped_with_a_cobrowse_brings_its_card_back_right() {
    in_browser(Browser::Chromium, async |s: &Session| {
        let server = ReferenceServer::start_from_env(&[]);
        sign_in(s, &server).await?;
        let customer = Customer::request(&server, "Pat").await;
        accept(s, &customer).await?;
        let token = customer.start_cobrowse().await;
        customer
            .custom_notice(&format!("cobrowse-token:{token}"))
            .await;
        wait_for_card(s, &customer.chat_id, "idle").await?;
        let first = popup_worker_started_ms(s)
            .await
            .ok_or("no worker start time")?;

        stop_worker_with_no_page_open(s).await?;
        s.goto("popup.html").await?;
        wait_for_card(s, &customer.chat_id, "idle").await?;
        let second = popup_worker_started_ms(s)
            .await
            .filter(|t| *t > first)
            .ok_or("the card did not come from a new worker")?;

        // Stopped again; meanwhile the customer leaves, which ends the chat and its co-browse.
        stop_worker_with_no_page_open(s).await?;
        let (status, reply) = customer.call("disconnect", &[]).await;
        if status != 200 {
            return Err(format!("disconnect: {status} {reply}"));
        }
        s.goto("popup.html").await?;
        popup_answered_by_a_worker_newer_than(s, second).await?;
        wait_for_card(s, &customer.chat_id, "ended").await
    })
    .await;
}
