//! The bench itself; host only (the test kit and tokio are host dev-dependencies).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::background::{
    click_terminate_background_script, popup_worker_started_ms, stop_service_worker,
};
use testkit::browser::{Browser, Session};
use testkit::popup::{accept, sign_in};
use testkit::{Customer, ReferenceServer};

const MESSAGES: usize = 40;
const HANDOVERS: usize = 20;
const OPENS: usize = 10;

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
/// Only what each mutation added or changed is looked at, so a chat of 1,000 lines costs the
/// stamping no more than a chat of one.
const STAMP: &str = "
    window.__seen = {};
    const LINE = '#transcript li[data-role=customer] .body';
    const stamp = (body, now) => {
      const t = body.textContent;
      if (!(t in window.__seen)) window.__seen[t] = now;
    };
    const card = (now) => {
      const c = document.getElementById('cobrowse');
      const key = 'card:' + (c ? c.dataset.state : 'none') + ':' + (window.__round || 0);
      if (!(key in window.__seen)) window.__seen[key] = now;
    };
    new MutationObserver((records) => {
      const now = Date.now();
      for (const r of records) {
        const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
        const inside = el?.closest(LINE);
        if (inside) stamp(inside, now);
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          if (n.matches(LINE)) stamp(n, now);
          for (const b of n.querySelectorAll(LINE)) stamp(b, now);
        }
      }
      card(now);
    }).observe(document.body, {subtree: true, childList: true,
      characterData: true, attributes: true, attributeFilter: ['data-state']});
    for (const b of document.querySelectorAll(LINE)) stamp(b, Date.now());
    card(Date.now());
    // When the background's stored page first holds each line: what the background took of
    // the time, the rest is the popup's.
    window.__stored = {};
    (globalThis.browser ?? globalThis.chrome).storage.onChanged.addListener((changes, area) => {
      if (area !== 'local') return;
      const now = Date.now();
      for (const [key, change] of Object.entries(changes)) {
        if (!key.startsWith('lines:') || !Array.isArray(change.newValue)) continue;
        for (const line of change.newValue) {
          if (typeof line.text === 'string' && !(line.text in window.__stored)) {
            window.__stored[line.text] = now;
          }
        }
      }
    });
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

/// The official CometD JavaScript client subscribed as the same agent
/// (`tests/interop/agent-listener.mjs`): when it received each text line.
struct OfficialClient {
    child: Child,
    received: Arc<Mutex<HashMap<String, f64>>>,
}

impl OfficialClient {
    /// Starts the client signed in as `agent1` and waits until it is subscribed.
    fn start(server: &ReferenceServer) -> OfficialClient {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/agent-listener.mjs"
        );
        let mut child = Command::new("node")
            .arg(script)
            .args([
                "--server",
                &server.url,
                "--agent",
                "agent1",
                "--password",
                "agent1",
            ])
            .args(["--transport", "websocket"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("node {script}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("{script} said nothing"));
        let first: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{first}: {e}"));
        assert_eq!(first["ready"], true, "the official client: {first}");
        let received = Arc::new(Mutex::new(HashMap::new()));
        let into = received.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let (Some(text), Some(at)) = (v["text"].as_str(), v["at"].as_f64()) {
                    into.lock().unwrap().entry(text.to_owned()).or_insert(at);
                }
            }
        });
        OfficialClient { child, received }
    }

    async fn received_at(&self, text: &str) -> f64 {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = self.received.lock().unwrap().get(text) {
                return *at;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the official client never received {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for OfficialClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The popup's own marks (ms since its navigation began): the desk first painted with the
/// background's answer, the answering worker instance first heard from the server; and that
/// instance's start time.
const MARKS: &str = "
    const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
    return [at('cobrowse-agent:first-paint'), at('cobrowse-agent:connected'),
            document.getElementById('snapshot')?.dataset.workerMs ?? null];";

/// Opens the popup afresh and waits for its marks; `(first paint, connected, worker start)`.
async fn open_popup(s: &Session) -> Option<(f64, f64, u64)> {
    s.client.goto("about:blank").await.ok()?;
    s.goto("popup.html").await.ok()?;
    s.wait_for_within("the popup's marks", Duration::from_secs(30), || async {
        let v = eval(s, MARKS).await;
        let worker = v[2].as_str().and_then(|w| w.parse().ok());
        Some((v[0].as_f64()?, v[1].as_f64()?, worker?))
    })
    .await
    .ok()
}

/// The popup opened `OPENS` times with the background running (warm), and `OPENS` times right
/// after the background was stopped with no page open (cold: the browser starts a new
/// instance, which compiles the wasm, restores the session and reconnects). A cold sample
/// whose popup still shows the old instance (the stop did not take) is taken again.
async fn opens(s: &Session) -> Value {
    let (mut warm_paint, mut warm_connected) = (Vec::new(), Vec::new());
    for _ in 0..OPENS {
        let (paint, connected, _) = open_popup(s).await.expect("a warm open");
        warm_paint.push(paint);
        warm_connected.push(connected);
    }
    let (mut cold_paint, mut cold_connected) = (Vec::new(), Vec::new());
    let mut tries = 0;
    while cold_paint.len() < OPENS {
        tries += 1;
        assert!(tries <= OPENS * 3, "the background would not stop");
        let before = popup_worker_started_ms(s)
            .await
            .expect("a worker start time");
        s.client.goto("about:blank").await.unwrap();
        match s.browser {
            Browser::Chromium => stop_service_worker(s).await.unwrap(),
            Browser::Firefox => click_terminate_background_script(s).await.unwrap(),
        }
        let Some((paint, connected, worker)) = open_popup(s).await else {
            continue;
        };
        if worker > before {
            cold_paint.push(paint);
            cold_connected.push(connected);
        }
    }
    let figure = |v: Vec<f64>| {
        let (p50, p99) = p50_p99(v);
        json!({"p50": p50, "p99": p99, "n": OPENS})
    };
    json!({
        "warm_open_to_first_paint_ms": figure(warm_paint),
        "warm_open_to_connected_ms": figure(warm_connected),
        "cold_open_to_first_paint_ms": figure(cold_paint),
        "cold_open_to_connected_ms": figure(cold_connected),
    })
}

/// Total customer lines per second across `INTAKE_CHATS` chats, each rate held `INTAKE_STEP`;
/// the ramp stops at the first rate the desk does not keep up with.
const INTAKE_RATES: [u32; 6] = [30, 60, 120, 240, 480, 960];
const INTAKE_CHATS: usize = 10;
const INTAKE_STEP: Duration = Duration::from_secs(10);
/// How long after a step's last send every line may take to be stored.
const INTAKE_SETTLE: Duration = Duration::from_secs(60);
/// A rate is kept up with when every line is stored and the p99 stays under this.
const INTAKE_P99_BOUND_MS: f64 = 1000.0;

/// Stamps, in the popup page, when each customer line of the current step (`window.__prefix`)
/// is first in the background's stored pages (`storage.onChanged`): the desk has taken it.
const STAMP_STORED: &str = "
    window.__stored = {};
    window.__prefix = null;
    (globalThis.browser ?? globalThis.chrome).storage.onChanged.addListener((changes, area) => {
      if (area !== 'local' || !window.__prefix) return;
      const now = Date.now();
      for (const [key, change] of Object.entries(changes)) {
        if (!key.startsWith('lines:') || !Array.isArray(change.newValue)) continue;
        for (const line of change.newValue) {
          const t = line.text;
          if (typeof t === 'string' && t.startsWith(window.__prefix) && !(t in window.__stored)) {
            window.__stored[t] = now;
          }
        }
      }
    });
    return true;";

/// Sustained intake: ten customers writing at once at rising total rates (the server's
/// per-chat limit lifted), each line's send → stored by the background; per rate the rate
/// offered, p50/p99/max, how many were still not stored when the sending stopped, and whether
/// every line arrived.
async fn intake(browser: Browser) -> Value {
    let server = ReferenceServer::start_from_env(&[
        "--per-address-limit",
        "1000",
        "--max-chats",
        "10",
        "--chat-writes-per-10s",
        "100000",
    ]);
    let s = Session::start(browser).await;
    sign_in(&s, &server).await.unwrap();
    let mut customers = Vec::new();
    for n in 0..INTAKE_CHATS {
        let c = Customer::request(&server, &format!("Intake{n}")).await;
        accept(&s, &c).await.unwrap();
        customers.push(c);
    }
    eval(&s, STAMP_STORED).await;
    let mut steps = Vec::new();
    for rate in INTAKE_RATES {
        let prefix = format!("r{rate}-");
        eval(
            &s,
            &format!("window.__stored = {{}}; window.__prefix = {prefix:?}; return true;"),
        )
        .await;
        let per_chat = (rate as usize * INTAKE_STEP.as_secs() as usize) / INTAKE_CHATS;
        let pace = INTAKE_STEP / per_chat as u32;
        let started = std::time::Instant::now();
        let writers = customers.iter().enumerate().map(|(n, c)| {
            let prefix = prefix.clone();
            async move {
                let mut sent = Vec::with_capacity(per_chat);
                let mut tick = tokio::time::interval(pace);
                for k in 0..per_chat {
                    tick.tick().await;
                    let text = format!("{prefix}c{n}-{k}");
                    let at = now_ms();
                    c.send(&text).await;
                    sent.push((text, at));
                }
                sent
            }
        });
        let sent: Vec<(String, f64)> = futures_util::future::join_all(writers)
            .await
            .into_iter()
            .flatten()
            .collect();
        let offered = sent.len() as f64 / started.elapsed().as_secs_f64();
        let count = "return Object.keys(window.__stored).length;";
        let behind = sent
            .len()
            .saturating_sub(eval(&s, count).await.as_u64().unwrap_or(0) as usize);
        let deadline = std::time::Instant::now() + INTAKE_SETTLE;
        while (eval(&s, count).await.as_u64().unwrap_or(0) as usize) < sent.len()
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let stored = eval(&s, "return window.__stored;").await;
        let latencies: Vec<f64> = sent
            .iter()
            .filter_map(|(text, at)| Some(stored[text].as_f64()? - at))
            .collect();
        let missing = sent.len() - latencies.len();
        let max = latencies.iter().copied().fold(f64::NAN, f64::max);
        let (p50, p99) = if latencies.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            p50_p99(latencies)
        };
        let kept_up = missing == 0 && p99 <= INTAKE_P99_BOUND_MS;
        steps.push(json!({
            "rate_per_s": rate, "offered_per_s": offered, "lines": sent.len(),
            "p50_ms": p50, "p99_ms": p99, "max_ms": max,
            "not_stored_when_sending_stopped": behind, "missing": missing, "kept_up": kept_up,
        }));
        if !kept_up {
            break;
        }
    }
    s.close().await;
    let highest = steps.iter().rfind(|v| v["kept_up"] == true).cloned();
    json!({"steps": steps, "highest_kept_up": highest})
}

/// What the desk holds while the figures are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desk {
    /// One chat, just accepted.
    Empty,
    /// [`crate::full`]: 20 live chats × 1,000 lines and the finished chats kept.
    Full,
}

/// The message, hand-over and popup figures with the desk `desk` holds; the message and the
/// hand-over go to the chat open in the popup (with a full desk, one of 1,000 lines).
async fn run(browser: Browser, desk: Desk) -> Value {
    let s = Session::start(browser).await;
    let (server, customers, held) = match desk {
        Desk::Empty => {
            let server = ReferenceServer::start_from_env(&["--per-address-limit", "1000"]);
            sign_in(&s, &server).await.unwrap();
            let customer = Customer::request(&server, "Pat").await;
            accept(&s, &customer).await.unwrap();
            (
                server,
                vec![customer],
                json!({"live_chats": 1, "finished_chats_held": 0}),
            )
        }
        Desk::Full => {
            let server = ReferenceServer::start_from_env(&crate::full::SERVER_OPTIONS);
            let (customers, held) = crate::full::fill(&s, &server).await;
            (server, customers, held)
        }
    };
    let customer = &customers[0];
    eval(&s, STAMP).await;
    let official = OfficialClient::start(&server);

    let (mut message, mut official_message) = (Vec::new(), Vec::new());
    let mut message_stored = Vec::new();
    for i in 0..MESSAGES {
        let text = format!("bench line {i}");
        let sent = now_ms();
        customer.send(&text).await;
        message.push(seen_at(&s, &text).await - sent);
        let stored = eval(&s, &format!("return window.__stored[{text:?}] ?? null;")).await;
        if let Some(at) = stored.as_f64() {
            message_stored.push(at - sent);
        }
        official_message.push(official.received_at(&text).await - sent);
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
    drop(official);
    let opened = opens(&s).await;
    s.close().await;
    let (m50, m99) = p50_p99(message);
    let (s50, s99) = if message_stored.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        p50_p99(message_stored.clone())
    };
    let (o50, o99) = p50_p99(official_message);
    let (c50, c99) = p50_p99(card);
    let mut v = json!({
        "message_to_popup_ms": {"p50": m50, "p99": m99, "n": MESSAGES},
        "message_to_stored_ms": {"p50": s50, "p99": s99, "n": message_stored.len()},
        "message_to_official_client_ms": {"p50": o50, "p99": o99, "n": MESSAGES},
        "cobrowse_handover_to_card_ms": {"p50": c50, "p99": c99, "n": HANDOVERS},
        "desk": held,
    });
    if let (Some(v), Value::Object(o)) = (v.as_object_mut(), opened) {
        v.extend(o);
    }
    v
}

/// A figure's `p50 / p99 ms` with `decimals` digits after the point.
fn p50_p99_text(figure: &Value, decimals: usize) -> String {
    let at = |k: &str| figure[k].as_f64().unwrap_or(f64::NAN);
    format!("{:.*} / {:.*} ms", decimals, at("p50"), decimals, at("p99"))
}

#[tokio::main]
pub async fn main() {
    let parts = std::env::var("DESK_BENCH_PARTS").unwrap_or_else(|_| "empty,full,intake".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    let desks: Vec<Desk> = [(Desk::Empty, "empty"), (Desk::Full, "full")]
        .into_iter()
        .filter(|(_, name)| part(name))
        .map(|(desk, _)| desk)
        .collect();
    let names = std::env::var("DESK_BENCH_BROWSERS").unwrap_or_else(|_| "chromium,firefox".into());
    let browsers: Vec<Browser> = [
        (Browser::Chromium, "chromium"),
        (Browser::Firefox, "firefox"),
    ]
    .into_iter()
    .filter(|(_, name)| names.split(',').any(|n| n.trim() == *name))
    .map(|(browser, _)| browser)
    .collect();
    let mut all = serde_json::Map::new();
    let mut rows: Vec<(String, Value)> = Vec::new();
    for &browser in &browsers {
        for &desk in &desks {
            let v = run(browser, desk).await;
            let desk_name = match desk {
                Desk::Empty => "empty".to_owned(),
                Desk::Full => format!(
                    "full: {} live + {} finished",
                    v["desk"]["live_chats"], v["desk"]["finished_chats_held"]
                ),
            };
            // Each run as it ends, so a later failure does not lose it.
            println!(
                "{browser:?} ({desk_name}): message → popup {}, → stored {}; first paint warm {}, cold {}",
                p50_p99_text(&v["message_to_popup_ms"], 1),
                p50_p99_text(&v["message_to_stored_ms"], 1),
                p50_p99_text(&v["warm_open_to_first_paint_ms"], 0),
                p50_p99_text(&v["cold_open_to_first_paint_ms"], 0),
            );
            rows.push((format!("{browser:?} ({desk_name})"), v.clone()));
            let entry = all
                .entry(format!("{browser:?}").to_lowercase())
                .or_insert_with(|| json!({}));
            match desk {
                Desk::Empty => {
                    if let (Some(o), Value::Object(v)) = (entry.as_object_mut(), v) {
                        o.extend(v);
                    }
                }
                Desk::Full => entry["full_desk"] = v,
            }
        }
    }
    if !rows.is_empty() {
        println!(
            "\n== the agent desk (the message and hand-over to the chat open in the popup; in-page clocks) =="
        );
        println!(
            "{:42} {:>24} {:>24} {:>34} {:>24}",
            "browser (desk)",
            "message → popup p50/p99",
            "… → stored p50/p99",
            "message → official client p50/p99",
            "co-browse → card p50/p99"
        );
        for (name, v) in &rows {
            let f = |k: &str| p50_p99_text(&v[k], 1);
            println!(
                "{:42} {:>24} {:>24} {:>34} {:>24}",
                name,
                f("message_to_popup_ms"),
                f("message_to_stored_ms"),
                f("message_to_official_client_ms"),
                f("cobrowse_handover_to_card_ms"),
            );
        }
        println!("\n== opening the popup (its own marks: ms from navigation, p50 / p99) ==");
        println!(
            "{:42} {:>20} {:>20} {:>20} {:>20}",
            "browser (desk)",
            "warm → first paint",
            "warm → connected",
            "cold → first paint",
            "cold → connected"
        );
        for (name, v) in &rows {
            let f = |k: &str| p50_p99_text(&v[k], 0);
            println!(
                "{:42} {:>20} {:>20} {:>20} {:>20}",
                name,
                f("warm_open_to_first_paint_ms"),
                f("warm_open_to_connected_ms"),
                f("cold_open_to_first_paint_ms"),
                f("cold_open_to_connected_ms"),
            );
        }
    }
    let p50 = |v: &Value, k: &str| v[k]["p50"].as_f64().unwrap_or(f64::NAN);
    let ratios: Vec<(String, f64, f64)> = all
        .iter()
        .filter(|(_, v)| v.get("full_desk").is_some() && v.get("message_to_popup_ms").is_some())
        .map(|(browser, v)| {
            let full = &v["full_desk"];
            let ratio = |k: &str| p50(full, k) / p50(v, k);
            (
                browser.clone(),
                ratio("message_to_popup_ms"),
                ratio("warm_open_to_first_paint_ms"),
            )
        })
        .collect();
    if !ratios.is_empty() {
        println!("\n== the full desk against the empty one (p50 full / p50 empty; the target is ≤ 1.2×) ==");
        println!(
            "{:10} {:>18} {:>26}",
            "browser", "message → popup", "warm open → first paint"
        );
        for (browser, message, paint) in ratios {
            println!("{browser:10} {message:>17.2}× {paint:>25.2}×");
        }
    }
    if !part("intake") {
        save(all);
        return;
    }
    println!(
        "\n== sustained intake (10 chats writing at once, the per-chat limit lifted; a customer \
         line → stored by the background; kept up: every line stored, p99 ≤ {INTAKE_P99_BOUND_MS} ms) =="
    );
    println!(
        "{:10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>16} {:>8}",
        "browser", "rate/s", "offered/s", "p50 ms", "p99 ms", "max ms", "behind at stop", "missing"
    );
    for &browser in &browsers {
        let v = intake(browser).await;
        for step in v["steps"].as_array().into_iter().flatten() {
            let f = |k: &str| step[k].as_f64().unwrap_or(f64::NAN);
            println!(
                "{:10} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>16} {:>8}",
                format!("{browser:?}"),
                step["rate_per_s"].as_u64().unwrap_or(0),
                f("offered_per_s"),
                f("p50_ms"),
                f("p99_ms"),
                f("max_ms"),
                step["not_stored_when_sending_stopped"]
                    .as_u64()
                    .unwrap_or(0),
                step["missing"].as_u64().unwrap_or(0),
            );
        }
        let key = format!("{browser:?}").to_lowercase();
        match &v["highest_kept_up"] {
            Value::Null => println!("{key}: not kept up with even at the lowest rate"),
            h => println!(
                "{key}: kept up with up to {} lines/s (p99 {:.1} ms)",
                h["rate_per_s"],
                h["p99_ms"].as_f64().unwrap_or(f64::NAN)
            ),
        }
        all.entry(key).or_insert_with(|| json!({}))["intake"] = v;
    }
    save(all);
}

/// The figures to `COBROWSE_BENCH_JSON`, when set.
fn save(all: serde_json::Map<String, Value>) {
    if let Ok(path) = std::env::var("COBROWSE_BENCH_JSON") {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&Value::Object(all)).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        println!("figures saved to {path}");
    }
}
