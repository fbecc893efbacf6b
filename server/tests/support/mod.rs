//! Test harness: the real `cobrowse-server` binary in a child process over real sockets, an
//! agent (REST with Basic + cookie, and CometD notifications through our native client), and
//! a customer (GMS Chat API v2, form-encoded).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use bayeux_net::client::NativeClient;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use serde_json::{json, Value};

pub const WAIT: Duration = Duration::from_secs(15);

pub struct Server {
    child: Child,
    pub url: String,
    pub data: PathBuf,
}

impl Server {
    /// Starts the binary on a free port with a fresh data directory and the demo agents.
    pub fn start(extra: &[&str]) -> Server {
        let data = std::env::temp_dir().join(format!(
            "cobrowse-server-test-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        Self::start_in(data, extra)
    }

    /// Starts the binary on the data directory `data` (to restart after a crash).
    pub fn start_in(data: PathBuf, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cobrowse-server"))
            .args(["--listen", "127.0.0.1:0", "--demo", "--data"])
            .arg(&data)
            .args(extra)
            .env(
                "COBROWSE_LOG",
                std::env::var("TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cobrowse-server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("cobrowse-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, url, data }
    }

    /// `kill -9`: no shutdown, no flush beyond what SQLite already committed.
    pub fn kill9(mut self) -> PathBuf {
        let _ = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::mem::take(&mut self.data)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.data.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// An agent: REST calls and a CometD connection to `/api/v2/notifications`.
pub struct Agent {
    pub http: reqwest::Client,
    pub base: String,
    pub auth: String,
    pub cometd: Option<NativeClient>,
    /// Notifications seen so far (data of `/v2/me/chats` and `/v2/me/channels` messages).
    pub seen: Vec<Value>,
}

impl Agent {
    pub fn new(server: &Server, user: &str) -> Agent {
        Agent {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: server.url.clone(),
            auth: basic(user, user),
            cometd: None,
            seen: Vec::new(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    pub async fn op(&self, chat: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/api/v2/me/chats/{chat}"), body).await
    }

    /// Connects CometD over `transport` (Basic on every request, like a GWS client), subscribes
    /// to the chat and channel topics, starts a contact-center session and goes Ready.
    pub async fn sign_in(&mut self, transport: &str) {
        let config = ClientConfig {
            transports: vec![transport.into()],
            backoff_initial_ms: 100,
            ..ClientConfig::default()
        };
        let mut c = NativeClient::spawn_with_headers(
            &format!("{}/api/v2/notifications", self.base),
            config,
            vec![("Authorization".into(), self.auth.clone())],
        );
        c.subscribe("/v2/me/chats");
        c.subscribe("/v2/me/channels");
        let mut subscribed = 0;
        while subscribed < 2 {
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
        let (s, r) = self
            .post(
                "/api/v2/me",
                json!({"operationName": "StartContactCenterSession", "channels": ["chat"]}),
            )
            .await;
        assert_eq!((s, &r["statusCode"]), (200, &json!(0)), "{r}");
        let (s, r) = self
            .post(
                "/api/v2/me/channels/chat",
                json!({"operationName": "Ready"}),
            )
            .await;
        assert_eq!((s, &r["statusCode"]), (200, &json!(0)), "{r}");
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
                .then(|| d["chat"]["id"].as_str().unwrap().to_owned())
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
            .map(|m| {
                (
                    m["index"].as_i64().unwrap(),
                    m["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A customer on the GMS Chat API v2.
pub struct Customer {
    pub http: reqwest::Client,
    pub base: String,
    pub chat_id: String,
    pub user_id: String,
    pub secure_key: String,
    pub alias: String,
    pub next_position: i64,
}

pub async fn form(http: &reqwest::Client, url: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let body: String = params
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Customer {
    pub async fn request(server: &Server, nickname: &str) -> (Customer, Value) {
        let http = reqwest::Client::new();
        let (status, r) = form(
            &http,
            &format!("{}/genesys/2/chat/customer-support", server.url),
            &[
                ("nickname", nickname),
                ("subject", "Help with my order"),
                ("userData[TimeZone]", "-480"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{r}");
        let c = Customer {
            http,
            base: server.url.clone(),
            chat_id: r["chatId"].as_str().unwrap().to_owned(),
            user_id: r["userId"].as_str().unwrap().to_owned(),
            secure_key: r["secureKey"].as_str().unwrap().to_owned(),
            alias: r["alias"].as_str().unwrap().to_owned(),
            next_position: r["nextPosition"].as_i64().unwrap(),
        };
        (c, r)
    }

    pub async fn call(&self, operation: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut params = vec![
            ("userId", self.user_id.as_str()),
            ("secureKey", self.secure_key.as_str()),
            ("alias", self.alias.as_str()),
        ];
        params.extend_from_slice(extra);
        form(
            &self.http,
            &format!(
                "{}/genesys/2/chat/customer-support/{}/{operation}",
                self.base, self.chat_id
            ),
            &params,
        )
        .await
    }

    pub async fn send(&self, text: &str) {
        let (s, r) = self.call("send", &[("message", text)]).await;
        assert_eq!((s, &r["statusCode"]), (200, &json!(0)), "{r}");
    }

    /// New transcript entries since the last refresh.
    pub async fn refresh(&mut self) -> Value {
        let pos = self.next_position.to_string();
        let (s, r) = self.call("refresh", &[("transcriptPosition", &pos)]).await;
        assert_eq!(s, 200, "{r}");
        self.next_position = r["nextPosition"].as_i64().unwrap();
        r
    }

    /// Refreshes until `pick` finds something in the new messages.
    pub async fn wait_for(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let r = self.refresh().await;
            if let Some(m) = r["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| pick(m))
            {
                return m.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "customer never saw {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
