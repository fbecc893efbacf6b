//! One chat: its head, the invitation (Accept/Reject), its co-browse card, the transcript (once
//! loaded), the typing indicator, the composer, and Leave/Complete, each shown only when the
//! chat's capabilities allow it.

use cobrowse_agent::chat::transcript::Role;
use cobrowse_agent::gws::ChatState;
use cobrowse_agent::gws::OperationName;
use cobrowse_agent::protocol::{ChatAction, ChatDetail, ChatSummary, CobrowseView, PopupRequest};
use std::rc::Rc;

use yew::prelude::*;

use super::cobrowse_card::CobrowseCard;
use super::composer::Composer;
use super::transcript::Transcript;
use crate::backend::act;
use crate::i18n::t;

#[derive(Properties, PartialEq)]
pub struct ChatPaneProps {
    pub chat: ChatSummary,
    /// Its lines and messages on their way (`None` while they load).
    pub detail: Option<Rc<ChatDetail>>,
    /// Its co-browse, if any.
    #[prop_or_default]
    pub cobrowse: Option<CobrowseView>,
    /// The customer of another chat whose co-browse is active.
    #[prop_or_default]
    pub cobrowse_busy_with: Option<String>,
    /// Load this chat's newest lines (at least this many): the agent reads back.
    #[prop_or_default]
    pub on_open: Callback<(String, u32)>,
    pub on_error: Callback<Option<String>>,
}

#[function_component(ChatPane)]
pub fn chat_pane(props: &ChatPaneProps) -> Html {
    let c = &props.chat;
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
        let (id, unread, read_only, on_error) =
            (c.id.clone(), c.unread, c.read_only, props.on_error.clone());
        use_effect_with((id, unread), move |(id, unread)| {
            if *unread > 0 && !read_only {
                act(
                    PopupRequest::MarkRead {
                        chat_id: id.clone(),
                    },
                    on_error,
                );
            }
        });
    }
    html! {
        <article id="chat" class="chat" data-chat={c.id.clone()}>
            <header class="chat-head">
                <strong id="chat-customer" dir="auto" title={c.customer.clone()}>{ c.customer.clone() }</strong>
                if !c.subject.is_empty() { <span class="muted subject" dir="auto" title={c.subject.clone()}>{ c.subject.clone() }</span> }
            </header>
            if c.can(OperationName::Accept) {
                <div class="invitation">
                    <button id="accept" type="button" onclick={action(ChatAction::Accept)}>{ t("buttonAccept") }</button>
                    <button id="reject" type="button" class="secondary" onclick={action(ChatAction::Reject)}>{ t("buttonReject") }</button>
                </div>
            }
            if c.state == ChatState::Chatting || props.cobrowse.is_some() {
                <CobrowseCard chat_id={c.id.clone()} view={props.cobrowse.clone()}
                    busy_with={props.cobrowse_busy_with.clone()}
                    live={c.state == ChatState::Chatting && !c.read_only}
                    on_error={props.on_error.clone()} />
            }
            if let Some(detail) = props.detail.clone() {
                <Transcript key={c.id.clone()} {detail}
                    on_earlier={props.on_open.reform({
                        let id = c.id.clone();
                        move |lines| (id.clone(), lines)
                    })}
                    on_error={props.on_error.clone()} />
            } else {
                <ol id="transcript" class="transcript" aria-busy="true"></ol>
            }
            if c.typing == Some(Role::Customer) {
                <p id="typing" class="muted">{ t("customerTyping") }</p>
            }
            if c.can(OperationName::SendMessage) {
                <Composer chat_id={c.id.clone()} on_error={props.on_error.clone()} />
            }
            <div class="chat-actions">
                if c.can(OperationName::Leave) {
                    <button id="leave" type="button" class="secondary" onclick={action(ChatAction::Leave)}>{ t("buttonLeave") }</button>
                }
                if c.can(OperationName::Complete) {
                    <button id="complete" type="button" class="secondary" onclick={action(ChatAction::Complete)}>{ t("buttonComplete") }</button>
                }
            </div>
        </article>
    }
}
