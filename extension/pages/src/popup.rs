//! The toolbar popup: a view of the desk, painted from the background's snapshot and kept up
//! to date by what it pushes (core's `PageModel` merges it); the open chat's newest lines are
//! loaded, earlier ones when the agent reads back.

use std::rc::Rc;

use cobrowse_agent::chat::PageModel;
use cobrowse_agent::protocol::{BackgroundEvent, ChatDetail, PopupReply, PopupRequest, Snapshot};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::backend::{self, EventsSubscription};
use crate::i18n::t;

/// What the popup shows: the desk as the background pushes it, or why there is none.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PopupState {
    #[default]
    Loading,
    Ready(Box<PageModel>),
    Failed(String),
}

/// What changes the popup's state.
pub enum PopupAction {
    /// What the events port brought: the snapshot to paint first, then what changed.
    Pushed(BackgroundEvent),
    Opened(ChatDetail),
}

impl Reducible for PopupState {
    type Action = PopupAction;

    fn reduce(self: Rc<Self>, action: PopupAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match (action, &mut next) {
            (
                PopupAction::Pushed(BackgroundEvent::Snapshot(s)),
                PopupState::Loading | PopupState::Failed(_),
            ) => next = PopupState::Ready(Box::new(PageModel::new(s))),
            (PopupAction::Pushed(BackgroundEvent::SnapshotRefused(r)), PopupState::Loading) => {
                next = PopupState::Failed(t(&r.message_key))
            }
            (PopupAction::Pushed(event), PopupState::Ready(model)) => model.apply(event),
            (PopupAction::Opened(detail), PopupState::Ready(model)) => model.opened(detail),
            _ => return self,
        }
        Rc::new(next)
    }
}

/// Loads chat `id`'s newest `lines` lines into the popup's state.
fn open_chat(id: String, lines: u32, state: UseReducerDispatcher<PopupState>) {
    spawn_local(async move {
        if let Ok(PopupReply::Chat(detail)) =
            backend::request(PopupRequest::OpenChat { chat_id: id, lines }).await
        {
            state.dispatch(PopupAction::Opened(detail));
        }
    });
}

/// Lists the newest `finished` finished chats: the snapshot again, merged as a pushed one
/// (the open chat stays).
fn list_finished(finished: u32, state: UseReducerDispatcher<PopupState>) {
    spawn_local(async move {
        if let Ok(PopupReply::Snapshot(s)) =
            backend::request(PopupRequest::ListFinished { finished }).await
        {
            state.dispatch(PopupAction::Pushed(BackgroundEvent::Snapshot(s)));
        }
    });
}

#[function_component(PopupApp)]
pub fn popup_app() -> Html {
    let state = use_reducer(PopupState::default);
    {
        let dispatch = state.dispatcher();
        use_effect_with((), move |_| {
            let on_event = {
                let dispatch = dispatch.clone();
                Callback::from(move |e| dispatch.dispatch(PopupAction::Pushed(e)))
            };
            // The port's first event is the snapshot to paint (or why there is none): asking
            // for another as well would read the desk twice while the agent waits.
            let subscription = EventsSubscription::open(on_event);
            move || drop(subscription)
        });
    }
    let on_open = {
        let dispatch = state.dispatcher();
        Callback::from(move |(id, lines): (String, u32)| open_chat(id, lines, dispatch.clone()))
    };
    let on_list_finished = {
        let dispatch = state.dispatcher();
        Callback::from(move |finished: u32| list_finished(finished, dispatch.clone()))
    };
    html! {
        <main class="popup">
            <h1 id="title">{ t("popupTitle") }</h1>
            {
                match &*state {
                    PopupState::Loading => html! { <p id="status" class="muted">{ t("statusLoading") }</p> },
                    PopupState::Failed(message) => html! { <p id="status" class="error" role="alert">{ message.clone() }</p> },
                    PopupState::Ready(model) => html! {
                        <>
                            <crate::desk::DeskView snapshot={model.snapshot.clone()} open={model.open.clone()} {on_open} {on_list_finished} />
                            <Footer snapshot={model.snapshot.clone()} />
                        </>
                    },
                }
            }
        </main>
    }
}

#[derive(Properties, PartialEq)]
pub struct FooterProps {
    pub snapshot: Snapshot,
}

/// Who is signed in where, and the way to the settings. Every value is rendered as text. The
/// worker's start time is for diagnostics (the options page shows it) and for tests, never shown
/// here.
#[function_component(Footer)]
pub fn footer(props: &FooterProps) -> Html {
    let s = &props.snapshot;
    let on_open_options = Callback::from(|_: MouseEvent| {
        spawn_local(async {
            if let Err(e) = webext::runtime::open_options_page().await {
                webext::log_error(&format!("[cobrowse-agent] {e}"));
            }
        })
    });
    html! {
        <footer id="snapshot" class="identity" data-worker-ms={ s.worker.started_at_ms.to_string() }>
            if s.agent.signed_in {
                <span id="agent-name" class="who" title={ s.settings.agent_name.clone() }>{ s.settings.agent_name.clone() }</span>
                <span id="server-url" class="url muted" title={ s.settings.server_url.clone() }>{ s.settings.server_url.clone() }</span>
            }
            <button id="open-options" type="button" class="link" onclick={on_open_options}>{ t("openOptions") }</button>
        </footer>
    }
}
