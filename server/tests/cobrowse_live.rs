//! The live view in real browsers (headless Chromium and Firefox ESR), against the real
//! server: a customer on the demo shop chats with an agent and presses Co-browse; the token
//! reaches the agent as the adapter's custom notice; the agent's verification gives a join
//! ticket; the agent view (another browser) shows the customer's page, follows its text and
//! its navigation, masks what must be masked (checked on every frame the server relays), shows
//! the agent's pointer on the customer's page, and runs nothing a hostile page carries.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use support::*;
use testkit::browser::{Browser, Session};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

/// What a custom notice carrying a co-browse token starts with (the demo adapter's marker).
const MARKER: &str = "cobrowse-token:";

async fn eval(s: &Session, script: &str) -> Value {
    s.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Polls `script` in `s` until `pick` accepts its result.
async fn until(s: &Session, what: &str, script: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = eval(s, script).await;
        if pick(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("{:?}: timed out waiting for {what}; last {v}", s.browser);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Evaluated in the agent view: `f(doc)` on the replayed customer document, or null.
fn in_replay(body: &str) -> String {
    format!("const doc = window.cobrowseView && window.cobrowseView.document(); if (!doc) return null; {body}")
}

/// Every frame the relay passes to views, collected by a view of the test's own.
async fn spy(server: &Server, cookie: String) -> Arc<Mutex<Vec<String>>> {
    let url = format!("{}/cobrowse/ws/agent", server.url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    use futures_util::SinkExt;
    ws.send(Ws::Text(json!({"t": "join"}).to_string().into()))
        .await
        .unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let sink = frames.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Ws::Text(t) = m {
                sink.lock().unwrap().push(t.to_string());
            }
        }
    });
    frames
}

async fn ticket(server: &Server, agent: &Agent, chat: &str, token: &str) -> (String, String) {
    let (s, v) = agent
        .post(
            "/api/v2/me/cobrowse/verifications",
            json!({"chatId": chat, "sessionToken": token}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let url = v["cobrowse"]["joinUrl"].as_str().unwrap().to_owned();
    let ticket = v["cobrowse"]["joinTicket"].as_str().unwrap().to_owned();
    let _ = server;
    (url, ticket)
}

async fn live_view(browser: Browser) {
    let server = server(&[]);
    let mut agent = Agent::new(&server, "agent1");
    agent.sign_in("websocket").await;
    let customer = Session::plain(browser).await;
    let viewer = Session::plain(browser).await;
    let result = scenario(&server, &mut agent, &customer, &viewer).await;
    customer.close().await;
    viewer.close().await;
    if let Err(e) = result {
        panic!("{browser:?}: {e}");
    }
}

async fn scenario(
    server: &Server,
    agent: &mut Agent,
    customer: &Session,
    viewer: &Session,
) -> Result<(), String> {
    // The customer starts a chat on the demo shop; the agent accepts.
    customer
        .client
        .goto(&format!("{}/", server.url))
        .await
        .map_err(|e| e.to_string())?;
    customer.click("#chat-open").await?;
    customer.fill("#chat-name", "Pat").await?;
    customer.click("#chat-start").await?;
    let chat = agent.invitation().await;
    agent
        .op(&chat, json!({"operationName": "Accept", "nickname": "Ann"}))
        .await;
    customer
        .wait_for("the agent on the chat", || async {
            customer
                .text("#chat-log")
                .await
                .filter(|t| t.contains("Ann joined"))
        })
        .await?;

    // Co-browse: one click; the token reaches the agent through the chat.
    customer.click("#cb-start").await?;
    let token = agent
        .notification("the co-browse token", |d| {
            d["messages"].as_array()?.iter().find_map(|m| {
                let text = m["text"].as_str()?;
                (m["type"] == "CustomNotice" && m["from"]["type"] == "Customer")
                    .then(|| text.strip_prefix(MARKER).map(str::to_owned))?
            })
        })
        .await;
    if customer
        .text("#cb-code")
        .await
        .is_some_and(|t| !t.is_empty())
    {
        return Err("a customer on chat was shown digits to read out".into());
    }

    // The agent's view, and the test's own view of every frame the server relays.
    let (join_url, _) = ticket(server, agent, &chat, &token).await;
    let (_, spy_ticket) = ticket(server, agent, &chat, &token).await;
    viewer
        .client
        .goto(&join_url)
        .await
        .map_err(|e| e.to_string())?;
    let cookie = redeem(server, &spy_ticket)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let frames = spy(server, cookie).await;
    until(
        viewer,
        "the customer's page in the view",
        &in_replay("return doc.querySelector('.shop-header h1')?.textContent ?? null"),
        |v| v == "Northwind Outdoor",
    )
    .await;
    if viewer
        .client
        .current_url()
        .await
        .map_err(|e| e.to_string())?
        .as_str()
        .contains("ticket")
    {
        return Err("the ticket stayed in the view's URL".into());
    }
    customer
        .wait_for("the customer to see the agent joined", || async {
            customer
                .attr("#cb-ui", "data-state")
                .await
                .filter(|s| s == "joined")
        })
        .await?;

    // A text change on the customer's page shows in the view.
    eval(
        customer,
        "document.querySelector('.shop-header p').textContent = 'Live change 42'; return true;",
    )
    .await;
    until(
        viewer,
        "the text change",
        &in_replay("return doc.querySelector('.shop-header p')?.textContent ?? null"),
        |v| v == "Live change 42",
    )
    .await;

    // The agent's pointer shows on the customer's page.
    eval(
        viewer,
        "const f = window.cobrowseView.document().defaultView.frameElement.getBoundingClientRect();
         document.getElementById('cb-stage').dispatchEvent(new MouseEvent('mousemove', {clientX: f.left + 100, clientY: f.top + 80, bubbles: true}));
         return true;",
    )
    .await;
    customer
        .wait_for("the agent's pointer", || async {
            let display = eval(customer, "const d = document.getElementById('cb-agent-dot'); return d ? d.style.display + ',' + d.dataset.x : null;").await;
            display.as_str().filter(|v| v.starts_with("block,")).map(str::to_owned)
        })
        .await?;

    // The customer goes to the checkout page: the co-browse follows.
    customer.click("#to-checkout").await?;
    until(
        viewer,
        "the checkout page in the view",
        &in_replay("return doc.getElementById('checkout-form') ? 'yes' : null"),
        |v| v == "yes",
    )
    .await;

    // Secrets typed there leave the browser masked.
    let password = "hunter2-Secret";
    let card = "4111111111111111";
    customer.fill("#co-password", password).await?;
    customer.fill("#co-card", card).await?;
    customer.fill("#co-cvc", "987").await?;
    customer.fill("#co-name", "Pat Visible").await?;
    until(
        viewer,
        "the name typed",
        &in_replay("return doc.getElementById('co-name')?.value ?? null"),
        |v| v == "Pat Visible",
    )
    .await;
    let shown = until(
        viewer,
        "the masked password",
        &in_replay("return doc.getElementById('co-password')?.value ?? null"),
        |v| v.as_str().is_some_and(|p| p.len() == password.len()),
    )
    .await;
    if shown != "*".repeat(password.len()) {
        return Err(format!("the password shows as {shown}"));
    }
    let card_shown = eval(
        viewer,
        &in_replay("return doc.getElementById('co-card')?.value ?? null"),
    )
    .await;
    if card_shown.as_str() != Some("*".repeat(card.len()).as_str()) {
        return Err(format!("the card number shows as {card_shown}"));
    }
    let blocked = eval(
        viewer,
        &in_replay("return doc.getElementById('co-cvc') ? 'there' : 'absent'"),
    )
    .await;
    if blocked != "absent" {
        return Err("a data-block element reached the view".into());
    }
    let relayed = frames.lock().unwrap().join("\n");
    // The CVC as a JSON string: its digits alone also occur inside timestamps and ids.
    for secret in [password, card, "\"987\"", "DE89 3704 0044 0532 0130 00"] {
        if relayed.contains(secret) {
            return Err(format!("{secret:?} was in a frame the server relayed"));
        }
    }
    if !relayed.contains("Pat Visible") {
        return Err("the spy saw nothing: the check above proves nothing".into());
    }

    // A hostile page: nothing it carries runs in the view.
    eval(
        customer,
        r#"const box = document.createElement('div');
           box.id = 'hostile';
           box.innerHTML = '<img id="h-img" src="/nothing-here.png" onerror="top.document.title=&quot;pwned&quot;;top.__pwned=1">'
             + '<a id="h-link" href="javascript:top.__pwned=2">x</a>'
             + '<svg onload="top.__pwned=3"><a href="javascript:top.__pwned=4"><text>y</text></a></svg>'
             + '<iframe srcdoc="<script>top.__pwned=5</script>"></iframe>'
             + '<object data="javascript:top.__pwned=6"></object>'
             + '<form action="javascript:top.__pwned=7"><button>z</button></form>';
           const s = document.createElement('script');
           s.textContent = 'top.__pwned = 8';
           box.append(s);
           document.body.append(box);
           return true;"#,
    )
    .await;
    until(
        viewer,
        "the hostile content in the view",
        &in_replay("return doc.getElementById('h-img') ? 'yes' : null"),
        |v| v == "yes",
    )
    .await;
    // A barrier: the image's load has failed in the view (an onerror would have run by now),
    // and a later change has arrived.
    until(
        viewer,
        "the hostile image to fail",
        &in_replay("const i = doc.getElementById('h-img'); return i && i.complete ? 'done' : null"),
        |v| v == "done",
    )
    .await;
    eval(
        customer,
        "document.getElementById('co-note').textContent = 'after the payloads'; return true;",
    )
    .await;
    until(
        viewer,
        "a change after the payloads",
        &in_replay("return doc.getElementById('co-note')?.textContent ?? null"),
        |v| v == "after the payloads",
    )
    .await;
    let pwned = eval(viewer, "return [document.title, String(window.__pwned)];").await;
    if pwned != json!(["Co-browse — agent view", "undefined"]) {
        return Err(format!("something ran in the agent view: {pwned}"));
    }

    // The customer ends it: the view says so.
    customer.click("#cb-end").await?;
    until(
        viewer,
        "the view to show the end",
        "return document.getElementById('cb-state').dataset.state",
        |v| v == "ended",
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_live_view_follows_the_customer_masks_secrets_and_runs_nothing() {
    live_view(Browser::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_live_view_follows_the_customer_masks_secrets_and_runs_nothing() {
    live_view(Browser::Firefox).await;
}
