//! End-to-end in headless Firefox ESR: the extension from `dist/firefox` as a temporary add-on,
//! its background running as a module event page.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::Browser;

// Everything both browsers run.
shared_scenarios!(Browser::Firefox);

// What only Firefox has: an event page that unloads when idle.

/// Firefox unloads an idle event page (here after 2 s instead of 30 s); the customer keeps
/// writing meanwhile. Reopening the popup loads a new page, which resyncs: every message once,
/// in order.
#[tokio::test]
async fn firefox_event_page_unloaded_mid_chat_loses_and_doubles_nothing() {
    use support::agent_desk::{accept, customer_lines, open_chat, sign_in};
    use support::{popup_worker_started_ms, Customer, ReferenceServer};
    let mut prefs = serde_json::Map::new();
    prefs.insert(
        "extensions.background.idle.timeout".into(),
        serde_json::json!(2000),
    );
    let s = support::Session::start_firefox_with_prefs(prefs).await;
    let result = async {
        let server = ReferenceServer::start_from_env(&[]);
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
