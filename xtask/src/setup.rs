//! Installs what the commands need, only when it is missing (a warm run checks and moves on).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{first_line, run};
use crate::Paths;

/// Debian packages the browser tests and `run` need.
const APT_PACKAGES: &[&str] = &["chromium", "chromium-driver", "firefox-esr"];
/// geckodriver has no Debian package; this version is known to work with Firefox ESR 153
/// (`--allow-system-access`, needed for moz-extension:// navigation).
const GECKODRIVER_VERSION: &str = "0.37.1";
/// The wasm size profiler `cargo xtask bench size` uses.
const TWIGGY_VERSION: &str = "0.8.0";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Absolute paths of the tools the build and tests call.
#[derive(Debug, Clone)]
pub struct Tools {
    pub wasm_bindgen: PathBuf,
    pub wasm_bindgen_test_runner: PathBuf,
    pub geckodriver: PathBuf,
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
    pub firefox: PathBuf,
    /// `node_modules/.bin`: web-ext, wasm-opt (npm binaryen).
    pub npm_bin: PathBuf,
}

impl Tools {
    /// Tells `cmd` where the browsers and their drivers are (`testkit::browser` reads these).
    pub fn browsers_for<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("CHROMEDRIVER", &self.chromedriver)
            .env("CHROMIUM", &self.chromium)
            .env("GECKODRIVER", &self.geckodriver)
            .env("FIREFOX", &self.firefox)
    }
}

/// `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
}

fn cargo_bin_dir() -> PathBuf {
    cargo_home().join("bin")
}

/// `name` on PATH, else in cargo's bin directory.
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([cargo_bin_dir()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn ensure_apt_packages() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing Debian packages {missing:?}");
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}

fn is_root() -> bool {
    first_line(Path::new("id"), &["-u"]).as_deref() == Some("0")
}

fn ensure_rust_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn ensure_rust_components() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    let installed = String::from_utf8_lossy(&installed.stdout);
    for c in ["rustfmt", "clippy"] {
        if !installed.lines().any(|l| l.starts_with(c)) {
            run(Command::new("rustup").args(["component", "add", c]))?;
        }
    }
    Ok(())
}

/// The version of `package` that Cargo.lock resolved.
pub fn locked_version(paths: &Paths, package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(paths.root.join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                return Ok(v.trim_matches('"').to_owned());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

/// `cargo install` of `krate` unless `bin --version` already prints `expect`.
fn ensure_cargo_tool(
    bin: &str,
    krate: &str,
    version: &str,
    locked: bool,
    expect: &str,
) -> Result<PathBuf, String> {
    if let Some(path) = find_tool(bin) {
        if first_line(&path, &["--version"]).is_some_and(|v| v.starts_with(expect)) {
            return Ok(path);
        }
    }
    println!("xtask: installing {krate} {version}");
    let mut cmd = Command::new("cargo");
    cmd.args(["install", "--quiet", krate, "--version", version, "--force"]);
    if locked {
        cmd.arg("--locked");
    }
    // A shared CARGO_TARGET_DIR would make `cargo install` reuse and pollute it.
    cmd.env_remove("CARGO_TARGET_DIR");
    run(&mut cmd)?;
    find_tool(bin).ok_or_else(|| format!("{bin} not found after installing {krate}"))
}

/// twiggy, for the size breakdown (benchmarks only).
pub fn ensure_twiggy() -> Result<PathBuf, String> {
    ensure_cargo_tool(
        "twiggy",
        "twiggy",
        TWIGGY_VERSION,
        true,
        &format!("twiggy-opt {TWIGGY_VERSION}"),
    )
}

fn ensure_npm_packages(paths: &Paths) -> Result<PathBuf, String> {
    let lock = paths.root.join("package-lock.json");
    let stamp = paths.root.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&stamp)) {
        (Ok(l), Ok(s)) => s.modified().ok() >= l.modified().ok(),
        _ => false,
    };
    if !fresh {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&paths.root))?;
    }
    Ok(paths.root.join("node_modules/.bin"))
}

fn system_binary(path: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{path} is missing after installing {APT_PACKAGES:?}"
        ))
    }
}

/// Everything `dist` and `test` need.
pub fn ensure_build_tools(paths: &Paths) -> Result<Tools, String> {
    ensure_apt_packages()?;
    ensure_rust_target()?;
    ensure_rust_components()?;
    let wbg = locked_version(paths, "wasm-bindgen")?;
    // No --locked: the registry here lacks a crate version its lock file names; unlocked works.
    let wasm_bindgen = ensure_cargo_tool(
        "wasm-bindgen",
        "wasm-bindgen-cli",
        &wbg,
        false,
        &format!("wasm-bindgen {wbg}"),
    )?;
    let wasm_bindgen_test_runner = find_tool("wasm-bindgen-test-runner")
        .filter(|p| first_line(p, &["--version"]).is_some_and(|v| v.ends_with(&wbg)))
        .ok_or_else(|| {
            format!("wasm-bindgen-test-runner {wbg} missing after installing wasm-bindgen-cli")
        })?;
    let geckodriver = ensure_cargo_tool(
        "geckodriver",
        "geckodriver",
        GECKODRIVER_VERSION,
        true,
        &format!("geckodriver {GECKODRIVER_VERSION}"),
    )?;
    let npm_bin = ensure_npm_packages(paths)?;
    Ok(Tools {
        wasm_bindgen,
        wasm_bindgen_test_runner,
        geckodriver,
        chromedriver: system_binary("/usr/bin/chromedriver")?,
        chromium: system_binary("/usr/bin/chromium")?,
        firefox: system_binary("/usr/bin/firefox-esr")?,
        npm_bin,
    })
}
