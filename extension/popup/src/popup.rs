//! The toolbar popup: a view of the background's snapshot.

use cobrowse_agent::protocol::{PopupReply, PopupRequest, Snapshot};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::backend::{self, EventsSubscription};
use crate::i18n::{t, t_with};

/// What the popup shows: the latest snapshot, or why there is none.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PopupState {
    #[default]
    Loading,
    Ready(Snapshot),
    Failed(String),
}

#[function_component(PopupApp)]
pub fn popup_app() -> Html {
    let state = use_state(PopupState::default);
    {
        let state = state.setter();
        use_effect_with((), move |_| {
            let on_snapshot = {
                let state = state.clone();
                Callback::from(move |s| state.set(PopupState::Ready(s)))
            };
            let subscription = EventsSubscription::open(on_snapshot);
            spawn_local(async move {
                let next = match backend::request(PopupRequest::GetSnapshot).await {
                    Ok(PopupReply::Snapshot(s) | PopupReply::SettingsSaved(s)) => {
                        PopupState::Ready(s)
                    }
                    Ok(PopupReply::Refused(r)) | Err(r) => PopupState::Failed(t(&r.message_key)),
                };
                state.set(next);
            });
            move || drop(subscription)
        });
    }
    html! {
        <main class="popup">
            <h1 id="title">{ t("popupTitle") }</h1>
            {
                match &*state {
                    PopupState::Loading => html! { <p id="status" class="muted">{ t("statusLoading") }</p> },
                    PopupState::Failed(message) => html! { <p id="status" class="error" role="alert">{ message.clone() }</p> },
                    PopupState::Ready(snapshot) => html! {
                        <>
                            <crate::desk::DeskView snapshot={snapshot.clone()} />
                            <SnapshotView snapshot={snapshot.clone()} />
                        </>
                    },
                }
            }
        </main>
    }
}

#[derive(Properties, PartialEq)]
pub struct SnapshotViewProps {
    pub snapshot: Snapshot,
}

/// The snapshot as the agent sees it. Every value is rendered as text.
#[function_component(SnapshotView)]
pub fn snapshot_view(props: &SnapshotViewProps) -> Html {
    let s = &props.snapshot;
    let on_open_options = Callback::from(|_: MouseEvent| {
        spawn_local(async {
            if let Err(e) = webext::runtime::open_options_page().await {
                webext::log_error(&format!("[cobrowse-agent] {e}"));
            }
        })
    });
    let started = js_sys::Date::new(&(s.worker.started_at_ms as f64).into());
    let started_text: String = started.to_locale_time_string("default").into();
    html! {
        <section id="snapshot">
            if !s.configured {
                <p id="not-configured" class="notice">{ t("notConfigured") }</p>
            }
            <dl>
                <dt>{ t("labelAgentName") }</dt>
                <dd id="agent-name">{ s.settings.agent_name.clone() }</dd>
                <dt>{ t("labelServerUrl") }</dt>
                <dd id="server-url">{ s.settings.server_url.clone() }</dd>
            </dl>
            <p class="muted">
                <span id="worker-started" data-ms={ s.worker.started_at_ms.to_string() }>
                    { t_with("workerStartedAt", &[&started_text]) }
                </span>
            </p>
            <button id="open-options" type="button" onclick={on_open_options}>{ t("openOptions") }</button>
        </section>
    }
}
