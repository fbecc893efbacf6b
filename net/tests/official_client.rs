//! Interop: the official CometD JavaScript client (npm `cometd` + `cometd-nodejs-client`, run
//! by tests/interop/cometd-client.mjs) against our server, over WebSocket and long-polling,
//! with and without the official ack extension.

use std::path::PathBuf;
use std::process::Command;

use bayeux_net::interop;
use cobrowse_agent::bayeux::server::ServerConfig;

const STEPS: &str =
    "handshake,connect,subscribe,publish,echo,server-publish,expire,publish,disconnect";

fn run_official_client(url: &str, transport: &str, ack: bool) -> Result<String, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("node_modules/cometd").is_dir(),
        "npm packages missing: run `cargo xtask test` (it runs `npm ci`)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/interop/cometd-client.mjs")).args([
        "--url",
        url,
        "--transport",
        transport,
        "--steps",
        STEPS,
        "--timeout-ms",
        "30000",
    ]);
    if ack {
        cmd.arg("--ack");
    }
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && stdout.lines().last() == Some(r#"{"step":"done","ok":true}"#) {
        Ok(stdout)
    } else {
        Err(format!(
            "{transport} ack={ack}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_passes_every_step_over_both_transports_with_and_without_ack() {
    let config = ServerConfig {
        timeout_ms: 2000,
        ..ServerConfig::default()
    };
    let (addr, _bayeux) = interop::serve(config).await.unwrap();
    let url = format!("http://{addr}/cometd");
    for transport in ["websocket", "long-polling"] {
        for ack in [false, true] {
            let url = url.clone();
            let result =
                tokio::task::spawn_blocking(move || run_official_client(&url, transport, ack))
                    .await
                    .unwrap();
            match result {
                Ok(out) => {
                    assert!(
                        out.contains(&format!(r#""transport":"{transport}""#)),
                        "negotiated another transport:\n{out}"
                    );
                    println!("official client over {transport} (ack={ack}): every step passed");
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

/// The benchmark's server holds as many sessions as its load brings: 20 official clients,
/// each its own session of the one anonymous principal, all receive every message (with the
/// product's cap of 8 sessions a principal, the older ones were evicted and the benchmark
/// hung).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_server_serves_every_subscriber_of_a_load() {
    let (addr, _bayeux) = interop::serve(interop::benchmark_config(2000))
        .await
        .unwrap();
    let url = format!("http://{addr}/cometd");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(root.join("tests/interop/bench-client.mjs"))
            .args(["--url", &url, "--transport", "long-polling"])
            .args(["--subscribers", "20", "--messages", "5", "--rate", "0"])
            .args(["--timeout-ms", "30000"])
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "the bench client printed no result: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(result.get("error"), None, "{result}");
    assert_eq!(
        (&result["delivered"], &result["duplicates"]),
        (&serde_json::json!(100), &serde_json::json!(0)),
        "{result}"
    );
}
