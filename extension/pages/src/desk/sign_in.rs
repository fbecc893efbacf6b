//! The sign-in form: agent name and password, and the server only when it needs asking (not set
//! up yet, or the agent chose to change it; never when an admin locked it). The background checks
//! them with the server and keeps the credentials in `storage.session` only.

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
    let locked = props.snapshot.policy.server_url_locked;
    // A server already set up (saved, or the admin's) is shown, not asked for again.
    let asking_server = use_state(|| !props.snapshot.configured && !locked);
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
                display_name: None,
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
    let on_change_server = {
        let asking = asking_server.clone();
        Callback::from(move |_: MouseEvent| asking.set(true))
    };
    html! {
        <form id="sign-in" class="sign-in" onsubmit={on_submit}>
            <h2>{ t("signInTitle") }</h2>
            if *asking_server {
                <label for="signin-server">{ t("labelServerUrl") }</label>
                <input id="signin-server" type="url" required=true autocomplete="url"
                    value={(*server).clone()} oninput={field(server.clone())} />
            } else {
                <p class="signin-where">
                    <span class="muted">{ t("labelServer") }</span>
                    <span id="server-url" class="url" title={(*server).clone()}>{ (*server).clone() }</span>
                    if !locked {
                        <button id="signin-change-server" type="button" class="link"
                            onclick={on_change_server}>
                            { t("buttonChangeServer") }
                        </button>
                    }
                </p>
            }
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
