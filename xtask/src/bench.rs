//! `cargo xtask bench`: figures, printed side by side with the peer, never asserted.
//!
//! * `size`   — the built extension: each module raw and gzip -9.
//! * `bayeux` — our Bayeux server against the official CometD server for Node
//!   (`cometd-nodejs-server`), each loaded by our native client and by the official JavaScript
//!   client (`cometd`): deliveries/s, publish→receive latency p50/p99, server CPU time and
//!   peak memory. Long-polling is the transport both servers offer; our WebSocket is measured
//!   as an extra row.
//! * `cobrowse` — the live view (`server/examples/cobrowse_bench.rs`): change → agent view
//!   latency, late join, full snapshot, typical traffic with and without permessage-deflate,
//!   relay throughput with 50 sessions; ours next to a minimal Node `ws` relay.
//! * `desk` — the extension in headless Chromium and Firefox (`examples/desk_bench/`): a
//!   customer message → the popup's DOM, and a co-browse hand-over → the verified card.
//! * `load` — the reference server with 1,000 customers and 100 agents for 10 minutes and a
//!   `kill -9` at half time (`server/examples/load_bench.rs`): acknowledged sends lost (must be
//!   0: it fails otherwise), send latency p50/p99, the server's RSS over time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use testkit::process::Announced;

use crate::dist::{self, Browser};
use crate::process::run as run_cmd;
use crate::setup::ensure_build_tools;
use crate::Paths;

pub fn run(paths: &Paths, what: &str) -> Result<(), String> {
    let tools = ensure_build_tools(paths)?;
    match what {
        "size" => size(paths, &tools),
        "bayeux" => bayeux(paths),
        "cobrowse" => cobrowse(paths, &tools),
        "desk" => desk(paths, &tools),
        "load" => load(paths, &tools),
        "all" => size(paths, &tools)
            .and_then(|_| bayeux(paths))
            .and_then(|_| cobrowse(paths, &tools))
            .and_then(|_| desk(paths, &tools))
            .and_then(|_| load(paths, &tools)),
        other => Err(format!(
            "unknown benchmark {other:?} (size, bayeux, cobrowse, desk, load, all)"
        )),
    }
}

/// `cargo build --release` with these arguments, into our target directory.
fn cargo_release(paths: &Paths, args: &[&str]) -> Result<(), String> {
    run_cmd(
        Command::new("cargo")
            .args(["build", "--release"])
            .args(args)
            .current_dir(&paths.root)
            .env("CARGO_TARGET_DIR", &paths.target),
    )
}

/// Runs the release bench program `example` against the release server, with the browsers,
/// its figures saved to `<target>/bench/<example's figures>.json`.
fn run_bench_program(
    paths: &Paths,
    tools: &crate::setup::Tools,
    example: &str,
    figures: &str,
) -> Result<(), String> {
    let out = paths.target.join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    run_cmd(
        tools.browsers_for(
            Command::new(paths.target.join("release/examples").join(example))
                .current_dir(&paths.root)
                .env(
                    "COBROWSE_SERVER",
                    paths.target.join("release/cobrowse-server"),
                )
                .env("COBROWSE_DIST", &paths.dist)
                .env("COBROWSE_BENCH_JSON", out.join(format!("{figures}.json"))),
        ),
    )
}

/// Builds the release server and its example `example`, then runs it ([`run_bench_program`]).
fn server_example(
    paths: &Paths,
    tools: &crate::setup::Tools,
    example: &str,
    figures: &str,
) -> Result<(), String> {
    cargo_release(
        paths,
        &[
            "-p",
            "cobrowse-server",
            "--bin",
            "cobrowse-server",
            "--example",
            example,
        ],
    )?;
    run_bench_program(paths, tools, example, figures)
}

/// The co-browse figures: a release build of the server and the bench program, in headless
/// Chromium; the figures also go to `<target>/bench/cobrowse.json`.
fn cobrowse(paths: &Paths, tools: &crate::setup::Tools) -> Result<(), String> {
    server_example(paths, tools, "cobrowse_bench", "cobrowse")
}

/// The server under load (`server/examples/load_bench.rs`): 1,000 customers and 100 agents
/// for 10 minutes with a `kill -9` at half time (`LOAD_SECONDS`, `LOAD_CUSTOMERS`, … change
/// it); fails if an acknowledged send was lost. Figures also in `<target>/bench/load.json`.
fn load(paths: &Paths, tools: &crate::setup::Tools) -> Result<(), String> {
    server_example(paths, tools, "load_bench", "load")
}

/// The desk's figures: the built extension, a release server, both browsers; the figures also
/// go to `<target>/bench/desk.json`.
fn desk(paths: &Paths, tools: &crate::setup::Tools) -> Result<(), String> {
    dist::build(paths, tools)?;
    cargo_release(
        paths,
        &["-p", "cobrowse-server", "--bin", "cobrowse-server"],
    )?;
    cargo_release(paths, &["--example", "desk_bench"])?;
    run_bench_program(paths, tools, "desk_bench", "desk")
}

fn gzip_len(path: &Path) -> Option<u64> {
    crate::wasm_parts::gzip_len(&std::fs::read(path).ok()?).ok()
}

fn size(paths: &Paths, tools: &crate::setup::Tools) -> Result<(), String> {
    dist::build(paths, tools)?;
    println!("\n== extension size (dist/chrome; dist/firefox is the same files) ==");
    println!("{:34} {:>10} {:>10}", "file", "bytes", "gzip -9");
    let dir = dist::dist_dir(paths, Browser::Chrome);
    // What is printed, also as `<target>/bench/size.json`.
    let mut files = Vec::new();
    let mut modules = serde_json::Map::new();
    let mut total = (0, 0);
    for f in [
        "pkg/background_bg.wasm",
        "pkg/background.js",
        "pkg/popup_bg.wasm",
        "pkg/popup.js",
        "pkg/options_bg.wasm",
        "pkg/options.js",
        "background.js",
    ] {
        let p = dir.join(f);
        let raw = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let gz = gzip_len(&p).unwrap_or(0);
        total.0 += raw;
        total.1 += gz;
        println!("{f:34} {raw:>10} {gz:>10}");
        files.push(serde_json::json!({"file": f, "bytes": raw, "gzip": gz}));
    }
    println!("{:34} {:>10} {:>10}", "total", total.0, total.1);
    let twiggy = crate::setup::ensure_twiggy()?;
    // The shipped code with its names: each module bound and optimised again as the package
    // is, names kept on this copy (they are custom sections; the code is the same).
    let named = paths.dist.join(".sizes");
    let _ = std::fs::remove_dir_all(&named);
    for module in ["background", "popup", "options"] {
        let wasm =
            dist::bind_and_optimise(tools, &paths.target, module, &named, dist::Names::Kept)?;
        let csv = twiggy_top(&twiggy, &wasm)?;
        let rows = by_crate(&csv);
        let code: u64 = rows.iter().map(|(_, b)| b).sum();
        let bytes = std::fs::read(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
        let shares = crate::wasm_parts::gzip_shares(&crate::wasm_parts::parts(&bytes)?, group_of)?;
        let share_of = |group: &str| shares.iter().find(|(g, _)| g == group).map(|(_, s)| *s);
        println!(
            "\n== {module}: shipped code and data by crate (after wasm-opt: {code} bytes; \
             gzip share: what the module loses gzipped without it, given the rest) =="
        );
        println!(
            "{:34} {:>10} {:>11} {:>11}",
            "crate", "bytes", "of module", "gzip share"
        );
        for (name, bytes) in rows.iter().take(16) {
            let share = share_of(name).map_or_else(|| "-".to_owned(), |s| s.to_string());
            println!(
                "{name:34} {bytes:>10} {:>9.1} % {share:>11}",
                *bytes as f64 * 100.0 / code.max(1) as f64
            );
        }
        println!("-- {module}: the largest functions and data --");
        let largest = largest(&csv, 12);
        for (name, bytes) in &largest {
            println!("{bytes:>8}  {name}");
        }
        let crates: Vec<Value> = rows
            .iter()
            .map(|(name, bytes)| {
                serde_json::json!({"crate": name, "bytes": bytes, "gzip_share": share_of(name)})
            })
            .collect();
        let largest: Vec<Value> = largest
            .iter()
            .map(|(name, bytes)| serde_json::json!({"name": name, "bytes": bytes}))
            .collect();
        modules.insert(
            module.to_owned(),
            serde_json::json!({"code_bytes": code, "crates": crates, "largest": largest}),
        );
    }
    // serde's code by the type it is for: the names of generic functions carry their type
    // parameters only in the v0 mangling, so the modules are built once more with it, in a
    // target directory of their own (the shipped build keeps Rust's default; see
    // `dist::Symbols`).
    let v0_target = paths.target.join("v0-symbols");
    dist::build_wasm(paths, &v0_target, dist::Symbols::WithTypeParameters)?;
    for module in ["background", "popup", "options"] {
        let wasm = dist::bind_and_optimise(tools, &v0_target, module, &named, dist::Names::Kept)?;
        let csv = twiggy_top(&twiggy, &wasm)?;
        let rows = serde_by_type(&csv);
        let (decode, encode) = rows
            .iter()
            .fold((0, 0), |(d, e), r| (d + r.decode, e + r.encode));
        println!(
            "\n== {module}: serde's code by the type it reads or writes \
             (v0 symbol names; {decode} bytes decode, {encode} encode) =="
        );
        println!("{:60} {:>8} {:>8}", "type", "decode", "encode");
        for row in rows.iter().take(20) {
            println!("{:60} {:>8} {:>8}", row.ty, row.decode, row.encode);
        }
        let serde: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::json!({"type": r.ty, "decode": r.decode, "encode": r.encode}))
            .collect();
        if let Some(Value::Object(m)) = modules.get_mut(module) {
            m.insert("serde_by_type".to_owned(), Value::Array(serde));
        }
    }
    let _ = std::fs::remove_dir_all(&named);
    for zip in std::fs::read_dir(&paths.dist)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if zip.path().extension().is_some_and(|e| e == "zip") {
            let (name, bytes) = (
                zip.file_name().to_string_lossy().into_owned(),
                zip.metadata().map(|m| m.len()).unwrap_or(0),
            );
            println!("{name:34} {bytes:>10}");
            files.push(serde_json::json!({"file": name, "bytes": bytes}));
        }
    }
    let out = paths.target.join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let figures = serde_json::json!({"files": files, "modules": modules});
    let json = out.join("size.json");
    std::fs::write(&json, format!("{figures:#}\n"))
        .map_err(|e| format!("{}: {e}", json.display()))?;
    println!("figures: {}", json.display());
    Ok(())
}

/// twiggy's `top` rows (CSV) as (name, bytes): the functions, data segments and tables, without
/// the custom sections (names, `target_features`: the package ships none of them) and without
/// the describe functions wasm-bindgen removes (only in a module it has not bound).
fn twiggy_rows(csv: &str) -> impl Iterator<Item = (String, u64)> + '_ {
    csv.lines().skip(1).filter_map(|line| {
        // `Name,ShallowSize,…`; a name may be quoted and hold commas.
        let (name, rest) = match line.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find("\",")?;
                (quoted[..end].replace("\"\"", "\""), &quoted[end + 2..])
            }
            None => {
                let (n, r) = line.split_once(',')?;
                (n.to_owned(), r)
            }
        };
        let bytes = rest.split(',').next()?.parse::<u64>().ok()?;
        let left_out = name.starts_with('"')
            || name.starts_with("custom section")
            || name.starts_with("__wbindgen_describe")
            || name.starts_with("export ")
            || name.contains("WasmDescribe");
        (!left_out).then_some((name, bytes))
    })
}

/// twiggy's rows summed by what they belong to: the crate of a function, serde's generated code
/// apart (derives for our types, the rest of serde), `BTreeMap` code apart (the
/// monomorphisations of `alloc::collections::btree`), data segments, and the unnamed functions
/// wasm-bindgen writes (`code[…]`). Largest first.
pub fn by_crate(csv: &str) -> Vec<(String, u64)> {
    let mut sums: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (name, bytes) in twiggy_rows(csv) {
        let group = if name.starts_with("data segment") {
            "data".to_owned()
        } else if name.starts_with("code[") {
            group_of(None)
        } else {
            group_of(Some(&name))
        };
        *sums.entry(group).or_default() += bytes;
    }
    let mut rows: Vec<(String, u64)> = sums.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    rows
}

/// The group [`by_crate`] sums a function into, by its name (`None`: a function wasm-bindgen
/// wrote without one).
fn group_of(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "wasm-bindgen glue (unnamed)".to_owned();
    };
    if name.contains(" as serde") || name.contains("serde_core::") {
        if name.contains("cobrowse_agent::") {
            "serde derives (core types)".to_owned()
        } else {
            "serde (other)".to_owned()
        }
    } else if name.contains("alloc::collections::btree") {
        "BTreeMap/BTreeSet".to_owned()
    } else {
        let bare = name.trim_start_matches(['<', '&', '(', '[']);
        let bare = bare.strip_prefix("mut ").unwrap_or(bare);
        let bare = bare.strip_prefix("dyn ").unwrap_or(bare);
        bare.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .filter(|c| !c.is_empty())
            .unwrap_or("other")
            .to_owned()
    }
}

/// The `count` largest of twiggy's rows, their names [`readable`]. Largest first.
pub fn largest(csv: &str, count: usize) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = twiggy_rows(csv)
        .map(|(name, bytes)| (readable(&name), bytes))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    rows.truncate(count);
    rows
}

/// twiggy's `top` of a module, all rows, as CSV.
fn twiggy_top(twiggy: &Path, wasm: &Path) -> Result<String, String> {
    let out = Command::new(twiggy)
        .args(["top", "-n", "100000", "-f", "csv"])
        .arg(wasm)
        .output()
        .map_err(|e| format!("twiggy: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "twiggy {}: {}",
            wasm.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// serde's code for one of our types: the bytes of the functions that read it and that write it.
#[derive(Debug, PartialEq, Eq)]
pub struct SerdeCode {
    pub ty: String,
    pub decode: u64,
    pub encode: u64,
}

/// The crates whose types [`serde_by_type`] names (the project's own).
const OUR_CRATES: &[&str] = &[
    "cobrowse_agent::",
    "background::",
    "pages::",
    "popup::",
    "options::",
    "webext::",
];

/// Of twiggy's rows (from a build with v0 symbol names, where a generic function's name
/// carries its type parameters), serde's and serde_json's functions summed by the type they
/// are for: the innermost of our types in the name (`deserialize_map::<json::Wrapped<<
/// gws::Participant as Deserialize>::deserialize::__Visitor>>` is `gws::Participant`'s, a
/// `Vec<Line>`'s reader is `Line`'s), split into decoding and encoding (`::ser::` in the name);
/// what names none of our types is serde's and serde_json's own. Largest first.
pub fn serde_by_type(csv: &str) -> Vec<SerdeCode> {
    let mut sums: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (name, bytes) in twiggy_rows(csv) {
        let name = without_hashes(&name);
        if !name.contains("serde") {
            continue;
        }
        let ty = innermost_type_of_ours(&name)
            .unwrap_or_else(|| "(serde's and serde_json's own)".to_owned());
        let sum = sums.entry(ty).or_default();
        if name.contains("::ser::") {
            sum.1 += bytes;
        } else {
            sum.0 += bytes;
        }
    }
    let mut rows: Vec<SerdeCode> = sums
        .into_iter()
        .map(|(ty, (decode, encode))| SerdeCode { ty, decode, encode })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.decode + r.encode));
    rows
}

/// The last path in `name` into one of [`OUR_CRATES`] that names a type (up to its first
/// capitalised segment), without its crate: `chat::transcript::Line`.
fn innermost_type_of_ours(name: &str) -> Option<String> {
    let path_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut found: Option<(usize, String)> = None;
    for krate in OUR_CRATES {
        for (start, _) in name.match_indices(krate) {
            if name[..start].ends_with(path_char) {
                continue; // inside a longer path (`xpages::`)
            }
            let end = name[start..]
                .find(|c: char| !path_char(c))
                .map_or(name.len(), |i| start + i);
            let mut ty = Vec::new();
            for segment in name[start..end].split("::").skip(1) {
                ty.push(segment);
                if segment.starts_with(|c: char| c.is_ascii_uppercase()) {
                    if found.as_ref().is_none_or(|(at, _)| *at < start) {
                        found = Some((start, ty.join("::")));
                    }
                    break;
                }
            }
        }
    }
    found.map(|(_, ty)| ty)
}

/// A symbol's name without its hash (`::h0123456789abcdef`) and crate disambiguators
/// (`core[c5930c85a12de822]`), cut at 110 characters.
fn readable(name: &str) -> String {
    without_hashes(name).chars().take(110).collect()
}

/// A symbol's name without its hash and crate disambiguators (see [`readable`]).
fn without_hashes(name: &str) -> String {
    let is_hash = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let name = match name.rsplit_once("::h") {
        Some((head, hash)) if is_hash(hash) => head,
        _ => name,
    };
    let mut bare = String::with_capacity(name.len());
    let mut rest = name;
    while let Some((open, close)) = rest
        .find('[')
        .and_then(|open| Some((open, open + rest[open..].find(']')?)))
    {
        let kept = if is_hash(&rest[open + 1..close]) {
            open
        } else {
            close + 1
        };
        bare.push_str(&rest[..kept]);
        rest = &rest[close + 1..];
    }
    bare.push_str(rest);
    bare
}

/// A server under test, in its own process.
struct Server {
    child: Announced,
    port: u16,
}

impl Server {
    fn start(mut cmd: Command) -> Result<Server, String> {
        let child = Announced::spawn(cmd.stderr(Stdio::null()))?;
        let port = child
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok());
        match port {
            Some(port) => Ok(Server { child, port }),
            None => Err(format!("server said {:?}", child.line)),
        }
    }

    /// CPU seconds (user + system) so far.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3; utime 14, stime 15.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i)?.parse::<f64>().ok())
            .sum();
        ticks / 100.0
    }

    /// Peak resident memory in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }
}

struct Load {
    subscribers: u32,
    messages: u32,
    rate: u32,
}

fn bayeux(paths: &Paths) -> Result<(), String> {
    run_cmd(
        Command::new("cargo")
            .args(["build", "--release", "-p", "bayeux-net", "--bins"])
            .current_dir(&paths.root)
            .env("CARGO_TARGET_DIR", &paths.target),
    )?;
    let bin = |name: &str| paths.target.join("release").join(name);
    let interop = paths.root.join("tests/interop");
    let ours = || {
        let mut c = Command::new(bin("bayeux-interop-server"));
        c.args(["--port", "0"]);
        c
    };
    let official = || {
        let mut c = Command::new("node");
        c.arg(interop.join("cometd-server.mjs")).args([
            "--port",
            "0",
            "--max-sessions-per-browser",
            "100000",
        ]);
        c
    };
    let official_client = interop.join("bench-client.mjs");
    let loads = [
        Load {
            subscribers: 50,
            messages: 400,
            rate: 0,
        },
        Load {
            subscribers: 200,
            messages: 100,
            rate: 200,
        },
    ];
    println!("\n== Bayeux: servers and clients under the same load (one machine, loopback) ==");
    println!(
        "{:10} {:14} {:12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
        "server",
        "client",
        "transport",
        "load",
        "deliv/s",
        "p50 ms",
        "p99 ms",
        "lost",
        "cpu s",
        "peak MiB",
        "polls/sub"
    );
    for load in &loads {
        let rows: [(&str, &dyn Fn() -> Command, &str, &str); 5] = [
            ("ours", &ours, "rust-native", "long-polling"),
            ("official", &official, "rust-native", "long-polling"),
            ("ours", &ours, "official-js", "long-polling"),
            ("official", &official, "official-js", "long-polling"),
            ("ours", &ours, "rust-native", "websocket"),
        ];
        for (server_name, server_cmd, client, transport) in rows {
            let figures = measure(
                server_cmd(),
                client,
                transport,
                load,
                &bin("bayeux-bench-client"),
                &official_client,
            );
            let load_text = format!(
                "{}x{}@{}",
                load.subscribers,
                load.messages,
                if load.rate == 0 {
                    "max".into()
                } else {
                    load.rate.to_string()
                }
            );
            match figures {
                Ok((r, cpu, mem)) => println!(
                    "{:10} {:14} {:12} {:>12} {:>9.0} {:>9.1} {:>9.1} {:>9} {:>8.2} {:>8.1} {:>9}",
                    server_name,
                    client,
                    transport,
                    load_text,
                    r["deliveries_per_s"].as_f64().unwrap_or(0.0),
                    r["p50_ms"].as_f64().unwrap_or(0.0),
                    r["p99_ms"].as_f64().unwrap_or(0.0),
                    r["expected"]
                        .as_u64()
                        .unwrap_or(0)
                        .saturating_sub(r["delivered"].as_u64().unwrap_or(0)),
                    cpu,
                    mem,
                    r["connects_per_subscriber"]
                        .as_f64()
                        .map_or("—".into(), |c| format!("{c:.1}"))
                ),
                Err(e) => println!(
                    "{server_name:10} {client:14} {transport:12} {load_text:>12} failed: {e}"
                ),
            }
        }
    }
    println!(
        "(deliv/s: messages delivered to all subscribers per second; latency: publish → receive;"
    );
    println!(" cpu s / peak MiB: the server process only; lost: expected minus delivered;");
    println!(" polls/sub: each subscriber's /meta/connect round trips while the messages flowed,");
    println!(" as the official client counts them)");
    Ok(())
}

fn measure(
    server_cmd: Command,
    client: &str,
    transport: &str,
    load: &Load,
    rust_client: &Path,
    official_client: &PathBuf,
) -> Result<(Value, f64, f64), String> {
    let server = Server::start(server_cmd)?;
    let url = format!("http://127.0.0.1:{}/cometd", server.port);
    let cpu_before = server.cpu_seconds();
    let mut cmd = if client == "official-js" {
        if !official_client.is_file() {
            return Err(format!("{} is missing", official_client.display()));
        }
        let mut c = Command::new("node");
        c.arg(official_client);
        c
    } else {
        Command::new(rust_client)
    };
    cmd.args(["--url", &url, "--transport", transport])
        .args(["--subscribers", &load.subscribers.to_string()])
        .args(["--messages", &load.messages.to_string()])
        .args(["--rate", &load.rate.to_string(), "--timeout-ms", "60000"]);
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(100));
    let cpu = server.cpu_seconds() - cpu_before;
    let mem = server.peak_rss_mib();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("client printed nothing ({})", out.status))?;
    let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if let Some(e) = value.get("error") {
        return Err(e.to_string());
    }
    Ok((value, cpu, mem))
}

#[cfg(test)]
mod size_tests {
    use super::{by_crate, largest, serde_by_type, SerdeCode};

    #[test]
    fn twiggy_rows_are_summed_by_crate_with_serde_and_btree_apart() {
        let csv = "Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent\n\
            \"\"\"function names\"\" subsection\",800,29.5,,\n\
            custom section '__wasm_bindgen_unstable',500,18.4,,\n\
            cobrowse_agent::agent::Session::handle::h92160d2538121338,100,1,,\n\
            \"<cobrowse_agent::protocol::X as serde_core::de::Deserialize>::deserialize::h1, with comma\",40,1,,\n\
            \"<&mut serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_struct::h2\",30,1,,\n\
            alloc::collections::btree::node::Handle<K>::insert::h3,20,1,,\n\
            cobrowse_agent::chat::desk::Desk::change::h4,10,1,,\n\
            \"<js_sys::Intl::X as wasm_bindgen::describe::WasmDescribe>::describe::h5\",9,1,,\n\
            code[12],3,1,,\n\
            data segment \".rodata\",5,1,,\n";
        assert_eq!(
            by_crate(csv),
            [
                ("cobrowse_agent".to_owned(), 110),
                ("serde derives (core types)".to_owned(), 40),
                ("serde (other)".to_owned(), 30),
                ("BTreeMap/BTreeSet".to_owned(), 20),
                ("data".to_owned(), 5),
                ("wasm-bindgen glue (unnamed)".to_owned(), 3),
            ]
        );
    }

    #[test]
    fn serde_code_is_summed_by_the_innermost_of_our_types_it_is_for() {
        let csv = "Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent\n\
            \"<&mut serde_json[df6015b814498836]::de::Deserializer<serde_json[df6015b814498836]::read::StrRead> as serde_core[121da23b088ab6bb]::de::Deserializer>::deserialize_map::<cobrowse_agent[a17957cc1d40aaed]::json::Wrapped<<cobrowse_agent[a17957cc1d40aaed]::gws::Participant as serde_core[121da23b088ab6bb]::de::Deserialize>::deserialize::__Visitor>>\",400,1,,\n\
            \"<<cobrowse_agent::gws::Participant as serde_core::de::Deserialize>::deserialize::__Visitor as serde_core::de::Visitor>::visit_map::<serde_json::de::MapAccess<_>>\",100,1,,\n\
            \"<cobrowse_agent::json::Wrapped<<alloc::vec::Vec<cobrowse_agent::chat::transcript::Line> as serde_core::de::Deserialize>::deserialize::VecVisitor<cobrowse_agent::chat::transcript::Line>> as serde_core::de::Visitor>::visit_seq::<_>\",50,1,,\n\
            \"<cobrowse_agent::gws::Participant as serde_core::ser::Serialize>::serialize::<&mut serde_json::ser::Serializer<&mut alloc::vec::Vec<u8>>>\",30,1,,\n\
            <serde_json::error::Error as serde_core::de::Error>::custom::<alloc::string::String>,20,1,,\n\
            cobrowse_agent::agent::Session::handle,900,1,,\n\
            data segment \".rodata\",5,1,,\n";
        let row = |ty: &str, decode, encode| SerdeCode {
            ty: ty.to_owned(),
            decode,
            encode,
        };
        assert_eq!(
            serde_by_type(csv),
            [
                row("gws::Participant", 500, 30),
                row("chat::transcript::Line", 50, 0),
                row("(serde's and serde_json's own)", 20, 0),
            ]
        );
    }

    #[test]
    fn the_largest_rows_lose_their_hashes_and_crate_disambiguators() {
        let csv = "Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent\n\
            \"\"\"function names\"\" subsection\",800,29.5,,\n\
            core[c5930c85a12de822]::num::flt2dec::format_shortest,60,1,,\n\
            \"<[T] as core::fmt::Debug>::fmt::h0123456789abcdef\",70,1,,\n\
            data segment \".rodata\",5,1,,\n";
        assert_eq!(
            largest(csv, 2),
            [
                ("<[T] as core::fmt::Debug>::fmt".to_owned(), 70),
                ("core::num::flt2dec::format_shortest".to_owned(), 60),
            ]
        );
    }
}
