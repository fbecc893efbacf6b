//! The agent's desk end to end, the details of one chat: the toolbar badge, the customer's
//! typing indicator on and off, the live region, a message written while the server is down
//! (it waits and goes once, by itself),
//! Leave; the whole chat against a server set up like GWS (CSRF, long-polling); and a sign-in
//! refused while the browser still holds another agent's session.

use fantoccini::Locator;

use super::agent_desk::{
    accept, customer_lines, open_chat, sign_in, submit_sign_in, wait_for_chat_state,
    wait_for_transport,
};
use super::scenarios::locale_en;
use super::*;

/// The toolbar badge text, asked from an extension page.
async fn badge_text(s: &Session) -> Option<String> {
    let script = "const done = arguments[arguments.length - 1];
        (globalThis.browser ?? globalThis.chrome).action.getBadgeText({})
          .then((t) => done(t), (e) => done('error: ' + e));";
    match s.client.execute_async(script, vec![]).await {
        Ok(Value::String(t)) => Some(t),
        _ => None,
    }
}

async fn wait_for_badge(s: &Session, want: &str) -> Result<(), String> {
    s.wait_for(&format!("the badge to read {want:?}"), || async {
        (badge_text(s).await.as_deref() == Some(want)).then_some(())
    })
    .await
}

/// The outgoing (not yet echoed) lines of the chat shown: `(text, data-state)`.
async fn outgoing_lines(s: &Session) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(items) = s
        .client
        .find_all(Locator::Css("#transcript li.outgoing"))
        .await
    {
        for li in items {
            let text = li.text().await.unwrap_or_default();
            let state = li
                .attr("data-state")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            out.push((text, state));
        }
    }
    out
}

/// How many lines of the chat shown carry `text` (transcript and outgoing alike).
async fn lines_with(s: &Session, text: &str) -> usize {
    s.text("#transcript")
        .await
        .map(|t| t.matches(text).count())
        .unwrap_or(0)
}

pub async fn badge_typing_retry_and_leave(s: &Session) -> Result<(), String> {
    let mut server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    wait_for_badge(s, "").await?;

    // An invitation waits for the agent: the badge counts it; accepted, nothing waits.
    let customer = Customer::request(&server, "Pat").await;
    wait_for_badge(s, "1").await?;
    accept(s, &customer).await?;
    wait_for_badge(s, "").await?;

    // The customer speaks last: waiting again, and the live region says it.
    customer.send("my order is late").await;
    wait_for_badge(s, "1").await?;
    s.wait_for("the live region to announce the message", || async {
        s.text("#announcer")
            .await
            .filter(|t| t.contains("Pat") && t.contains("my order is late"))
    })
    .await?;

    // Typing on, then off.
    customer.call("startTyping", &[]).await;
    s.wait_for("the typing indicator", || async {
        s.attr("#typing", "id").await
    })
    .await?;
    customer.call("stopTyping", &[]).await;
    s.wait_for("the typing indicator to go", || async {
        s.attr("#typing", "id").await.is_none().then_some(())
    })
    .await?;

    // The server is gone: the message stays pending (never "failed": nothing the agent writes
    // is given up for an outage) and goes once, by itself, when the server is back.
    server.kill();
    s.wait_for("the outage to show", || async {
        let down = s.attr("#connection", "data-state").await? == "down";
        let banner = s.text("#connection-banner").await? == locale_en("errorServerUnreachable");
        (down && banner).then_some(())
    })
    .await?;
    s.client
        .execute(
            "window.__shownFailed = false;
             new MutationObserver(() => {
               if (document.querySelector('#transcript li.outgoing.failed')) window.__shownFailed = true;
             }).observe(document.body, { subtree: true, childList: true, attributes: true });",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let text = "let me check that for you";
    s.fill("#composer-input", text).await?;
    s.click("#send").await?;
    s.wait_for("the message to show pending", || async {
        (outgoing_lines(s).await.first()?.1 == "pending").then_some(())
    })
    .await?;
    let server = server.restart();
    s.wait_for_text("#connection", &locale_en("statusConnected"))
        .await?;
    // A barrier: a message written now goes after the one waiting, so the customer getting
    // exactly both, in order, proves the first went once.
    s.fill("#composer-input", "one moment").await?;
    s.click("#send").await?;
    customer.receives(&[text, "one moment"]).await?;
    s.wait_for("the echoes to replace the pending lines", || async {
        (outgoing_lines(s).await.is_empty() && lines_with(s, text).await == 1).then_some(())
    })
    .await?;
    let shown_failed = s
        .client
        .execute("return window.__shownFailed;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    if shown_failed != json!(false) {
        return Err(format!(
            "the message showed failed during the outage ({shown_failed})"
        ));
    }
    // The agent answered last: nothing waits.
    wait_for_badge(s, "").await?;

    // Leave: the customer sees the agent go; the chat is over for the agent (the reference
    // server passes through LeftChat to Completed at once).
    s.click("#leave").await?;
    wait_for_chat_state(s, &customer.chat_id, "Completed").await?;
    let r = customer.transcript().await;
    let agent_left = r["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["type"] == "ParticipantLeft" && m["from"]["type"] == "Agent");
    if !agent_left {
        return Err(format!("the customer did not see the agent leave: {r}"));
    }
    if s.attr("#composer-input", "id").await.is_some() {
        return Err("the composer is still there after Leave".into());
    }
    drop(server);
    Ok(())
}

/// Writes the server refused for their CSRF token so far (its log says each one).
fn csrf_refusals(server: &ReferenceServer) -> usize {
    std::fs::read_to_string(server.data.join("server.log"))
        .unwrap_or_default()
        .matches("missing or invalid CSRF token")
        .count()
}

/// A server set up like Genesys Web Services: CSRF tokens required (`enableCsrfProtection`),
/// no WebSocket token, so the extension long-polls. Every write carries the token of the HTTP
/// session the browser's cookie names. After a server restart the session and its token are
/// gone; the next write is refused, a new token is fetched, and it goes through.
pub async fn chat_with_csrf_protection_across_a_server_restart(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&["--csrf", "--no-notifications-token"]);
    sign_in(s, &server).await?;
    wait_for_transport(s, "long-polling").await?;
    let customer = Customer::request(&server, "Pat").await;
    accept(s, &customer).await?;
    customer.send("hello").await;
    s.wait_for("the customer's message", || async {
        (customer_lines(s).await == ["hello"]).then_some(())
    })
    .await?;
    s.fill("#composer-input", "first answer").await?;
    s.click("#send").await?;
    customer.receives(&["first answer"]).await?;

    let server = server.restart();
    customer.send("still there?").await;
    s.wait_for("the extension to catch up", || async {
        (customer_lines(s).await == ["hello", "still there?"]).then_some(())
    })
    .await?;
    s.fill("#composer-input", "second answer").await?;
    s.click("#send").await?;
    customer
        .receives(&["first answer", "second answer"])
        .await?;

    s.wait_for("no line left pending", || async {
        outgoing_lines(s).await.is_empty().then_some(())
    })
    .await?;

    // The HTTP session goes (as a GWS session expires): the browser loses its cookie, so the
    // next write comes without a session and is refused for its CSRF token; the extension
    // fetches the new session's token and sends the same write once more.
    let refused_before = csrf_refusals(&server);
    s.client
        .goto(&format!("{}/health", server.url))
        .await
        .map_err(|e| e.to_string())?;
    s.client
        .delete_cookie("JSESSIONID")
        .await
        .map_err(|e| format!("deleting the session cookie: {e}"))?;
    s.goto("popup.html").await?;
    open_chat(s, &customer.chat_id).await?;
    s.fill("#composer-input", "third answer").await?;
    s.click("#send").await?;
    customer
        .receives(&["first answer", "second answer", "third answer"])
        .await?;
    if csrf_refusals(&server) <= refused_before {
        return Err("no write was refused for its CSRF token without the session".into());
    }
    s.click("#complete").await?;
    wait_for_chat_state(s, &customer.chat_id, "Completed").await?;
    let r = customer.transcript().await;
    if r["chatEnded"] != true {
        return Err(format!("Complete did not end the customer's chat: {r}"));
    }
    drop(server);
    Ok(())
}

/// The browser still holds agent1's live HTTP session (the extension lost its credentials
/// without signing out): signing in as agent2 is refused, since the server would act for
/// agent1; agent1 signs in again fine.
pub async fn sign_in_is_refused_while_the_browser_holds_another_agents_session(
    s: &Session,
) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let script = "const done = arguments[arguments.length - 1];
        (globalThis.browser ?? globalThis.chrome).storage.session.remove('credentials')
          .then(() => done('ok'), (e) => done('error: ' + e));";
    let removed = s
        .client
        .execute_async(script, vec![])
        .await
        .map_err(|e| e.to_string())?;
    if removed != "ok" {
        return Err(format!("could not drop the credentials: {removed}"));
    }
    submit_sign_in(s, &server, "agent2").await?;
    s.wait_for_text("#signin-error", &locale_en("errorOtherAgentSession"))
        .await?;
    submit_sign_in(s, &server, "agent1").await?;
    s.wait_for("the desk", || async { s.attr("#desk", "id").await })
        .await?;
    Ok(())
}
