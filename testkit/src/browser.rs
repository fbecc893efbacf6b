//! Real browsers over WebDriver, driven with fantoccini: headless Chromium (chromedriver,
//! `--load-extension`, the id computed from the path) and Firefox ESR (geckodriver
//! `--allow-system-access`, the add-on installed temporarily with its UUID pinned), with the
//! built extension from `dist/` or without it (a customer's browser).
//!
//! Missing pieces fail loudly: no dist build, no browser or no driver is a panic naming what to
//! run, never a skipped test. Every browser runs under a driver in its own process group that
//! is killed when the [`Session`] is dropped, so a failing test leaves no browser behind.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// The gecko id in manifest.json.
pub const FIREFOX_ADDON_ID: &str = "cobrowse-agent@cobrowse-agent.org";
/// Pinned through the `extensions.webextensions.uuids` pref, so moz-extension:// URLs are known.
pub const FIREFOX_UUID: &str = "6c1f0b7e-2d4a-4b8e-9f3c-0a1b2c3d4e5f";

/// How long to wait for the UI to reach an expected state.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chromium,
    Firefox,
}

/// The built extension for `browser`: `COBROWSE_DIST`, else `dist/` of the checkout.
pub fn dist_dir(browser: Browser) -> PathBuf {
    let root = std::env::var_os("COBROWSE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist"));
    let dir = root.join(match browser {
        Browser::Chromium => "chrome",
        Browser::Firefox => "firefox",
    });
    assert!(
        dir.join("manifest.json").is_file(),
        "{} has no built extension: run `cargo xtask dist` (or `cargo xtask test`) first",
        dir.display()
    );
    std::fs::canonicalize(dir).unwrap()
}

fn tool(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    let found = Path::new(&path).is_file()
        || std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(&path).is_file()))
            .unwrap_or(false);
    assert!(
        found,
        "{path} not found (set {var}, or run `cargo xtask test`, which installs it)"
    );
    path
}

/// Chromium's id for an unpacked extension: sha256(absolute path), first 32 hex digits
/// written with the letters a-p.
pub fn chromium_extension_id(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(path.to_str().unwrap().as_bytes());
    hash.iter()
        .take(16)
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| (b'a' + n) as char)
        .collect()
}

/// A WebDriver server (and, through it, the browser) in its own process group.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn spawn(bin: &str, args: &[String], port: u16) -> Driver {
        let mut child = Command::new(bin)
            .args(args)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!("{bin} did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST /session/{id}/moz/addon/install`: geckodriver's temporary add-on install.
#[derive(Debug)]
struct InstallAddon {
    path: String,
}

impl WebDriverCompatibleCommand for InstallAddon {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/moz/addon/install", session.unwrap()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "path": self.path, "temporary": true });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// `POST /session/{id}/goog/cdp/execute`: a Chrome DevTools Protocol command through
/// chromedriver.
#[derive(Debug)]
struct CdpCommand {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// One browser, with the extension loaded (an agent's) or without (a customer's).
pub struct Session {
    pub client: Client,
    pub browser: Browser,
    /// `chrome-extension://<id>/` or `moz-extension://<uuid>/`; empty without the extension.
    pub base_url: String,
    pub extension_id: String,
    profile: Option<PathBuf>,
    _driver: Driver,
}

impl Session {
    /// A browser with the extension from `dist/` loaded.
    pub async fn start(browser: Browser) -> Session {
        Self::start_with_profile(browser, None).await
    }

    /// A browser without the extension (a customer's, visiting the demo shop).
    pub async fn plain(browser: Browser) -> Session {
        Self::start_with(browser, false, None, serde_json::Map::new()).await
    }

    /// A profile directory that outlives the session (a browser restart).
    ///
    /// Firefox: the test driver can only install the add-on temporarily, and Firefox removes a
    /// temporary add-on with its storage when it quits; the prefs below keep its storage and
    /// id across that, as for an add-on that is really installed, and each session installs it
    /// again.
    pub async fn start_with_profile(browser: Browser, kept_profile: Option<PathBuf>) -> Session {
        let mut prefs = serde_json::Map::new();
        if browser == Browser::Firefox && kept_profile.is_some() {
            prefs.insert(
                "extensions.webextensions.keepStorageOnUninstall".into(),
                json!(true),
            );
            prefs.insert(
                "extensions.webextensions.keepUuidOnUninstall".into(),
                json!(true),
            );
        }
        Self::start_with(browser, true, kept_profile, prefs).await
    }

    /// Firefox with extra preferences (e.g. a short background idle timeout).
    pub async fn start_firefox_with_prefs(prefs: serde_json::Map<String, Value>) -> Session {
        Self::start_with(Browser::Firefox, true, None, prefs).await
    }

    async fn start_with(
        browser: Browser,
        extension: bool,
        kept_profile: Option<PathBuf>,
        extra_prefs: serde_json::Map<String, Value>,
    ) -> Session {
        let ext = extension.then(|| dist_dir(browser));
        let port = crate::free_port();
        match browser {
            Browser::Chromium => {
                let driver = Driver::spawn(
                    &tool("CHROMEDRIVER", "/usr/bin/chromedriver"),
                    &[format!("--port={port}")],
                    port,
                );
                let keep = kept_profile.is_some();
                let profile = kept_profile.unwrap_or_else(|| {
                    std::env::temp_dir().join(format!("cobrowse-e2e-chromium-{port}"))
                });
                let mut args = vec![
                    "--headless=new".to_owned(),
                    "--no-sandbox".into(),
                    "--disable-gpu".into(),
                    "--no-first-run".into(),
                    "--disable-background-networking".into(),
                    "--disable-component-update".into(),
                    "--disable-sync".into(),
                    "--disable-quic".into(),
                    format!("--user-data-dir={}", profile.display()),
                ];
                if let Some(ext) = &ext {
                    args.push(format!("--disable-extensions-except={}", ext.display()));
                    args.push(format!("--load-extension={}", ext.display()));
                }
                let caps = json!({
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": tool("CHROMIUM", "/usr/bin/chromium"),
                        "args": args,
                    }
                });
                let client = connect(&driver.url, caps).await;
                let id = ext
                    .as_deref()
                    .map(chromium_extension_id)
                    .unwrap_or_default();
                Session {
                    client,
                    browser,
                    base_url: if id.is_empty() {
                        String::new()
                    } else {
                        format!("chrome-extension://{id}/")
                    },
                    extension_id: id,
                    profile: (!keep).then_some(profile),
                    _driver: driver,
                }
            }
            Browser::Firefox => {
                let driver = Driver::spawn(
                    &tool("GECKODRIVER", "geckodriver"),
                    &[
                        format!("--port={port}"),
                        "--log=fatal".into(),
                        "--allow-system-access".into(),
                    ],
                    port,
                );
                let uuids = json!({ FIREFOX_ADDON_ID: FIREFOX_UUID }).to_string();
                let mut prefs = extra_prefs;
                prefs.insert("extensions.webextensions.uuids".into(), json!(uuids));
                let mut args = vec!["-headless".to_owned()];
                if let Some(p) = &kept_profile {
                    std::fs::create_dir_all(p).unwrap();
                    args.extend(["-profile".to_owned(), p.display().to_string()]);
                }
                let caps = json!({
                    "browserName": "firefox",
                    "moz:firefoxOptions": {
                        "binary": tool("FIREFOX", "/usr/bin/firefox-esr"),
                        "args": args,
                        "prefs": prefs
                    }
                });
                let client = connect(&driver.url, caps).await;
                let Some(ext) = ext else {
                    return Session {
                        client,
                        browser,
                        base_url: String::new(),
                        extension_id: String::new(),
                        profile: None,
                        _driver: driver,
                    };
                };
                let session = Session {
                    client,
                    browser,
                    base_url: format!("moz-extension://{FIREFOX_UUID}/"),
                    extension_id: FIREFOX_ADDON_ID.into(),
                    profile: None,
                    _driver: driver,
                };
                let installed = session
                    .client
                    .issue_cmd(InstallAddon {
                        path: ext.display().to_string(),
                    })
                    .await;
                if let Err(e) = installed {
                    session.close().await;
                    panic!("temporary add-on install failed: {e}");
                }
                session
            }
        }
    }

    /// The URL of an extension page, e.g. `popup.html`.
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn goto(&self, path: &str) -> Result<(), String> {
        self.client
            .goto(&self.page(path))
            .await
            .map_err(|e| format!("goto {path}: {e}"))
    }

    /// A CDP command (Chromium only).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value, String> {
        assert_eq!(self.browser, Browser::Chromium, "CDP is Chromium-only");
        self.client
            .issue_cmd(CdpCommand {
                cmd: cmd.into(),
                params,
            })
            .await
            .map_err(|e| format!("CDP {cmd}: {e}"))
    }

    /// Ends the browser session and the driver; removes the profile.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        if let Some(p) = &self.profile {
            // Chromium may still be writing for a moment after the session closed.
            for _ in 0..20 {
                if std::fs::remove_dir_all(p).is_ok() || !p.exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Text of the element matching `css`, if present.
    pub async fn text(&self, css: &str) -> Option<String> {
        let el = self.client.find(Locator::Css(css)).await.ok()?;
        el.text().await.ok()
    }

    /// An attribute of the element matching `css`, if present.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let el = self.client.find(Locator::Css(css)).await.ok()?;
        el.attr(name).await.ok().flatten()
    }

    /// The current value of an input (its property: what the person sees, not the markup's).
    pub async fn value(&self, css: &str) -> Option<String> {
        let el = self.client.find(Locator::Css(css)).await.ok()?;
        el.prop("value").await.ok().flatten()
    }

    /// Waits until the input matching `css` holds exactly `expected`.
    pub async fn wait_for_value(&self, css: &str, expected: &str) -> Result<(), String> {
        self.wait_for(&format!("{css} to hold {expected:?}"), || async {
            (self.value(css).await.as_deref() == Some(expected)).then_some(())
        })
        .await
    }

    /// Replaces the value of an input.
    pub async fn fill(&self, css: &str, value: &str) -> Result<(), String> {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        el.clear().await.map_err(|e| format!("clear {css}: {e}"))?;
        el.send_keys(value)
            .await
            .map_err(|e| format!("type into {css}: {e}"))
    }

    pub async fn click(&self, css: &str) -> Result<(), String> {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        el.click().await.map_err(|e| format!("click {css}: {e}"))
    }

    /// Polls `probe` until it returns `Some`, or fails with `what` and the page source.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, probe: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        self.wait_for_within(what, UI_TIMEOUT, probe).await
    }

    /// [`Session::wait_for`] with a deadline of its own (for work that takes long by design).
    pub async fn wait_for_within<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: F,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe().await {
                return Ok(v);
            }
            if Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                return Err(format!("timed out waiting for {what}; page:\n{source}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element matching `css` has exactly `expected` as text.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> Result<(), String> {
        self.wait_for(&format!("{css} to read {expected:?}"), || async {
            (self.text(css).await.as_deref() == Some(expected)).then_some(())
        })
        .await
    }
}

async fn connect(url: &str, caps: Value) -> Client {
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::native()
        .capabilities(caps)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("WebDriver session at {url}: {e}"))
}

/// Runs `scenario` in a fresh browser with the extension and always closes it before
/// reporting the result.
pub async fn in_browser<F>(browser: Browser, scenario: F)
where
    F: AsyncFnOnce(&Session) -> Result<(), String>,
{
    let session = Session::start(browser).await;
    let result = scenario(&session).await;
    session.close().await;
    if let Err(e) = result {
        panic!("{browser:?}: {e}");
    }
}
