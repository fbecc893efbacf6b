//! The sign-in form: server, agent name, password; the background checks them with the server
//! and keeps the credentials in `storage.session` only.

use cobrowse_agent::protocol::{Credentials, PopupReply, PopupRequest, Snapshot};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::backend;
use crate::i18n::t;

#[derive(Properties, PartialEq)]
pub struct SignInProps {
    pub snapshot: Snapshot,
}

#[function_component(SignInView)]
pub fn sign_in_view(props: &SignInProps) -> Html {
    let settings = &props.snapshot.settings;
    let server = use_state(|| settings.server_url.clone());
    let agent = use_state(|| settings.agent_name.clone());
    let password = use_state(String::new);
    let error = use_state(|| props.snapshot.agent.problem.map(|p| t(p.message_key())));
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
            <input id="signin-server" type="url" required=true readonly={props.snapshot.policy.server_url_locked}
                value={(*server).clone()} oninput={field(server.clone())} />
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
