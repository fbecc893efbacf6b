//! The Bayeux endpoint: the core [`Engine`] behind HTTP long-polling and WebSocket on the same
//! path, as an axum router.
//!
//! Authentication is pluggable ([`Authenticator`]): a long-polling request is authenticated
//! from its headers (HTTP Basic, a session cookie), a WebSocket from its upgrade request's
//! headers or, because a browser WebSocket cannot set headers, from the handshake's `ext`.
//! Frames larger than the limits are refused before parsing (HTTP 413/400, or a WebSocket
//! close), never with a panic and never affecting other clients.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::server::{
    Authorizer, Engine, HeldConnect, RequestContext, ServerConfig, ServiceRequest,
};
use cobrowse_agent::bayeux::{decode_frame, encode_frame, meta, Message, LONG_POLLING, WEBSOCKET};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

/// Establishes who is making a request.
pub trait Authenticator: Send + Sync + 'static {
    type Principal: Clone + PartialEq + Send + Sync + 'static;

    /// From an HTTP request's headers (every long-polling request; a WebSocket upgrade) and
    /// the peer's address (when the server runs with connection info).
    fn principal_from_headers(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> impl Future<Output = Option<Self::Principal>> + Send;

    /// From a handshake's `ext`, for clients that cannot send headers.
    fn principal_from_handshake_ext(
        &self,
        ext: &Map<String, Value>,
    ) -> impl Future<Output = Option<Self::Principal>> + Send;
}

/// Answers `/service/**` publishes (request/response); runs after the publish is acknowledged.
pub type ServiceHandler<P, A> = Arc<dyn Fn(ServiceRequest<P>, &Bayeux<P, A>) + Send + Sync>;

struct Inner<P, A> {
    engine: Mutex<Engine<P, A>>,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    limits: FrameLimits,
    epoch: Instant,
    service: Option<ServiceHandler<P, A>>,
}

/// A handle on the endpoint: clone it freely; publish and deliver from anywhere.
pub struct Bayeux<P, A> {
    inner: Arc<Inner<P, A>>,
}

impl<P, A> Clone for Bayeux<P, A> {
    fn clone(&self) -> Self {
        Bayeux {
            inner: self.inner.clone(),
        }
    }
}

/// Unguessable client ids: 20 random bytes, hex.
fn random_client_id() -> String {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<P, A> Bayeux<P, A>
where
    P: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
    A: Authorizer<P> + Send + 'static,
{
    pub fn new(
        config: ServerConfig,
        authorizer: A,
        limits: FrameLimits,
        service: Option<ServiceHandler<P, A>>,
    ) -> Self {
        let engine = Engine::new(config, authorizer, Box::new(random_client_id));
        Bayeux {
            inner: Arc::new(Inner {
                engine: Mutex::new(engine),
                wakers: Mutex::new(HashMap::new()),
                limits,
                epoch: Instant::now(),
                service,
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    fn engine(&self) -> MutexGuard<'_, Engine<P, A>> {
        // A panic elsewhere must not take the endpoint down with a poisoned lock.
        self.inner.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waker(&self, client_id: &str) -> Arc<Notify> {
        let mut wakers = self.inner.wakers.lock().unwrap_or_else(|e| e.into_inner());
        wakers.entry(client_id.to_owned()).or_default().clone()
    }

    /// Wakes the held connects of sessions the engine removed, then forgets their wakers.
    fn ended(&self, client_ids: &[String]) {
        if client_ids.is_empty() {
            return;
        }
        let mut wakers = self.inner.wakers.lock().unwrap_or_else(|e| e.into_inner());
        for id in client_ids {
            if let Some(n) = wakers.remove(id) {
                n.notify_waiters();
            }
        }
    }

    /// Wakers kept now (one per session with a held connect at some point).
    pub fn wakers(&self) -> usize {
        self.inner
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    fn wake(&self, client_ids: &[String]) {
        let wakers = self.inner.wakers.lock().unwrap_or_else(|e| e.into_inner());
        for id in client_ids {
            if let Some(n) = wakers.get(id) {
                n.notify_waiters();
            }
        }
    }

    /// Broadcasts on `channel`.
    pub fn publish(&self, channel: &str, data: Value) {
        let woken = self.engine().publish(channel, data);
        self.wake(&woken);
    }

    /// Delivers on `channel` to the subscribed sessions of principals `to` accepts.
    pub fn deliver_where(&self, channel: &str, data: Value, to: impl Fn(&P) -> bool) {
        let woken = self.engine().deliver_where(channel, data, to);
        self.wake(&woken);
    }

    /// Delivers on `channel` to the sessions of `principal`, keeping the message for it while it
    /// has none (see `Engine::deliver_to_principal`).
    pub fn deliver_to_principal(&self, principal: &P, channel: &str, data: Value) {
        let now = self.now_ms();
        let woken = self
            .engine()
            .deliver_to_principal(now, principal, channel, data);
        self.wake(&woken);
    }

    /// Whether `principal` has a session now.
    pub fn has_session(&self, principal: &P) -> bool {
        self.engine().sessions_of(principal) > 0
    }

    /// Delivers to one session (a service reply).
    pub fn deliver_to(&self, client_id: &str, channel: &str, data: Value) {
        if self.engine().deliver_to(client_id, channel, data) {
            self.wake(&[client_id.to_owned()]);
        }
    }

    /// Forgets a session: its client must handshake again.
    pub fn forget(&self, client_id: &str) {
        self.engine().forget(client_id);
        self.ended(&[client_id.to_owned()]);
    }

    /// Ends every session of `principal` (sign-out): their clients must handshake again.
    pub fn forget_principal(&self, principal: &P) {
        let ended = self.engine().forget_principal(principal);
        self.ended(&ended);
    }

    /// Sessions and queued messages now.
    pub fn stats(&self) -> cobrowse_agent::bayeux::server::EngineStats {
        self.engine().stats()
    }

    /// Removes expired sessions every second, while the returned task runs.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let now = this.now_ms();
                let expired = this.engine().sweep(now);
                this.ended(&expired);
            }
        })
    }

    /// Handles a frame: returns the immediate replies and the connect to hold, if any.
    fn process(
        &self,
        frame: Vec<Message>,
        ctx: &RequestContext<P>,
    ) -> (Vec<Message>, Option<HeldConnect>) {
        let now = self.now_ms();
        let handled = self.engine().handle(now, frame, ctx);
        self.wake(&handled.woken);
        self.ended(&handled.ended);
        if let Some(held) = &handled.held {
            // A newer connect supersedes a held one: wake it so it ends.
            self.wake(std::slice::from_ref(&held.client_id));
        }
        if let Some(service) = &self.inner.service {
            for request in handled.service_requests {
                service(request, self);
            }
        }
        (handled.replies, handled.held)
    }

    /// Waits until the held connect should be answered, then answers it.
    async fn finish_connect(&self, held: HeldConnect) -> Vec<Message> {
        let notify = self.waker(&held.client_id);
        let deadline = self.inner.epoch + Duration::from_millis(held.until_ms);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.engine().should_answer(&held) || Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
        let now = self.now_ms();
        let client_id = held.client_id.clone();
        let mut engine = self.engine();
        let out = engine.complete_connect(now, held);
        if engine.principal_of(&client_id).is_none() {
            drop(engine);
            self.ended(&[client_id]);
        }
        out
    }

    /// A router serving the endpoint at `path` (e.g. `/cometd`): long-polling POSTs and
    /// WebSocket upgrades on `path`, `path/` and any sub-path (CometD clients post to
    /// `.../handshake`, `.../connect`). Merge it into the application's router.
    pub fn router<Auth: Authenticator<Principal = P>>(self, auth: Arc<Auth>, path: &str) -> Router {
        self.router_with_cors(auth, path, false)
    }

    /// [`Bayeux::router`], optionally answering CORS requests from any origin, credentials
    /// included. Only for test endpoints (a browser test page is another origin); never for a
    /// server with real users, since any web page could then use a visitor's session.
    pub fn router_with_cors<Auth: Authenticator<Principal = P>>(
        self,
        auth: Arc<Auth>,
        path: &str,
        cors: bool,
    ) -> Router {
        let limit = self.inner.limits.max_bytes;
        let state = Endpoint {
            bayeux: self,
            auth,
            cors,
        };
        let path = path.trim_end_matches('/');
        Router::new()
            .route(path, any(endpoint::<P, A, Auth>))
            .route(&format!("{path}/"), any(endpoint::<P, A, Auth>))
            .route(&format!("{path}/{{*rest}}"), any(endpoint::<P, A, Auth>))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(state)
    }
}

struct Endpoint<P, A, Auth> {
    bayeux: Bayeux<P, A>,
    auth: Arc<Auth>,
    cors: bool,
}

impl<P, A, Auth> Clone for Endpoint<P, A, Auth> {
    fn clone(&self) -> Self {
        Endpoint {
            bayeux: self.bayeux.clone(),
            auth: self.auth.clone(),
            cors: self.cors,
        }
    }
}

/// The principal of a frame: from the request's headers, else (handshake only) from `ext`.
async fn principal_for<Auth: Authenticator>(
    auth: &Auth,
    from_headers: Option<Auth::Principal>,
    frame: &[Message],
) -> Option<Auth::Principal> {
    if from_headers.is_some() {
        return from_headers;
    }
    let ext = frame
        .iter()
        .find(|m| m.channel == meta::HANDSHAKE)?
        .ext
        .as_ref()?;
    auth.principal_from_handshake_ext(ext).await
}

async fn endpoint<P, A, Auth>(
    State(state): State<Endpoint<P, A, Auth>>,
    request: axum::extract::Request,
) -> Response
where
    P: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
    A: Authorizer<P> + Send + 'static,
    Auth: Authenticator<Principal = P>,
{
    let (mut parts, body) = request.into_parts();
    let origin = parts.headers.get(axum::http::header::ORIGIN).cloned();
    let mut response = route_request(&state, &mut parts, body).await;
    if let (true, Some(origin)) = (state.cors, origin) {
        let h = response.headers_mut();
        h.insert("access-control-allow-origin", origin);
        h.insert(
            "access-control-allow-credentials",
            "true".parse().expect("valid header"),
        );
        h.insert(
            "access-control-allow-methods",
            "POST, OPTIONS".parse().expect("valid header"),
        );
        h.insert(
            "access-control-allow-headers",
            "content-type, authorization".parse().expect("valid header"),
        );
    }
    response
}

async fn route_request<P, A, Auth>(
    state: &Endpoint<P, A, Auth>,
    parts: &mut axum::http::request::Parts,
    body: axum::body::Body,
) -> Response
where
    P: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
    A: Authorizer<P> + Send + 'static,
    Auth: Authenticator<Principal = P>,
{
    if state.cors && parts.method == axum::http::Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let from_headers = state
        .auth
        .principal_from_headers(&parts.headers, peer)
        .await;
    if let Ok(upgrade) = WebSocketUpgrade::from_request_parts(parts, &()).await {
        if !state
            .bayeux
            .engine()
            .config()
            .transports
            .iter()
            .any(|t| t == WEBSOCKET)
        {
            return (
                StatusCode::BAD_REQUEST,
                "this endpoint does not offer WebSocket",
            )
                .into_response();
        }
        let state = state.clone();
        let limits = state.bayeux.inner.limits;
        return upgrade
            .max_message_size(limits.max_bytes)
            .on_upgrade(move |socket| websocket(state, socket, from_headers))
            .into_response();
    }
    if parts.method != axum::http::Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a Bayeux frame or upgrade to WebSocket",
        )
            .into_response();
    }
    let body = match axum::body::to_bytes(body, state.bayeux.inner.limits.max_bytes).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "frame too large").into_response(),
    };
    long_polling(state.clone(), body, from_headers).await
}

async fn long_polling<P, A, Auth>(
    state: Endpoint<P, A, Auth>,
    body: Bytes,
    from_headers: Option<P>,
) -> Response
where
    P: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
    A: Authorizer<P> + Send + 'static,
    Auth: Authenticator<Principal = P>,
{
    let Ok(text) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "frame is not UTF-8").into_response();
    };
    let frame = match decode_frame(text, state.bayeux.inner.limits) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => return (StatusCode::BAD_REQUEST, "empty frame").into_response(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let principal = principal_for(state.auth.as_ref(), from_headers, &frame).await;
    let ctx = RequestContext {
        principal,
        transport: LONG_POLLING.to_owned(),
    };
    let (mut replies, held) = state.bayeux.process(frame, &ctx);
    if let Some(held) = held {
        replies.extend(state.bayeux.finish_connect(held).await);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json;charset=UTF-8",
        )],
        encode_frame(&replies),
    )
        .into_response()
}

/// Frames waiting for a WebSocket peer to read them. A peer that does not read is cut off
/// once this many are waiting, rather than the server buffering for it.
pub const MAX_OUTBOUND_FRAMES: usize = 64;

/// A WebSocket with no frame for the held connect's timeout plus the session's max interval
/// plus this is closed: a live client sends a connect as each one returns.
const WS_IDLE_MARGIN: Duration = Duration::from_secs(15);

/// The sending side of one WebSocket: a bounded queue to its writer task; a full queue cuts
/// the connection.
#[derive(Clone)]
struct Outbound {
    tx: mpsc::Sender<WsMessage>,
    cut: Arc<Notify>,
}

impl Outbound {
    fn send(&self, m: WsMessage) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(m) {
            // `notify_one` keeps the permit if the reader is not waiting right now.
            self.cut.notify_one();
        }
    }
}

async fn websocket<P, A, Auth>(
    state: Endpoint<P, A, Auth>,
    socket: WebSocket,
    from_headers: Option<P>,
) where
    P: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
    A: Authorizer<P> + Send + 'static,
    Auth: Authenticator<Principal = P>,
{
    use futures_util::{SinkExt, StreamExt};
    let (mut sink, mut source) = socket.split();
    let (tx, mut rx) = mpsc::channel::<WsMessage>(MAX_OUTBOUND_FRAMES);
    let out = Outbound {
        tx,
        cut: Arc::new(Notify::new()),
    };
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let closing = matches!(m, WsMessage::Close(_));
            if sink.send(m).await.is_err() || closing {
                break;
            }
        }
    });
    // Once a handshake on this socket succeeded, its principal authenticates later frames.
    let mut principal = from_headers;
    let mut held_tasks = Vec::new();
    let mut cut_off = false;
    let idle = {
        let config = state.bayeux.engine().config().clone();
        Duration::from_millis(config.timeout_ms + config.max_interval_ms) + WS_IDLE_MARGIN
    };
    loop {
        let message = tokio::select! {
            m = tokio::time::timeout(idle, source.next()) => m,
            _ = out.cut.notified() => {
                cut_off = true;
                break;
            }
        };
        // Silent longer than a live client ever is (it sends a connect as each one returns).
        let Ok(Some(Ok(message))) = message else {
            break;
        };
        let text = match message {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            WsMessage::Binary(_) => {
                out.send(close(1003, "binary frames are not Bayeux"));
                break;
            }
            _ => continue,
        };
        let frame = match decode_frame(text.as_str(), state.bayeux.inner.limits) {
            Ok(f) => f,
            Err(e) => {
                out.send(close(1007, &e.to_string()));
                break;
            }
        };
        let frame_principal = principal_for(state.auth.as_ref(), principal.clone(), &frame).await;
        let ctx = RequestContext {
            principal: frame_principal.clone(),
            transport: WEBSOCKET.to_owned(),
        };
        let (replies, held) = state.bayeux.process(frame, &ctx);
        if replies
            .iter()
            .any(|r| r.channel == meta::HANDSHAKE && r.successful == Some(true))
        {
            principal = frame_principal;
        }
        if !replies.is_empty() {
            out.send(WsMessage::text(encode_frame(&replies)));
        }
        if let Some(held) = held {
            let bayeux = state.bayeux.clone();
            let out = out.clone();
            held_tasks.push(tokio::spawn(async move {
                let replies = bayeux.finish_connect(held).await;
                out.send(WsMessage::text(encode_frame(&replies)));
            }));
            held_tasks.retain(|t| !t.is_finished());
        }
    }
    for t in held_tasks {
        t.abort();
    }
    if cut_off {
        // The peer stopped reading: nothing more is written to it, the socket closes now.
        tracing::warn!(
            frames = MAX_OUTBOUND_FRAMES,
            "WebSocket peer not reading its replies: connection cut"
        );
        writer.abort();
        return;
    }
    drop(out);
    let _ = writer.await;
}

fn close(code: u16, reason: &str) -> WsMessage {
    let reason: String = reason.chars().take(100).collect();
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
