//! The reference server (`cobrowse-server`) as every suite runs it: the real binary on a free
//! port of 127.0.0.1, with the demo agents and a fresh data directory (removed when dropped);
//! `kill -9` and a restart on the same address and data.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::Announced;

/// What the server prints first once it accepts connections: this, then its base URL.
pub const ANNOUNCEMENT: &str = "cobrowse-server listening on ";

/// The base URL in the server's announcement line, if `line` is one.
pub fn parse_announcement(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix(ANNOUNCEMENT)
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
}

/// The binary the end-to-end suites run: `COBROWSE_SERVER` (set by `cargo xtask test`).
pub fn binary_from_env() -> PathBuf {
    std::env::var_os("COBROWSE_SERVER")
        .map(PathBuf::from)
        .expect("COBROWSE_SERVER is not set: run these tests with `cargo xtask test`")
}

#[derive(Debug)]
pub struct ReferenceServer {
    process: Option<Announced>,
    bin: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub data: PathBuf,
    options: Vec<String>,
}

fn fresh_data_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "cobrowse-test-server-{}-{n}-{}",
        std::process::id(),
        crate::free_port()
    ))
}

impl ReferenceServer {
    /// `bin` with the demo agents and `options` (e.g. `--csrf`), on a free port.
    pub fn start(bin: &Path, options: &[&str]) -> ReferenceServer {
        let listen = format!("127.0.0.1:{}", crate::free_port());
        let options = options.iter().map(|o| (*o).to_owned()).collect();
        Self::start_at(bin.to_owned(), &listen, fresh_data_dir(), options)
    }

    /// The binary `cargo xtask test` built ([`binary_from_env`]).
    pub fn start_from_env(options: &[&str]) -> ReferenceServer {
        Self::start(&binary_from_env(), options)
    }

    fn start_at(
        bin: PathBuf,
        listen: &str,
        data: PathBuf,
        options: Vec<String>,
    ) -> ReferenceServer {
        let process = Announced::spawn(
            Command::new(&bin)
                .args(["--listen", listen, "--demo"])
                .args(&options)
                .arg("--data")
                .arg(&data)
                .env(
                    "COBROWSE_LOG",
                    std::env::var("TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
                ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let url = parse_announcement(&process.line)
            .unwrap_or_else(|| {
                panic!(
                    "{} did not announce itself: {:?}",
                    bin.display(),
                    process.line
                )
            })
            .to_owned();
        ReferenceServer {
            process: Some(process),
            bin,
            url,
            data,
            options,
        }
    }

    /// The server process's id, while it runs (for its memory in `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Announced::id)
    }

    /// `kill -9`: no shutdown, nothing flushed beyond what SQLite committed. The server is
    /// gone until [`ReferenceServer::restart`].
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// `kill -9` (unless already killed), then the same binary, address, options and data.
    pub fn restart(mut self) -> ReferenceServer {
        self.kill();
        let listen = self.url.trim_start_matches("http://").to_owned();
        let data = std::mem::take(&mut self.data);
        let options = std::mem::take(&mut self.options);
        Self::start_at(self.bin.clone(), &listen, data, options)
    }

    /// Stops it and hands over its data directory (kept, e.g. to inspect or start again).
    pub fn kill_keeping_data(mut self) -> PathBuf {
        self.kill();
        std::mem::take(&mut self.data)
    }

    /// Starts `bin` on an existing data directory (after [`ReferenceServer::kill_keeping_data`]).
    pub fn start_in(bin: &Path, data: PathBuf, options: &[&str]) -> ReferenceServer {
        let listen = format!("127.0.0.1:{}", crate::free_port());
        let options = options.iter().map(|o| (*o).to_owned()).collect();
        Self::start_at(bin.to_owned(), &listen, data, options)
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        self.kill();
        if !self.data.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcement_names_the_url() {
        assert_eq!(
            parse_announcement("cobrowse-server listening on http://127.0.0.1:8700\n"),
            Some("http://127.0.0.1:8700")
        );
        assert_eq!(parse_announcement("Error: address in use"), None);
        assert_eq!(parse_announcement("cobrowse-server listening on "), None);
    }
}
