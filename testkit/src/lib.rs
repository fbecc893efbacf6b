//! The test kit: one copy of what every suite needs to drive the real parts. Dev-only: no
//! product crate depends on it.
//!
//! - [`process`]: a child process in its own process group that announces itself on its first
//!   line of stdout, killed (with everything it started) when dropped;
//! - [`reference_server`]: the `cobrowse-server` binary on a free port with a fresh data
//!   directory, `kill -9` and restart on the same address and data; the one parser of its
//!   announcement line (xtask uses it too);
//! - [`form`]: `application/x-www-form-urlencoded` bodies;
//! - with the `harness` feature (the default): [`customer`] (a scripted GMS Chat API v2
//!   customer), [`rest_agent`] (an agent over the GWS REST API with Basic from core, and
//!   its CometD notifications), [`proxy`] (a TCP proxy that cuts connections), [`browser`]
//!   (headless Chromium and Firefox ESR over WebDriver, with or without the extension),
//!   [`popup`] (the extension's popup driven as an agent: sign in, go Ready, accept),
//!   [`background`] (the extension's background stopped as each browser stops it).
//!
//! Missing tools fail loudly with what to run; nothing here skips a test.

pub mod form;
pub mod process;
pub mod reference_server;

#[cfg(feature = "harness")]
pub mod background;
#[cfg(feature = "harness")]
pub mod browser;
#[cfg(feature = "harness")]
pub mod customer;
#[cfg(feature = "harness")]
pub mod popup;
#[cfg(feature = "harness")]
pub mod proxy;
#[cfg(feature = "harness")]
pub mod rest_agent;

#[cfg(feature = "harness")]
pub use customer::Customer;
pub use reference_server::ReferenceServer;
#[cfg(feature = "harness")]
pub use rest_agent::RestAgent;

/// How long a suite waits for something the real parts should do by themselves.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// A port nobody listens on now (for a server that must keep its address across restarts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface works")
}
