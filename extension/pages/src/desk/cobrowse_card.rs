//! A chat's co-browse card: the verified session's state (waiting for the agent, with the time
//! left before it expires; active; ended), Join (opens the agent view) and End; "not verified"
//! as plain text when a code did not check out for this chat; and the field where the agent
//! enters a code the customer read out. The token itself never reaches this page.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use cobrowse_agent::gws::cobrowse::SessionState;
use cobrowse_agent::protocol::{CobrowseView, PopupRequest};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::backend::act;
use crate::i18n::{t, t_with};

#[derive(Properties, PartialEq)]
pub struct CobrowseCardProps {
    pub chat_id: String,
    pub view: Option<CobrowseView>,
    /// The customer of another chat whose co-browse is active (joining this one ends it).
    pub busy_with: Option<String>,
    /// The chat is live and the agent may act on it (enter a code, join).
    pub live: bool,
    pub on_error: Callback<Option<String>>,
}

/// `m:ss` left until `at_ms`, re-rendered every second while shown.
#[function_component(TimeLeft)]
fn time_left(props: &TimeLeftProps) -> Html {
    let now = use_state(js_sys::Date::now);
    {
        let now = now.setter();
        use_effect_with((), move |_| {
            let alive = Rc::new(Cell::new(true));
            let running = alive.clone();
            yew::platform::spawn_local(async move {
                while running.get() {
                    yew::platform::time::sleep(Duration::from_secs(1)).await;
                    if running.get() {
                        now.set(js_sys::Date::now());
                    }
                }
            });
            move || alive.set(false)
        });
    }
    let left = ((props.at_ms as f64 - *now) / 1000.0).max(0.0) as u64;
    let text = format!("{}:{:02}", left / 60, left % 60);
    html! {
        <span id="cobrowse-expires" data-ms={props.at_ms.to_string()}>
            { t_with("cobrowseExpiresIn", &[&text]) }
        </span>
    }
}

#[derive(Properties, PartialEq)]
struct TimeLeftProps {
    at_ms: i64,
}

#[function_component(CobrowseCard)]
pub fn cobrowse_card(props: &CobrowseCardProps) -> Html {
    let code = use_state(String::new);
    let request = |r: PopupRequest| {
        let on_error = props.on_error.clone();
        Callback::from(move |_: MouseEvent| act(r.clone(), on_error.clone()))
    };
    let id = props.chat_id.clone();
    let state = props.view.as_ref().and_then(|v| v.state);
    let live_session = matches!(state, Some(SessionState::Idle | SessionState::Active));
    let join_label = match (&props.busy_with, state) {
        (Some(other), Some(SessionState::Idle)) => {
            t_with("buttonCobrowseEndOtherAndJoin", &[other])
        }
        (_, Some(SessionState::Active)) => t("buttonCobrowseOpenView"),
        _ => t("buttonCobrowseJoin"),
    };
    let join = request(PopupRequest::JoinCobrowse {
        chat_id: id.clone(),
        end_other: props.busy_with.is_some(),
    });
    let end = request(PopupRequest::EndCobrowse {
        chat_id: id.clone(),
    });
    let on_code = {
        let code = code.setter();
        Callback::from(move |e: InputEvent| {
            code.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_check = {
        let (code, id, on_error) = (code.clone(), id.clone(), props.on_error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let entered = (*code).clone();
            code.set(String::new());
            act(
                PopupRequest::EnterCobrowseCode {
                    chat_id: id.clone(),
                    code: entered,
                },
                on_error.clone(),
            );
        })
    };
    let data_state = match state {
        Some(SessionState::Idle) => "idle",
        Some(SessionState::Active) => "active",
        Some(SessionState::Ended) => "ended",
        None if props.view.as_ref().is_some_and(|v| v.checking) => "checking",
        None => "none",
    };
    let view = props.view.clone();
    html! {
        <section id="cobrowse" class={classes!("cobrowse", data_state)} data-state={data_state}
            aria-label={t("cobrowseLabel")}>
            if let Some(v) = view.as_ref() {
                <p id="cobrowse-status" role="status">
                    { match state {
                        Some(SessionState::Idle) => t("cobrowseWaiting"),
                        Some(SessionState::Active) => t("cobrowseActive"),
                        Some(SessionState::Ended) => t("cobrowseEnded"),
                        None if v.checking => t("cobrowseChecking"),
                        None => String::new(),
                    } }
                    if let (Some(SessionState::Idle), Some(at)) = (state, v.expires_at_ms) {
                        { " " }<TimeLeft at_ms={at} />
                    }
                </p>
                if v.not_verified {
                    <p id="cobrowse-unverified" class="warning">{ t("cobrowseNotVerified") }</p>
                }
            }
            if live_session && props.live {
                <div class="cobrowse-actions">
                    <button id="cobrowse-join" type="button" onclick={join}>{ join_label }</button>
                    <button id="cobrowse-end" type="button" class="secondary" onclick={end}>{ t("buttonCobrowseEnd") }</button>
                </div>
            }
            if props.live && !live_session {
                <form id="cobrowse-code-form" class="cobrowse-code" onsubmit={on_check}>
                    <label for="cobrowse-code">{ t("cobrowseCodeLabel") }</label>
                    <input id="cobrowse-code" type="text" inputmode="numeric" autocomplete="off"
                        maxlength="20" value={(*code).clone()} oninput={on_code} />
                    <button id="cobrowse-check" type="submit" class="secondary">{ t("buttonCobrowseCheck") }</button>
                </form>
            }
        </section>
    }
}
