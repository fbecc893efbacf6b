//! The server's suites drive the real `cobrowse-server` binary over real sockets with the
//! shared test kit: an agent (REST with Basic + cookie, and CometD notifications through our
//! native client) and a customer (GMS Chat API v2, form-encoded).
#![allow(dead_code, unused_imports)]

pub mod golden;

use std::path::{Path, PathBuf};

pub use testkit::customer::post_form;
pub use testkit::{Customer, ReferenceServer as Server, RestAgent as Agent, WAIT};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cobrowse-server"))
}

/// This crate's binary on a free port with a fresh data directory and the demo agents.
pub fn server(options: &[&str]) -> Server {
    Server::start(bin(), options)
}

/// This crate's binary on an existing data directory (after `kill_keeping_data`).
pub fn server_in(data: PathBuf, options: &[&str]) -> Server {
    Server::start_in(bin(), data, options)
}

pub use cobrowse_agent::gws::basic_authorization as basic;

/// Exchanges a join ticket like the agent's browser does: the view cookie, or the refusal.
pub async fn redeem(server: &Server, ticket: &str) -> Result<String, (u16, String)> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!(
            "{}/cobrowse/agent.html?ticket={ticket}",
            server.url
        ))
        .send()
        .await
        .unwrap();
    if r.status().as_u16() == 303 {
        assert_eq!(r.headers()["location"], "/cobrowse/agent.html");
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        return Ok(cookie.split(';').next().unwrap().to_owned());
    }
    Err((r.status().as_u16(), r.text().await.unwrap()))
}
