//! Names of the keys the background writes in extension storage.
//!
//! `storage.local` holds durable, non-secret data (it survives browser restarts);
//! `storage.session` holds secrets (kept in memory, gone when the browser quits).

/// `storage.local`: the agent's [`crate::settings::Settings`].
pub const SETTINGS: &str = "settings";
