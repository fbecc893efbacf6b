//! `cargo xtask bench desk`: the agent desk's own latency, in the built extension in headless
//! Chromium and Firefox against the reference server. No pass/fail.
//!
//! - a customer message → its line in the open chat of the popup (the popup page stamps the
//!   line's arrival with a `MutationObserver`; the sender stamps the send; one machine's clock),
//!   side by side with the official CometD JavaScript client (npm `cometd`, in Node:
//!   `tests/interop/agent-listener.mjs`) subscribed as the same agent on the same server and
//!   receiving the same notification; and the part of it until the background's stored page
//!   holds the line (`storage.onChanged` in the popup page), the rest being the popup's;
//! - a customer's co-browse hand-over (the adapter's custom notice) → the verified card in the
//!   popup: what the card costs beyond a message is the verification's round trip;
//! - the popup opened warm and cold (its own `performance` marks);
//! - sustained intake: ten customers writing at once at rising total rates (30 … 960 lines/s,
//!   the server's per-chat limit lifted with `--chat-writes-per-10s`), each line's send → the
//!   background's stored page holding it (`storage.onChanged` in the popup page); the highest
//!   rate at which every line is stored with p99 ≤ 1 s;
//! - the message, hand-over and popup figures again with a full desk (`full.rs`: 20 live chats
//!   × 1,000 lines and the finished chats kept), and each full figure against the empty one.
//!
//! `DESK_BENCH_PARTS` picks parts (a comma list of `empty`, `full`, `intake`; all by default),
//! `DESK_BENCH_BROWSERS` the browsers (`chromium,firefox` by default).
//!
//! Environment: `COBROWSE_SERVER` (the release binary), `COBROWSE_DIST` (the built extension),
//! `COBROWSE_BENCH_JSON` (where the figures go), and the browser variables of
//! `testkit::browser`.

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod full;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    bench::main();
}

/// `clippy --target wasm32 --all-targets` builds examples too; there is nothing to bench there.
#[cfg(target_arch = "wasm32")]
fn main() {}
