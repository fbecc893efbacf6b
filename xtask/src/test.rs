//! `cargo xtask test`: every check, in order, with a summary. A browser suite that ran no test
//! counts as failed, so a missing browser or driver can never pass silently.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::process::Announced;

use crate::dist::{self, Browser};
use crate::process::{count_tests, run_captured};
use crate::setup::{ensure_build_tools, Tools, WASM_TARGET};
use crate::Paths;

struct Outcome {
    name: String,
    ok: bool,
    passed: u32,
    failed: u32,
    seconds: f64,
    note: String,
}

struct Runner<'a> {
    paths: &'a Paths,
    outcomes: Vec<Outcome>,
}

/// How a step is judged beyond its exit code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exit code only (fmt, clippy, build).
    Success,
    /// Exit 0 and at least one test passed.
    Tests,
}

impl Runner<'_> {
    fn cargo(&self) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&self.paths.root)
            .env("CARGO_TARGET_DIR", &self.paths.target)
            .env("CARGO_TERM_COLOR", "never");
        cmd
    }

    fn step(&mut self, name: &str, expect: Expect, limit_secs: u64, mut cmd: Command) {
        println!("\n==> {name}");
        let start = Instant::now();
        let (ok, passed, failed, note) =
            match run_captured(&mut cmd, Duration::from_secs(limit_secs)) {
                Ok(c) => {
                    let (passed, failed) = count_tests(&c.text);
                    let mut note = String::new();
                    let mut ok = c.success;
                    if c.timed_out {
                        note = format!("timed out after {limit_secs}s");
                    } else if expect == Expect::Tests && passed == 0 {
                        ok = false;
                        note = "no test ran".into();
                    }
                    (ok, passed, failed, note)
                }
                Err(e) => (false, 0, 0, e),
            };
        self.outcomes.push(Outcome {
            name: name.to_owned(),
            ok,
            passed,
            failed,
            seconds: start.elapsed().as_secs_f64(),
            note,
        });
    }

    fn record(&mut self, name: &str, result: Result<(), String>, start: Instant) {
        let note = result.as_ref().err().cloned().unwrap_or_default();
        if !note.is_empty() {
            eprintln!("xtask: {name}: {note}");
        }
        self.outcomes.push(Outcome {
            name: name.to_owned(),
            ok: result.is_ok(),
            passed: 0,
            failed: 0,
            seconds: start.elapsed().as_secs_f64(),
            note,
        });
    }
}

/// Builds the reference server (debug) the end-to-end suites run; its path.
pub fn build_server(paths: &Paths) -> Result<std::path::PathBuf, String> {
    build_bin(paths, "cobrowse-server", "cobrowse-server")
}

/// `cargo build` (debug) of one binary of the workspace; its path.
fn build_bin(paths: &Paths, package: &str, bin: &str) -> Result<std::path::PathBuf, String> {
    crate::process::run(
        Command::new("cargo")
            .args(["build", "-q", "-p", package, "--bin", bin])
            .current_dir(&paths.root)
            .env("CARGO_TARGET_DIR", &paths.target),
    )
    .map(|_| paths.target.join("debug").join(bin))
}

/// Names of `tests/*.rs` in the root package, split into host tests and browser suites.
fn root_test_targets(paths: &Paths) -> Result<(Vec<String>, Vec<String>), String> {
    let mut host = Vec::new();
    let mut e2e = Vec::new();
    for entry in std::fs::read_dir(paths.root.join("tests")).map_err(|e| e.to_string())? {
        let name = entry
            .map_err(|e| e.to_string())?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(".rs") {
            if stem.starts_with("e2e_") {
                e2e.push(stem.to_owned());
            } else {
                host.push(stem.to_owned());
            }
        }
    }
    host.sort();
    e2e.sort();
    Ok((host, e2e))
}

fn lint_firefox(tools: &Tools, root: &Path, dir: &Path) -> Result<(), String> {
    let out = Command::new(tools.npm_bin.join("web-ext"))
        .args(["lint", "--output", "json", "--source-dir"])
        .arg(dir)
        .output()
        .map_err(|e| format!("web-ext lint: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find('{')
        .ok_or_else(|| format!("web-ext lint printed no JSON: {text}"))?;
    let report: serde_json::Value =
        serde_json::from_str(&text[start..]).map_err(|e| format!("web-ext lint JSON: {e}"))?;
    for kind in ["errors", "warnings", "notices"] {
        for finding in report[kind].as_array().into_iter().flatten() {
            println!(
                "web-ext lint {kind}: {} {} ({})",
                finding["code"].as_str().unwrap_or("?"),
                finding["message"].as_str().unwrap_or(""),
                finding["file"].as_str().unwrap_or("")
            );
        }
    }
    let errors = report["summary"]["errors"]
        .as_u64()
        .ok_or("web-ext lint: no summary.errors")?;
    // Every warning left is explained in ARCHITECTURE.md, under "Known lint warnings".
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md"))
        .map_err(|e| format!("ARCHITECTURE.md: {e}"))?;
    let explained = architecture
        .split("## Known lint warnings")
        .nth(1)
        .map(|rest| rest.split("\n## ").next().unwrap_or(rest))
        .ok_or("ARCHITECTURE.md has no \"## Known lint warnings\" section")?;
    let unexplained: Vec<&str> = report["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["code"].as_str())
        .filter(|code| !explained.contains(&format!("`{code}`")))
        .collect();
    if !unexplained.is_empty() {
        return Err(format!(
            "web-ext lint warnings not explained in ARCHITECTURE.md (Known lint warnings): {unexplained:?}"
        ));
    }
    println!(
        "web-ext lint: {errors} errors, {} warnings, {} notices",
        report["summary"]["warnings"], report["summary"]["notices"]
    );
    if errors == 0 {
        Ok(())
    } else {
        Err(format!(
            "web-ext lint found {errors} errors in {}",
            dir.display()
        ))
    }
}

/// Our Bayeux endpoint in a child process (killed on drop), with CORS for the test pages.
/// A server the wasm tests talk to; stops when dropped.
struct TestServer {
    _process: Announced,
    url: String,
}

fn start_bayeux_test_server(paths: &Paths) -> Result<TestServer, String> {
    let bin = build_bin(paths, "bayeux-net", "bayeux-interop-server")?;
    let process = Announced::spawn(Command::new(bin).args(["--port", "0", "--cors"]))?;
    let port = process
        .line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| format!("bayeux-interop-server said {:?}", process.line))?
        .to_owned();
    Ok(TestServer {
        url: format!("http://127.0.0.1:{port}"),
        _process: process,
    })
}

pub fn run(paths: &Paths) -> Result<(), String> {
    let started = Instant::now();
    let tools = ensure_build_tools(paths)?;
    let mut r = Runner {
        paths,
        outcomes: Vec::new(),
    };

    let mut fmt = r.cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    r.step("cargo fmt --check", Expect::Success, 120, fmt);

    let mut clippy = r.cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    r.step("clippy (host)", Expect::Success, 1200, clippy);

    let mut clippy = r.cargo();
    clippy.args(["clippy", "--target", WASM_TARGET, "--all-targets"]);
    for p in [
        "cobrowse-agent",
        "webext",
        "background",
        "pages",
        "popup",
        "options",
    ] {
        clippy.args(["-p", p]);
    }
    clippy.args(["--", "-D", "warnings"]);
    r.step("clippy (wasm32)", Expect::Success, 1200, clippy);

    let (host_targets, e2e_targets) = root_test_targets(paths)?;
    let mut host = r.cargo();
    host.args(["test", "--workspace", "--lib", "--bins"]);
    r.step("host unit tests", Expect::Tests, 1200, host);
    let mut host = r.cargo();
    host.args(["test", "-p", "cobrowse-agent"]);
    for t in &host_targets {
        host.args(["--test", t]);
    }
    r.step("host integration tests (tests/)", Expect::Tests, 1200, host);

    let mut server = r.cargo();
    // One test at a time: some run two browsers (the co-browse live view).
    server.args([
        "test",
        "-p",
        "cobrowse-server",
        "--tests",
        "--",
        "--test-threads=1",
    ]);
    tools.browsers_for(&mut server);
    r.step(
        "reference server (real binary over sockets, browsers)",
        Expect::Tests,
        1200,
        server,
    );

    let mut interop = r.cargo();
    interop.args(["test", "-p", "bayeux-net", "--tests"]);
    r.step(
        "interop: Bayeux client/server vs official CometD",
        Expect::Tests,
        1200,
        interop,
    );

    let t = Instant::now();
    let built = dist::build(paths, &tools);
    let built_ok = built.is_ok();
    r.record("dist (chrome + firefox)", built, t);

    if built_ok {
        let t = Instant::now();
        let lint = lint_firefox(
            &tools,
            &paths.root,
            &dist::dist_dir(paths, Browser::Firefox),
        );
        r.record(
            "web-ext lint dist/firefox (0 errors, every warning explained)",
            lint,
            t,
        );
        let t = Instant::now();
        let archive = dist::workspace_version(paths)
            .and_then(|v| crate::store::check_source_archive(paths, &v));
        r.record(
            "source archive for AMO (every build input, nothing built)",
            archive,
            t,
        );
    }

    // The background's Bayeux client is tested in the browsers against our server.
    let bayeux_server = start_bayeux_test_server(paths);
    if let Err(e) = &bayeux_server {
        r.record(
            "start bayeux-interop-server for the wasm tests",
            Err(e.clone()),
            Instant::now(),
        );
    }
    let bayeux_url = bayeux_server
        .as_ref()
        .map(|s| s.url.clone())
        .unwrap_or_default();
    for (browser, driver_var, driver) in [
        ("Chromium", "CHROMEDRIVER", &tools.chromedriver),
        ("Firefox", "GECKODRIVER", &tools.geckodriver),
    ] {
        let mut wasm = r.cargo();
        wasm.args([
            "test",
            "--target",
            WASM_TARGET,
            "-p",
            "background",
            "-p",
            "pages",
            "--tests",
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            &tools.wasm_bindgen_test_runner,
        )
        .env_remove("CHROMEDRIVER")
        .env_remove("GECKODRIVER")
        .env_remove("SAFARIDRIVER")
        .env(driver_var, driver)
        .env("BAYEUX_TEST_URL", &bayeux_url);
        r.step(
            &format!("wasm-bindgen-test in {browser}"),
            Expect::Tests,
            1200,
            wasm,
        );
    }
    drop(bayeux_server);

    // The end-to-end suites chat through the real reference server.
    let server_bin = build_server(paths);
    if let Err(e) = &server_bin {
        r.record(
            "build cobrowse-server for the end-to-end suites",
            Err(e.clone()),
            Instant::now(),
        );
    }
    if built_ok {
        for target in &e2e_targets {
            let e2e = r.e2e(&tools, target, &server_bin.clone().unwrap_or_default());
            r.step(&format!("end-to-end: {target}"), Expect::Tests, 1800, e2e);
        }
    } else {
        r.record(
            "end-to-end suites",
            Err("not run: the extension did not build".into()),
            Instant::now(),
        );
    }
    if e2e_targets.is_empty() {
        r.record(
            "end-to-end suites",
            Err("no tests/e2e_*.rs found".into()),
            Instant::now(),
        );
    }

    r.summary(started)
}

/// `cargo xtask busy [--rounds N]`: the end-to-end suites `N` times in a row (default 3) next
/// to a CPU hog (a thread spinning at normal priority, one core of this machine's two), so a
/// wait that depends on timing luck rather than on the event shows up as a failure.
pub fn busy(paths: &Paths, args: &[String]) -> Result<(), String> {
    let rounds: u32 = match args {
        [] => 3,
        [flag, n] if flag == "--rounds" => n.parse().map_err(|_| "--rounds needs a number")?,
        _ => return Err("busy: usage: cargo xtask busy [--rounds N]".into()),
    };
    let started = Instant::now();
    let tools = ensure_build_tools(paths)?;
    dist::build(paths, &tools)?;
    let server = build_server(paths)?;
    let (_, e2e_targets) = root_test_targets(paths)?;
    let mut r = Runner {
        paths,
        outcomes: Vec::new(),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hog = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x: u64 = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    };
    println!("xtask: a CPU hog spins on one core while the suites run");
    for round in 1..=rounds {
        for target in &e2e_targets {
            let e2e = r.e2e(&tools, target, &server);
            r.step(
                &format!("round {round}/{rounds}, busy: {target}"),
                Expect::Tests,
                2400,
                e2e,
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = hog.join();
    r.summary(started)
}

impl Runner<'_> {
    /// One end-to-end suite (`tests/{target}.rs`) against the built extension and server.
    fn e2e(&self, tools: &Tools, target: &str, server: &Path) -> Command {
        let mut e2e = self.cargo();
        e2e.args([
            "test",
            "-p",
            "cobrowse-agent",
            "--test",
            target,
            "--",
            "--test-threads=1",
        ])
        .env("COBROWSE_DIST", &self.paths.dist)
        .env("COBROWSE_SERVER", server);
        tools.browsers_for(&mut e2e);
        e2e
    }

    /// Prints every step's outcome; fails if any step did.
    fn summary(&self, started: Instant) -> Result<(), String> {
        let r = self;
        println!("\n==> summary");
        let (mut passed, mut failed, mut steps_failed) = (0, 0, 0);
        for o in &r.outcomes {
            passed += o.passed;
            failed += o.failed;
            if !o.ok {
                steps_failed += 1;
            }
            let tests = if o.passed + o.failed > 0 {
                format!("{} passed, {} failed", o.passed, o.failed)
            } else {
                String::new()
            };
            println!(
                "{:4} {:7.1}s  {:45} {} {}",
                if o.ok { "ok" } else { "FAIL" },
                o.seconds,
                o.name,
                tests,
                o.note
            );
        }
        println!("total {:.0}s", started.elapsed().as_secs_f64());
        println!("tests: {passed} passed, {failed} failed");
        if steps_failed == 0 {
            Ok(())
        } else {
            Err(format!("{steps_failed} step(s) failed"))
        }
    }
}
