//! The demo shop's chat widget driven in headless Chromium against the real server: start a
//! chat, talk with an agent both ways, markup stays text, and a reload restores the chat.

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use support::*;
use testkit::browser::{Browser, Session};

async fn wait_text(
    c: &Client,
    what: &str,
    css: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if pred(&t) {
                    return Ok(t);
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out waiting for {what}:\n{}",
                c.source().await.unwrap_or_default()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenario(c: &Client, server: &Server, agent: &mut Agent) -> Result<(), String> {
    let e = |e: fantoccini::error::CmdError| e.to_string();
    c.goto(&format!("{}/", server.url)).await.map_err(e)?;
    c.find(Locator::Id("chat-open"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    c.find(Locator::Id("chat-name"))
        .await
        .map_err(e)?
        .send_keys("Pat <i>Customer</i>")
        .await
        .map_err(e)?;
    c.find(Locator::Id("chat-subject"))
        .await
        .map_err(e)?
        .send_keys("Tent sizes")
        .await
        .map_err(e)?;
    c.find(Locator::Id("chat-start"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;

    let chat = agent.invitation().await;
    agent
        .op(&chat, json!({"operationName": "Accept", "nickname": "Ann"}))
        .await;
    wait_text(c, "the agent joining", "#chat-log", |t| {
        t.contains("Ann joined the chat")
    })
    .await?;

    let hostile = "<img src=x onerror=\"document.title='pwned'\"><b>bold?</b>";
    agent
        .op(
            &chat,
            json!({"operationName": "SendMessage", "text": hostile}),
        )
        .await;
    wait_text(c, "the agent's message", "#chat-log", |t| {
        t.contains(hostile)
    })
    .await?;
    if !c
        .find_all(Locator::Css("#chat-log img, #chat-log b"))
        .await
        .map_err(e)?
        .is_empty()
    {
        return Err("agent text was parsed as HTML".into());
    }
    // Who wrote it and when; the widget never covers the shop's buttons; a favicon.
    let looks = c
        .execute(
            "const li = [...document.querySelectorAll('#chat-log li')].find(l => l.dataset.from === 'Agent' && !l.classList.contains('system'));
             const over = ['chat', 'cb-ui'].map(id => document.getElementById(id)).filter(Boolean)
               .map(e => e.getBoundingClientRect());
             const covered = [...document.querySelectorAll('main button, nav a')].filter(b => {
               const r = b.getBoundingClientRect();
               return over.some(o => r.left < o.right && o.left < r.right && r.top < o.bottom && o.top < r.bottom);
             }).map(b => b.textContent);
             return [li?.querySelector('.who')?.textContent, !!li?.querySelector('time.at'), covered,
                     !!document.querySelector('link[rel=icon]')];",
            vec![],
        )
        .await
        .map_err(e)?;
    if looks != json!(["Ann", true, [], true]) {
        return Err(format!("name, time, covered buttons, favicon: {looks}"));
    }

    let input = c.find(Locator::Id("chat-input")).await.map_err(e)?;
    input
        .send_keys("Is the 2P tent free-standing?")
        .await
        .map_err(e)?;
    c.find(Locator::Id("chat-send"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    agent
        .notification("the customer's question", |d| {
            d["messages"]
                .as_array()?
                .iter()
                .any(|m| m["text"] == "Is the 2P tent free-standing?")
                .then_some(())
        })
        .await;
    agent
        .op(
            &chat,
            json!({"operationName": "SendStartTypingNotification"}),
        )
        .await;
    wait_text(c, "the typing indicator", "#chat-typing", |t| {
        t.contains("Ann is typing")
    })
    .await?;

    // Reload: the chat comes back, whole, and goes on.
    c.refresh().await.map_err(e)?;
    wait_text(c, "the restored transcript", "#chat-log", |t| {
        t.contains(hostile) && t.contains("Is the 2P tent free-standing?")
    })
    .await?;
    agent
        .op(
            &chat,
            json!({"operationName": "SendMessage", "text": "Yes, it is."}),
        )
        .await;
    wait_text(c, "a message after the reload", "#chat-log", |t| {
        t.contains("Yes, it is.")
    })
    .await?;
    let log = c
        .find(Locator::Id("chat-log"))
        .await
        .map_err(e)?
        .text()
        .await
        .map_err(e)?;
    if log.matches("Is the 2P tent free-standing?").count() != 1 {
        return Err(format!("a message shows twice after the reload:\n{log}"));
    }

    c.find(Locator::Id("chat-end"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    wait_text(c, "the end", "#chat-status", |t| t.contains("ended")).await?;
    agent
        .notification("the customer leaving", |d| {
            d["messages"]
                .as_array()?
                .iter()
                .any(|m| m["type"] == "ParticipantLeft" && m["from"]["type"] == "Customer")
                .then_some(())
        })
        .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_widget_chats_with_an_agent_and_survives_a_reload() {
    let server = server(&[]);
    let mut agent = Agent::new(&server, "agent1");
    agent.sign_in("websocket").await;
    let customer = Session::plain(Browser::Chromium).await;
    let result = scenario(&customer.client, &server, &mut agent).await;
    customer.close().await;
    result.unwrap();
}
