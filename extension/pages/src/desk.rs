//! The agent's desk in the popup: sign-in, the chat list, one chat. Everything shown comes from
//! the background's snapshot; every action is a request. Components live in `desk/`:
//! `sign_in`, `chat_list`, `chat_pane` (with `transcript`, `composer` and `cobrowse_card`).

mod chat_list;
mod chat_pane;
mod cobrowse_card;
mod composer;
mod sign_in;
mod transcript;

use cobrowse_agent::gws::cobrowse::SessionState;
use cobrowse_agent::gws::ChatState;
use cobrowse_agent::presence::{Availability, Connection, Presence};
use cobrowse_agent::protocol::{
    ChatDetail, ChatSummary, PopupRequest, Snapshot, FINISHED_FIRST_LISTED, LINES_FIRST_SHOWN,
};
use std::rc::Rc;

use yew::prelude::*;

use crate::backend::act;
use crate::hooks::use_now;
use crate::i18n::{t, t_with};
use chat_list::ChatList;
use chat_pane::ChatPane;
use sign_in::SignInView;

/// How often the desk looks at the age of the last server event again (the indicator turns
/// from connected to connecting when it grows old).
const PRESENCE_TICK_MS: i32 = 5_000;

thread_local! {
    /// The page's `Intl.DateTimeFormat` for times of day, made once: a formatter costs far more
    /// to make than to use, and a transcript shows a time on every line.
    static CLOCK: js_sys::Function = {
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"hour".into(), &"2-digit".into());
        let _ = js_sys::Reflect::set(&options, &"minute".into(), &"2-digit".into());
        let locales = js_sys::Array::of1(&crate::i18n::ui_locale().into());
        js_sys::Intl::DateTimeFormat::new(&locales, &options).format()
    };
}

/// A time of day in the page's locale, e.g. `10:42` (`de`) or `10:42 AM` (`en`).
pub(crate) fn clock(ms: i64) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    CLOCK
        .with(|format| format.call1(&wasm_bindgen::JsValue::NULL, &date))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

/// The newest customer text across all chats: a key that changes with every new one, and what
/// a screen reader should say about it.
fn newest_customer_text(chats: &[ChatSummary]) -> Option<(String, String)> {
    chats
        .iter()
        .filter_map(|c| Some((c, c.customer_words.as_ref()?)))
        .max_by_key(|(_, w)| w.at_ms.unwrap_or(0))
        .map(|(c, w)| {
            (
                format!("{}#{}", c.id, w.index),
                t_with("announceCustomerMessage", &[&c.customer, &w.text]),
            )
        })
}

#[derive(Properties, PartialEq)]
pub struct DeskProps {
    pub snapshot: Snapshot,
    /// The chat loaded (its newest lines), if any.
    #[prop_or_default]
    pub open: Option<Rc<ChatDetail>>,
    /// Load this chat's newest lines (at least this many).
    #[prop_or_default]
    pub on_open: Callback<(String, u32)>,
    /// List this many of the newest finished chats.
    #[prop_or_default]
    pub on_list_finished: Callback<u32>,
}

/// `performance` marks the benchmarks read (`cargo xtask bench desk`): the desk first painted
/// with the background's answer, and the worker instance answering it first heard from the
/// server (connected again after a cold start).
pub const MARK_FIRST_PAINT: &str = "cobrowse-agent:first-paint";
pub const MARK_CONNECTED: &str = "cobrowse-agent:connected";

fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

#[function_component(DeskView)]
pub fn desk_view(props: &DeskProps) -> Html {
    let s = &props.snapshot;
    // Hooks first, unconditionally (Yew matches hooks by call order).
    // A notification click opens `popup.html#chat=<id>`: start on that chat.
    let selected = use_state(|| {
        web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .and_then(|h| h.strip_prefix("#chat=").map(str::to_owned))
    });
    let error = use_state(|| None::<String>);
    // The indicator, the banner and the Ready switch read this one view.
    let now = use_now(PRESENCE_TICK_MS);
    let presence = Presence::of(&s.agent, u64::try_from(now).unwrap_or(0));
    let live = presence.connection == Connection::Live;
    {
        // An action's error clears when the connection is back.
        let error = error.clone();
        use_effect_with(live, move |live| {
            if *live {
                error.set(None);
            }
        });
    }
    use_effect_with((), |_| mark(MARK_FIRST_PAINT));
    // This worker instance has heard the server (after a cold start, the stored status is the
    // last instance's until then).
    let heard_by_this_worker = s
        .agent
        .last_event_ms
        .is_some_and(|t| t >= s.worker.started_at_ms);
    use_effect_with(heard_by_this_worker, |heard| {
        if *heard {
            mark(MARK_CONNECTED);
        }
    });
    // Sign-out with live chats waits for a confirmation.
    let confirming = use_state(|| false);
    // The live region speaks customer messages that arrive while the popup is open, not the
    // ones it opened with.
    let newest = newest_customer_text(&s.chats);
    let newest_at_open = use_state(|| newest.as_ref().map(|(key, _)| key.clone()));
    let announcement = newest
        .filter(|(key, _)| Some(key) != newest_at_open.as_ref())
        .map(|(_, text)| text)
        .unwrap_or_default();
    let on_error = {
        let error = error.setter();
        Callback::from(move |e| error.set(e))
    };
    // The chat on screen stays there until the agent picks another (or it goes): the list
    // reorders whenever a customer writes, and the pane must not move under the agent's typing
    // (with nothing picked it showed the list's top, so a line from another customer swapped
    // the chat, and the agent's next message went to that customer).
    let shown = use_mut_ref(|| None::<String>);
    let find = |id: &String| s.chats.iter().find(|c| &c.id == id);
    let current = selected
        .as_ref()
        .and_then(find)
        .or_else(|| shown.borrow().as_ref().and_then(find))
        .or_else(|| s.chats.first())
        .cloned();
    shown.replace(current.as_ref().map(|c| c.id.clone()));
    {
        // The chat on screen comes whole: ask for it when it is not the one loaded.
        let wanted = current.as_ref().map(|c| c.id.clone());
        let loaded = props.open.as_ref().map(|o| o.id.clone());
        let on_open = props.on_open.clone();
        use_effect_with((wanted, loaded), move |(wanted, loaded)| {
            if let Some(id) = wanted.as_ref().filter(|w| Some(*w) != loaded.as_ref()) {
                on_open.emit((id.clone(), LINES_FIRST_SHOWN));
            }
        });
    }
    let detail = props
        .open
        .clone()
        .filter(|o| current.as_ref().is_some_and(|c| c.id == o.id));
    let on_select = {
        let (selected, on_error) = (selected.setter(), on_error.clone());
        Callback::from(move |(id, read_only): (String, bool)| {
            selected.set(Some(id.clone()));
            if !read_only {
                act(PopupRequest::MarkRead { chat_id: id }, on_error.clone());
            }
        })
    };
    // The list holds every live chat and the newest finished ones; more on request.
    let more_finished = (s.finished_more > 0).then(|| {
        let listed = s.chats.iter().filter(|c| c.state.is_finished()).count();
        let want = u32::try_from(listed)
            .unwrap_or(u32::MAX)
            .saturating_add(FINISHED_FIRST_LISTED);
        let on_list_finished = props.on_list_finished.clone();
        let onclick = Callback::from(move |_: MouseEvent| on_list_finished.emit(want));
        html! {
            <button id="more-finished" type="button" class="link more-finished" {onclick}>
                { t_with("buttonMoreFinished", &[&s.finished_more.to_string()]) }
            </button>
        }
    });
    let list = html! {
        <>
            <ChatList chats={s.chats.clone()} cobrowse={s.cobrowse.clone()}
                current={current.as_ref().map(|c| c.id.clone())} {on_select} />
            { for more_finished }
        </>
    };
    let pane = current.map(|c| {
        let cobrowse = s.cobrowse.iter().find(|v| v.chat_id == c.id).cloned();
        // Another chat's active co-browse: joining this one would end it.
        let busy_with = s
            .cobrowse
            .iter()
            .find(|v| v.chat_id != c.id && v.state == Some(SessionState::Active))
            .map(|v| {
                s.chats
                    .iter()
                    .find(|o| o.id == v.chat_id)
                    .map(|o| o.customer.clone())
                    .unwrap_or_default()
            });
        html! {
            <ChatPane chat={c} {detail} {cobrowse} cobrowse_busy_with={busy_with}
                on_open={props.on_open.clone()} on_error={on_error.clone()} />
        }
    });
    if !s.agent.signed_in {
        // Signed out (or the browser restarted: credentials live per browser session): the
        // stored chats still show, read-only, under the sign-in form.
        return html! {
            <>
                // Settings changed in another tab start the form afresh with them.
                <SignInView key={format!("{}\n{}", s.settings.server_url, s.settings.agent_name)} snapshot={s.clone()} />
                if !s.chats.is_empty() { { list } }
                { pane.unwrap_or_default() }
            </>
        };
    }

    let ready = presence.availability == Availability::Ready;
    let on_ready = {
        let on_error = on_error.clone();
        Callback::from(move |_: MouseEvent| act(PopupRequest::SetReady(!ready), on_error.clone()))
    };
    // Signing out with live chats asks first: they go back to the queue for another agent.
    let live_chats = s
        .chats
        .iter()
        .filter(|c| !c.read_only && matches!(c.state, ChatState::Chatting | ChatState::Invited))
        .count();
    let sign_out = {
        let on_error = on_error.clone();
        Callback::from(move |_: MouseEvent| act(PopupRequest::SignOut, on_error.clone()))
    };
    let on_sign_out = {
        let (confirming, sign_out) = (confirming.clone(), sign_out.clone());
        Callback::from(move |e: MouseEvent| {
            if live_chats > 0 {
                confirming.set(true);
            } else {
                sign_out.emit(e);
            }
        })
    };
    let on_stay = {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(false))
    };
    let transport = s.agent.transport.map(|t| t.as_str()).unwrap_or_default();
    let problem = s.agent.problem.map(|p| p.message_key()).unwrap_or_default();
    html! {
        <section id="desk" class="desk">
            <header class="desk-bar">
                <span id="connection" class={classes!("connection", presence.connection.as_str())}
                    data-state={presence.connection.as_str()} data-live={live.to_string()}
                    data-transport={transport} data-problem={problem}>{ t(presence.connection.message_key()) }</span>
                <span id="agent-state" class={classes!("agent-state", presence.availability.as_str())}
                    data-state={presence.availability.as_str()}>{ t(presence.availability.message_key()) }</span>
                <button id="ready-toggle" type="button" class="switch" role="switch" aria-checked={ready.to_string()}
                    disabled={!presence.can_switch()} onclick={on_ready}>
                    <span class="track" aria-hidden="true"></span>{ t("labelReadyForChats") }
                </button>
                <button id="sign-out" type="button" class="link" onclick={on_sign_out}>{ t("buttonSignOut") }</button>
            </header>
            if let Some(p) = presence.banner() {
                // The one message about the outage: an action's own error waits behind it.
                <p id="connection-banner" class="banner" role="alert" data-problem={p.message_key()}>{ t(p.message_key()) }</p>
            } else if let Some(e) = (*error).clone() {
                <p id="desk-error" class="error" role="alert">{ e }</p>
            }
            if s.agent.unstored {
                <p id="storage-banner" class="banner" role="alert">{ t("errorDeskUnstored") }</p>
            }
            if *confirming && live_chats > 0 {
                <div id="sign-out-confirm" class="confirm" role="alertdialog" aria-labelledby="sign-out-question">
                    <p id="sign-out-question">{ t_with("signOutConfirm", &[&live_chats.to_string()]) }</p>
                    <div class="confirm-actions">
                        <button id="sign-out-yes" type="button" onclick={sign_out}>{ t("buttonSignOutAnyway") }</button>
                        <button id="sign-out-stay" type="button" class="secondary" onclick={on_stay}>{ t("buttonStaySignedIn") }</button>
                    </div>
                </div>
            }
            if s.chats.is_empty() {
                // Say what the agent can do about it: Not ready means nothing will be offered.
                <p id="no-chats" class="muted" data-ready={ready.to_string()}>
                    { if presence.availability == Availability::NotReady { t("noChatsNotReady") } else { t("noChats") } }
                </p>
            }
            { list }
            { pane.unwrap_or_default() }
            <p id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true">{ announcement }</p>
        </section>
    }
}
