//! Tokio transports for the sans-IO Bayeux engine in core (`cobrowse_agent::bayeux`).
//!
//! [`client::NativeClient`] drives [`cobrowse_agent::bayeux::client::Client`] over HTTP
//! long-polling or WebSocket; tests, tools and benchmarks use it to talk CometD to our server
//! and to the official one. This crate owns sockets, timers and tasks and no protocol rules:
//! every decision is the core state machine's.

pub mod client;
pub mod interop;
pub mod server;
