//! `cargo xtask bench load`: the reference server under load on this machine — 1,000 customers
//! and 100 agents by default — with a `kill -9` and a restart in the middle. Figures, and one
//! check: every send the server acknowledged is in the transcript afterwards, once (the program
//! exits non-zero otherwise).
//!
//! - customers (GMS Chat API v2) send a line every `LOAD_SEND_EVERY_MS` and refresh every
//!   `LOAD_REFRESH_EVERY_MS`, as the demo widget does; a send is acknowledged by a 200 with
//!   `statusCode` 0, and its latency is measured from request to answer;
//! - agents (GWS REST, Basic) are in a session and Ready, and accept what they are offered,
//!   polling their chats every second;
//! - the server's RSS (`/proc/<pid>/status`) every 5 s, across the restart;
//! - at half time the server is `kill -9`ed and started again on the same data and address;
//!   sends fail while it is gone (counted, not acknowledged) and go on after.
//!
//! Environment: `COBROWSE_SERVER` (the release binary), `COBROWSE_BENCH_JSON` (where the
//! figures go), `LOAD_SECONDS` (600), `LOAD_CUSTOMERS` (1000), `LOAD_AGENTS` (100),
//! `LOAD_SEND_EVERY_MS` (10000), `LOAD_REFRESH_EVERY_MS` (5000).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{Customer, ReferenceServer, RestAgent};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// The server's resident memory in KiB, if it is running.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[derive(Default)]
struct Tally {
    /// Texts the server acknowledged, per chat.
    acked: HashMap<String, Vec<String>>,
    /// Acknowledged sends: (when, since the run started, in s; latency in ms).
    latencies: Vec<(f64, f64)>,
    failed: u64,
}

/// One customer: sends and refreshes until `stop`, recording every acknowledged send.
async fn customer_loop(
    n: usize,
    customer: Customer,
    send_every: Duration,
    refresh_every: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    epoch: Instant,
) -> Customer {
    // Spread the customers over the interval.
    tokio::time::sleep(send_every.mul_f64((n % 100) as f64 / 100.0)).await;
    let mut sent = 0u64;
    let mut next_send = Instant::now();
    let mut next_refresh = Instant::now() + refresh_every;
    let mut position = 1i64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_send {
            next_send += send_every;
            sent += 1;
            let text = format!("c{n} line {sent}");
            let started = Instant::now();
            let answer = customer.try_call("send", &[("message", &text)]).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let mut t = tally.lock().unwrap();
            match answer {
                Ok((200, r)) if r["statusCode"] == json!(0) => {
                    t.acked
                        .entry(customer.chat_id.clone())
                        .or_default()
                        .push(text);
                    t.latencies
                        .push((started.duration_since(epoch).as_secs_f64(), ms));
                }
                _ => t.failed += 1,
            }
        } else if now >= next_refresh {
            next_refresh += refresh_every;
            let pos = position.to_string();
            if let Ok((200, r)) = customer
                .try_call("refresh", &[("transcriptPosition", &pos)])
                .await
            {
                position = r["nextPosition"].as_i64().unwrap_or(position);
            }
        } else {
            let wake = next_send.min(next_refresh);
            tokio::time::sleep(wake.saturating_duration_since(now)).await;
        }
    }
    customer
}

/// One agent: accepts every invitation, polling once a second, until `stop`.
async fn agent_loop(agent: RestAgent, stop: Arc<AtomicBool>, accepted: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok((200, r)) = agent.try_get("/api/v2/me/chats").await {
            for chat in r["chats"].as_array().into_iter().flatten() {
                if chat["state"] == "Invited" {
                    let id = chat["id"].as_str().unwrap_or_default();
                    let path = format!("/api/v2/me/chats/{id}");
                    if let Ok((200, _)) = agent
                        .try_post(&path, json!({"operationName": "Accept"}))
                        .await
                    {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn run() -> Result<Value, String> {
    let seconds = env_or("LOAD_SECONDS", 600);
    let customers_n = env_or("LOAD_CUSTOMERS", 1000) as usize;
    let agents_n = env_or("LOAD_AGENTS", 100) as usize;
    let send_every = Duration::from_millis(env_or("LOAD_SEND_EVERY_MS", 10_000));
    let refresh_every = Duration::from_millis(env_or("LOAD_REFRESH_EVERY_MS", 5_000));
    let capacity = customers_n.div_ceil(agents_n.max(1)).to_string();
    let mut server = ReferenceServer::start_from_env(&[
        "--demo-agents",
        &agents_n.to_string(),
        "--max-chats",
        &capacity,
        "--per-address-limit",
        "1000000",
        // Agents poll over REST: nobody is "gone" for lack of a CometD link.
        "--requeue-grace-ms",
        "86400000",
    ]);
    println!(
        "load: {customers_n} customers, {agents_n} agents (up to {capacity} chats each), {seconds} s, \
         a send every {} ms and a refresh every {} ms per customer",
        send_every.as_millis(),
        refresh_every.as_millis()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let mut agent_tasks = Vec::new();
    for n in 1..=agents_n {
        let agent = RestAgent::new(&server, &format!("agent{n}"));
        agent.start_ready().await;
        agent_tasks.push(tokio::spawn(agent_loop(
            agent,
            stop.clone(),
            accepted.clone(),
        )));
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    let epoch = Instant::now();
    let mut customer_tasks = Vec::new();
    for n in 0..customers_n {
        let customer = Customer::request(&server, &format!("Customer {n}")).await;
        customer_tasks.push(tokio::spawn(customer_loop(
            n,
            customer,
            send_every,
            refresh_every,
            stop.clone(),
            tally.clone(),
            epoch,
        )));
    }
    println!("load: every customer is in a chat; running");

    let started = epoch;
    let mut rss: Vec<(u64, u64)> = Vec::new();
    let mut killed = false;
    let mut killed_at = f64::NAN;
    let mut outage_ms = 0.0;
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let at = started.elapsed().as_secs();
        if let Some(kib) = server.pid().and_then(rss_kib) {
            rss.push((at, kib));
        }
        if !killed && at >= seconds / 2 {
            killed = true;
            let down = Instant::now();
            killed_at = started.elapsed().as_secs_f64();
            server.kill();
            println!("load: kill -9 at {at} s");
            tokio::time::sleep(Duration::from_secs(2)).await;
            server = server.restart();
            outage_ms = down.elapsed().as_secs_f64() * 1000.0;
            println!("load: restarted after {outage_ms:.0} ms");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in agent_tasks {
        let _ = t.await;
    }
    let mut customers = Vec::new();
    for t in customer_tasks {
        customers.push(t.await.map_err(|e| format!("a customer task: {e}"))?);
    }

    // Every acknowledged send is in its chat's transcript, once.
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| "a customer task still holds the tally")?
        .into_inner()
        .map_err(|e| e.to_string())?;
    let (mut lost, mut duplicated) = (0usize, 0usize);
    for customer in &customers {
        let Some(acked) = tally.acked.get(&customer.chat_id) else {
            continue;
        };
        // The whole transcript, as the customer's refresh from the start gives it.
        let (status, r) = customer
            .try_call("refresh", &[("transcriptPosition", "1")])
            .await?;
        if status != 200 {
            return Err(format!(
                "the transcript of {}: {status} {r}",
                customer.chat_id
            ));
        }
        let texts: Vec<&str> = r["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["text"].as_str())
            .collect();
        for text in acked {
            match texts.iter().filter(|t| **t == text.as_str()).count() {
                0 => lost += 1,
                1 => {}
                _ => duplicated += 1,
            }
        }
    }
    let mut latencies: Vec<f64> = tally.latencies.iter().map(|(_, ms)| *ms).collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    // Away from the restart: the 20 s after the kill are the recovery's, not the steady state's.
    let mut steady: Vec<f64> = tally
        .latencies
        .iter()
        .filter(|(at, _)| !(killed_at..killed_at + 20.0).contains(at))
        .map(|(_, ms)| *ms)
        .collect();
    steady.sort_by(|a, b| a.total_cmp(b));
    let acked: usize = tally.acked.values().map(Vec::len).sum();
    let rss_values: Vec<u64> = rss.iter().map(|(_, k)| *k).collect();
    let figures = json!({
        "customers": customers_n,
        "agents": agents_n,
        "seconds": seconds,
        "accepted": accepted.load(Ordering::Relaxed),
        "sends_acknowledged": acked,
        "sends_failed": tally.failed,
        "acknowledged_lost": lost,
        "acknowledged_duplicated": duplicated,
        "send_p50_ms": percentile(&latencies, 0.5),
        "send_p99_ms": percentile(&latencies, 0.99),
        "send_steady_p50_ms": percentile(&steady, 0.5),
        "send_steady_p99_ms": percentile(&steady, 0.99),
        "send_max_ms": latencies.last(),
        "outage_ms": outage_ms,
        "rss_kib": rss,
        "rss_first_kib": rss_values.first(),
        "rss_max_kib": rss_values.iter().max(),
        "rss_last_kib": rss_values.last(),
    });
    println!("\n== the reference server under load (release build, this machine) ==");
    println!(
        "{customers_n} customers, {agents_n} agents, {seconds} s, kill -9 at {} s",
        seconds / 2
    );
    println!(
        "sends acknowledged {acked}, failed (server down) {}, lost {lost}, duplicated {duplicated}",
        tally.failed
    );
    println!(
        "send latency p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms; away from the restart p50 {:.1} ms, p99 {:.1} ms; chats accepted {}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        percentile(&steady, 0.5),
        percentile(&steady, 0.99),
        accepted.load(Ordering::Relaxed)
    );
    let line: Vec<String> = rss
        .iter()
        .step_by((rss.len() / 12).max(1))
        .map(|(t, k)| format!("{t}s:{}M", k / 1024))
        .collect();
    println!("server RSS over time: {}", line.join(" "));
    if lost > 0 || duplicated > 0 {
        return Err(format!(
            "acknowledged sends lost {lost}, duplicated {duplicated}\n{figures}"
        ));
    }
    Ok(figures)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run()) {
        Ok(figures) => {
            if let Some(path) = std::env::var_os("COBROWSE_BENCH_JSON") {
                let _ = std::fs::write(&path, format!("{figures:#}\n"));
                println!("figures saved to {}", std::path::Path::new(&path).display());
            }
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}
