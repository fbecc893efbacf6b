//! A scripted customer on the GMS Chat API v2 (form-encoded, identity `userId` + `secureKey` +
//! `alias`), as the demo shop's widget talks to the reference server.

use std::time::Duration;

use serde_json::{json, Value};

use crate::form;
use crate::reference_server::ReferenceServer;
use crate::WAIT;

/// The demo's chat service.
pub const SERVICE: &str = "customer-support";

/// POSTs a form; the status and the JSON reply (`null` when it is not JSON).
pub async fn post_form(http: &reqwest::Client, url: &str, params: &[(&str, &str)]) -> (u16, Value) {
    try_post_form(http, url, params)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`post_form`], with a connection that fails (the server is down) as an error.
pub async fn try_post_form(
    http: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
) -> Result<(u16, Value), String> {
    let r = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form::encode(params))
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[derive(Debug)]
pub struct Customer {
    pub http: reqwest::Client,
    pub base: String,
    pub chat_id: String,
    pub user_id: String,
    pub secure_key: String,
    pub alias: String,
    /// Where the next `refresh` starts.
    pub next_position: i64,
}

impl Customer {
    /// Requests a chat on the demo service as `nickname`.
    pub async fn request(server: &ReferenceServer, nickname: &str) -> Customer {
        Self::request_replied(server, nickname).await.0
    }

    /// [`Customer::request`], with the server's reply.
    pub async fn request_replied(server: &ReferenceServer, nickname: &str) -> (Customer, Value) {
        Self::request_with(
            &server.url,
            SERVICE,
            &[
                ("nickname", nickname),
                ("subject", "Help with my order"),
                ("userData[TimeZone]", "-480"),
            ],
        )
        .await
    }

    /// Requests a chat on `service` of the server at `base` with these form fields.
    pub async fn request_with(
        base: &str,
        service: &str,
        params: &[(&str, &str)],
    ) -> (Customer, Value) {
        // No kept-alive connections: the server may be killed and restarted under us.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        let (status, r) =
            post_form(&http, &format!("{base}/genesys/2/chat/{service}"), params).await;
        assert_eq!(status, 200, "request chat: {r}");
        let field = |name: &str| {
            r[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {r}"))
                .to_owned()
        };
        let customer = Customer {
            chat_id: field("chatId"),
            user_id: field("userId"),
            secure_key: field("secureKey"),
            alias: field("alias"),
            next_position: r["nextPosition"].as_i64().unwrap_or(1),
            http,
            base: base.to_owned(),
        };
        (customer, r)
    }

    /// `POST …/{chatId}/{operation}` with the chat's identity and `extra`.
    pub async fn call(&self, operation: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        self.try_call(operation, extra)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Customer::call`], with the server being down as an error (load and fault tests).
    pub async fn try_call(
        &self,
        operation: &str,
        extra: &[(&str, &str)],
    ) -> Result<(u16, Value), String> {
        let mut params = vec![
            ("userId", self.user_id.as_str()),
            ("secureKey", self.secure_key.as_str()),
            ("alias", self.alias.as_str()),
        ];
        params.extend_from_slice(extra);
        let url = format!(
            "{}/genesys/2/chat/{SERVICE}/{}/{operation}",
            self.base, self.chat_id
        );
        try_post_form(&self.http, &url, &params).await
    }

    /// Starts a co-browse bound to this chat, as the demo shop's Co-browse button does; its
    /// live token.
    pub async fn start_cobrowse(&self) -> String {
        let body =
            json!({"chatId": self.chat_id, "userId": self.user_id, "secureKey": self.secure_key});
        let r = self
            .http
            .post(format!("{}/cobrowse/rest/live/sessions", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("POST /cobrowse/rest/live/sessions");
        let status = r.status().as_u16();
        let v: Value =
            serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
        assert_eq!(status, 200, "co-browse create: {v}");
        v["sessionToken"].as_str().expect("a token").to_owned()
    }

    /// Sends a custom notice (what the demo adapter's `sendCbSessionToken` does).
    pub async fn custom_notice(&self, text: &str) {
        let (s, r) = self.call("customNotice", &[("message", text)]).await;
        assert_eq!((s, &r["statusCode"]), (200, &json!(0)), "customNotice: {r}");
    }

    pub async fn send(&self, text: &str) {
        let (s, r) = self.call("send", &[("message", text)]).await;
        assert_eq!((s, &r["statusCode"]), (200, &json!(0)), "send: {r}");
    }

    /// New transcript entries since the last refresh.
    pub async fn refresh(&mut self) -> Value {
        let pos = self.next_position.to_string();
        let (s, r) = self.call("refresh", &[("transcriptPosition", &pos)]).await;
        assert_eq!(s, 200, "refresh: {r}");
        self.next_position = r["nextPosition"].as_i64().unwrap_or(self.next_position);
        r
    }

    /// The whole transcript as the customer's `refresh` gives it.
    pub async fn transcript(&self) -> Value {
        self.call("refresh", &[("transcriptPosition", "1")]).await.1
    }

    /// Refreshes until `pick` accepts one of the new messages.
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

    /// Waits until the customer has exactly `want` from the agent, in this order.
    pub async fn receives(&self, want: &[&str]) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = self.agent_texts().await;
            if got == want {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{} got {got:?}, not {want:?}", self.alias));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Agent texts in the transcript so far.
    pub async fn agent_texts(&self) -> Vec<String> {
        self.transcript().await["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["from"]["type"] == "Agent" && m["type"] == "Message")
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    }
}
