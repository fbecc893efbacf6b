//! Core of the agent chat + Co-browse extension: everything that can be pure Rust.
//!
//! This crate owns the domain model, the popup <-> background protocol and the settings the
//! agent configures. It has no JS types and no IO: the glue crates in `extension/` convert
//! between JS values and these types and call in here, so every rule lives in code that is
//! tested natively with `cargo test`. It must never depend on `wasm-bindgen`, `web-sys` or
//! anything that only exists in a browser.

pub mod agent;
pub mod backoff;
pub mod bayeux;
pub mod chat;
pub mod cobrowse;
pub mod gws;
pub mod json;
pub mod presence;
pub mod protocol;
pub mod sender;
pub mod settings;
pub mod sorted;
pub mod storage_keys;
