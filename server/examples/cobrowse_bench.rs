//! `cargo xtask bench cobrowse`: the live view's figures, ours side by side with a minimal Node
//! `ws` relay (`tests/interop/cobrowse-relay.mjs`) serving the same two pages. No pass/fail.
//!
//! - a change on the customer's page → the change in the agent view's DOM, p50/p99 (headless
//!   Chromium, in-page clocks of one machine);
//! - a late join: the agent view's start → the customer's page complete in it (from the cache);
//! - the demo checkout page's full snapshot: bytes, and the time the customer's page spends;
//! - typical activity (pointer, typing, text changes, scrolling): bytes/s as the customer sends
//!   them, and on the wire with permessage-deflate (the Node relay offers it; tungstenite, under
//!   axum, has none);
//! - relay throughput with 50 concurrent sessions (one customer and one view each, events at a
//!   fixed rate per session): events delivered per second, latency p50/p99.
//!
//! Environment: `COBROWSE_SERVER` (the release binary), `COBROWSE_BENCH_JSON` (where the figures
//! go as JSON), and the browser variables of `testkit::browser`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use testkit::browser::{Browser, Session};
use testkit::process::Announced;
use testkit::{Customer, ReferenceServer, RestAgent};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

const SESSIONS: usize = 50;
const CHANGES: usize = 60;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn p50_p99(mut v: Vec<f64>) -> (f64, f64, usize) {
    v.sort_by(|a, b| a.total_cmp(b));
    (percentile(&v, 0.5), percentile(&v, 0.99), v.len())
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

async fn eval(s: &Session, script: &str) -> Value {
    s.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn until(s: &Session, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = eval(s, script).await;
        if !v.is_null() && v != false {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn in_replay(body: &str) -> String {
    format!("const doc = window.cobrowseView && window.cobrowseView.document(); if (!doc) return null; {body}")
}

/// The Node relay: `LISTENING <port>` on its first line.
fn node_relay(deflate: bool) -> (Announced, String) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(root.join("tests/interop/cobrowse-relay.mjs"))
        .args(["--port", "0"]);
    if deflate {
        cmd.arg("--deflate");
    }
    let p = Announced::spawn(&mut cmd).unwrap_or_else(|e| panic!("{e}"));
    let port = p
        .line
        .strip_prefix("LISTENING ")
        .expect("the relay's port")
        .to_owned();
    (p, format!("http://127.0.0.1:{port}"))
}

async fn socket(url: &str, cookie: Option<&str>) -> Socket {
    let mut request = url.replacen("http", "ws", 1).into_client_request().unwrap();
    if let Some(c) = cookie {
        request.headers_mut().insert("Cookie", c.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// A view cookie for `ticket` (the ticket exchange, without following the redirect).
async fn view_cookie(base: &str, ticket: &str) -> String {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/cobrowse/agent.html?ticket={ticket}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "ticket exchange");
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// A chat between a new customer and `agent` (who must be the only ready agent with room),
/// a session bound to it, verified: the token, the customer token and a join ticket.
async fn bound_session(
    server: &ReferenceServer,
    agent: &RestAgent,
) -> (String, String, String, Customer) {
    let customer = Customer::request(server, "Bench").await;
    let (s, r) = agent
        .op(&customer.chat_id, json!({"operationName": "Accept"}))
        .await;
    assert_eq!(s, 200, "accept: {r}");
    let body = json!({"chatId": customer.chat_id, "userId": customer.user_id, "secureKey": customer.secure_key});
    let text = reqwest::Client::new()
        .post(format!("{}/cobrowse/rest/live/sessions", server.url))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let token = r["sessionToken"].as_str().expect("a session").to_owned();
    let key = r["customerToken"].as_str().unwrap().to_owned();
    let (s, v) = agent
        .post(
            "/api/v2/me/cobrowse/verifications",
            json!({"chatId": customer.chat_id, "sessionToken": token}),
        )
        .await;
    assert_eq!(s, 200, "verification: {v}");
    (
        token,
        key,
        v["cobrowse"]["joinTicket"].as_str().unwrap().to_owned(),
        customer,
    )
}

/// The latency run, in two browsers: the customer's checkout page streaming, the agent view.
/// Returns (latencies ms, the view's ready time ms).
async fn page_latency(
    customer: &Session,
    viewer: &Session,
    customer_url: &str,
    session: Value,
    view_url: &str,
) -> (Vec<f64>, f64) {
    customer.client.goto(customer_url).await.unwrap();
    eval(
        customer,
        &format!("sessionStorage.setItem('genesys-cobrowse-session', JSON.stringify({session})); location.reload(); return true;"),
    )
    .await;
    until(customer, "the customer page to stream", "return document.getElementById('cb-ui')?.dataset.state === 'waiting' || document.getElementById('cb-ui')?.dataset.state === 'joined' || null").await;
    viewer.client.goto(view_url).await.unwrap();
    until(
        viewer,
        "the view",
        &in_replay("return doc.getElementById('co-note') ? true : null"),
    )
    .await;
    let ready = eval(viewer, "return window.cobrowseView.readyAt();")
        .await
        .as_f64()
        .unwrap_or(f64::NAN);
    eval(
        viewer,
        &in_replay(
            "window.__seen = {};
             new MutationObserver(() => {
               const t = doc.getElementById('co-note')?.textContent ?? '';
               if (t.startsWith('chg-') && !(t in window.__seen)) window.__seen[t] = performance.timeOrigin + performance.now();
             }).observe(doc, { subtree: true, childList: true, characterData: true });
             return true;",
        ),
    )
    .await;
    eval(
        customer,
        &format!(
            "window.__sent = {{}};
             for (let i = 0; i < {CHANGES}; i++) setTimeout(() => {{
               const t = 'chg-' + i;
               window.__sent[t] = performance.timeOrigin + performance.now();
               document.getElementById('co-note').textContent = t;
             }}, 200 + i * 150);
             return true;"
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let n = eval(viewer, "return Object.keys(window.__seen || {}).length;")
            .await
            .as_u64()
            .unwrap_or(0);
        if n as usize >= CHANGES || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sent = eval(customer, "return window.__sent;").await;
    let seen = eval(viewer, "return window.__seen;").await;
    let lat = sent
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, t)| Some(seen.get(k)?.as_f64()? - t.as_f64()?))
        .collect();
    (lat, ready)
}

/// Ten seconds of typical activity on the customer's page (pointer, typing, text changes,
/// scrolling), as rrweb records it.
async fn typical_activity(customer: &Session) {
    eval(
        customer,
        "const stop = Date.now() + 10000; let i = 0;
         const name = document.getElementById('co-name');
         const tick = () => {
           if (Date.now() > stop) return;
           i++;
           document.dispatchEvent(new MouseEvent('mousemove', { clientX: 100 + (i * 7) % 400, clientY: 100 + (i * 3) % 300, bubbles: true }));
           if (i % 7 === 0) { name.value += 'a'; name.dispatchEvent(new Event('input', { bubbles: true })); }
           if (i % 20 === 0) document.getElementById('co-note').textContent = 'note ' + i;
           if (i % 30 === 0) window.scrollTo(0, (i * 5) % 200);
           setTimeout(tick, 50);
         };
         tick(); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(10_500)).await;
}

async fn node_bytes(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/stats"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    v["bytesRead"].as_f64().unwrap_or(0.0)
}

/// Relay throughput: `SESSIONS` customers at `rate` events/s each for 5 s, each with a view.
/// `connect(i)` gives session i's (customer socket after hello, view socket after join).
async fn throughput(pairs: Vec<(Socket, Socket)>, rate: u32) -> (f64, f64, f64) {
    let run = Duration::from_secs(5);
    let mut tasks = Vec::new();
    for (i, (mut customer, view)) in pairs.into_iter().enumerate() {
        let (mut vsink, mut vstream) = view.split();
        let _ = vsink
            .send(Ws::Text(json!({"t": "join"}).to_string().into()))
            .await;
        let reader = tokio::spawn(async move {
            let mut lat = Vec::new();
            let end = Instant::now() + run + Duration::from_secs(3);
            while let Ok(Some(Ok(m))) = tokio::time::timeout_at(end.into(), vstream.next()).await {
                if let Ws::Text(t) = m {
                    if let Ok(v) = serde_json::from_str::<Value>(&t) {
                        if v["t"] == "ev" && v["e"]["type"] == 3 {
                            if let Some(sent) = v["e"]["timestamp"].as_f64() {
                                lat.push(now_ms() - sent);
                            }
                        }
                    }
                }
            }
            drop(vsink);
            lat
        });
        let writer = tokio::spawn(async move {
            let meta = json!({"t": "ev", "seq": 1, "e": {"type": 4, "timestamp": now_ms(), "data": {"href": format!("http://bench/{i}"), "width": 800, "height": 600}}});
            let _ = customer.send(Ws::Text(meta.to_string().into())).await;
            let start = Instant::now();
            let mut seq = 1u64;
            let pad = "x".repeat(120);
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            while start.elapsed() < run {
                tick.tick().await;
                seq += 1;
                let ev = json!({"t": "ev", "seq": seq, "e": {"type": 3, "timestamp": now_ms(), "data": {"source": 0, "texts": [{"id": 5, "value": pad}], "attributes": [], "removes": [], "adds": []}}});
                if customer
                    .send(Ws::Text(ev.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(customer);
        });
        tasks.push((reader, writer));
    }
    let mut all = Vec::new();
    for (reader, writer) in tasks {
        let _ = writer.await;
        all.extend(reader.await.unwrap_or_default());
    }
    let delivered = all.len() as f64 / run.as_secs_f64();
    let (p50, p99, _) = p50_p99(all);
    (delivered, p50, p99)
}

async fn hello(url: &str, token: &str, key: &str) -> Socket {
    let mut ws = socket(url, None).await;
    ws.send(Ws::Text(
        json!({"t": "hello", "sessionToken": token, "customerToken": key})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Ws::Text(t))) if t.contains("\"hello\"") => return ws,
            Some(Ok(_)) => continue,
            other => panic!("no hello: {other:?}"),
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let agents = (SESSIONS + 1).to_string();
    let ours = ReferenceServer::start_from_env(&[
        "--demo-agents",
        &agents,
        "--max-chats",
        "1",
        "--per-address-limit",
        "100000",
        "--cobrowse-verifications-per-minute",
        "100000",
        "--requeue-grace-ms",
        "600000",
    ]);
    let (_node, node_url) = node_relay(false);
    let (_node_deflate, deflate_url) = node_relay(true);
    let mut out = serde_json::Map::new();

    // ---- in browsers: latency, late join, snapshot, typical traffic ----
    let agent = RestAgent::new(&ours, "agent1");
    agent.start_ready().await;
    let (token, key, ticket, _customer) = bound_session(&ours, &agent).await;
    let (_, spy_ticket) = {
        let (s, v) = agent
            .post(
                "/api/v2/me/cobrowse/verifications",
                json!({"chatId": _customer.chat_id, "sessionToken": token}),
            )
            .await;
        assert_eq!(s, 200);
        (
            v.clone(),
            v["cobrowse"]["joinTicket"].as_str().unwrap().to_owned(),
        )
    };
    let customer = Session::plain(Browser::Chromium).await;
    let viewer = Session::plain(Browser::Chromium).await;
    let session = json!({"sessionToken": token, "customerToken": key, "bound": true});
    let (lat_ours, ready_ours) = page_latency(
        &customer,
        &viewer,
        &format!("{}/checkout.html", ours.url),
        session,
        &format!("{}/cobrowse/agent.html?ticket={ticket}", ours.url),
    )
    .await;
    // The test's own view: every frame the relay passes on.
    let cookie = view_cookie(&ours.url, &spy_ticket).await;
    let mut spy = socket(&format!("{}/cobrowse/ws/agent", ours.url), Some(&cookie)).await;
    spy.send(Ws::Text(json!({"t": "join"}).to_string().into()))
        .await
        .unwrap();
    let counted = std::sync::Arc::new(std::sync::Mutex::new((0usize, 0usize)));
    let count = counted.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = spy.next().await {
            if let Ws::Text(t) = m {
                let mut c = count.lock().unwrap();
                c.0 += t.len();
                if t.contains("\"type\":2") {
                    c.1 = t.len();
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snapshot_ms = eval(&customer, "const t0 = performance.now(); rrwebRecord.record.takeFullSnapshot(true); return performance.now() - t0;").await.as_f64().unwrap_or(f64::NAN);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snapshot_bytes = counted.lock().unwrap().1;
    let before = counted.lock().unwrap().0;
    typical_activity(&customer).await;
    let ours_bps = (counted.lock().unwrap().0 - before) as f64 / 10.5;

    let node_session = json!({"sessionToken": "bench", "customerToken": "-", "bound": true});
    let (lat_node, ready_node) = page_latency(
        &customer,
        &viewer,
        &format!("{node_url}/checkout.html"),
        node_session.clone(),
        &format!("{node_url}/cobrowse/agent.html"),
    )
    .await;
    let b0 = node_bytes(&node_url).await;
    typical_activity(&customer).await;
    let node_bps = (node_bytes(&node_url).await - b0) / 10.5;
    customer
        .client
        .goto(&format!("{deflate_url}/checkout.html"))
        .await
        .unwrap();
    eval(&customer, &format!("sessionStorage.setItem('genesys-cobrowse-session', JSON.stringify({node_session})); location.reload(); return true;")).await;
    viewer
        .client
        .goto(&format!("{deflate_url}/cobrowse/agent.html"))
        .await
        .unwrap();
    until(
        &viewer,
        "the deflate view",
        &in_replay("return doc.getElementById('co-note') ? true : null"),
    )
    .await;
    let d0 = node_bytes(&deflate_url).await;
    typical_activity(&customer).await;
    let deflate_bps = (node_bytes(&deflate_url).await - d0) / 10.5;
    customer.close().await;
    viewer.close().await;

    // ---- throughput: SESSIONS sessions, one view each ----
    let mut pairs = Vec::new();
    for i in 0..SESSIONS {
        let a = RestAgent::new(&ours, &format!("agent{}", i + 2));
        a.start_ready().await;
        let (token, key, ticket, _) = bound_session(&ours, &a).await;
        let cookie = view_cookie(&ours.url, &ticket).await;
        let c = hello(&format!("{}/cobrowse/ws/customer", ours.url), &token, &key).await;
        let v = socket(&format!("{}/cobrowse/ws/agent", ours.url), Some(&cookie)).await;
        pairs.push((c, v));
    }
    let mut node_pairs = Vec::new();
    for i in 0..SESSIONS {
        let token = format!("s{i}");
        let c = hello(&format!("{node_url}/cobrowse/ws/customer"), &token, "-").await;
        let v = socket(&format!("{node_url}/cobrowse/ws/agent?s={token}"), None).await;
        node_pairs.push((c, v));
    }
    let rate = 150;
    let thr_ours = throughput(pairs, rate).await;
    let thr_node = throughput(node_pairs, rate).await;

    // ---- the table ----
    let (o50, o99, on) = p50_p99(lat_ours);
    let (n50, n99, nn) = p50_p99(lat_node);
    println!("\n== co-browse live view (headless Chromium, loopback) ==");
    println!("{:52} {:>14} {:>14}", "", "ours", "Node ws relay");
    println!(
        "{:52} {:>14} {:>14}",
        "change → agent view DOM p50 (ms)",
        format!("{o50:.1}"),
        format!("{n50:.1}")
    );
    println!(
        "{:52} {:>14} {:>14}",
        "change → agent view DOM p99 (ms)",
        format!("{o99:.1}"),
        format!("{n99:.1}")
    );
    println!(
        "{:52} {:>14} {:>14}",
        "changes seen",
        format!("{on}/{CHANGES}"),
        format!("{nn}/{CHANGES}")
    );
    println!(
        "{:52} {:>14} {:>14}",
        "late join: view start → complete view (ms)",
        format!("{ready_ours:.0}"),
        format!("{ready_node:.0}")
    );
    println!(
        "{:52} {:>14} {:>14}",
        "typical activity, as sent (bytes/s)",
        format!("{ours_bps:.0}"),
        format!("{node_bps:.0}")
    );
    println!(
        "{:52} {:>14} {:>14}",
        "typical activity, permessage-deflate (bytes/s)",
        "none",
        format!("{deflate_bps:.0}")
    );
    println!(
        "{:52} {:>14}",
        "full snapshot of the checkout page (bytes)", snapshot_bytes
    );
    println!(
        "{:52} {:>14}",
        "full snapshot on the customer's page (ms)",
        format!("{snapshot_ms:.1}")
    );
    println!("\n== relay throughput: {SESSIONS} sessions × {rate} events/s, one view each, 5 s ==");
    println!("{:52} {:>14} {:>14}", "", "ours", "Node ws relay");
    println!(
        "{:52} {:>14} {:>14}",
        "events delivered per second",
        format!("{:.0}", thr_ours.0),
        format!("{:.0}", thr_node.0)
    );
    println!(
        "{:52} {:>14} {:>14}",
        "latency p50 (ms)",
        format!("{:.1}", thr_ours.1),
        format!("{:.1}", thr_node.1)
    );
    println!(
        "{:52} {:>14} {:>14}",
        "latency p99 (ms)",
        format!("{:.1}", thr_ours.2),
        format!("{:.1}", thr_node.2)
    );
    for (k, v) in [
        ("latency_p50_ms", json!({"ours": o50, "node": n50})),
        ("latency_p99_ms", json!({"ours": o99, "node": n99})),
        (
            "late_join_ms",
            json!({"ours": ready_ours, "node": ready_node}),
        ),
        (
            "typical_bytes_per_s",
            json!({"ours": ours_bps, "node": node_bps, "node_deflate": deflate_bps}),
        ),
        (
            "full_snapshot",
            json!({"bytes": snapshot_bytes, "customer_ms": snapshot_ms}),
        ),
        (
            "throughput",
            json!({"sessions": SESSIONS, "rate_per_session": rate,
            "ours": {"delivered_per_s": thr_ours.0, "p50_ms": thr_ours.1, "p99_ms": thr_ours.2},
            "node": {"delivered_per_s": thr_node.0, "p50_ms": thr_node.1, "p99_ms": thr_node.2}}),
        ),
    ] {
        out.insert(k.into(), v);
    }
    if let Some(path) = std::env::var_os("COBROWSE_BENCH_JSON") {
        let _ = std::fs::write(
            &path,
            serde_json::to_string_pretty(&Value::Object(out)).unwrap(),
        );
        println!(
            "\nfigures saved to {}",
            std::path::Path::new(&path).display()
        );
    }
}
