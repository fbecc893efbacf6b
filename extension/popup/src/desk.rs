//! The agent's desk in the popup: sign-in, the chat list, one chat with its transcript, the
//! composer. Everything shown comes from the background's snapshot; every action is a request.

use cobrowse_agent::chat::transcript::{LineKind, Role};
use cobrowse_agent::chat::OutgoingState;
use cobrowse_agent::protocol::{
    ChatAction, ChatView, Credentials, PopupReply, PopupRequest, Snapshot,
};
use gloo_storage::{LocalStorage, Storage};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::backend;
use crate::i18n::{t, t_with};

/// How old the last server event may be for the connection to count as live (a held connect
/// answers at least every 20 s).
const LIVE_MS: f64 = 45_000.0;

/// Sends `request`; a refusal's message goes to `on_error`.
fn act(request: PopupRequest, on_error: Callback<Option<String>>) {
    spawn_local(async move {
        match backend::request(request).await {
            Ok(PopupReply::Refused(r)) | Err(r) => on_error.emit(Some(t(&r.message_key))),
            Ok(_) => on_error.emit(None),
        }
    });
}

/// Drafts are the page's own: kept per chat in the page's local storage (never secrets).
fn draft_key(chat_id: &str) -> String {
    format!("cobrowse-agent.draft.{chat_id}")
}

/// Typing starts are sent at most this often; a stop follows this long after the last key.
const TYPING_REPEAT_MS: f64 = 3000.0;
const TYPING_IDLE_MS: i32 = 2500;

/// A time of day in the browser's locale, e.g. `10:42`.
fn clock(ms: i64) -> String {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"hour".into(), &"2-digit".into());
    let _ = js_sys::Reflect::set(&options, &"minute".into(), &"2-digit".into());
    js_sys::Date::new(&(ms as f64).into())
        .to_locale_time_string_with_options("default", &options)
        .into()
}

fn client_id() -> String {
    format!(
        "m-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e9) as u64
    )
}

/// The newest customer text across all chats: a key that changes with every new one, and what
/// a screen reader should say about it.
fn newest_customer_text(chats: &[ChatView]) -> Option<(String, String)> {
    chats
        .iter()
        .filter_map(|c| {
            let line = c
                .lines
                .iter()
                .rev()
                .find(|l| l.role == Role::Customer && l.kind == LineKind::Text)?;
            Some((c, line))
        })
        .max_by_key(|(_, l)| l.at_ms.unwrap_or(0))
        .map(|(c, l)| {
            (
                format!("{}#{}", c.id, l.index),
                t_with(
                    "announceCustomerMessage",
                    &[&c.customer, l.text.as_deref().unwrap_or_default()],
                ),
            )
        })
}

#[derive(Properties, PartialEq)]
pub struct DeskProps {
    pub snapshot: Snapshot,
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
    if !s.agent.signed_in {
        // Signed out (or the browser restarted: credentials live per browser session): the
        // stored chats still show, read-only, under the sign-in form.
        let shown = s.chats.first().map(|c| ChatView {
            capabilities: Vec::new(),
            ..c.clone()
        });
        return html! {
            <>
                <SignInView snapshot={s.clone()} />
                if !s.chats.is_empty() {
                    <ul id="chat-list" class="chat-list stored" aria-label={t("chatListLabel")}>
                        { for s.chats.iter().map(|c| html! {
                            <li key={c.id.clone()} data-chat={c.id.clone()} data-state={c.state.clone()} class="chat-item">
                                <span class="customer">{ c.customer.clone() }</span>
                                <span class="state">{ t(&format!("state{}", c.state)) }</span>
                            </li>
                        }) }
                    </ul>
                }
                if let Some(c) = shown {
                    // Read-only until signed in again: no capabilities, no composer.
                    <ChatPane chat={c} on_error={on_error.clone()} />
                }
            </>
        };
    }

    let current = selected
        .as_ref()
        .and_then(|id| s.chats.iter().find(|c| &c.id == id))
        .or_else(|| s.chats.first())
        .cloned();
    let live = s
        .agent
        .last_event_ms
        .is_some_and(|t| js_sys::Date::now() - t as f64 <= LIVE_MS);
    let connection = match (&s.agent.problem, live) {
        (Some(p), _) => t(p),
        (None, true) => t("statusConnected"),
        (None, false) => t("statusConnecting"),
    };
    // Arrow keys move between chats.
    let on_list_key = {
        let selected = selected.setter();
        let ids: Vec<String> = s.chats.iter().map(|c| c.id.clone()).collect();
        let at = current
            .as_ref()
            .and_then(|c| ids.iter().position(|id| *id == c.id))
            .unwrap_or(0);
        Callback::from(move |e: KeyboardEvent| {
            let next = match e.key().as_str() {
                "ArrowDown" => (at + 1).min(ids.len().saturating_sub(1)),
                "ArrowUp" => at.saturating_sub(1),
                _ => return,
            };
            e.prevent_default();
            if let Some(id) = ids.get(next) {
                selected.set(Some(id.clone()));
            }
        })
    };
    let ready = s.agent.channel_state.as_deref() == Some("Ready");
    let on_ready = {
        let on_error = on_error.clone();
        Callback::from(move |_: MouseEvent| act(PopupRequest::SetReady(!ready), on_error.clone()))
    };
    let on_sign_out = {
        let on_error = on_error.clone();
        Callback::from(move |_: MouseEvent| act(PopupRequest::SignOut, on_error.clone()))
    };
    html! {
        <section id="desk" class="desk">
            <header class="desk-bar">
                <span id="connection" class={classes!("connection", live.then_some("live"))} data-live={live.to_string()}
                    data-transport={s.agent.transport.clone().unwrap_or_default()}>{ connection }</span>
                <button id="ready-toggle" type="button" aria-pressed={ready.to_string()} onclick={on_ready}>
                    { if ready { t("stateReady") } else { t("stateNotReady") } }
                </button>
                <button id="sign-out" type="button" class="link" onclick={on_sign_out}>{ t("buttonSignOut") }</button>
            </header>
            if let Some(e) = (*error).clone() {
                <p id="desk-error" class="error" role="alert">{ e }</p>
            }
            if s.chats.is_empty() {
                <p id="no-chats" class="muted">{ t("noChats") }</p>
            }
            <ul id="chat-list" class="chat-list" role="listbox" aria-label={t("chatListLabel")} onkeydown={on_list_key}>
                { for s.chats.iter().map(|c| {
                    let id = c.id.clone();
                    let selected = selected.setter();
                    let on_error = on_error.clone();
                    let onclick = Callback::from(move |_: MouseEvent| {
                        selected.set(Some(id.clone()));
                        act(PopupRequest::MarkRead { chat_id: id.clone() }, on_error.clone());
                    });
                    let is_current = current.as_ref().is_some_and(|x| x.id == c.id);
                    html! {
                        <li key={c.id.clone()} role="option" aria-selected={is_current.to_string()} data-chat={c.id.clone()} data-state={c.state.clone()}
                            class={classes!("chat-item", c.waiting.then_some("waiting"))}>
                            <button type="button" {onclick}>
                                <span class="customer">{ c.customer.clone() }</span>
                                <span class="state">{ t(&format!("state{}", c.state)) }</span>
                                if c.waiting {
                                    <time class="since" title={t("waitingSinceLabel")}>{ clock(c.since_ms) }</time>
                                }
                                if c.unread > 0 { <span class="unread" aria-label={t("unreadLabel")}>{ c.unread }</span> }
                            </button>
                        </li>
                    }
                }) }
            </ul>
            if let Some(c) = current {
                <ChatPane chat={c} on_error={on_error.clone()} />
            }
            <p id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true">{ announcement }</p>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ChatPaneProps {
    chat: ChatView,
    on_error: Callback<Option<String>>,
}

#[function_component(ChatPane)]
fn chat_pane(props: &ChatPaneProps) -> Html {
    let c = &props.chat;
    let can = |op: &str| c.capabilities.iter().any(|x| x == op);
    let action = |a: ChatAction| {
        let (id, on_error) = (c.id.clone(), props.on_error.clone());
        Callback::from(move |_: MouseEvent| {
            act(
                PopupRequest::ChatAction {
                    chat_id: id.clone(),
                    action: a,
                },
                on_error.clone(),
            )
        })
    };
    {
        // The chat on screen is being read: new customer lines do not stay unread.
        let (id, unread, on_error) = (c.id.clone(), c.unread, props.on_error.clone());
        let signed_in = !c.capabilities.is_empty();
        use_effect_with((id, unread), move |(id, unread)| {
            if *unread > 0 && signed_in {
                act(
                    PopupRequest::MarkRead {
                        chat_id: id.clone(),
                    },
                    on_error,
                );
            }
        });
    }
    let draft = use_state(|| LocalStorage::get::<String>(draft_key(&c.id)).unwrap_or_default());
    {
        // Another chat selected: show its draft.
        let draft = draft.setter();
        use_effect_with(c.id.clone(), move |id| {
            draft.set(LocalStorage::get::<String>(draft_key(id)).unwrap_or_default());
        });
    }
    let typing_sent_at = use_mut_ref(|| 0.0_f64);
    let typing_timer = use_mut_ref(|| None::<i32>);
    let send = {
        let (id, draft, on_error) = (c.id.clone(), draft.clone(), props.on_error.clone());
        Callback::from(move |_: ()| {
            let text = (*draft).clone();
            if text.trim().is_empty() {
                return;
            }
            draft.set(String::new());
            LocalStorage::delete(draft_key(&id));
            act(
                PopupRequest::SendMessage {
                    chat_id: id.clone(),
                    client_id: client_id(),
                    text,
                },
                on_error.clone(),
            );
        })
    };
    let on_input = {
        let (id, draft, on_error) = (c.id.clone(), draft.clone(), props.on_error.clone());
        let (typing_sent_at, typing_timer) = (typing_sent_at.clone(), typing_timer.clone());
        Callback::from(move |e: InputEvent| {
            let value = e.target_unchecked_into::<HtmlTextAreaElement>().value();
            let _ = LocalStorage::set(draft_key(&id), &value);
            draft.set(value);
            let now = js_sys::Date::now();
            if now - *typing_sent_at.borrow() > TYPING_REPEAT_MS {
                *typing_sent_at.borrow_mut() = now;
                act(
                    PopupRequest::Typing {
                        chat_id: id.clone(),
                        typing: true,
                    },
                    on_error.clone(),
                );
            }
            let Some(window) = web_sys::window() else {
                return;
            };
            if let Some(t) = typing_timer.borrow_mut().take() {
                window.clear_timeout_with_handle(t);
            }
            let stop = {
                let (id, on_error, typing_sent_at) =
                    (id.clone(), on_error.clone(), typing_sent_at.clone());
                Closure::once_into_js(move || {
                    *typing_sent_at.borrow_mut() = 0.0;
                    act(
                        PopupRequest::Typing {
                            chat_id: id,
                            typing: false,
                        },
                        on_error,
                    );
                })
            };
            *typing_timer.borrow_mut() = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    stop.unchecked_ref(),
                    TYPING_IDLE_MS,
                )
                .ok();
        })
    };
    let on_key = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && !e.shift_key() {
                e.prevent_default();
                send.emit(());
            }
        })
    };
    let on_submit = {
        let send = send.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            send.emit(());
        })
    };
    html! {
        <article id="chat" class="chat" data-chat={c.id.clone()}>
            <header class="chat-head">
                <strong id="chat-customer">{ c.customer.clone() }</strong>
                if !c.subject.is_empty() { <span class="muted">{ c.subject.clone() }</span> }
            </header>
            if can("Accept") {
                <div class="invitation">
                    <button id="accept" type="button" onclick={action(ChatAction::Accept)}>{ t("buttonAccept") }</button>
                    <button id="reject" type="button" class="secondary" onclick={action(ChatAction::Reject)}>{ t("buttonReject") }</button>
                </div>
            }
            <ol id="transcript" class="transcript">
                { for c.lines.iter().map(|l| {
                    let role = match l.role { Role::Customer => "customer", Role::Agent => "agent", Role::System => "system" };
                    let body = match &l.kind {
                        LineKind::Joined => format!("{} {}", l.nickname, t("joinedSuffix")),
                        LineKind::Left => format!("{} {}", l.nickname, t("leftSuffix")),
                        _ => l.text.clone().unwrap_or_default(),
                    };
                    let system = matches!(l.kind, LineKind::Joined | LineKind::Left | LineKind::Notice);
                    html! {
                        <li key={l.index.to_string()} data-index={l.index.to_string()} data-role={role} class={classes!("line", role, system.then_some("system"))}>
                            <span class="body">
                                if l.kind == LineKind::PushUrl && (body.starts_with("https://") || body.starts_with("http://")) {
                                    <a href={body.clone()} target="_blank" rel="noopener noreferrer">{ body.clone() }</a>
                                } else {
                                    { body }
                                }
                            </span>
                            if let Some(at) = l.at_ms {
                                <time class="at">{ clock(at) }</time>
                            }
                        </li>
                    }
                }) }
                { for c.outgoing.iter().map(|m| {
                    let (state, label) = match &m.state {
                        OutgoingState::Queued | OutgoingState::Sending => ("pending", t("messagePending")),
                        OutgoingState::Sent => ("sent", t("messageSent")),
                        OutgoingState::Failed(_) => ("failed", t("messageFailed")),
                    };
                    let retry = {
                        let (id, on_error) = (m.client_id.clone(), props.on_error.clone());
                        Callback::from(move |_: MouseEvent| act(PopupRequest::RetryMessage { client_id: id.clone() }, on_error.clone()))
                    };
                    html! {
                        <li key={m.client_id.clone()} class={classes!("line", "agent", "outgoing", state)} data-client-id={m.client_id.clone()} data-state={state}>
                            { m.text.clone() }
                            <span class="delivery">{ label }</span>
                            if state == "failed" { <button type="button" class="retry link" onclick={retry}>{ t("buttonRetry") }</button> }
                        </li>
                    }
                }) }
            </ol>
            if c.typing == Some(Role::Customer) {
                <p id="typing" class="muted">{ t("customerTyping") }</p>
            }
            if can("SendMessage") {
                <form id="composer" class="composer" onsubmit={on_submit}>
                    <textarea id="composer-input" rows="2" value={(*draft).clone()} oninput={on_input} onkeydown={on_key}
                        placeholder={t("composerPlaceholder")} aria-label={t("composerPlaceholder")}></textarea>
                    <button id="send" type="submit">{ t("buttonSend") }</button>
                </form>
            }
            <div class="chat-actions">
                if can("Leave") {
                    <button id="leave" type="button" class="secondary" onclick={action(ChatAction::Leave)}>{ t("buttonLeave") }</button>
                }
                if can("Complete") {
                    <button id="complete" type="button" class="secondary" onclick={action(ChatAction::Complete)}>{ t("buttonComplete") }</button>
                }
            </div>
        </article>
    }
}

#[derive(Properties, PartialEq)]
struct SignInProps {
    snapshot: Snapshot,
}

#[function_component(SignInView)]
fn sign_in_view(props: &SignInProps) -> Html {
    let settings = &props.snapshot.settings;
    let server = use_state(|| settings.server_url.clone());
    let agent = use_state(|| settings.agent_name.clone());
    let password = use_state(String::new);
    let error = use_state(|| props.snapshot.agent.problem.as_deref().map(t));
    let busy = use_state(|| false);
    let field = |h: UseStateHandle<String>| {
        Callback::from(move |e: InputEvent| {
            h.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_submit = {
        let (server, agent, password, error, busy) = (
            server.clone(),
            agent.clone(),
            password.clone(),
            error.clone(),
            busy.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            busy.set(true);
            let request = PopupRequest::SignIn(Credentials {
                server_url: (*server).clone(),
                agent_name: (*agent).clone(),
                password: (*password).clone(),
            });
            let (error, busy) = (error.clone(), busy.clone());
            spawn_local(async move {
                match backend::request(request).await {
                    Ok(PopupReply::Refused(r)) | Err(r) => error.set(Some(t(&r.message_key))),
                    Ok(_) => error.set(None),
                }
                busy.set(false);
            });
        })
    };
    html! {
        <form id="sign-in" class="sign-in" onsubmit={on_submit}>
            <h2>{ t("signInTitle") }</h2>
            <label for="signin-server">{ t("labelServerUrl") }</label>
            <input id="signin-server" type="url" required=true value={(*server).clone()} oninput={field(server.clone())} />
            <label for="signin-agent">{ t("labelAgentName") }</label>
            <input id="signin-agent" type="text" required=true autocomplete="username" value={(*agent).clone()} oninput={field(agent.clone())} />
            <label for="signin-password">{ t("labelPassword") }</label>
            <input id="signin-password" type="password" required=true autocomplete="current-password" value={(*password).clone()} oninput={field(password.clone())} />
            <button id="signin-submit" type="submit" disabled={*busy}>{ t("buttonSignIn") }</button>
            if let Some(e) = (*error).clone() {
                <p id="signin-error" class="error" role="alert">{ e }</p>
            }
        </form>
    }
}
