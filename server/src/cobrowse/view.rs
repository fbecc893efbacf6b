//! The agent's live view, served by this server (so recorder and replayer are one pinned
//! release, `@rrweb/record` and `@rrweb/replay` from `node_modules`, never copied here):
//! `/cobrowse/agent.html` (Genesys' `slave.html` is an alias), opened with a join ticket that is
//! exchanged, once, for a view cookie: the URL is useless afterwards. The page replays the
//! customer's page live and sends the agent's pointer back; the customer's side is
//! `/cobrowse/customer.js`. Both talk to the relay (`/cobrowse/ws/agent`,
//! `/cobrowse/ws/customer`).
//!
//! The view's CSP lets nothing but its own script run (`script-src 'self'`), and the replay's
//! iframe is sandboxed without scripts: nothing the recorded page carries can run.

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::relay::{self, MAX_FRAME_BYTES};
use super::Cobrowse;
use crate::auth::cookie;

/// The view cookie (HttpOnly, this path only).
pub const VIEW_COOKIE: &str = "cbview";

const VIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src * data: blob:; font-src * data:; media-src *; connect-src 'self'; frame-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SCRIPT_CSP: &str = "default-src 'none'";

/// rrweb's browser bundles as installed by npm (read at start-up).
#[derive(Debug, Clone, Default)]
pub struct Assets {
    record: Option<Bytes>,
    replay: Option<Bytes>,
    replay_css: Option<Bytes>,
}

impl Assets {
    pub fn load(node_modules: &Path) -> Assets {
        let read = |rel: &str| {
            let path = node_modules.join(rel);
            match std::fs::read(&path) {
                Ok(b) => Some(Bytes::from(b)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "rrweb bundle missing: run `npm ci` (cargo xtask does)");
                    None
                }
            }
        };
        Assets {
            record: read("@rrweb/record/umd/record.min.js"),
            replay: read("@rrweb/replay/umd/replay.min.js"),
            replay_css: read("@rrweb/replay/dist/style.min.css"),
        }
    }
}

fn asset(content_type: &'static str, body: Option<Bytes>) -> Response {
    match body {
        Some(b) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, SCRIPT_CSP),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            b,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "rrweb is not installed on this server (npm ci)",
        )
            .into_response(),
    }
}

fn own(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, SCRIPT_CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Text for HTML, escaped.
fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

fn page(
    status: StatusCode,
    body: String,
    extra: Option<(header::HeaderName, HeaderValue)>,
) -> Response {
    let mut r = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, VIEW_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    if let Some((k, v)) = extra {
        r.headers_mut().insert(k, v);
    }
    r
}

/// A page saying why there is no view (the refusal's text, escaped).
fn refusal_page(status: u16, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Co-browse</title>\
         <link rel=\"stylesheet\" href=\"/cobrowse/agent.css\"></head><body class=\"refused\">\
         <main><h1>Co-browse</h1><p id=\"cb-refused\">{}</p></main></body></html>",
        escape(message)
    );
    page(
        StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
        body,
        None,
    )
}

#[derive(serde::Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// `agent.html?ticket=…` joins and sets the view cookie, then shows the page at a URL without
/// the ticket; `agent.html` shows the view the cookie names.
async fn agent_page(State(c): State<Arc<Cobrowse>>, Query(q): Query<TicketQuery>) -> Response {
    let Some(ticket) = q.ticket.filter(|t| !t.is_empty() && t.len() <= 128) else {
        return page(
            StatusCode::OK,
            include_str!("../../cobrowse/agent.html").into(),
            None,
        );
    };
    match c.redeem(&ticket) {
        Ok((view, s)) => {
            tracing::info!(session = %s.id, "agent view opened");
            let cookie = format!(
                "{VIEW_COOKIE}={view}; Path=/cobrowse; HttpOnly; SameSite=Lax; Max-Age=28800"
            );
            let mut r = (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, "/cobrowse/agent.html")],
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            r
        }
        Err(e) => refusal_page(e.http, &e.message),
    }
}

async fn agent_socket(
    State(c): State<Arc<Cobrowse>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let view = cookie(&headers, VIEW_COOKIE).map(str::to_owned);
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| relay::view_socket(c, view, socket))
}

async fn customer_socket(State(c): State<Arc<Cobrowse>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| relay::customer_socket(c, socket))
}

pub fn routes() -> Router<Arc<Cobrowse>> {
    Router::new()
        .route("/cobrowse/agent.html", get(agent_page))
        .route("/cobrowse/slave.html", get(agent_page))
        .route(
            "/cobrowse/agent.js",
            get(|| async {
                own(
                    "text/javascript; charset=utf-8",
                    include_str!("../../cobrowse/agent.js"),
                )
            }),
        )
        .route(
            "/cobrowse/agent.css",
            get(|| async {
                own(
                    "text/css; charset=utf-8",
                    include_str!("../../cobrowse/agent.css"),
                )
            }),
        )
        .route(
            "/cobrowse/customer.js",
            get(|| async {
                own(
                    "text/javascript; charset=utf-8",
                    include_str!("../../cobrowse/customer.js"),
                )
            }),
        )
        .route(
            "/cobrowse/vendor/record.min.js",
            get(|State(c): State<Arc<Cobrowse>>| async move {
                asset("text/javascript; charset=utf-8", c.assets.record.clone())
            }),
        )
        .route(
            "/cobrowse/vendor/replay.min.js",
            get(|State(c): State<Arc<Cobrowse>>| async move {
                asset("text/javascript; charset=utf-8", c.assets.replay.clone())
            }),
        )
        .route(
            "/cobrowse/vendor/replay.css",
            get(|State(c): State<Arc<Cobrowse>>| async move {
                asset("text/css; charset=utf-8", c.assets.replay_css.clone())
            }),
        )
        .route("/cobrowse/ws/agent", get(agent_socket))
        .route("/cobrowse/ws/customer", get(customer_socket))
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusals_are_text() {
        assert_eq!(
            super::escape("<b onclick='x'>&"),
            "&lt;b onclick=&#39;x&#39;&gt;&amp;"
        );
    }
}
