//! A native CometD client: the core state machine over long-polling (reqwest) or WebSocket
//! (tokio-tungstenite), in one tokio task.

use std::collections::BTreeMap;
use std::time::Duration;

use cobrowse_agent::bayeux::client::{
    take_long_polling_batch, Client, ClientConfig, Event, Outgoing, Output, Timer,
};
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::{decode_frame, encode_frame, LONG_POLLING, WEBSOCKET};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// What the application asks of the client task.
enum Command {
    Subscribe(String),
    Unsubscribe(String),
    Publish(String, Value, oneshot::Sender<Option<String>>),
    Disconnect,
}

/// What transports and the timer report back to the client task.
enum Incoming {
    Frame(String),
    Failed {
        request: u64,
        reason: String,
    },
    /// The long-polling request for non-connect messages finished (either way).
    LongPollIdle,
    SocketOpened(mpsc::UnboundedSender<String>),
    SocketClosed {
        generation: u64,
        reason: String,
    },
    /// The WebSocket could not be opened; `upgrade_refused`: the server answered the upgrade
    /// request with something other than 101 (it does not speak WebSocket there).
    SocketRefused {
        reason: String,
        upgrade_refused: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("the client task ended")]
    Ended,
    #[error("invalid channel {0}")]
    InvalidChannel(String),
}

/// A CometD client running in its own tokio task.
pub struct NativeClient {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<Event>,
}

impl NativeClient {
    /// Starts a client for the CometD endpoint `url` (`http://host:port/path`).
    pub fn spawn(url: &str, config: ClientConfig) -> NativeClient {
        Self::spawn_with_headers(url, config, Vec::new())
    }

    /// Like [`NativeClient::spawn`], sending `headers` with every HTTP request and the
    /// WebSocket upgrade (e.g. `Authorization: Basic …`, as Genesys Web Services wants).
    pub fn spawn_with_headers(
        url: &str,
        config: ClientConfig,
        headers: Vec<(String, String)>,
    ) -> NativeClient {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let driver = Driver::new(url, config, headers, event_tx);
        tokio::spawn(driver.run(command_rx));
        NativeClient { commands, events }
    }

    pub fn subscribe(&self, channel: &str) {
        let _ = self.commands.send(Command::Subscribe(channel.to_owned()));
    }

    pub fn unsubscribe(&self, channel: &str) {
        let _ = self.commands.send(Command::Unsubscribe(channel.to_owned()));
    }

    /// Publishes; the id names the later `PublishAcked` / `PublishFailed` event.
    pub async fn publish(&self, channel: &str, data: Value) -> Result<String, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Publish(channel.to_owned(), data, tx))
            .map_err(|_| ClientError::Ended)?;
        rx.await
            .map_err(|_| ClientError::Ended)?
            .ok_or_else(|| ClientError::InvalidChannel(channel.to_owned()))
    }

    pub fn disconnect(&self) {
        let _ = self.commands.send(Command::Disconnect);
    }

    /// The next event, if the task still runs.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Waits for an event `pick` accepts (others are passed to `skipped`), up to `limit`.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut pick: impl FnMut(&Event) -> Option<T>,
        mut skipped: impl FnMut(Event),
    ) -> Result<T, ClientError> {
        let deadline = Instant::now() + limit;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| ClientError::Timeout(what.to_owned()))?
                .ok_or(ClientError::Ended)?;
            match pick(&event) {
                Some(v) => return Ok(v),
                None => skipped(event),
            }
        }
    }
}

struct Driver {
    url: String,
    headers: Vec<(String, String)>,
    client: Client,
    http: reqwest::Client,
    events: mpsc::UnboundedSender<Event>,
    incoming_tx: mpsc::UnboundedSender<Incoming>,
    incoming_rx: mpsc::UnboundedReceiver<Incoming>,
    timers: BTreeMap<Timer, Instant>,
    socket: Option<mpsc::UnboundedSender<String>>,
    socket_generation: u64,
    socket_opening: bool,
    socket_ever_opened: bool,
    /// Frames waiting for the WebSocket to open.
    socket_backlog: Vec<Outgoing>,
    /// Requests sent on the current socket (failed together when it closes).
    socket_requests: Vec<u64>,
    /// Deadline of the held connect on the socket.
    socket_connect_deadline: Option<Instant>,
    /// Long-polling keeps at most one non-connect request in flight (plus the held connect),
    /// like CometD's clients, so publishes reach the server in order; these wait meanwhile.
    lp_queue: Vec<Outgoing>,
    lp_busy: bool,
    terminated: bool,
}

impl Driver {
    fn new(
        url: &str,
        config: ClientConfig,
        headers: Vec<(String, String)>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Driver {
        let (incoming_tx, incoming_rx) = mpsc::unbounded_channel();
        let mut default_headers = reqwest::header::HeaderMap::new();
        for (k, v) in &headers {
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::try_from(k.as_str()),
                reqwest::header::HeaderValue::try_from(v.as_str()),
            ) {
                default_headers.insert(k, v);
            }
        }
        Driver {
            url: url.to_owned(),
            headers,
            client: Client::new(config),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .default_headers(default_headers)
                .build()
                .expect("HTTP client"),
            events,
            incoming_tx,
            incoming_rx,
            timers: BTreeMap::new(),
            socket: None,
            socket_generation: 0,
            socket_opening: false,
            socket_ever_opened: false,
            socket_backlog: Vec::new(),
            socket_requests: Vec::new(),
            socket_connect_deadline: None,
            lp_queue: Vec::new(),
            lp_busy: false,
            terminated: false,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.client.start();
        loop {
            self.drain();
            if self.terminated {
                return;
            }
            let next_timer = self
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (*t, *at));
            let wake = [next_timer.map(|(_, at)| at), self.socket_connect_deadline]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Subscribe(c)) => { let _ = self.client.subscribe(&c); }
                    Some(Command::Unsubscribe(c)) => self.client.unsubscribe(&c),
                    Some(Command::Publish(c, data, reply)) => {
                        let _ = reply.send(self.client.publish(&c, data).ok());
                    }
                    Some(Command::Disconnect) | None => self.client.disconnect(),
                },
                Some(incoming) = self.incoming_rx.recv() => self.on_incoming(incoming),
                _ = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if self.socket_connect_deadline.is_some_and(|d| d <= now) {
                        self.socket_connect_deadline = None;
                        self.close_socket("connect timed out");
                    }
                    if let Some((timer, at)) = next_timer {
                        if at <= now {
                            self.timers.remove(&timer);
                            self.client.timer_fired(timer);
                        }
                    }
                }
            }
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.client.poll_output() {
            match out {
                Output::Send(outgoing) => self.send(outgoing),
                Output::SetTimer { timer, after_ms } => {
                    self.timers
                        .insert(timer, Instant::now() + Duration::from_millis(after_ms));
                }
                Output::CancelTimer(timer) => {
                    self.timers.remove(&timer);
                }
                Output::Event(event) => {
                    if matches!(event, Event::Disconnected { .. }) {
                        self.terminated = true;
                    }
                    let _ = self.events.send(event);
                }
            }
        }
    }

    fn on_incoming(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Frame(text) => match decode_frame(&text, FrameLimits::default()) {
                Ok(messages) => {
                    if messages.iter().any(|m| m.channel == "/meta/connect") {
                        self.socket_connect_deadline = None;
                    }
                    self.client.receive(messages);
                    let client = &self.client;
                    self.socket_requests
                        .retain(|r| client.is_request_pending(*r));
                }
                Err(e) => eprintln!("bayeux client: dropped a bad frame: {e}"),
            },
            Incoming::Failed { request, reason } => self.client.request_failed(request, &reason),
            Incoming::LongPollIdle => {
                self.lp_busy = false;
                self.flush_long_polling();
            }
            Incoming::SocketOpened(tx) => {
                self.socket_opening = false;
                self.socket_ever_opened = true;
                self.socket = Some(tx);
                for outgoing in std::mem::take(&mut self.socket_backlog) {
                    self.send(outgoing);
                }
            }
            Incoming::SocketClosed { generation, reason } => {
                if generation == self.socket_generation {
                    self.close_socket(&reason);
                }
            }
            Incoming::SocketRefused {
                reason,
                upgrade_refused,
            } => {
                self.socket_opening = false;
                let backlog = std::mem::take(&mut self.socket_backlog);
                if upgrade_refused || !self.socket_ever_opened {
                    // Like CometD's clients: a WebSocket that never worked means falling back.
                    self.client.transport_unavailable(&reason);
                } else {
                    // It worked before: the network is down; retry as usual, same session.
                    for outgoing in backlog {
                        self.client.request_failed(outgoing.request, &reason);
                    }
                }
            }
        }
    }

    fn close_socket(&mut self, reason: &str) {
        self.socket = None;
        self.socket_generation += 1;
        self.socket_connect_deadline = None;
        for request in std::mem::take(&mut self.socket_requests) {
            self.client.request_failed(request, reason);
        }
    }

    fn send(&mut self, outgoing: Outgoing) {
        match self.client.transport() {
            WEBSOCKET => self.send_websocket(outgoing),
            LONG_POLLING => self.send_long_polling(outgoing),
            other => self
                .client
                .request_failed(outgoing.request, &format!("unsupported transport {other}")),
        }
    }

    fn send_long_polling(&mut self, outgoing: Outgoing) {
        if outgoing.is_connect {
            self.post(vec![outgoing], false);
        } else {
            self.lp_queue.push(outgoing);
            self.flush_long_polling();
        }
    }

    /// Sends everything queued as one batch, unless a non-connect request is in flight. A
    /// handshake always travels alone (CometD servers refuse it batched).
    fn flush_long_polling(&mut self) {
        if self.lp_busy || self.lp_queue.is_empty() {
            return;
        }
        let batch = take_long_polling_batch(&mut self.lp_queue);
        self.lp_busy = true;
        self.post(batch, true);
    }

    fn post(&self, batch: Vec<Outgoing>, reports_idle: bool) {
        let http = self.http.clone();
        let url = self.url.clone();
        let tx = self.incoming_tx.clone();
        let requests: Vec<u64> = batch.iter().map(|o| o.request).collect();
        let timeout =
            Duration::from_millis(batch.iter().map(|o| o.timeout_ms).max().unwrap_or(1).max(1));
        let messages: Vec<_> = batch.into_iter().flat_map(|o| o.messages).collect();
        let body = encode_frame(&messages);
        tokio::spawn(async move {
            let result = async {
                let response = http
                    .post(&url)
                    .header("Content-Type", "application/json;charset=UTF-8")
                    .body(body)
                    .timeout(timeout)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                let text = response.text().await.map_err(|e| e.to_string())?;
                if status.is_success() {
                    Ok(text)
                } else {
                    Err(format!("HTTP {status}: {text}"))
                }
            }
            .await;
            match result {
                Ok(text) => {
                    let _ = tx.send(Incoming::Frame(text));
                }
                Err(reason) => {
                    for request in requests {
                        let _ = tx.send(Incoming::Failed {
                            request,
                            reason: reason.clone(),
                        });
                    }
                }
            }
            if reports_idle {
                let _ = tx.send(Incoming::LongPollIdle);
            }
        });
    }

    fn send_websocket(&mut self, outgoing: Outgoing) {
        let Some(socket) = &self.socket else {
            self.socket_backlog.push(outgoing);
            if !self.socket_opening {
                self.open_socket();
            }
            return;
        };
        if outgoing.is_connect {
            self.socket_connect_deadline =
                Some(Instant::now() + Duration::from_millis(outgoing.timeout_ms.max(1)));
        }
        self.socket_requests.push(outgoing.request);
        if socket.send(encode_frame(&outgoing.messages)).is_err() {
            self.close_socket("socket gone");
        }
    }

    fn open_socket(&mut self) {
        self.socket_opening = true;
        let url = match self.url.strip_prefix("http") {
            Some(rest) => format!("ws{rest}"),
            None => self.url.clone(),
        };
        let tx = self.incoming_tx.clone();
        let generation = self.socket_generation;
        let headers = self.headers.clone();
        tokio::spawn(async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let request = url.as_str().into_client_request().map(|mut r| {
                for (k, v) in &headers {
                    if let (Ok(k), Ok(v)) = (
                        tokio_tungstenite::tungstenite::http::HeaderName::try_from(k.as_str()),
                        tokio_tungstenite::tungstenite::http::HeaderValue::try_from(v.as_str()),
                    ) {
                        r.headers_mut().insert(k, v);
                    }
                }
                r
            });
            let connected = match request {
                Ok(r) => tokio_tungstenite::connect_async(r).await,
                Err(e) => Err(e),
            };
            let stream = match connected {
                Ok((stream, _)) => stream,
                Err(e) => {
                    let upgrade_refused =
                        matches!(e, tokio_tungstenite::tungstenite::Error::Http(_));
                    let _ = tx.send(Incoming::SocketRefused {
                        reason: e.to_string(),
                        upgrade_refused,
                    });
                    return;
                }
            };
            let (mut sink, mut source) = stream.split();
            let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
            let _ = tx.send(Incoming::SocketOpened(out_tx));
            let writer = async {
                while let Some(text) = out_rx.recv().await {
                    if sink.send(WsMessage::text(text)).await.is_err() {
                        break;
                    }
                }
                let _ = sink.close().await;
            };
            let reader = async {
                while let Some(frame) = source.next().await {
                    match frame {
                        Ok(WsMessage::Text(text)) => {
                            let _ = tx.send(Incoming::Frame(text.to_string()));
                        }
                        Ok(WsMessage::Close(_)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            };
            tokio::select! {
                _ = writer => {}
                _ = reader => {}
            }
            let _ = tx.send(Incoming::SocketClosed {
                generation,
                reason: "socket closed".into(),
            });
        });
    }
}
