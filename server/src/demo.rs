//! The demo customer site (`--demo`): a small shop (a product page and a checkout page with
//! fields to mask) with a chat widget on the GMS Chat API v2 and the Co-browse customer script
//! (`/cobrowse/customer.js`, its External Media Adapter in the widget), served with a strict
//! Content-Security-Policy (no inline script, same origin only).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async {
                page(
                    "text/html; charset=utf-8",
                    include_str!("../demo/index.html"),
                )
            }),
        )
        .route(
            "/checkout.html",
            get(|| async {
                page(
                    "text/html; charset=utf-8",
                    include_str!("../demo/checkout.html"),
                )
            }),
        )
        .route(
            "/demo/chat-widget.js",
            get(|| async {
                page(
                    "text/javascript; charset=utf-8",
                    include_str!("../demo/chat-widget.js"),
                )
            }),
        )
        .route(
            "/demo/shop.css",
            get(|| async { page("text/css; charset=utf-8", include_str!("../demo/shop.css")) }),
        )
}
