//! The soak: five chats going both ways through every fault the desk meets in a day, then
//! every transcript compared with the server's. Faults, on a seeded schedule (the seed is
//! printed; `COBROWSE_SOAK_SEED` replays it): the background stopped (Chromium: its service
//! worker closed through CDP, as Chrome stops an idle one; Firefox: the event page terminated
//! from about:debugging), the server `kill -9`ed and restarted, the network between the extension and the
//! server dropped (a TCP proxy that the soak cuts and restores), and bursts at the server's
//! per-chat limit. The verdict: 0 lost, 0 duplicated, 0 reordered, both ways, in the popup and
//! on the server, and every message the agent wrote shown as sent exactly once.
//!
//! `cargo xtask test` runs a short soak (`COBROWSE_SOAK_SECONDS`, default 45); `cargo xtask
//! soak` runs a long one in both browsers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::agent_desk::{accept, open_chat, sign_in_at};
use super::*;

const CHATS: usize = 5;
/// How long the desk may take to show everything once the faults stop (a busy machine).
const SETTLE: Duration = Duration::from_secs(120);

/// The schedule's knobs, from the environment.
#[derive(Debug, Clone, Copy)]
pub struct SoakPlan {
    pub seconds: u64,
    pub seed: u64,
    /// A network outage lasts 1 s up to this.
    pub longest_outage_s: u64,
}

impl SoakPlan {
    pub fn from_env() -> SoakPlan {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let seconds = var("COBROWSE_SOAK_SECONDS").unwrap_or(45);
        let seed = var("COBROWSE_SOAK_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
        // Outages up to 120 s in a long soak; a short one keeps them short.
        let longest_outage_s = if seconds >= 600 { 120 } else { 6 };
        SoakPlan {
            seconds,
            seed,
            longest_outage_s,
        }
    }
}

/// splitmix64: a seeded sequence, so a failing schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.between(lo * 1000, hi * 1000))
    }
}

/// What happened, for the report.
#[derive(Debug, Default)]
struct Tally {
    customer_sent: usize,
    agent_sent: usize,
    refused_by_rate_limit: usize,
    background_stops: usize,
    server_kills: usize,
    outages: usize,
    outage_s: f64,
    bursts: usize,
}

/// How `got` differs from `want` (each entry unique): missing, duplicated, out of order.
fn compare(want: &[String], got: &[String]) -> (usize, usize, usize) {
    let lost = want.iter().filter(|w| !got.contains(w)).count();
    let mut seen = std::collections::HashSet::new();
    let duplicated = got.iter().filter(|g| !seen.insert(*g)).count();
    let positions: Vec<usize> = got
        .iter()
        .filter_map(|g| want.iter().position(|w| w == g))
        .collect();
    let reordered = positions.windows(2).filter(|w| w[1] < w[0]).count();
    (lost, duplicated, reordered)
}

/// Texts of the lines matching `css` in the page, in order, in one round trip.
async fn texts(s: &Session, css: &str) -> Result<Vec<String>, String> {
    let v = s
        .client
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
            vec![json!(css)],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

const CUSTOMER_LINES: &str = "#transcript li[data-role='customer']:not(.system) .body";
const AGENT_LINES: &str = "#transcript li[data-role='agent']:not(.system) .body";
const OUTGOING: &str = "#transcript li.outgoing";

/// The chat's whole transcript as the server keeps it (the customer's view, page by page).
async fn server_transcript(c: &Customer) -> Vec<Value> {
    let mut all = Vec::new();
    let mut position = 1i64;
    loop {
        let (status, r) = c
            .call("refresh", &[("transcriptPosition", &position.to_string())])
            .await;
        assert_eq!(status, 200, "refresh: {r}");
        let page = r["messages"].as_array().cloned().unwrap_or_default();
        let next = r["nextPosition"].as_i64().unwrap_or(position);
        if page.is_empty() || next <= position {
            return all;
        }
        all.extend(page);
        position = next;
    }
}

/// The agent writes `text` into the chat shown and sends it, as an agent does: if the background could not take it (the
/// browser stopped it just then), the text is back in the composer, so send it again.
async fn agent_writes(s: &Session, text: &str) -> Result<(), String> {
    s.fill("#composer-input", text).await?;
    s.click("#send").await?;
    loop {
        let returned = s
            .wait_for("the background to take or return the message", || async {
                let state = s.attr("#composer", "data-state").await?;
                let holds_it = s.value("#composer-input").await.as_deref() == Some(text);
                match state.as_str() {
                    // Taken once the composer no longer holds it (the page has rendered).
                    "taken" if !holds_it => Some(false),
                    "returned" if holds_it => Some(true),
                    _ => None,
                }
            })
            .await?;
        if !returned {
            return Ok(());
        }
        s.click("#send").await?;
    }
}

/// The soak itself; the figures go to stdout (and `COBROWSE_SOAK_JSON`, when set).
pub async fn chats_survive_a_soak_of_faults(s: &Session) -> Result<(), String> {
    let plan = SoakPlan::from_env();
    println!(
        "soak {:?}: seed {} for {} s (replay with COBROWSE_SOAK_SEED={})",
        s.browser, plan.seed, plan.seconds, plan.seed
    );
    let mut rng = Rng(plan.seed);
    let mut server = ReferenceServer::start_from_env(&["--max-chats", "10"]);
    let backend: SocketAddr = server
        .url
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("server address: {e}"))?;
    let proxy = testkit::proxy::Proxy::start(backend).await;
    sign_in_at(s, &format!("http://{}", proxy.addr)).await?;
    let mut customers = Vec::new();
    for n in 0..CHATS {
        let c = Customer::request(&server, &format!("Soak{n}")).await;
        accept(s, &c).await?;
        customers.push(c);
    }
    let mut want_customer: Vec<Vec<String>> = vec![Vec::new(); CHATS];
    let mut want_agent: Vec<Vec<String>> = vec![Vec::new(); CHATS];
    let mut tally = Tally::default();
    let start = Instant::now();
    let end = start + Duration::from_secs(plan.seconds);
    let mut next_stop = start + rng.secs(10, 30);
    let mut next_kill = start + rng.secs(15, 40);
    let mut next_outage = start + rng.secs(8, 25);
    // While the network is down: since when, and until when.
    let mut outage: Option<(Instant, Instant)> = None;
    let mut next_burst = start + rng.secs(10, 30);
    let mut shown: Option<usize> = None;

    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_stop {
            match s.browser {
                Browser::Chromium => stop_service_worker(s).await?,
                Browser::Firefox => terminate_event_page(s).await?,
            }
            tally.background_stops += 1;
            next_stop = Instant::now() + rng.secs(10, 30);
        }
        if now >= next_kill {
            server = server.restart();
            tally.server_kills += 1;
            next_kill = Instant::now() + rng.secs(20, 60);
        }
        match outage {
            Some((since, until)) if now >= until => {
                proxy.set_down(false);
                tally.outage_s += (now - since).as_secs_f64();
                outage = None;
                next_outage = Instant::now() + rng.secs(8, 30);
            }
            None if now >= next_outage => {
                let length = rng.secs(1, plan.longest_outage_s);
                proxy.set_down(true);
                tally.outages += 1;
                outage = Some((now, now + length));
            }
            _ => {}
        }
        if now >= next_burst {
            // Every chat at once, as fast as the server takes it, until it says 429.
            for (n, c) in customers.iter().enumerate() {
                for _ in 0..40 {
                    let text = format!("c{n}-{}", want_customer[n].len());
                    let (status, _) = c.call("send", &[("message", &text)]).await;
                    match status {
                        200 => {
                            want_customer[n].push(text);
                            tally.customer_sent += 1;
                        }
                        429 => {
                            tally.refused_by_rate_limit += 1;
                            break;
                        }
                        other => return Err(format!("customer send: HTTP {other}")),
                    }
                }
            }
            tally.bursts += 1;
            next_burst = Instant::now() + rng.secs(15, 40);
        }
        let n = rng.between(0, CHATS as u64 - 1) as usize;
        if rng.between(0, 1) == 0 {
            let text = format!("c{n}-{}", want_customer[n].len());
            let (status, _) = customers[n].call("send", &[("message", &text)]).await;
            match status {
                200 => {
                    want_customer[n].push(text);
                    tally.customer_sent += 1;
                }
                429 => tally.refused_by_rate_limit += 1,
                other => return Err(format!("customer send: HTTP {other}")),
            }
        } else {
            if shown != Some(n) {
                open_chat(s, &customers[n].chat_id).await?;
                shown = Some(n);
            }
            let text = format!("a{n}-{}", want_agent[n].len());
            agent_writes(s, &text).await?;
            want_agent[n].push(text);
            tally.agent_sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.between(50, 250))).await;
    }
    proxy.set_down(false);
    if let Some((since, _)) = outage {
        tally.outage_s += since.elapsed().as_secs_f64();
    }

    // Settle, then compare every chat: the popup, and the server's transcript.
    let mut verdict = Vec::new();
    let (mut lost, mut duplicated, mut reordered) = (0, 0, 0);
    for (n, c) in customers.iter().enumerate() {
        open_chat(s, &c.chat_id).await?;
        let settled = s
            .wait_for_within(&format!("chat {n} to settle"), SETTLE, || async {
                // A long chat shows its newest lines first: show them all.
                if s.text("#earlier-lines").await.is_some() {
                    let _ = s.click("#earlier-lines").await;
                    return None;
                }
                let customer = texts(s, CUSTOMER_LINES).await.ok()?;
                let agent = texts(s, AGENT_LINES).await.ok()?;
                let pending = texts(s, OUTGOING).await.ok()?;
                (customer == want_customer[n] && agent == want_agent[n] && pending.is_empty())
                    .then_some(())
            })
            .await;
        let customer = texts(s, CUSTOMER_LINES).await?;
        let agent = texts(s, AGENT_LINES).await?;
        let pending = texts(s, OUTGOING).await?;
        let transcript = server_transcript(c).await;
        let on_server = |kind: &str| -> Vec<String> {
            transcript
                .iter()
                .filter(|m| m["type"] == "Message" && m["from"]["type"] == kind)
                .filter_map(|m| m["text"].as_str().map(str::to_owned))
                .collect()
        };
        for (what, want, got) in [
            ("popup, customer lines", &want_customer[n], &customer),
            ("popup, agent lines", &want_agent[n], &agent),
            (
                "server, customer lines",
                &want_customer[n],
                &on_server("Client"),
            ),
            ("server, agent lines", &want_agent[n], &on_server("Agent")),
        ] {
            let (l, d, r) = compare(want, got);
            lost += l;
            duplicated += d;
            reordered += r;
            if (l, d, r) != (0, 0, 0) {
                verdict.push(format!(
                    "chat {n}, {what}: {l} lost, {d} duplicated, {r} reordered"
                ));
            }
        }
        if !pending.is_empty() {
            verdict.push(format!("chat {n}: still on its way: {pending:?}"));
        }
        if settled.is_err() && verdict.is_empty() {
            verdict.push(format!("chat {n} did not settle"));
        }
    }
    let figures = json!({
        "browser": format!("{:?}", s.browser),
        "seed": plan.seed,
        "seconds": plan.seconds,
        "chats": CHATS,
        "customer_messages": tally.customer_sent,
        "agent_messages": tally.agent_sent,
        "refused_by_rate_limit": tally.refused_by_rate_limit,
        "background_stops": tally.background_stops,
        "server_kills": tally.server_kills,
        "network_outages": tally.outages,
        "network_down_s": (tally.outage_s * 10.0).round() / 10.0,
        "bursts": tally.bursts,
        "lost": lost,
        "duplicated": duplicated,
        "reordered": reordered,
    });
    println!("soak {:?}: {figures}", s.browser);
    if let Ok(path) = std::env::var("COBROWSE_SOAK_JSON") {
        let _ = std::fs::write(path, figures.to_string());
    }
    drop(server);
    if verdict.is_empty() {
        Ok(())
    } else {
        let kept = keep_for_post_mortem(s, plan.seed).await;
        Err(format!(
            "soak (seed {}): {}; {kept}",
            plan.seed,
            verdict.join("; ")
        ))
    }
}

/// After a failed soak: the extension's storage (both areas, credentials left out) and the
/// popup's page, written to a file under the system's temporary directory for a post-mortem.
async fn keep_for_post_mortem(s: &Session, seed: u64) -> String {
    let script = "const done = arguments[arguments.length - 1];
        const api = (globalThis.browser ?? globalThis.chrome).storage;
        Promise.all([api.local.get(null), api.session.get(null)]).then(([local, session]) => {
          delete session.credentials;
          done({ local, session, page: document.documentElement.outerHTML });
        }, (e) => done({ error: String(e) }));";
    let dump = match s.client.execute_async(script, vec![]).await {
        Ok(v) => v,
        Err(e) => return format!("no post-mortem: {e}"),
    };
    let path = std::env::temp_dir().join(format!("soak-{:?}-{seed}.json", s.browser));
    match std::fs::write(&path, dump.to_string()) {
        Ok(()) => format!("storage and page kept in {}", path.display()),
        Err(e) => format!("no post-mortem: {e}"),
    }
}
