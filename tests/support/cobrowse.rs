//! Co-browse end to end: the customer presses Co-browse on the demo shop (a real page in a
//! second browser) or a scripted customer hands over a token, the extension verifies it for
//! that chat and shows its card, Join opens the agent view, End and the chat's end end it; and
//! tokens that do not belong to a chat never become a Join.

use super::agent_desk::{open_chat, sign_in, wait_for_chat_state};
use super::*;

/// The co-browse card of the chat shown: its `data-state` (`idle`, `active`, `ended`,
/// `checking`, `none`).
async fn card_state(s: &Session) -> Option<String> {
    s.attr("#cobrowse", "data-state").await
}

pub async fn wait_for_card(s: &Session, chat_id: &str, state: &str) -> Result<(), String> {
    open_chat(s, chat_id).await?;
    s.wait_for(
        &format!("the co-browse card of {chat_id} to be {state}"),
        || async { card_state(s).await.filter(|v| v == state) },
    )
    .await
    .map(|_| ())
}

/// Accepts the one chat invited (a customer on the demo shop): its id.
async fn accept_invited(s: &Session) -> Result<String, String> {
    let chat = s
        .wait_for("an invitation", || async {
            s.attr(".chat-item[data-state='Invited']", "data-chat")
                .await
        })
        .await?;
    open_chat(s, &chat).await?;
    s.click("#accept").await?;
    wait_for_chat_state(s, &chat, "Chatting").await?;
    Ok(chat)
}

/// The handle of a window that was not among `before`, once one opens.
async fn new_window(
    s: &Session,
    before: &[fantoccini::wd::WindowHandle],
) -> Result<fantoccini::wd::WindowHandle, String> {
    s.wait_for("a new tab", || async {
        let now = s.client.windows().await.ok()?;
        now.into_iter().find(|w| !before.contains(w))
    })
    .await
}

async fn eval(s: &Session, script: &str) -> Result<Value, String> {
    s.client
        .execute(script, vec![])
        .await
        .map_err(|e| format!("{e}: {script}"))
}

/// The replayed customer document's `selector` text in the agent view (the tab shown).
async fn in_view(s: &Session, what: &str, selector: &str, want: &str) -> Result<(), String> {
    let script = format!(
        "const doc = window.cobrowseView && window.cobrowseView.document();
         return doc ? (doc.querySelector({selector:?})?.textContent ?? null) : null;"
    );
    s.wait_for(what, || async {
        eval(s, &script)
            .await
            .ok()
            .filter(|v| v.as_str() == Some(want))
    })
    .await
    .map(|_| ())
}

/// The demo shop's co-browse widget state (`off`, `waiting`, `joined`, `ended`).
async fn shop_state(customer: &Session, want: &str) -> Result<(), String> {
    customer
        .wait_for(&format!("the shop's co-browse to be {want}"), || async {
            customer
                .attr("#cb-ui", "data-state")
                .await
                .filter(|v| v == want)
        })
        .await
        .map(|_| ())
}

/// The whole loop with a real customer page: Co-browse on the demo shop → a verified card on
/// that chat → Join opens the agent view showing the customer's page live → End from the desk
/// ends it on the customer's page; a second co-browse ends when the chat is completed.
pub async fn cobrowse_from_the_demo_shop_is_verified_joined_and_ended(
    s: &Session,
) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let customer = Session::plain(s.browser).await;
    let result = async {
        customer
            .client
            .goto(&format!("{}/", server.url))
            .await
            .map_err(|e| e.to_string())?;
        customer.click("#chat-open").await?;
        customer.fill("#chat-name", "Pat").await?;
        customer.click("#chat-start").await?;
        let chat = accept_invited(s).await?;
        customer
            .wait_for("the agent on the chat", || async {
                customer
                    .text("#chat-log")
                    .await
                    // The customer sees the agent's name (agent1 is Ann), not the login id.
                    .filter(|t| t.contains("Ann joined"))
            })
            .await?;

        customer.click("#cb-start").await?;
        wait_for_card(s, &chat, "idle").await?;
        s.wait_for("the chat list's co-browse mark", || async {
            s.attr(&format!(".chat-item[data-chat='{chat}']"), "data-cobrowse")
                .await
                .filter(|v| v == "idle")
        })
        .await?;
        if s.attr("#cobrowse-expires", "data-ms").await.is_none() {
            return Err("an idle co-browse shows no time left".into());
        }
        // The hand-over line in the transcript carries no digits.
        let bodies = eval(
            s,
            "return [...document.querySelectorAll('#transcript .body')].map((b) => b.textContent);",
        )
        .await?;
        let shown: Vec<String> = serde_json::from_value(bodies).map_err(|e| e.to_string())?;
        if !shown.iter().any(|b| b == &super::scenarios::locale_en("lineCobrowseStarted")) {
            return Err(format!("no hand-over line in the transcript: {shown:?}"));
        }
        if shown
            .iter()
            .any(|b| b.chars().filter(char::is_ascii_digit).count() >= 9)
        {
            return Err(format!("the transcript shows digits: {shown:?}"));
        }

        let popup = s.client.window().await.map_err(|e| e.to_string())?;
        let before = s.client.windows().await.map_err(|e| e.to_string())?;
        s.click("#cobrowse-join").await?;
        let view = new_window(s, &before).await?;
        s.client
            .switch_to_window(view)
            .await
            .map_err(|e| e.to_string())?;
        in_view(s, "the customer's page", ".shop-header h1", "Northwind Outdoor").await?;
        shop_state(&customer, "joined").await?;
        eval(
            &customer,
            "document.querySelector('.shop-header p').textContent = 'Live from the shop 7'; return true;",
        )
        .await?;
        in_view(s, "the customer's change", ".shop-header p", "Live from the shop 7").await?;
        s.client.close_window().await.map_err(|e| e.to_string())?;
        s.client
            .switch_to_window(popup)
            .await
            .map_err(|e| e.to_string())?;

        wait_for_card(s, &chat, "active").await?;
        s.click("#cobrowse-end").await?;
        shop_state(&customer, "ended").await?;
        wait_for_card(s, &chat, "ended").await?;

        // A second co-browse; completing the chat ends it on the customer's page.
        customer.click("#cb-start").await?;
        wait_for_card(s, &chat, "idle").await?;
        shop_state(&customer, "waiting").await?;
        s.click("#complete").await?;
        shop_state(&customer, "ended").await?;
        wait_for_card(s, &chat, "ended").await
    }
    .await;
    customer.close().await;
    result
}

/// Has the customer's page hand over `token` the way the demo adapter does.
async fn hand_over(c: &Customer, token: &str) {
    c.custom_notice(&format!("cobrowse-token:{token}")).await;
}

/// Spoofing: the customer of chat A sends chat B's live token (as the adapter's notice and as
/// text), an ended session's token, or junk: never attached, labelled not verified. agent2
/// cannot verify a token of agent1's chat. The customer typing the right chat's digits is
/// verified and attached (and masked in the transcript); the agent typing digits is ignored;
/// a code the agent enters goes through the same verification.
pub async fn spoofed_and_foreign_tokens_are_never_attached(s: &Session) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let a = Customer::request(&server, "Ada").await;
    let b = Customer::request(&server, "Ben").await;
    for c in [&a, &b] {
        super::agent_desk::accept(s, c).await?;
    }
    let b_token = b.start_cobrowse().await;

    // A hands over B's token, as a notice and as text: A is not attached.
    hand_over(&a, &b_token).await;
    wait_for_unverified(s, &a.chat_id).await?;
    a.send(&format!("my code is {b_token}")).await;
    // A barrier: A's own co-browse must be the one that attaches after these.
    let a_token = a.start_cobrowse().await;
    let spaced = format!("{} {} {}", &a_token[..3], &a_token[3..6], &a_token[6..]);
    a.send(&format!("here: {spaced}")).await;
    wait_for_card(s, &a.chat_id, "idle").await?;
    // The digits A typed are masked once verified.
    s.wait_for("A's typed code masked", || async {
        let lines = super::agent_desk::customer_lines(s).await;
        lines.iter().any(|l| l == "here: ••• ••• •••").then_some(())
    })
    .await?;
    // B's own chat: nothing was sent there, so no card state.
    open_chat(s, &b.chat_id).await?;
    if card_state(s).await.as_deref() != Some("none") {
        return Err("B's chat shows a co-browse nobody handed over there".into());
    }

    // agent2 cannot verify a token bound to agent1's chat.
    let agent2 = RestAgent::new(&server, "agent2");
    let (status, reply) = agent2
        .post(
            "/api/v2/me/cobrowse/verifications",
            json!({"chatId": a.chat_id, "sessionToken": a_token}),
        )
        .await;
    if status != 404 {
        return Err(format!(
            "agent2 verified agent1's co-browse: {status} {reply}"
        ));
    }

    // The agent typing B's digits in B's chat is ignored; the junk B types then is refused;
    // the code the agent enters is verified.
    s.fill("#composer-input", &format!("is it {b_token}?"))
        .await?;
    s.click("#send").await?;
    b.receives(&[&format!("is it {b_token}?")]).await?;
    b.send("000 000 000").await;
    wait_for_unverified(s, &b.chat_id).await?;
    if card_state(s).await.as_deref() != Some("none") {
        return Err("the agent's own digits attached a co-browse".into());
    }
    s.fill("#cobrowse-code", &b_token).await?;
    s.click("#cobrowse-check").await?;
    wait_for_card(s, &b.chat_id, "idle").await?;

    // An ended session's token: B's co-browse ends; A hands it over: refused.
    s.click("#cobrowse-end").await?;
    wait_for_card(s, &b.chat_id, "ended").await?;
    let c = Customer::request(&server, "Cy").await;
    super::agent_desk::accept(s, &c).await?;
    hand_over(&c, &b_token).await;
    wait_for_unverified(s, &c.chat_id).await?;
    if s.attr("#cobrowse-join", "id").await.is_some() {
        return Err("an ended token offered a Join".into());
    }
    Ok(())
}

/// Shows `chat_id` and waits for its "not verified" mark.
async fn wait_for_unverified(s: &Session, chat_id: &str) -> Result<(), String> {
    open_chat(s, chat_id).await?;
    s.wait_for(&format!("{chat_id}'s not-verified mark"), || async {
        s.text("#cobrowse-unverified").await
    })
    .await?;
    if s.attr("#cobrowse-join", "id").await.is_some() {
        return Err(format!("{chat_id}: an unverified token offered a Join"));
    }
    Ok(())
}

/// The background stopped under the open popup while a co-browse is attached (both browsers):
/// the new instance shows the card as it was; stopped again while the customer leaves (which
/// ends the chat and its co-browse), the next one shows it ended.
pub async fn a_stopped_background_brings_the_cobrowse_card_back_right(
    s: &Session,
) -> Result<(), String> {
    let server = ReferenceServer::start_from_env(&[]);
    sign_in(s, &server).await?;
    let customer = Customer::request(&server, "Pat").await;
    super::agent_desk::accept(s, &customer).await?;
    let token = customer.start_cobrowse().await;
    customer
        .custom_notice(&format!("cobrowse-token:{token}"))
        .await;
    wait_for_card(s, &customer.chat_id, "idle").await?;

    stop_background_under_the_popup(s).await?;
    wait_for_card(s, &customer.chat_id, "idle").await?;

    let (status, reply) = customer.call("disconnect", &[]).await;
    if status != 200 {
        return Err(format!("disconnect: {status} {reply}"));
    }
    stop_background_under_the_popup(s).await?;
    wait_for_card(s, &customer.chat_id, "ended").await
}
