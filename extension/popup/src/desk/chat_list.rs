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
    let on_key = {
        let ids: Vec<(String, bool)> = chats.iter().map(|c| (c.id.clone(), c.read_only)).collect();
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
    html! {
        <ul id="chat-list" ref={list} class="chat-list" role="listbox" aria-label={t("chatListLabel")} onkeydown={on_key}>
            { for chats.iter().map(|c| {
                let onclick = {
                    let (chat, on_select) = ((c.id.clone(), c.read_only), props.on_select.clone());
                    Callback::from(move |_: MouseEvent| on_select.emit(chat.clone()))
                };
                let is_current = props.current.as_deref() == Some(c.id.as_str());
                let cobrowse = props
                    .cobrowse
                    .iter()
                    .find(|v| v.chat_id == c.id)
                    .and_then(|v| v.state)
                    .and_then(|s| match s {
                        SessionState::Idle => Some(("idle", t("cobrowseMarkWaiting"))),
                        SessionState::Active => Some(("active", t("cobrowseMarkActive"))),
                        SessionState::Ended => None,
                    });
                html! {
                    <li key={c.id.clone()} role="option" aria-selected={is_current.to_string()} data-chat={c.id.clone()}
                        tabindex={if is_current { "0" } else { "-1" }} {onclick}
                        data-state={c.state.as_str().to_owned()} data-cobrowse={cobrowse.as_ref().map(|(s, _)| *s)}
                        class={classes!("chat-item", c.waiting.then_some("waiting"))}>
                        <span class="customer" dir="auto" title={c.customer.clone()}>{ c.customer.clone() }</span>
                        <span class="state">{ t(c.state.message_key()) }</span>
                        if let Some(since) = c.waiting_since_ms.filter(|_| c.waiting) {
                            <time class="since waited" data-since={since.to_string()}
                                title={format!("{} {}", t("waitingSinceLabel"), clock(since))}>{ waited(since, now) }</time>
                        }
                        if c.unread > 0 { <span class="unread" aria-label={t("unreadLabel")}>{ c.unread }</span> }
                        if let Some((state, label)) = cobrowse {
                            <span class={classes!("cobrowse-mark", state)} title={label.clone()} aria-label={label}>{ "⧉" }</span>
                        }
                    </li>
                }
            }) }
        </ul>
    }
}
