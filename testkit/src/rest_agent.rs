//! An agent over the GWS REST API (Basic from core on every request, the session cookie kept)
//! and, once signed in, its CometD notifications through our native client, like a Workspace
//! desktop would.

use bayeux_net::client::NativeClient;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use cobrowse_agent::gws::{basic_authorization, paths, Operation};
use serde_json::{json, Value};

use crate::reference_server::ReferenceServer;
use crate::WAIT;

pub struct RestAgent {
    pub http: reqwest::Client,
    pub base: String,
    /// The `Authorization` header value.
    pub auth: String,
    pub cometd: Option<NativeClient>,
    /// Notifications seen so far (data of `/v2/me/chats`, `/v2/me/channels` and
    /// `/v2/me/cobrowse` messages).
    pub seen: Vec<Value>,
}

impl std::fmt::Debug for RestAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestAgent")
            .field("base", &self.base)
            .finish()
    }
}

async fn reply(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl RestAgent {
    /// A demo agent (its password is its name).
    pub fn new(server: &ReferenceServer, user: &str) -> RestAgent {
        Self::with_password(&server.url, user, user)
    }

    pub fn with_password(base: &str, user: &str, password: &str) -> RestAgent {
        RestAgent {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .pool_max_idle_per_host(0)
                .build()
                .expect("an HTTP client"),
            base: base.to_owned(),
            auth: basic_authorization(user, password),
            cometd: None,
            seen: Vec::new(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.try_get(path).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.try_post(path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`RestAgent::get`], with the server being down as an error (load and fault tests).
    pub async fn try_get(&self, path: &str) -> Result<(u16, Value), String> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        Ok(reply(r).await)
    }

    /// [`RestAgent::post`], with the server being down as an error.
    pub async fn try_post(&self, path: &str, body: Value) -> Result<(u16, Value), String> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        Ok(reply(r).await)
    }

    /// An operation on chat `chat`.
    pub async fn op(&self, chat: &str, body: Value) -> (u16, Value) {
        self.post(&paths::chat(chat), body).await
    }

    async fn ok(&self, path: &str, op: Operation) {
        let (s, r) = self.post(path, json!(op)).await;
        assert_eq!((s, &r["statusCode"]), (200, &json!(0)), "{op:?}: {r}");
    }

    /// Starts a contact-center session on the chat channel and goes Ready, over REST only.
    pub async fn start_ready(&self) {
        self.ok(paths::ME, Operation::start_chat_session()).await;
        self.ok(paths::CHAT_CHANNEL, Operation::Ready).await;
    }

    /// Connects CometD over `transport` (Basic on every request, like a GWS client), subscribes
    /// to the chat, channel and co-browse topics, starts a contact-center session and goes
    /// Ready.
    pub async fn sign_in(&mut self, transport: &str) {
        let config = ClientConfig {
            transports: vec![transport.into()],
            backoff_initial_ms: 100,
            ..ClientConfig::default()
        };
        let mut c = NativeClient::spawn_with_headers(
            &format!("{}{}", self.base, paths::NOTIFICATIONS),
            config,
            vec![("Authorization".into(), self.auth.clone())],
        );
        c.subscribe(paths::CHATS_TOPIC);
        c.subscribe(paths::CHANNELS_TOPIC);
        c.subscribe(cobrowse_agent::gws::cobrowse::COBROWSE_TOPIC);
        let mut subscribed = 0;
        while subscribed < 3 {
            match tokio::time::timeout(WAIT, c.next_event())
                .await
                .expect("CometD answers")
                .expect("client runs")
            {
                Event::Subscribed { .. } => subscribed += 1,
                Event::SubscribeFailed { channel, reason } => {
                    panic!("subscribe {channel}: {reason}")
                }
                Event::HandshakeFailed { reason } => panic!("handshake: {reason}"),
                _ => {}
            }
        }
        self.cometd = Some(c);
        self.start_ready().await;
    }

    /// Waits for a notification `pick` accepts (earlier ones count too).
    pub async fn notification<T>(&mut self, what: &str, pick: impl Fn(&Value) -> Option<T>) -> T {
        if let Some(v) = self.seen.iter().find_map(&pick) {
            return v;
        }
        let c = self.cometd.as_mut().expect("signed in");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, c.next_event())
                .await
                .unwrap_or_else(|_| panic!("no notification: {what}; seen {:#?}", self.seen))
                .expect("client runs");
            if let Event::Message(m) = event {
                let data = m.data.unwrap_or_default();
                let found = pick(&data);
                self.seen.push(data);
                if let Some(v) = found {
                    return v;
                }
            }
        }
    }

    /// The id of the next chat offered (state `Invited`).
    pub async fn invitation(&mut self) -> String {
        self.notification("an invitation", |d| {
            (d["notificationType"] == "StatusChange" && d["chat"]["state"] == "Invited")
                .then(|| d["chat"]["id"].as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    /// Texts of `Text` messages seen for `chat` in `MessageLogUpdated` notifications, by index.
    pub fn texts(&self, chat: &str) -> Vec<(i64, String)> {
        let mut out: Vec<(i64, String)> = self
            .seen
            .iter()
            .filter(|d| d["messageType"] == "MessageLogUpdated" && d["chatId"] == chat)
            .flat_map(|d| d["messages"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["type"] == "Text")
            .filter_map(|m| Some((m["index"].as_i64()?, m["text"].as_str()?.to_owned())))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Polls `GET /api/v2/me/chats` until `chat` is among the agent's chats.
    pub async fn has_chat(&self, chat: &str) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, r) = self.get(paths::CHATS).await;
            if r["chats"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["id"] == chat)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("chat {chat} never reached the agent: {r}"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
