//! The extension's background stopped as each browser stops it, from outside: Chromium's
//! service worker closed through CDP (as Chrome stops an idle one), Firefox's event page
//! terminated from about:debugging. Each waits for the event (the instance gone, a new one
//! answering the popup), never for a quiet moment. One copy for the end-to-end suites and the
//! benchmarks.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::browser::{Browser, Session};

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
pub async fn click_terminate_background_script(s: &Session) -> Result<(), String> {
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
