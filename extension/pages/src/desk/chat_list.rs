//! The chat list: one entry per chat (longest waiting first, as the background sorts them), a
//! listbox with roving focus: the list is one Tab stop (the chat on screen), arrow keys, Home
//! and End move focus and the selection together. The same list, read-only, while signed out.

use cobrowse_agent::gws::cobrowse::SessionState;
use cobrowse_agent::protocol::{ChatSummary, CobrowseView};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::clock;
use crate::hooks::use_now;
use crate::i18n::{t, t_with};

/// How long a customer has waited, as the list shows it ("< 1 min", "3 min", "1 h 5 min").
fn waited(since_ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - since_ms).max(0) / 60_000;
    match minutes {
        0 => t("waitedUnderAMinute"),
        m if m < 60 => t_with("waitedMinutes", &[&m.to_string()]),
        m => t_with(
            "waitedHours",
            &[&(m / 60).to_string(), &(m % 60).to_string()],
        ),
    }
}

#[derive(Properties, PartialEq)]
pub struct ChatListProps {
    pub chats: Vec<ChatSummary>,
    /// The chats' co-browses (a chat with a live one is marked).
    #[prop_or_default]
    pub cobrowse: Vec<CobrowseView>,
    /// The chat on screen.
    pub current: Option<String>,
    /// A chat was chosen: its id, and whether it is read-only.
    pub on_select: Callback<(String, bool)>,
}

#[function_component(ChatList)]
pub fn chat_list(props: &ChatListProps) -> Html {
    let chats = &props.chats;
    let now = use_now(15_000);
    let list = use_node_ref();
    let ids: Vec<(String, bool)> = chats.iter().map(|c| (c.id.clone(), c.read_only)).collect();
    let on_key = {
        let ids = ids.clone();
        let at = props
            .current
            .as_ref()
            .and_then(|current| ids.iter().position(|(id, _)| id == current))
            .unwrap_or(0);
        let (on_select, list) = (props.on_select.clone(), list.clone());
        Callback::from(move |e: KeyboardEvent| {
            let last = ids.len().saturating_sub(1);
            let next = match e.key().as_str() {
                "ArrowDown" => (at + 1).min(last),
                "ArrowUp" => at.saturating_sub(1),
                "Home" => 0,
                "End" => last,
                "Enter" | " " => at,
                _ => return,
            };
            e.prevent_default();
            if let Some(chat) = ids.get(next) {
                on_select.emit(chat.clone());
                // Focus follows the selection (the entry's tabindex follows on the next render).
                let item = list
                    .cast::<web_sys::Element>()
                    .and_then(|ul| ul.children().item(next as u32))
                    .and_then(|li| li.dyn_into::<web_sys::HtmlElement>().ok());
                if let Some(item) = item {
                    let _ = item.focus();
                }
            }
        })
    };
    // One listener for the whole list: an entry's props stay equal (no callback of its own),
    // so a change re-renders only the entries that changed.
    let on_click = {
        let (ids, on_select) = (ids, props.on_select.clone());
        Callback::from(move |e: MouseEvent| {
            let chat = e
                .target_dyn_into::<web_sys::Element>()
                .and_then(|t| t.closest("li[data-chat]").ok().flatten())
                .and_then(|li| li.get_attribute("data-chat"))
                .and_then(|id| ids.iter().find(|(i, _)| *i == id).cloned());
            if let Some(chat) = chat {
                on_select.emit(chat);
            }
        })
    };
    html! {
        <ul id="chat-list" ref={list} class="chat-list" role="listbox" aria-label={t("chatListLabel")}
            onkeydown={on_key} onclick={on_click}>
            { for chats.iter().map(|c| {
                let cobrowse = props
                    .cobrowse
                    .iter()
                    .find(|v| v.chat_id == c.id)
                    .and_then(|v| v.state);
                html! {
                    <ChatEntry key={c.id.clone()} chat={c.clone()} {cobrowse}
                        current={props.current.as_deref() == Some(c.id.as_str())}
                        now={c.waiting.then_some(now)} />
                }
            }) }
        </ul>
    }
}

#[derive(Properties, PartialEq)]
struct EntryProps {
    chat: ChatSummary,
    /// Its co-browse's state, if one is attached.
    cobrowse: Option<SessionState>,
    /// The chat on screen.
    current: bool,
    /// The time now, for how long a waiting customer has waited (`None` when not waiting, so
    /// the clock's tick does not re-render the others).
    now: Option<i64>,
}

/// One entry of the list.
#[function_component(ChatEntry)]
fn chat_entry(props: &EntryProps) -> Html {
    let c = &props.chat;
    let cobrowse = props.cobrowse.and_then(|s| match s {
        SessionState::Idle => Some(("idle", t("cobrowseMarkWaiting"))),
        SessionState::Active => Some(("active", t("cobrowseMarkActive"))),
        SessionState::Ended => None,
    });
    html! {
        <li role="option" aria-selected={props.current.to_string()} data-chat={c.id.clone()}
            tabindex={if props.current { "0" } else { "-1" }}
            data-state={c.state.as_str().to_owned()} data-cobrowse={cobrowse.as_ref().map(|(s, _)| *s)}
            class={classes!("chat-item", c.waiting.then_some("waiting"))}>
            <span class="customer" dir="auto" title={c.customer.clone()}>{ c.customer.clone() }</span>
            <span class="state">{ t(c.state.message_key()) }</span>
            if let Some((since, now)) = c.waiting_since_ms.zip(props.now) {
                <time class="since waited" data-since={since.to_string()}
                    title={format!("{} {}", t("waitingSinceLabel"), clock(since))}>{ waited(since, now) }</time>
            }
            if c.unread > 0 { <span class="unread" aria-label={t("unreadLabel")}>{ c.unread }</span> }
            if let Some((state, label)) = cobrowse {
                <span class={classes!("cobrowse-mark", state)} title={label.clone()} aria-label={label}>{ "⧉" }</span>
            }
        </li>
    }
}
