//! The agent API over `fetch`: sends a request the session built ([`Outgoing`]: URL, headers,
//! body) and returns the reply as it came. No decisions: what a reply means is
//! `gws::Outcome`'s to say, what to do about it the session's.

use cobrowse_agent::agent::Outgoing;
use cobrowse_agent::gws::HttpReply;

use crate::http;

/// How long a REST call may take.
const REST_TIMEOUT_MS: u64 = 15_000;

pub async fn send(outgoing: &Outgoing) -> Result<HttpReply, String> {
    let r = &outgoing.request;
    http::request(
        r.method.as_str(),
        &outgoing.url,
        &outgoing.headers,
        r.body_json().as_deref(),
        REST_TIMEOUT_MS,
        r.cookies,
    )
    .await
}
