//! End-to-end in headless Firefox ESR: the extension from `dist/firefox` as a temporary add-on,
//! its background running as a module event page.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::agent_desk::agent_chats_with_a_customer_from_the_popup;
use support::scenarios::*;
use support::{in_browser, Browser};

#[tokio::test]
async fn firefox_settings_saved_in_options_show_in_popup() {
    in_browser(Browser::Firefox, settings_saved_in_options_show_in_popup).await;
}

#[tokio::test]
async fn firefox_open_popup_repaints_when_settings_change() {
    in_browser(Browser::Firefox, open_popup_repaints_when_settings_change).await;
}

#[tokio::test]
async fn firefox_agent_chats_with_a_customer_from_the_popup() {
    in_browser(Browser::Firefox, agent_chats_with_a_customer_from_the_popup).await;
}

#[tokio::test]
async fn firefox_chat_goes_on_after_the_server_restarts() {
    in_browser(
        Browser::Firefox,
        support::agent_desk::chat_goes_on_after_the_server_restarts,
    )
    .await;
}

#[tokio::test]
async fn firefox_three_customers_at_once_and_a_reject() {
    in_browser(
        Browser::Firefox,
        support::agent_desk::three_customers_at_once_and_a_reject,
    )
    .await;
}

#[tokio::test]
async fn firefox_a_message_while_the_popup_is_closed_notifies() {
    in_browser(
        Browser::Firefox,
        support::agent_desk::a_message_while_the_popup_is_closed_notifies,
    )
    .await;
}

/// Firefox unloads an idle event page (here after 2 s instead of 30 s); the customer keeps
/// writing meanwhile. Reopening the popup loads a new page, which resyncs: every message once,
/// in order.
#[tokio::test]
async fn firefox_event_page_unloaded_mid_chat_loses_and_doubles_nothing() {
    use support::agent_desk::{
        accept, customer_lines, open_chat, sign_in, Customer, ReferenceServer,
    };
    use support::popup_worker_started_ms;
    let mut prefs = serde_json::Map::new();
    prefs.insert(
        "extensions.background.idle.timeout".into(),
        serde_json::json!(2000),
    );
    let s = support::Session::start_firefox_with_prefs(prefs).await;
    let result = async {
        let server = ReferenceServer::start();
        sign_in(&s, &server).await?;
        let customer = Customer::request(&server, "Pat").await;
        accept(&s, &customer).await?;
        customer.send("before 1").await;
        s.wait_for("the first message", || async {
            (customer_lines(&s).await == ["before 1"]).then_some(())
        })
        .await?;
        let first = popup_worker_started_ms(&s)
            .await
            .ok_or("no worker start time")?;

        // No page open: the event page goes idle and is unloaded.
        s.client
            .goto("about:blank")
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(std::time::Duration::from_secs(8)).await;
        for n in 1..=3 {
            customer.send(&format!("while unloaded {n}")).await;
        }
        s.goto("popup.html").await?;
        open_chat(&s, &customer.chat_id).await?;
        let want = [
            "before 1",
            "while unloaded 1",
            "while unloaded 2",
            "while unloaded 3",
        ];
        s.wait_for("every message once, in order", || async {
            (customer_lines(&s).await == want).then_some(())
        })
        .await?;
        let second = popup_worker_started_ms(&s)
            .await
            .ok_or("no worker start time")?;
        if second <= first {
            return Err(format!(
                "the event page was not unloaded ({first} -> {second})"
            ));
        }
        drop(server);
        Ok::<(), String>(())
    }
    .await;
    s.close().await;
    result.unwrap();
}

#[tokio::test]
async fn firefox_badge_typing_retry_and_leave() {
    in_browser(
        Browser::Firefox,
        support::agent_desk_actions::badge_typing_retry_and_leave,
    )
    .await;
}

#[tokio::test]
async fn firefox_chat_with_csrf_protection_across_a_server_restart() {
    in_browser(
        Browser::Firefox,
        support::agent_desk_actions::chat_with_csrf_protection_across_a_server_restart,
    )
    .await;
}

#[tokio::test]
async fn firefox_restarted_browser_shows_chats_before_the_network_answers() {
    support::agent_desk::restarted_browser_shows_chats_before_the_network_answers(Browser::Firefox)
        .await;
}

#[tokio::test]
async fn firefox_sign_in_is_refused_while_the_browser_holds_another_agents_session() {
    in_browser(
        Browser::Firefox,
        support::agent_desk_actions::sign_in_is_refused_while_the_browser_holds_another_agents_session,
    )
    .await;
}
