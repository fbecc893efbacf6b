//! The reference server: the embedded default the extension runs against, and the real peer
//! of every test. It speaks the Genesys wire formats: the agent side of Genesys Web Services
//! API v2 (REST + CometD notifications at `/api/v2/notifications`) and the customer side of
//! GMS Chat API v2 (REST), routes chats to ready agents, plays the Genesys Co-browse server
//! (live API, sessions bound to chats, the agent's live view), and keeps everything in SQLite.
//!
//! Module map: `store/` (SQLite, the only persistence, a file per table group), `model` (chat
//! model and its two wire renderings), `hub/` (behaviour: customer side, agent operations,
//! presence, routing, and the notification fan-out), `cobrowse/` (the Genesys Co-browse live
//! API, sessions bound to chats, the agents' verification, the live view's relay and pages), `auth` (Basic, sessions, CSRF, the CometD
//! token), `agent_api` and `customer_api` (HTTP), `error` (the API error), `ids` (clock, random
//! ids, secret comparison), `demo` (the demo shop).

pub mod agent_api;
pub mod auth;
pub mod cobrowse;
pub mod customer_api;
pub mod demo;
pub mod error;
pub mod hub;
pub mod ids;
pub mod model;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use bayeux_net::server::Bayeux;
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::server::ServerConfig;
use serde_json::json;

use crate::auth::{hash_password, AgentAuthenticator, Sessions};
use crate::hub::{AgentTopics, Hub, HubConfig};
use crate::store::{AgentRow, Store};

/// Request bodies above this are refused (413) before they are read.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub csrf: bool,
    /// Hand out the CometD WebSocket token on `GET /api/v2/me` (our addition to the Genesys
    /// shapes); off, the server behaves like GWS and browsers long-poll.
    pub notifications_tokens: bool,
    pub invite_timeout_ms: i64,
    pub typing_preview: bool,
    /// Chat services customers may request; empty means just [`DEMO_SERVICE`].
    pub services: Vec<String>,
    /// Web origins whose pages may use an agent's credentials, besides the server's own and
    /// browser extensions (`--allow-origin`).
    pub allow_origins: Vec<String>,
    pub requeue_grace_ms: i64,
    /// A queued chat no agent took within this long ends, with a notice to the customer.
    pub queue_timeout_ms: i64,
    /// Chat requests and co-browse creations one client address may make a minute.
    pub per_address_per_minute: u32,
    /// Writes one customer chat may make per 10 s, in fixed windows (`--chat-writes-per-10s`).
    pub chat_writes_per_10_s: u32,
    /// Chats a demo agent may hold at once.
    pub max_chats: u32,
    /// Demo agents to seed (at least the three named ones).
    pub demo_agents: u32,
    /// Co-browse: idle timeout, customer grace, where rrweb is installed.
    pub cobrowse: cobrowse::CobrowseConfig,
}

#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub sessions: Arc<Sessions>,
    pub limits: Arc<customer_api::RateLimits>,
    pub cobrowse: Arc<cobrowse::Cobrowse>,
}

/// The demo's agents: user name, password, first and last name.
pub const DEMO_AGENTS: &[(&str, &str, &str, &str)] = &[
    ("agent1", "agent1", "Ann", "Agent"),
    ("agent2", "agent2", "Bob", "Agent"),
    ("agent3", "agent3", "Cleo", "Agent"),
];

/// The service (queue) name the demo configures, as in Genesys' examples.
pub const DEMO_SERVICE: &str = "customer-support";

/// The demo's agents: the named ones, then `agent4`, `agent5`, … up to `count` (password =
/// user name), for load tests and benchmarks.
fn seed_demo(store: &Store, max_chats: u32, count: u32) -> Result<(), store::StoreError> {
    let named = DEMO_AGENTS.iter().map(|(u, p, f, l)| {
        (
            (*u).to_owned(),
            (*p).to_owned(),
            (*f).to_owned(),
            (*l).to_owned(),
        )
    });
    let more = (DEMO_AGENTS.len() as u32 + 1..=count).map(|n| {
        (
            format!("agent{n}"),
            format!("agent{n}"),
            format!("Agent {n}"),
            "Demo".to_owned(),
        )
    });
    for (user, password, first, last) in named.chain(more) {
        let existing = store.agent_by_user(&user)?;
        let agent = match existing {
            Some(a) => AgentRow { max_chats, ..a },
            None => AgentRow {
                id: ids::random_hex(16),
                user_name: user,
                password_hash: hash_password(&password),
                first_name: first,
                last_name: last,
                max_chats,
            },
        };
        store.upsert_agent(&agent)?;
    }
    Ok(())
}

/// Builds the application; returns it with the hub and co-browse (for background tasks).
pub fn app(
    options: &Options,
    base_url: String,
) -> std::io::Result<(Router, Arc<Hub>, Arc<cobrowse::Cobrowse>)> {
    std::fs::create_dir_all(&options.data_dir)?;
    let store =
        Store::open(&options.data_dir.join("cobrowse.sqlite3")).map_err(std::io::Error::other)?;
    if options.demo {
        seed_demo(&store, options.max_chats, options.demo_agents).map_err(std::io::Error::other)?;
    }
    let bayeux = Bayeux::new(
        ServerConfig::default(),
        AgentTopics,
        FrameLimits::default(),
        None,
    );
    bayeux.spawn_sweeper();
    let hub = Arc::new(Hub::new(
        store,
        Arc::new(bayeux.clone()),
        HubConfig {
            base_url,
            invite_timeout_ms: options.invite_timeout_ms,
            typing_preview: options.typing_preview,
            csrf: options.csrf,
            notifications_tokens: options.notifications_tokens,
            services: if options.services.is_empty() {
                vec![DEMO_SERVICE.to_owned()]
            } else {
                options.services.clone()
            },
            requeue_grace_ms: options.requeue_grace_ms,
            queue_timeout_ms: options.queue_timeout_ms,
            per_address_per_minute: options.per_address_per_minute,
            chat_writes_per_10_s: options.chat_writes_per_10_s,
        },
    ));
    let sessions = Arc::new(Sessions::new(options.allow_origins.clone()));
    let cobrowse = cobrowse::Cobrowse::new(hub.clone(), sessions.clone(), options.cobrowse.clone());
    let state = AppState {
        hub: hub.clone(),
        sessions: sessions.clone(),
        limits: Arc::default(),
        cobrowse: cobrowse.clone(),
    };
    let notifications = bayeux.router(
        Arc::new(AgentAuthenticator {
            hub: hub.clone(),
            sessions,
        }),
        cobrowse_agent::gws::paths::NOTIFICATIONS,
    );
    let cobrowse_cometd = cobrowse.bayeux.clone().router(
        Arc::new(cobrowse::cometd::VisitorAuthenticator {
            cobrowse: cobrowse.clone(),
        }),
        "/cobrowse/cometd",
    );
    let cobrowse_http = cobrowse::api::routes()
        .merge(cobrowse::view::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(cobrowse.clone());
    let mut router = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .merge(agent_api::routes())
        .merge(customer_api::routes())
        .merge(cobrowse::verify::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .merge(notifications)
        .merge(cobrowse_http)
        .merge(cobrowse_cometd);
    if options.demo {
        router = router.merge(demo::routes());
    }
    Ok((router, hub, cobrowse))
}

/// Runs the server until the process ends. Prints `cobrowse-server listening on <url>` on
/// stdout once it accepts connections.
pub async fn serve(options: Options) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let (router, hub, cobrowse) = app(&options, base_url.clone())?;
    // Offers left from before a restart resume; expired ones go to the next agent.
    hub.expire_invitations();
    hub.route();
    let ticker = hub.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            ticker.expire_invitations();
            ticker.expire_queued();
            ticker.requeue_absent_agents();
            cobrowse.sweep(ids::now_ms());
        }
    });
    println!("cobrowse-server listening on {base_url}");
    tracing::info!(%addr, demo = options.demo, data = %options.data_dir.display(), "listening");
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        BODY_TIMEOUT,
    ));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = router
            .clone()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        tokio::spawn(serve_connection(stream, service));
    }
}

/// A client must send a request's headers within this long, also between the requests of a
/// kept-alive connection (an idle connection closes after it).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// A request body must arrive within this long.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(15);

/// One connection, HTTP/1.1 (with upgrades to WebSocket), with the timeouts above.
async fn serve_connection(stream: tokio::net::TcpStream, service: Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let service = hyper_util::service::TowerToHyperService::new(service);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "connection ended");
    }
}
