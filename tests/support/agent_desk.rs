//! The agent's desk end to end: the built extension signs in to the real reference server,
//! a scripted customer chats over the GMS REST API, the agent works in the popup.

use fantoccini::Locator;

use super::*;
pub use testkit::popup::{
    accept, open_chat, sign_in, sign_in_at, submit_sign_in, wait_for_chat_state,
};

/// Waits until the CometD connection is of `transport` (`websocket`, `long-polling`).
pub async fn wait_for_transport(s: &Session, transport: &str) -> Result<(), String> {
    s.wait_for(&format!("a {transport} connection"), || async {
        s.attr("#connection", "data-transport")
            .await
            .filter(|t| t == transport)
    })
    .await
    .map(|_| ())
}

pub async fn agent_chats_with_a_customer_from_the_popup(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    // The reference server hands out notification tokens: the connection is a WebSocket.
    wait_for_transport(s, "websocket").await?;
    let customer = Customer::request(&server, "Pat <b>Customer</b>").await;
    accept(s, &customer).await?;
    // The customer sees the agent's name (agent1 is Ann), never the login id.
    let joined = customer
        .transcript()
        .await
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .find(|m| m["type"] == "ParticipantJoined" && m["from"]["type"] == "Agent")
                .map(|m| m["from"]["nickname"].clone())
        });
    if joined != Some(json!("Ann")) {
        return Err(format!("the customer sees the agent as {joined:?}"));
    }

    let hostile = "hello <img src=x onerror=alert(1)> agent";
    customer.send(hostile).await;
    s.wait_for("the customer's message", || async {
        s.text("#transcript").await.filter(|t| t.contains(hostile))
    })
    .await?;
    if !s
        .client
        .find_all(Locator::Css("#transcript img"))
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Err("customer text became HTML".into());
    }

    // A draft survives closing the popup.
    s.fill("#composer-input", "Hi Pat, how can I help?").await?;
    s.client
        .goto("about:blank")
        .await
        .map_err(|e| e.to_string())?;
    s.goto("popup.html").await?;
    open_chat(s, &customer.chat_id).await?;
    s.wait_for("the draft", || async {
        let el = s.client.find(Locator::Css("#composer-input")).await.ok()?;
        (el.prop("value").await.ok()??.as_str() == "Hi Pat, how can I help?").then_some(())
    })
    .await?;
    s.click("#send").await?;
    customer.receives(&["Hi Pat, how can I help?"]).await?;
    // The server's echo replaces the pending line: shown once, no pending left.
    s.wait_for("the echo", || async {
        let text = s.text("#transcript").await?;
        let pending = s
            .client
            .find_all(Locator::Css("#transcript li.outgoing"))
            .await
            .ok()?;
        (text.matches("Hi Pat, how can I help?").count() == 1 && pending.is_empty()).then_some(())
    })
    .await?;

    s.click("#complete").await?;
    wait_for_chat_state(s, &customer.chat_id, "Completed").await?;
    let r = customer.transcript().await;
    if r["chatEnded"] != true {
        return Err(format!("the customer's chat did not end: {r}"));
    }

    // Signing out ends the contact-center session and wipes the secret.
    s.click("#sign-out").await?;
    s.wait_for("the sign-in form", || async {
        s.attr("#sign-in", "id").await
    })
    .await?;
    let script = "const done = arguments[arguments.length - 1];
        (globalThis.browser ?? globalThis.chrome).storage.session.get(null).then((r) => done(Object.keys(r)), () => done(['?']));";
    let keys = s
        .client
        .execute_async(script, vec![])
        .await
        .map_err(|e| e.to_string())?;
    if keys
        .as_array()
        .into_iter()
        .flatten()
        .any(|k| k == "credentials" || k == "?")
    {
        return Err(format!("secrets left in storage.session: {keys}"));
    }
    Ok(())
}

/// The customer lines of the chat shown, in the order the popup shows them.
pub async fn customer_lines(s: &Session) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(items) = s
        .client
        .find_all(Locator::Css(
            "#transcript li[data-role='customer']:not(.system) .body",
        ))
        .await
    {
        for li in items {
            if let Ok(t) = li.text().await {
                out.push(t);
            }
        }
    }
    out
}

/// The server is killed and restarted mid-chat; typing shows both ways.
pub async fn chat_goes_on_after_the_server_restarts(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let customer = Customer::request(&server, "Pat").await;
    accept(s, &customer).await?;
    customer.call("startTyping", &[]).await;
    s.wait_for("the customer typing", || async {
        s.attr("#typing", "id").await
    })
    .await?;
    customer.send("before the crash").await;
    s.wait_for("the first message", || async {
        (customer_lines(s).await == ["before the crash"]).then_some(())
    })
    .await?;

    let server = server.restart();
    customer.send("after the crash").await;
    s.wait_for("the extension to reconnect and catch up", || async {
        (customer_lines(s).await == ["before the crash", "after the crash"]).then_some(())
    })
    .await?;
    s.fill("#composer-input", "still here").await?;
    s.click("#send").await?;
    customer.receives(&["still here"]).await?;
    let r = customer.transcript().await;
    let agent_typing = r["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["type"] == "TypingStarted" && m["from"]["type"] == "Agent");
    if !agent_typing {
        return Err(format!("the customer never saw the agent typing: {r}"));
    }
    drop(server);
    Ok(())
}

/// Three customers at once; one is rejected and goes to another (REST) agent.
pub async fn three_customers_at_once_and_a_reject(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let customers = [
        Customer::request(&server, "Ada").await,
        Customer::request(&server, "Ben").await,
        Customer::request(&server, "Cy").await,
    ];
    for c in &customers[..2] {
        accept(s, c).await?;
    }
    // Bob (another agent, over REST) becomes ready; Cy's chat is rejected and goes to him.
    let bob = RestAgent::new(&server, "agent2");
    bob.start_ready().await;
    let cy = format!(".chat-item[data-chat='{}']", customers[2].chat_id);
    s.wait_for("Cy's invitation", || async {
        s.attr(&cy, "data-state").await.filter(|v| v == "Invited")
    })
    .await?;
    open_chat(s, &customers[2].chat_id).await?;
    s.click("#reject").await?;
    bob.has_chat(&customers[2].chat_id).await?;

    // Messages both ways with two customers at once, each in its own chat, in order.
    for n in 1..=3 {
        customers[0].send(&format!("Ada {n}")).await;
        customers[1].send(&format!("Ben {n}")).await;
    }
    for (c, name) in [(&customers[0], "Ada"), (&customers[1], "Ben")] {
        s.click(&format!(".chat-item[data-chat='{}']", c.chat_id))
            .await?;
        let want: Vec<String> = (1..=3).map(|n| format!("{name} {n}")).collect();
        s.wait_for(&format!("{name}'s messages"), || async {
            (customer_lines(s).await == want).then_some(())
        })
        .await?;
        s.fill("#composer-input", &format!("Hello {name}")).await?;
        s.click("#send").await?;
    }
    for (c, name) in [(&customers[0], "Ada"), (&customers[1], "Ben")] {
        c.receives(&[&format!("Hello {name}")]).await?;
    }
    Ok(())
}

/// The ids of the extension's system notifications now (asked from an extension page).
async fn notification_ids(s: &Session) -> Vec<String> {
    let script = "const done = arguments[arguments.length - 1];
        (globalThis.browser ?? globalThis.chrome).notifications.getAll()
          .then((n) => done(Object.keys(n)), (e) => done(['error: ' + e]));";
    match s.client.execute_async(script, vec![]).await {
        Ok(Value::Array(ids)) => ids
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The chats the background has shown a notification for and not seen acknowledged (its
/// bookkeeping in `storage.session`).
async fn notified_chats(s: &Session) -> Vec<String> {
    let script = "const done = arguments[arguments.length - 1];
        (globalThis.browser ?? globalThis.chrome).storage.session.get('notifications_shown')
          .then((r) => done(Object.keys(r.notifications_shown?.by_chat ?? {})), () => done([]));";
    match s.client.execute_async(script, vec![]).await {
        Ok(Value::Array(ids)) => ids
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A customer message while no extension page shows the chats raises a notification; opening
/// the popup acknowledges it. Chromium lists the system notification itself; headless Firefox
/// closes notifications at once (no alert service), so there the background's own record of
/// having shown it is what can be checked.
pub async fn a_message_while_the_popup_is_closed_notifies(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let customer = Customer::request(&server, "Pat").await;
    accept(s, &customer).await?;
    // The options page shows no chats (and opens no events port): the popup is "closed".
    s.goto("options.html").await?;
    customer.send("anyone there?").await;
    let id = format!("chat-{}", customer.chat_id);
    let shown = || async {
        match s.browser {
            Browser::Chromium => notification_ids(s).await.contains(&id),
            Browser::Firefox => notified_chats(s).await.contains(&customer.chat_id),
        }
    };
    s.wait_for("the notification", || async { shown().await.then_some(()) })
        .await?;
    s.goto("popup.html").await?;
    s.wait_for("the notification to be acknowledged", || async {
        (!shown().await).then_some(())
    })
    .await?;
    drop(server);
    Ok(())
}

/// The browser quits and starts again with the same profile, the server gone: the chats and
/// transcripts are back from storage (no network can answer), and the agent signs in again
/// (credentials lived in `storage.session`).
pub async fn restarted_browser_shows_chats_before_the_network_answers(browser: Browser) {
    let profile = std::env::temp_dir().join(format!(
        "cobrowse-e2e-restart-{browser:?}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let server = ReferenceServer::start_from_env(&[]);
    let s = Session::start_with_profile(browser, Some(profile.clone())).await;
    let first = async {
        sign_in(&s, &server).await?;
        let customer = Customer::request(&server, "Pat").await;
        accept(&s, &customer).await?;
        customer.send("remember me").await;
        s.wait_for("the message", || async {
            (customer_lines(&s).await == ["remember me"]).then_some(())
        })
        .await?;
        Ok::<String, String>(customer.chat_id.clone())
    }
    .await;
    s.close().await;
    // The server is gone: nothing can come from the network after the restart.
    drop(server);
    let chat_id = first.unwrap();

    let s = Session::start_with_profile(browser, Some(profile.clone())).await;
    let second = async {
        s.goto("popup.html").await?;
        s.wait_for("the stored chat", || async {
            s.attr(&format!(".chat-item[data-chat='{chat_id}']"), "data-state")
                .await
        })
        .await?;
        s.wait_for("the stored transcript", || async {
            (customer_lines(&s).await == ["remember me"]).then_some(())
        })
        .await?;
        // Credentials lived in storage.session: the agent signs in again.
        s.wait_for("the sign-in form", || async {
            s.attr("#sign-in", "id").await
        })
        .await?;
        Ok::<(), String>(())
    }
    .await;
    s.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    second.unwrap();
}
