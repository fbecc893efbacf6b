//! Building the extension: wasm → wasm-bindgen → wasm-opt → one unpacked directory per
//! browser with its own rendered manifest → zips (web-ext build). And `run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use testkit::process::Announced;
use testkit::reference_server::parse_announcement;

use crate::process::run as run_cmd;
use crate::setup::{ensure_build_tools, Tools, WASM_TARGET};
use crate::Paths;

/// The wasm crates and their JS names.
const WASM_CRATES: &[&str] = &["background", "popup", "options"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chrome,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 2] = [Browser::Chrome, Browser::Firefox];

    pub fn dir_name(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Firefox => "firefox",
        }
    }
}

/// The workspace version (`[workspace.package] version`).
pub fn workspace_version(paths: &Paths) -> Result<String, String> {
    let toml = std::fs::read_to_string(paths.root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let mut in_section = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section {
            if let Some(v) = line.strip_prefix("version") {
                return Ok(v
                    .trim_start_matches([' ', '='])
                    .trim()
                    .trim_matches('"')
                    .to_owned());
            }
        }
    }
    Err("no [workspace.package] version in Cargo.toml".into())
}

/// Renders the one manifest template for `browser`: Chrome gets `service_worker` and no
/// `browser_specific_settings`; Firefox gets `scripts` (an event page) and no Chrome-only keys
/// (`minimum_chrome_version`, `storage.managed_schema`: Firefox takes its managed storage from
/// enterprise policies).
pub fn render_manifest(template: &Value, browser: Browser, version: &str) -> Result<Value, String> {
    let mut m = template.clone();
    let obj = m.as_object_mut().ok_or("manifest.json is not an object")?;
    obj.insert("version".into(), Value::String(version.to_owned()));
    let background = obj
        .get_mut("background")
        .and_then(Value::as_object_mut)
        .ok_or("manifest.json has no background object")?;
    match browser {
        Browser::Chrome => {
            background.remove("scripts");
            obj.remove("browser_specific_settings");
        }
        Browser::Firefox => {
            background.remove("service_worker");
            obj.remove("minimum_chrome_version");
            obj.remove("storage");
        }
    }
    Ok(m)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let dest = to.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to_dir: &Path) -> Result<(), String> {
    let name = from.file_name().ok_or("no file name")?;
    std::fs::copy(from, to_dir.join(name)).map_err(|e| format!("{}: {e}", from.display()))?;
    Ok(())
}

/// `--remap-path-prefix` for the Cargo home and the checkout, as `CARGO_ENCODED_RUSTFLAGS`,
/// and the symbol names asked for.
fn reproducible_rustflags(paths: &Paths, symbols: Symbols) -> String {
    let cargo_home = crate::setup::cargo_home();
    let mut flags = vec![
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={}=/src", paths.root.display()),
    ];
    if symbols == Symbols::WithTypeParameters {
        flags.push("-Csymbol-mangling-version=v0".to_owned());
    }
    flags.join("\x1f")
}

/// How the wasm modules' functions are named (the names never ship; wasm-opt orders the
/// functions by them, see `WASM_OPT_FLAGS`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Symbols {
    /// Rust's default (legacy) mangling: what the package is built with.
    Shipped,
    /// The v0 mangling: a generic function's name carries its type parameters, so
    /// `cargo xtask bench size` can say which of our types each of serde's functions is for.
    /// The code is the same; wasm-opt orders it a little differently (the background 0.3 %
    /// larger once compressed).
    WithTypeParameters,
}

/// Builds the wasm modules in release mode into `target` (a Cargo target directory).
pub fn build_wasm(paths: &Paths, target: &Path, symbols: Symbols) -> Result<(), String> {
    let mut cargo = Command::new("cargo");
    cargo
        .args(["build", "--release", "--target", WASM_TARGET])
        .current_dir(&paths.root)
        .env("CARGO_TARGET_DIR", target)
        // Panic locations name source files: without this machine's paths, the package is the
        // same bytes wherever the source archive is built (AMO's reviewers rebuild it).
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            reproducible_rustflags(paths, symbols),
        );
    for c in WASM_CRATES {
        cargo.args(["-p", c]);
    }
    run_cmd(&mut cargo)
}

/// How wasm-opt shrinks each module, for its size once compressed (what the stores ship and
/// the targets count). The many near-identical instances of one generic function (a
/// serde reader per type, a future per call) compress against one another when they are
/// functions of their own and near each other:
/// - `-Oz` alone inlines every function that has one caller, however large: 2 % smaller raw
///   but 13 % larger gzipped (background 574 KB raw / 239 KB gzip, popup 472 / 192). Inlined
///   are those of up to 20 bytes, and the passes repeat until nothing shrinks: 570 / 205 and
///   473 / 175.
/// - The functions are then ordered by name, which puts a generic function's instances side
///   by side: 570 / 199 and 473 / 171. (The names come from wasm-bindgen's output; wasm-opt
///   writes none.)
///
/// `cargo xtask bench size` prints the figures.
const WASM_OPT_FLAGS: &[&str] = &[
    "-Oz",
    "--one-caller-inline-max-function-size=20",
    "--converge",
    "--reorder-functions-by-name",
];

/// The names of a wasm module's custom sections, in order.
fn custom_sections(module: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for (id, contents) in crate::wasm_parts::sections(module)? {
        if id == 0 {
            let name = crate::wasm_parts::prefixed(contents, &mut 0)?;
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(names)
}

/// Whether [`bind_and_optimise`] keeps the function names: the package drops them; the size
/// breakdown (`cargo xtask bench size`) keeps them on a copy to say whose code ships.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Dropped,
    Kept,
}

/// Runs wasm-bindgen and then wasm-opt on the module of crate `c` built into `target` (see
/// [`build_wasm`]), writing `<c>.js` and `<c>_bg.wasm` into `out`; returns the path of the
/// `_bg.wasm`. Names only change the custom sections, not the code: wasm-opt orders functions
/// by the names wasm-bindgen leaves either way.
pub fn bind_and_optimise(
    tools: &Tools,
    target: &Path,
    c: &str,
    out: &Path,
    names: Names,
) -> Result<PathBuf, String> {
    let wasm = target
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{c}.wasm"));
    run_cmd(
        Command::new(&tools.wasm_bindgen)
            .args([
                "--target",
                "web",
                "--no-typescript",
                // The names stay for wasm-opt to order functions by (see `WASM_OPT_FLAGS`);
                // it writes none unless asked (`-g`).
                "--remove-producers-section",
                "--out-dir",
            ])
            .arg(out)
            .arg(&wasm),
    )?;
    // npm binaryen: Debian's (108) and the wasm-opt crate's (116) cannot read wasm-bindgen's
    // `table.fill` (see shared/reference/toolchain.md §4).
    let bound = out.join(format!("{c}_bg.wasm"));
    let mut wasm_opt = Command::new(tools.npm_bin.join("wasm-opt"));
    wasm_opt.args(WASM_OPT_FLAGS);
    if names == Names::Kept {
        wasm_opt.arg("-g");
    }
    run_cmd(wasm_opt.arg(&bound).arg("-o").arg(&bound))?;
    Ok(bound)
}

/// Builds the wasm, binds and optimises it, and writes `dist/<browser>/`, the zips, and what
/// the stores ask for beside them (`store.rs`: source archive, build instructions, listing).
pub fn build(paths: &Paths, tools: &Tools) -> Result<(), String> {
    let version = workspace_version(paths)?;
    build_wasm(paths, &paths.target, Symbols::Shipped)?;

    let pkg = paths.dist.join(".pkg");
    let _ = std::fs::remove_dir_all(&pkg);
    for c in WASM_CRATES {
        let bound = bind_and_optimise(tools, &paths.target, c, &pkg, Names::Dropped)?;
        let shipped = std::fs::read(&bound).map_err(|e| format!("{}: {e}", bound.display()))?;
        let sections = custom_sections(&shipped)?;
        if sections.iter().any(|s| s == "name" || s == "producers") {
            return Err(format!(
                "{} still holds custom sections {sections:?}: the package ships no names",
                bound.display()
            ));
        }
    }

    let template_text = std::fs::read_to_string(paths.root.join("manifest.json"))
        .map_err(|e| format!("manifest.json: {e}"))?;
    let template: Value =
        serde_json::from_str(&template_text).map_err(|e| format!("manifest.json: {e}"))?;
    let pages_static = paths.root.join("extension/pages/static");
    for browser in Browser::ALL {
        let out = paths.dist.join(browser.dir_name());
        let _ = std::fs::remove_dir_all(&out);
        copy_dir(&pkg, &out.join("pkg"))?;
        copy_file(&paths.root.join("extension/background/background.js"), &out)?;
        copy_dir(&pages_static, &out)?;
        copy_dir(&paths.root.join("assets/_locales"), &out.join("_locales"))?;
        copy_dir(&paths.root.join("assets/icons"), &out.join("icons"))?;
        copy_dir(&paths.root.join("assets/css"), &out)?;
        if browser == Browser::Chrome {
            copy_file(&paths.root.join("assets/managed_schema.json"), &out)?;
        }
        // wasm-bindgen writes a .gitignore into its output dir; it has no place in a package.
        let _ = std::fs::remove_file(out.join("pkg/.gitignore"));
        let manifest = render_manifest(&template, browser, &version)?;
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n";
        std::fs::write(out.join("manifest.json"), text).map_err(|e| e.to_string())?;
        run_cmd(
            Command::new(tools.npm_bin.join("web-ext"))
                .args(["build", "--overwrite-dest", "--source-dir"])
                .arg(&out)
                .arg("--artifacts-dir")
                .arg(&paths.dist)
                .arg("--filename")
                .arg(format!(
                    "cobrowse-agent-{}-{version}.zip",
                    browser.dir_name()
                )),
        )?;
    }
    let _ = std::fs::remove_dir_all(&pkg);
    crate::store::write(paths, tools, &version)?;
    println!(
        "xtask: built {} and {}",
        dist_dir(paths, Browser::Chrome).display(),
        dist_dir(paths, Browser::Firefox).display()
    );
    Ok(())
}

pub fn dist_dir(paths: &Paths, browser: Browser) -> PathBuf {
    paths.dist.join(browser.dir_name())
}

/// The reference server started by `run`, stopped when `run` ends.
/// The reference server `cargo xtask run` started; stops with xtask.
struct RunningServer(#[allow(dead_code)] Announced);

/// Builds and starts the reference server with its demo on 127.0.0.1:8700 (the extension's
/// default), keeping its data in `.cobrowse-data/` of the checkout.
fn start_reference_server(paths: &Paths) -> Result<RunningServer, String> {
    run_cmd(
        Command::new("cargo")
            .args(["build", "-p", "cobrowse-server", "--bin", "cobrowse-server"])
            .current_dir(&paths.root)
            .env("CARGO_TARGET_DIR", &paths.target),
    )?;
    let server = Announced::spawn(
        Command::new(paths.target.join("debug/cobrowse-server"))
            .args(["--listen", "127.0.0.1:8700", "--demo", "--data"])
            .arg(paths.root.join(".cobrowse-data")),
    )?;
    if parse_announcement(&server.line).is_none() {
        return Err(format!(
            "cobrowse-server did not start (is 127.0.0.1:8700 in use?): {}",
            server.line
        ));
    }
    println!("xtask: reference server at http://127.0.0.1:8700 (demo shop at /, agents agent1/agent1, agent2/agent2, agent3/agent3)");
    Ok(RunningServer(server))
}

/// `cargo xtask run`: build, start the reference server with its demo, then open the browser
/// with the extension (web-ext run). Everything stops when the browser closes.
pub fn run(paths: &Paths, browser: Browser) -> Result<(), String> {
    let tools = ensure_build_tools(paths)?;
    build(paths, &tools)?;
    let _server = start_reference_server(paths)?;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        println!("xtask: no DISPLAY: the browser will run headless (set DISPLAY to see it)");
    }
    let mut cmd = Command::new(tools.npm_bin.join("web-ext"));
    cmd.arg("run")
        .arg("--source-dir")
        .arg(dist_dir(paths, browser));
    match browser {
        Browser::Firefox => {
            cmd.arg("--target=firefox-desktop")
                .arg("--firefox")
                .arg(&tools.firefox);
        }
        Browser::Chrome => {
            cmd.arg("--target=chromium")
                .arg("--chromium-binary")
                .arg(&tools.chromium);
            // As root Chromium refuses to start without it (it is what the tests use too).
            cmd.args(["--args=--no-sandbox", "--args=--no-first-run"]);
        }
    }
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        cmd.env("MOZ_HEADLESS", "1");
        if browser == Browser::Chrome {
            cmd.arg("--args=--headless=new");
        }
    }
    run_cmd(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../manifest.json"))
                .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn chrome_manifest_has_a_service_worker_and_no_gecko_settings() {
        let m = render_manifest(&template(), Browser::Chrome, "1.2.3").unwrap();
        assert_eq!(m["version"], "1.2.3");
        assert_eq!(m["background"]["service_worker"], "background.js");
        assert!(m["background"].get("scripts").is_none());
        assert!(m.get("browser_specific_settings").is_none());
        assert!(m.get("minimum_chrome_version").is_some());
        assert_eq!(m["storage"]["managed_schema"], "managed_schema.json");
    }

    #[test]
    fn firefox_manifest_has_an_event_page_and_gecko_settings() {
        let m = render_manifest(&template(), Browser::Firefox, "1.2.3").unwrap();
        assert_eq!(m["background"]["scripts"][0], "background.js");
        assert!(m["background"].get("service_worker").is_none());
        assert!(m["browser_specific_settings"]["gecko"]["id"].is_string());
        assert!(m.get("minimum_chrome_version").is_none());
        assert!(
            m.get("storage").is_none(),
            "Firefox reads policies, not a schema"
        );
    }

    #[test]
    fn template_csp_allows_wasm_and_nothing_remote() {
        let csp = template()["content_security_policy"]["extension_pages"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            csp,
            "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'"
        );
    }

    #[test]
    fn custom_sections_are_listed_by_name() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        // A type section (one `() -> ()`), then custom sections "name" and "target_features".
        module.extend([1, 4, 1, 0x60, 0, 0]);
        module.extend([0, 7, 4]);
        module.extend(b"name");
        module.extend([0, 0]);
        module.extend([0, 16, 15]);
        module.extend(b"target_features");
        assert_eq!(
            custom_sections(&module).unwrap(),
            ["name", "target_features"]
        );
        assert!(custom_sections(&module[..module.len() - 1]).is_err());
        assert!(custom_sections(b"\0asm\x02\0\0\0").is_err());
    }
}
