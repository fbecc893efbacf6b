//! Load generator with our native client: N subscribers and one publisher on one channel;
//! prints one JSON line with deliveries/s and publish→receive latency percentiles. The same
//! command line and output as tests/interop/bench-client.mjs (the official JS client), so the
//! benchmark can put them side by side.
//!
//! Usage: bayeux-bench-client --url URL --transport long-polling|websocket --subscribers N
//!        --messages M --rate R [--channel /bench/topic] [--timeout-ms 60000]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bayeux_net::client::NativeClient;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use serde_json::json;

fn args() -> Vec<String> {
    std::env::args().collect()
}

fn arg(name: &str) -> Option<String> {
    let a = args();
    let i = a.iter().position(|x| x == name)?;
    a.get(i + 1).cloned()
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    delivered: u64,
    duplicates: u64,
    last_delivery_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let url = arg("--url").expect("--url");
    let transport = arg("--transport").unwrap_or_else(|| "long-polling".into());
    let subscribers: usize = arg("--subscribers")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let messages: u64 = arg("--messages")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let rate: u64 = arg("--rate").and_then(|v| v.parse().ok()).unwrap_or(0);
    let channel = arg("--channel").unwrap_or_else(|| "/bench/topic".into());
    let timeout = Duration::from_millis(
        arg("--timeout-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(60_000),
    );
    let config = ClientConfig {
        transports: vec![transport.clone()],
        ..ClientConfig::default()
    };

    let tally = Arc::new(Mutex::new(Tally::default()));
    let done = Arc::new(tokio::sync::Semaphore::new(0));
    let mut ready = Vec::new();
    for _ in 0..subscribers {
        let mut c = NativeClient::spawn(&url, config.clone());
        c.subscribe(&channel);
        let (tally, done, channel) = (tally.clone(), done.clone(), channel.clone());
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        ready.push(ready_rx);
        tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut seen = HashSet::new();
            while let Some(event) = c.next_event().await {
                match event {
                    Event::Subscribed { .. } => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Event::Message(m) if m.channel == channel => {
                        let data = m.data.unwrap_or_default();
                        let now = epoch_ms();
                        let mut t = tally.lock().unwrap();
                        if seen.insert(data["seq"].as_u64().unwrap_or(u64::MAX)) {
                            t.delivered += 1;
                            t.latencies
                                .push(now - data["sentAt"].as_f64().unwrap_or(now));
                            t.last_delivery_ms = now;
                        } else {
                            t.duplicates += 1;
                        }
                        if seen.len() as u64 == messages {
                            done.add_permits(1);
                        }
                    }
                    _ => {}
                }
            }
        });
    }
    // One deadline for the whole run: a client that keeps failing (refused, handshaking
    // again) must not keep the benchmark waiting past `--timeout-ms`.
    let deadline = tokio::time::Instant::now() + timeout;
    for r in ready {
        let _ = tokio::time::timeout_at(deadline, r).await;
    }

    let mut publisher = NativeClient::spawn(&url, config);
    publisher
        .wait_for(
            "publisher handshake",
            timeout,
            |e| matches!(e, Event::Handshaken { .. }).then_some(()),
            drop,
        )
        .await
        .expect("publisher handshakes");
    let started = epoch_ms();
    let interval = (rate > 0).then(|| Duration::from_secs_f64(1.0 / rate as f64));
    let mut outstanding = 0u32;
    for seq in 0..messages {
        if let Some(i) = interval {
            let due = Duration::from_secs_f64(seq as f64 * i.as_secs_f64());
            let elapsed = Duration::from_secs_f64((epoch_ms() - started).max(0.0) / 1000.0);
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
        while outstanding >= 50 {
            match tokio::time::timeout_at(deadline, publisher.next_event()).await {
                Ok(Some(Event::PublishAcked { .. } | Event::PublishFailed { .. })) => {
                    outstanding -= 1
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        publisher
            .publish(&channel, json!({ "seq": seq, "sentAt": epoch_ms() }))
            .await
            .expect("publish");
        outstanding += 1;
    }
    let finished = tokio::time::timeout_at(deadline, done.acquire_many(subscribers as u32))
        .await
        .is_ok();
    let t = tally.lock().unwrap();
    let mut sorted = t.latencies.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let seconds = ((t.last_delivery_ms - started) / 1000.0).max(1e-9);
    let mut out = json!({
        "client": "rust-native",
        "transport": transport,
        "subscribers": subscribers,
        "messages": messages,
        "expected": subscribers as u64 * messages,
        "delivered": t.delivered,
        "duplicates": t.duplicates,
        "seconds": seconds,
        "deliveries_per_s": t.delivered as f64 / seconds,
        "p50_ms": percentile(&sorted, 0.5),
        "p99_ms": percentile(&sorted, 0.99),
        "max_ms": sorted.last().copied().unwrap_or(0.0),
    });
    if !finished {
        out["error"] = json!("timed out before every subscriber got every message");
    }
    println!("{out}");
    std::process::exit(if finished { 0 } else { 1 });
}
