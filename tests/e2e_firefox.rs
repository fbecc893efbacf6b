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
