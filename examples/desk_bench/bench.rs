//! The bench itself; host only (the test kit and tokio are host dev-dependencies).

use std::time::Duration;

use serde_json::{json, Value};
use testkit::browser::{Browser, Session};
use testkit::popup::{accept, sign_in};
use testkit::{Customer, ReferenceServer};

const MESSAGES: usize = 40;
const HANDOVERS: usize = 20;

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

async fn eval(s: &Session, script: &str) -> Value {
    s.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Stamps, in the popup page, when each customer line's text and each card state first shows.
const STAMP: &str = "
    window.__seen = {};
    const note = () => {
      for (const b of document.querySelectorAll('#transcript li[data-role=customer] .body')) {
        const t = b.textContent;
        if (!(t in window.__seen)) window.__seen[t] = Date.now();
      }
      const card = document.getElementById('cobrowse');
      const key = 'card:' + (card ? card.dataset.state : 'none') + ':' + (window.__round || 0);
      if (!(key in window.__seen)) window.__seen[key] = Date.now();
    };
    new MutationObserver(note).observe(document.body, {subtree: true, childList: true,
      characterData: true, attributes: true, attributeFilter: ['data-state']});
    note();
    return true;";

async fn seen_at(s: &Session, key: &str) -> f64 {
    let script = format!("return window.__seen[{key:?}] ?? null;");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = eval(s, &script).await.as_f64() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never shown: {key}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(browser: Browser) -> Value {
    let server = ReferenceServer::start_from_env(&["--per-address-limit", "1000"]);
    let s = Session::start(browser).await;
    sign_in(&s, &server).await.unwrap();
    let customer = Customer::request(&server, "Pat").await;
    accept(&s, &customer).await.unwrap();
    eval(&s, STAMP).await;

    let mut message = Vec::new();
    for i in 0..MESSAGES {
        let text = format!("bench line {i}");
        let sent = now_ms();
        customer.send(&text).await;
        message.push(seen_at(&s, &text).await - sent);
        // The server's per-chat limit is 30 writes in 10 s.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    let mut card = Vec::new();
    for round in 1..=HANDOVERS {
        eval(&s, &format!("window.__round = {round}; return true;")).await;
        let token = customer.start_cobrowse().await;
        let sent = now_ms();
        customer
            .custom_notice(&format!("cobrowse-token:{token}"))
            .await;
        card.push(seen_at(&s, &format!("card:idle:{round}")).await - sent);
        s.click("#cobrowse-end").await.unwrap();
        seen_at(&s, &format!("card:ended:{round}")).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    s.close().await;
    let (m50, m99) = p50_p99(message);
    let (c50, c99) = p50_p99(card);
    json!({
        "message_to_popup_ms": {"p50": m50, "p99": m99, "n": MESSAGES},
        "cobrowse_handover_to_card_ms": {"p50": c50, "p99": c99, "n": HANDOVERS},
    })
}

#[tokio::main]
pub async fn main() {
    let mut all = serde_json::Map::new();
    println!("\n== the agent desk (empty desk, one open chat; in-page clocks) ==");
    println!(
        "{:10} {:>24} {:>24}",
        "browser", "message → popup p50/p99", "co-browse → card p50/p99"
    );
    for browser in [Browser::Chromium, Browser::Firefox] {
        let v = run(browser).await;
        let m = &v["message_to_popup_ms"];
        let c = &v["cobrowse_handover_to_card_ms"];
        println!(
            "{:10} {:>13.1} / {:>6.1} ms {:>13.1} / {:>6.1} ms",
            format!("{browser:?}"),
            m["p50"].as_f64().unwrap_or(f64::NAN),
            m["p99"].as_f64().unwrap_or(f64::NAN),
            c["p50"].as_f64().unwrap_or(f64::NAN),
            c["p99"].as_f64().unwrap_or(f64::NAN),
        );
        all.insert(format!("{browser:?}").to_lowercase(), v);
    }
    if let Ok(path) = std::env::var("COBROWSE_BENCH_JSON") {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&Value::Object(all)).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        println!("figures saved to {path}");
    }
}
