//! The server's suites drive the real `cobrowse-server` binary over real sockets with the
//! shared test kit: an agent (REST with Basic + cookie, and CometD notifications through our
//! native client) and a customer (GMS Chat API v2, form-encoded).
#![allow(dead_code, unused_imports)]

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
