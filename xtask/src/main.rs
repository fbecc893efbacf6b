//! `cargo xtask`: every piece of automation of this project, in Rust (no shell scripts).
//!
//! * `run`   — set up, build, and open a browser with the extension loaded.
//! * `test`  — set up, then every check and test in both browsers; fails if any suite did not run.
//! * `dist`  — `dist/chrome`, `dist/firefox` (unpacked, loadable), their zips, and for the
//!   stores the source archive, its build instructions and the listing text.
//! * `screenshots` — the popup and options page in both themes, into `docs/screenshots/`.
//! * `soak`  — the long soak of faults in both browsers and the decoders under generated input.
//! * `busy`  — the end-to-end suites three times in a row next to a CPU hog.
//! * `bench` — benchmarks (sizes; Bayeux server and client against the official CometD; the
//!   co-browse live view against a Node relay).
//!
//! Set-up installs only what is missing: Debian packages (chromium, chromium-driver,
//! firefox-esr), the wasm32 target, wasm-bindgen-cli at the exact version in Cargo.lock,
//! geckodriver, and the npm packages from package-lock.json. Builds go to a target directory
//! outside the clone (`$CARGO_TARGET_DIR`, default `~/.cache/cobrowse-agent/target`) so a fresh
//! clone reuses compiled dependencies.

mod bench;
mod dist;
mod process;
mod setup;
mod soak;
mod store;
mod test;
mod wasm_parts;

use std::path::PathBuf;
use std::process::ExitCode;

/// Where things are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
    pub dist: PathBuf,
}

impl Paths {
    fn discover() -> Paths {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.clone());
                home.join(".cache/cobrowse-agent/target")
            });
        Paths {
            dist: root.join("dist"),
            root,
            target,
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run [--browser firefox|chromium]   build and open a browser with the extension loaded
  test                               every check and test, in Chromium and Firefox
  dist                               dist/chrome, dist/firefox, their zips, and for the stores
                                     the source archive, build instructions and listing
  soak [--seconds N] [--seed N]      chats through faults in both browsers (default 600 s),
                                     then the decoders under generated input; fails on any loss
  busy [--rounds N]                  the end-to-end suites N times (default 3) next to a CPU
                                     hog; fails on any failure
  screenshots                        the popup and options page, light and dark, into
                                     docs/screenshots/ (headless Chromium)
  bench [size|bayeux|cobrowse|desk|load|all]
                                     benchmarks: figures side by side with peers, no
                                     asserts (load: fails if an acknowledged send is lost)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = Paths::discover();
    let result = match args.first().map(String::as_str) {
        Some("run") => {
            let browser = match args.iter().position(|a| a == "--browser") {
                Some(i) => args.get(i + 1).map(String::as_str).unwrap_or(""),
                None => "firefox",
            };
            match browser {
                "firefox" => dist::run(&paths, dist::Browser::Firefox),
                "chromium" | "chrome" => dist::run(&paths, dist::Browser::Chrome),
                other => Err(format!("unknown browser {other:?} (firefox or chromium)")),
            }
        }
        Some("test") => test::run(&paths),
        Some("soak") => soak::run(&paths, &args[1..]),
        Some("busy") => test::busy(&paths, &args[1..]),
        Some("screenshots") => store::screenshots(&paths),
        Some("bench") => bench::run(&paths, args.get(1).map(String::as_str).unwrap_or("all")),
        Some("dist") => {
            setup::ensure_build_tools(&paths).and_then(|tools| dist::build(&paths, &tools))
        }
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
