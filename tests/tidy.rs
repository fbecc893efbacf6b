//! The architecture's invariants, checked on the source (rust-analyzer's "tidy" idea): a
//! change that breaks one fails here, naming the file, instead of waiting for a reviewer.
//!
//! - only `extension/webext` touches the `chrome` / `browser` extension APIs;
//! - core (`src/`) has no JS types: no `wasm_bindgen`, `web_sys` or `js_sys`;
//! - background and webext code never calls `web_sys::window()` (the Chrome background is a
//!   service worker without one);
//! - the background's modules import each other without a cycle, each only from the layers
//!   below it (as `extension/background/src/lib.rs` lists them);
//! - every screenshot `cargo xtask screenshots` makes is there, a PNG, and every image the
//!   README shows exists.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(path, text)` of every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments (`//` to the end of the line), so that prose may
/// name what code must not use.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // Not inside a string literal that happens to hold `//` (a URL): count quotes.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Ways Rust reaches the extension APIs: a JS namespace binding, the global looked up by name,
/// or script text calling into it.
fn touches_extension_api(code: &str) -> Option<&'static str> {
    const PATTERNS: [&str; 8] = [
        "js_namespace = chrome",
        "js_namespace = browser",
        "js_namespace = [\"chrome\"",
        "js_namespace = [\"browser\"",
        "\"chrome\"",
        "\"browser\"",
        "chrome.",
        "browser.",
    ];
    PATTERNS.into_iter().find(|p| {
        code.match_indices(p).any(|(at, _)| {
            // `chrome.` must start a word (`fetch_chrome.x` or `self.browser.x` is not it).
            let before = code[..at].chars().next_back();
            !p.ends_with('.')
                || before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
        })
    })
}

/// Product crates other than webext: none of them may touch the extension APIs.
const NOT_WEBEXT: [&str; 7] = [
    "src",
    "extension/background/src",
    "extension/pages/src",
    "extension/popup/src",
    "extension/options/src",
    "server/src",
    "net/src",
];

#[test]
fn only_webext_touches_the_extension_apis() {
    let mut offenders = Vec::new();
    for dir in NOT_WEBEXT {
        for (path, text) in rust_files(&root().join(dir)) {
            if let Some(pattern) = touches_extension_api(&code_of(&text)) {
                offenders.push(format!("{}: {pattern}", path.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "only extension/webext may touch chrome/browser: {offenders:#?}"
    );
    // The check itself sees what it is meant to.
    assert!(touches_extension_api("let p = chrome.storage.local.get(k);").is_some());
    assert!(touches_extension_api("Reflect::get(&global, &\"browser\".into())").is_some());
    assert!(touches_extension_api("self.browser.close()").is_none());
}

#[test]
fn core_has_no_js_types() {
    let mut offenders = Vec::new();
    for (path, text) in rust_files(&root().join("src")) {
        let code = code_of(&text);
        for name in ["wasm_bindgen", "web_sys", "js_sys"] {
            if code.contains(name) {
                offenders.push(format!("{}: {name}", path.display()));
            }
        }
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("\n[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("the root package has [dependencies]");
    for name in ["wasm-bindgen", "web-sys", "js-sys"] {
        if deps.contains(name) {
            offenders.push(format!("Cargo.toml [dependencies]: {name}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "core must stay pure Rust: {offenders:#?}"
    );
}

#[test]
fn background_code_never_asks_for_a_window() {
    let mut offenders = Vec::new();
    for dir in ["extension/background/src", "extension/webext/src"] {
        for (path, text) in rust_files(&root().join(dir)) {
            let code = code_of(&text);
            if code.contains("web_sys::window") || code.contains("window()") {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the Chrome background has no window (use js_sys::global()): {offenders:#?}"
    );
}

/// The background's modules, each with its layer (1 = the entry module).
fn background_layers() -> BTreeMap<&'static str, u32> {
    BTreeMap::from([
        ("lib", 1),
        ("pages", 2),
        ("session", 3),
        ("notify", 3),
        ("link", 4),
        ("gws_client", 4),
        ("store", 4),
        ("ports", 4),
        ("timer", 5),
        ("http", 5),
        ("join", 5),
        ("global", 6),
    ])
}

/// For each background module, the modules of the same crate it names (`crate::x`, or
/// `use crate::{x, y}`).
fn background_imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = root().join("extension/background/src");
    let mut graph = BTreeMap::new();
    for (path, text) in rust_files(&dir) {
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        let code = code_of(&text);
        let mut uses = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                group[..group.find('}').unwrap_or(0)]
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or("").trim())
                    .collect()
            } else {
                vec![rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")]
            };
            uses.extend(
                names
                    .into_iter()
                    .filter(|n| !n.is_empty() && *n != "self")
                    .map(str::to_owned),
            );
        }
        uses.remove(&module);
        graph.insert(module, uses);
    }
    graph
}

#[test]
fn background_modules_import_only_from_the_layers_below() {
    let layers = background_layers();
    let graph = background_imports();
    let unknown: Vec<&String> = graph
        .keys()
        .filter(|m| !layers.contains_key(m.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "modules without a layer (add them here and to lib.rs's list): {unknown:?}"
    );
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            match (layers.get(module.as_str()), layers.get(used.as_str())) {
                (Some(a), Some(b)) if b > a => {}
                (Some(_), Some(_)) => wrong.push(format!("{module} uses {used}")),
                // Not a module of ours (e.g. `crate::SomeType` from lib.rs).
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that go sideways or up (a cycle waiting to happen): {wrong:#?}"
    );
    assert!(
        graph["session"].contains("store") && graph["pages"].contains("session"),
        "the scan found no imports: {graph:#?}"
    );
}

#[test]
fn the_screenshots_are_there_and_the_readme_shows_only_what_exists() {
    let dir = root().join("docs/screenshots");
    for page in ["popup-sign-in", "popup-desk", "options"] {
        for theme in ["light", "dark"] {
            let path = dir.join(format!("{page}-{theme}.png"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (run cargo xtask screenshots)", path.display())
            });
            assert!(
                bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1_000,
                "{} is not a screenshot",
                path.display()
            );
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let shown: Vec<&str> = readme
        .match_indices("](docs/")
        .filter_map(|(at, _)| {
            let rest = &readme[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect();
    assert!(!shown.is_empty(), "the README shows no screenshot");
    for path in shown {
        assert!(
            root().join(path).exists(),
            "README links {path}, which does not exist"
        );
    }
}
