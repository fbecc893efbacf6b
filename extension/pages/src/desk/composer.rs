//! The composer: Enter sends, Shift+Enter starts a new line; the draft is kept per chat
//! (`use_draft`) and typing is announced to the customer (`use_typing`). A message the
//! background did not take (refused, or the browser stopped it just then) comes back into the
//! composer with the error: nothing the agent wrote is lost. `data-state` says where the last
//! send is: `sending`, `taken`, or `returned`.

use cobrowse_agent::protocol::PopupRequest;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use cobrowse_agent::protocol::PopupReply;
use wasm_bindgen_futures::spawn_local;

use crate::backend;
use crate::hooks::{use_draft, use_typing};
use crate::i18n::t;

#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    pub chat_id: String,
    pub on_error: Callback<Option<String>>,
}

/// A page-made id for a message until the server's echo replaces it.
fn client_id() -> String {
    format!(
        "m-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e9) as u64
    )
}

#[function_component(Composer)]
pub fn composer(props: &ComposerProps) -> Html {
    let draft = use_draft(&props.chat_id);
    let typed = use_typing(&props.chat_id, props.on_error.clone());
    let state = use_state(|| "taken");
    let send = {
        let (id, draft, on_error, state) = (
            props.chat_id.clone(),
            draft.clone(),
            props.on_error.clone(),
            state.clone(),
        );
        Callback::from(move |_: ()| {
            let text = (*draft).clone();
            if text.trim().is_empty() {
                return;
            }
            draft.clear();
            state.set("sending");
            let request = PopupRequest::SendMessage {
                chat_id: id.clone(),
                client_id: client_id(),
                text: text.clone(),
            };
            let (draft, on_error, state) = (draft.clone(), on_error.clone(), state.clone());
            spawn_local(async move {
                match backend::request(request).await {
                    Ok(PopupReply::Refused(r)) | Err(r) => {
                        draft.restore(text);
                        state.set("returned");
                        on_error.emit(Some(t(&r.message_key)));
                    }
                    Ok(_) => {
                        state.set("taken");
                        on_error.emit(None);
                    }
                }
            });
        })
    };
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            draft.set(e.target_unchecked_into::<HtmlTextAreaElement>().value());
            typed.emit(());
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
    let on_submit = Callback::from(move |e: SubmitEvent| {
        e.prevent_default();
        send.emit(());
    });
    html! {
        <form id="composer" class="composer" onsubmit={on_submit} data-state={*state}>
            <textarea id="composer-input" rows="2" value={(*draft).clone()} oninput={on_input} onkeydown={on_key}
                placeholder={t("composerPlaceholder")} aria-label={t("composerPlaceholder")} />
            <button id="send" type="submit">{ t("buttonSend") }</button>
        </form>
    }
}
