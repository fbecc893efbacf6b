//! `cargo xtask screenshots`: the popup and the options page as an agent sees them, in headless
//! Chromium with the built extension against the reference server, in the light and the dark
//! theme, written to `docs/screenshots/` (the README shows them). Run it again when the pages
//! change.
//!
//! Environment: `COBROWSE_SERVER` (the server binary), `COBROWSE_DIST` (the built extension),
//! `COBROWSE_SCREENSHOTS` (where the PNGs go), and the browser variables of `testkit::browser`.

#[cfg(not(target_arch = "wasm32"))]
mod shoot;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    shoot::main();
}

/// `clippy --target wasm32 --all-targets` builds examples too; there is nothing to shoot there.
#[cfg(target_arch = "wasm32")]
fn main() {}
