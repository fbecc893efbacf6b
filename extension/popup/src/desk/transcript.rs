//! A chat's transcript: the server's lines by index (customer, agent, system), then what the
//! agent wrote that is still on its way (pending, sent, failed with Retry). All text is text.

use cobrowse_agent::chat::transcript::{Line, LineKind};
use cobrowse_agent::chat::OutgoingMessage;
use cobrowse_agent::protocol::PopupRequest;
use yew::prelude::*;

use super::clock;
use crate::backend::act;
use crate::i18n::t;

#[derive(Properties, PartialEq)]
pub struct TranscriptProps {
    pub lines: Vec<Line>,
    pub outgoing: Vec<OutgoingMessage>,
    pub on_error: Callback<Option<String>>,
}

fn line(l: &Line) -> Html {
    let role = l.role.name();
    let body = match &l.kind {
        LineKind::Joined => format!("{} {}", l.nickname, t("joinedSuffix")),
        LineKind::Left => format!("{} {}", l.nickname, t("leftSuffix")),
        LineKind::Cobrowse => t("lineCobrowseStarted"),
        _ => l.text.clone().unwrap_or_default(),
    };
    let system = matches!(
        l.kind,
        LineKind::Joined | LineKind::Left | LineKind::Notice | LineKind::Cobrowse
    );
    let link = l.kind == LineKind::PushUrl
        && (body.starts_with("https://") || body.starts_with("http://"));
    html! {
        <li key={l.index.to_string()} data-index={l.index.to_string()} data-role={role} class={classes!("line", role, system.then_some("system"))}>
            <span class="body">
                if link {
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
}

fn outgoing(m: &OutgoingMessage, on_error: &Callback<Option<String>>) -> Html {
    let state = m.state.name();
    let retry = {
        let (id, on_error) = (m.client_id.clone(), on_error.clone());
        Callback::from(move |_: MouseEvent| {
            act(
                PopupRequest::RetryMessage {
                    client_id: id.clone(),
                },
                on_error.clone(),
            )
        })
    };
    html! {
        <li key={m.client_id.clone()} class={classes!("line", "agent", "outgoing", state)} data-client-id={m.client_id.clone()} data-state={state}>
            { m.text.clone() }
            <span class="delivery">{ t(m.state.message_key()) }</span>
            if m.state.is_failed() { <button type="button" class="retry link" onclick={retry}>{ t("buttonRetry") }</button> }
        </li>
    }
}

#[function_component(Transcript)]
pub fn transcript(props: &TranscriptProps) -> Html {
    html! {
        <ol id="transcript" class="transcript">
            { for props.lines.iter().map(line) }
            { for props.outgoing.iter().map(|m| outgoing(m, &props.on_error)) }
        </ol>
    }
}
