//! `cargo xtask soak [--seconds N] [--seed N]`: the long soak, on its own command (not part of
//! `test`, which runs a short one).
//!
//! 1. In Chromium, then Firefox: five chats both ways for `--seconds` (default 600) through the
//!    background stopped, the server `kill -9`ed and restarted, the network dropped for 1 to
//!    120 s and bursts at the server's per-chat limit (`tests/support/soak.rs`); every
//!    transcript compared with the server's.
//! 2. The decoders that take outside bytes (Bayeux frames, GWS bodies and notifications, the
//!    page ↔ background protocol) fed generated inputs by the millions (`tests/decoders_fuzz.rs`,
//!    proptest; a failing input is saved under `tests/decoders_fuzz.proptest-regressions`),
//!    and GMS bodies, form-encoded or any bytes, sent to the real server by the ten thousand
//!    (`server/tests/gms_fuzz.rs`: never a 5xx, always Genesys JSON).
//!
//! Prints the figures side by side; exits non-zero when anything was lost, duplicated or
//! reordered, or a decoder panicked.

use std::path::Path;
use std::process::Command;

use crate::setup::{ensure_build_tools, Tools};
use crate::{dist, Paths};

struct Options {
    seconds: u64,
    seed: Option<u64>,
    fuzz_cases: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seconds: 600,
        seed: None,
        fuzz_cases: 1_000_000,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--seconds" => o.seconds = number("--seconds")?,
            "--seed" => o.seed = Some(number("--seed")?),
            "--fuzz-cases" => o.fuzz_cases = number("--fuzz-cases")?,
            other => return Err(format!("soak: unknown argument {other}")),
        }
    }
    Ok(o)
}

fn cargo(paths: &Paths) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(&paths.root)
        .env("CARGO_TARGET_DIR", &paths.target);
    c
}

fn browser_soak(
    paths: &Paths,
    tools: &Tools,
    o: &Options,
    server: &Path,
    target: &str,
    figures: &Path,
) -> Result<(), String> {
    let _ = std::fs::remove_file(figures);
    let mut c = cargo(paths);
    c.args([
        "test",
        "-p",
        "cobrowse-agent",
        "--test",
        target,
        "chats_survive_a_soak_of_faults",
        "--",
        "--exact",
        "--nocapture",
    ])
    .env("COBROWSE_DIST", &paths.dist)
    .env("COBROWSE_SERVER", server)
    .env("COBROWSE_SOAK_SECONDS", o.seconds.to_string())
    .env("COBROWSE_SOAK_JSON", figures);
    tools.browsers_for(&mut c);
    if let Some(seed) = o.seed {
        c.env("COBROWSE_SOAK_SEED", seed.to_string());
    }
    crate::process::run(&mut c)
}

pub fn run(paths: &Paths, args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let tools = ensure_build_tools(paths)?;
    dist::build(paths, &tools)?;
    let server = crate::test::build_server(paths)?;
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for (browser, target) in [("Chromium", "e2e_chromium"), ("Firefox", "e2e_firefox")] {
        println!("\n==> soak in {browser}, {} s", o.seconds);
        let figures = paths.target.join(format!("soak-{target}.json"));
        if let Err(e) = browser_soak(paths, &tools, &o, &server, target, &figures) {
            failures.push(format!("{browser}: {e}"));
        }
        let row = std::fs::read_to_string(&figures)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        rows.push((browser, row));
    }

    println!(
        "\n==> decoders under generated input ({} cases each)",
        o.fuzz_cases
    );
    let fuzz = crate::process::run(
        cargo(paths)
            .args([
                "test",
                "--release",
                "-p",
                "cobrowse-agent",
                "--test",
                "decoders_fuzz",
                "--",
                "--nocapture",
            ])
            .env("PROPTEST_CASES", o.fuzz_cases.to_string()),
    );
    if let Err(e) = &fuzz {
        failures.push(format!("decoders: {e}"));
    }
    // GMS bodies go to the real server over HTTP (hundreds a second): a fiftieth as many.
    let gms_cases = (o.fuzz_cases / 50).max(300);
    println!("\n==> GMS bodies to the real server ({gms_cases} cases)");
    let gms = crate::process::run(
        cargo(paths)
            .args([
                "test",
                "--release",
                "-p",
                "cobrowse-server",
                "--test",
                "gms_fuzz",
                "--",
                "--nocapture",
            ])
            .env("GMS_FUZZ_CASES", gms_cases.to_string()),
    );
    if let Err(e) = &gms {
        failures.push(format!("GMS bodies: {e}"));
    }

    println!("\n==> soak figures");
    let keys = [
        "seed",
        "seconds",
        "customer_messages",
        "agent_messages",
        "refused_by_rate_limit",
        "background_stops",
        "server_kills",
        "network_outages",
        "network_down_s",
        "bursts",
        "lost",
        "duplicated",
        "reordered",
    ];
    println!("{:24} {:>22} {:>22}", "", rows[0].0, rows[1].0);
    for key in keys {
        let cell = |row: &Option<serde_json::Value>| {
            row.as_ref()
                .map(|r| r[key].to_string())
                .unwrap_or_else(|| "(no figures)".into())
        };
        println!("{key:24} {:>22} {:>22}", cell(&rows[0].1), cell(&rows[1].1));
    }
    println!(
        "decoders: {}",
        if fuzz.is_ok() {
            format!("{} generated inputs each, 0 panics", o.fuzz_cases)
        } else {
            "FAILED".into()
        }
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}
