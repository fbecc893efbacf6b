//! The endpoint the interop tests and the benchmark run: anonymous clients, every channel
//! allowed, and the service channels the official server's test script offers too
//! (`/service/echo`, `/service/publish`, `/service/expire`), so one scenario runs against both.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::server::{AllowAll, ServerConfig, ServiceRequest};
use serde_json::{Map, Value};

use crate::server::{Authenticator, Bayeux};

/// Everyone is the same anonymous principal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

impl Authenticator for Anonymous {
    type Principal = ();
    async fn principal_from_headers(
        &self,
        _: &HeaderMap,
        _: Option<std::net::IpAddr>,
    ) -> Option<()> {
        Some(())
    }
    async fn principal_from_handshake_ext(&self, _: &Map<String, Value>) -> Option<()> {
        Some(())
    }
}

pub type InteropBayeux = Bayeux<(), AllowAll>;

fn services(request: ServiceRequest<()>, bayeux: &InteropBayeux) {
    match request.channel.as_str() {
        "/service/echo" => bayeux.deliver_to(&request.client_id, "/service/echo", request.data),
        "/service/publish" => {
            if let Some(channel) = request.data.get("channel").and_then(Value::as_str) {
                let data = request.data.get("data").cloned().unwrap_or(Value::Null);
                bayeux.publish(channel, data);
            }
        }
        "/service/expire" => bayeux.forget(&request.client_id),
        _ => {}
    }
}

/// The benchmark's configuration (`bayeux-interop-server`): long queues, and no cap on one
/// principal's sessions. Every client here is the one anonymous principal, so the product's
/// cap would evict all but the newest few of a benchmark's subscribers, which then handshake
/// again and again (the benchmark hung on that).
pub fn benchmark_config(timeout_ms: u64) -> ServerConfig {
    ServerConfig {
        timeout_ms,
        max_queue: 100_000,
        max_sessions_per_principal: 100_000,
        ..ServerConfig::default()
    }
}

/// Serves the interop endpoint at `http://127.0.0.1:<any port>/cometd` until the runtime ends.
pub async fn serve(config: ServerConfig) -> std::io::Result<(SocketAddr, InteropBayeux)> {
    serve_on(("127.0.0.1", 0), config, false).await
}

fn endpoint(config: ServerConfig) -> InteropBayeux {
    let bayeux = Bayeux::new(
        config,
        AllowAll,
        FrameLimits::default(),
        Some(Arc::new(services)),
    );
    bayeux.spawn_sweeper();
    bayeux
}

/// Serves the interop endpoint on `addr` until the runtime ends: `/cometd` as configured, and
/// `/cometd-long-polling-only`, which refuses WebSocket upgrades (to test fallback). `cors`:
/// answer CORS from any origin (for browser test pages only).
pub async fn serve_on(
    addr: impl tokio::net::ToSocketAddrs,
    config: ServerConfig,
    cors: bool,
) -> std::io::Result<(SocketAddr, InteropBayeux)> {
    let bayeux = endpoint(config.clone());
    let long_polling_only = endpoint(ServerConfig {
        transports: vec![cobrowse_agent::bayeux::LONG_POLLING.into()],
        ..config
    });
    let app = bayeux
        .clone()
        .router_with_cors(Arc::new(Anonymous), "/cometd", cors)
        .merge(long_polling_only.router_with_cors(
            Arc::new(Anonymous),
            "/cometd-long-polling-only",
            cors,
        ));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, bayeux))
}
