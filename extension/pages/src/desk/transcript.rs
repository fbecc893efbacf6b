//! A chat's transcript: the server's lines by index (customer, agent, system), then what the
//! agent wrote that is still on its way (pending, sent, failed with Retry). All text is text.

use std::rc::Rc;

use cobrowse_agent::chat::transcript::{Line, LineKind};
use cobrowse_agent::chat::OutgoingMessage;
use cobrowse_agent::protocol::{ChatDetail, PopupRequest, LINES_FIRST_SHOWN};
use yew::prelude::*;

use super::clock;
use crate::backend::act;
use crate::i18n::t;

#[derive(Properties, PartialEq)]
pub struct TranscriptProps {
    /// The newest lines loaded (a long chat's earlier ones are loaded when asked for), whether
    /// earlier ones are kept beyond them, and the messages on their way.
    pub detail: Rc<ChatDetail>,
    /// Load at least this many of the newest lines.
    #[prop_or_default]
    pub on_earlier: Callback<u32>,
    pub on_error: Callback<Option<String>>,
}

/// What kind of line it is, for its look (`data-kind`, `kind-*`): a message, a notice from the
/// system, the customer's custom notice, a pushed URL, a join, leave or rename.
fn kind_name(kind: &LineKind) -> &'static str {
    match kind {
        LineKind::Text => "text",
        LineKind::Joined => "joined",
        LineKind::Left => "left",
        LineKind::Notice => "notice",
        LineKind::CustomNotice => "custom-notice",
        LineKind::PushUrl => "url",
        LineKind::Renamed => "renamed",
        LineKind::Cobrowse => "cobrowse",
        LineKind::TypingStarted | LineKind::TypingStopped => "typing",
        LineKind::Other(_) => "other",
    }
}

#[derive(Properties, PartialEq)]
struct LineProps {
    line: Line,
}

/// One line. A component of its own, so a change re-renders only the lines that changed
/// (Yew skips a component whose props are equal): what a new message costs does not grow with
/// the lines shown.
#[function_component(LineItem)]
fn line_item(props: &LineProps) -> Html {
    let l = &props.line;
    let role = l.role.name();
    let body = match &l.kind {
        LineKind::Joined => format!("{} {}", l.nickname, t("joinedSuffix")),
        LineKind::Left => format!("{} {}", l.nickname, t("leftSuffix")),
        LineKind::Renamed => format!(
            "{} {} {}",
            l.text.as_deref().unwrap_or_default(),
            t("renamedInfix"),
            l.nickname
        ),
        LineKind::Cobrowse => t("lineCobrowseStarted"),
        _ => l.text.clone().unwrap_or_default(),
    };
    let system = matches!(
        l.kind,
        LineKind::Joined
            | LineKind::Left
            | LineKind::Notice
            | LineKind::Cobrowse
            | LineKind::Renamed
    );
    let kind = kind_name(&l.kind);
    let link = l.kind == LineKind::PushUrl
        && (body.starts_with("https://") || body.starts_with("http://"));
    // `dir="auto"` isolates what people wrote: a right-to-left override stays inside it.
    html! {
        <li data-index={l.index.to_string()} data-role={role} data-kind={kind}
            class={classes!("line", role, format!("kind-{kind}"), system.then_some("system"))}>
            <span class="body" dir="auto">
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
            <span dir="auto">{ m.text.clone() }</span>
            <span class="delivery">{ t(m.state.message_key()) }</span>
            if m.state.is_failed() { <button type="button" class="retry link" onclick={retry}>{ t("buttonRetry") }</button> }
        </li>
    }
}

/// The newest lines a transcript shows at first, and how many more each "Show earlier lines"
/// adds (loading them when they are not loaded yet): what a render builds and compares stays
/// the same however long the chat has gone on.
const LINES_SHOWN: usize = LINES_FIRST_SHOWN as usize;

/// Which of a transcript's lines are shown: the newest `shown`. Lines that arrive while it is
/// on screen are added to it rather than sliding it, so a new line only appends to the list
/// (a window that slid would make Yew move every line in the DOM, each time). Once it holds
/// twice its first size and the agent follows the newest line, it starts afresh at that size.
struct Window {
    shown: usize,
    /// The newest line's index when the window was last counted.
    newest: Option<i64>,
}

impl Window {
    /// Counts the lines newer than the last count into the window; where the lines shown
    /// start.
    fn lines_arrived(&mut self, lines: &[Line], following: bool) -> usize {
        if let Some(newest) = self.newest {
            let arrived = lines.len() - lines.partition_point(|l| l.index <= newest);
            self.shown += arrived;
            if arrived > 0 && following && self.shown > 2 * LINES_SHOWN {
                self.shown = LINES_SHOWN;
            }
        }
        self.newest = lines.last().map(|l| l.index).or(self.newest);
        lines.len().saturating_sub(self.shown)
    }
}

/// Within this many pixels of the bottom counts as reading the newest line.
const AT_BOTTOM_PX: i32 = 24;

fn at_bottom(el: &web_sys::Element) -> bool {
    el.scroll_height() - el.scroll_top() - el.client_height() <= AT_BOTTOM_PX
}

fn scroll_to_bottom(el: &web_sys::Element) {
    el.set_scroll_top(el.scroll_height());
}

/// The transcript follows the newest line while the agent is at the bottom; scrolled up to read
/// back, it stays put and offers a "new messages" button instead.
///
/// Only the agent scrolling up stops the following: a scroll event arrives a frame after the
/// scroll that caused it, and when lines come fast the list has grown by then, so "not at the
/// bottom" alone would take our own scroll for the agent's.
#[function_component(Transcript)]
pub fn transcript(props: &TranscriptProps) -> Html {
    let list = use_node_ref();
    let following = use_mut_ref(|| true);
    // Where the list was scrolled to last (by us or the agent).
    let last_top = use_mut_ref(|| 0);
    let unseen = use_state(|| false);
    // How many of the newest lines are shown, and the newest index counted in that.
    let window = use_mut_ref(|| Window {
        shown: LINES_SHOWN,
        newest: None,
    });
    let redraw = use_force_update();
    let newest = (
        props.detail.lines.last().map(|l| l.index),
        props.detail.outgoing.len(),
    );
    {
        let (list, following, last_top, unseen) = (
            list.clone(),
            following.clone(),
            last_top.clone(),
            unseen.clone(),
        );
        use_effect_with(newest, move |_| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                if *following.borrow() {
                    scroll_to_bottom(&el);
                    *last_top.borrow_mut() = el.scroll_top();
                } else if el.scroll_height() > el.client_height() {
                    unseen.set(true);
                }
            }
        });
    }
    let onscroll = {
        let (list, following, last_top, unseen) = (
            list.clone(),
            following.clone(),
            last_top.clone(),
            unseen.clone(),
        );
        Callback::from(move |_: Event| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                let top = el.scroll_top();
                if at_bottom(&el) {
                    *following.borrow_mut() = true;
                    if *unseen {
                        unseen.set(false);
                    }
                } else if top < *last_top.borrow() {
                    *following.borrow_mut() = false;
                }
                *last_top.borrow_mut() = top;
            }
        })
    };
    let jump = {
        let (list, following, last_top, unseen) = (
            list.clone(),
            following.clone(),
            last_top.clone(),
            unseen.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                scroll_to_bottom(&el);
                *last_top.borrow_mut() = el.scroll_top();
            }
            *following.borrow_mut() = true;
            unseen.set(false);
        })
    };
    let from = window
        .borrow_mut()
        .lines_arrived(&props.detail.lines, *following.borrow());
    let earlier = (from > 0 || props.detail.earlier).then(|| {
        let (window, following, loaded) =
            (window.clone(), following.clone(), props.detail.lines.len());
        let (kept, on_earlier, redraw) = (
            props.detail.earlier,
            props.on_earlier.clone(),
            redraw.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            *following.borrow_mut() = false;
            let more = window.borrow().shown + LINES_SHOWN;
            if more > loaded && kept {
                on_earlier.emit(u32::try_from(more).unwrap_or(u32::MAX));
            }
            window.borrow_mut().shown = more;
            redraw.force_update();
        })
    });
    // Each list is one child of its own, keyed throughout: children given inline with the
    // button before them would make an unkeyed list, which Yew diffs by position from its
    // end, so every new line would replace every line shown.
    let lines: Html = props.detail.lines[from..]
        .iter()
        .map(|l| html! { <LineItem key={l.index.to_string()} line={l.clone()} /> })
        .collect();
    let on_their_way: Html = props
        .detail
        .outgoing
        .iter()
        .map(|m| outgoing(m, &props.on_error))
        .collect();
    html! {
        <div class="transcript-wrap">
            <ol id="transcript" class="transcript" ref={list} {onscroll}>
                if let Some(onclick) = earlier {
                    <li key="earlier" class="earlier">
                        <button id="earlier-lines" type="button" class="link" {onclick}>
                            { t("buttonEarlierLines") }
                        </button>
                    </li>
                }
                { lines }
                { on_their_way }
            </ol>
            if *unseen {
                <button id="new-messages" type="button" class="new-messages" onclick={jump}>{ t("buttonNewMessages") }</button>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cobrowse_agent::chat::transcript::Role;

    fn lines(indices: std::ops::Range<i64>) -> Vec<Line> {
        indices
            .map(|index| Line {
                index,
                kind: LineKind::Text,
                role: Role::Customer,
                nickname: "Pat".into(),
                text: Some(index.to_string()),
                at_ms: None,
                internal: false,
            })
            .collect()
    }

    #[test]
    fn a_new_line_is_appended_to_the_window_not_slid_into_it() {
        let mut window = Window {
            shown: LINES_SHOWN,
            newest: None,
        };
        let n = LINES_SHOWN as i64;
        assert_eq!(window.lines_arrived(&lines(0..n + 50), true), 50);
        // The first line shown stays while lines come, up to twice the window.
        assert_eq!(window.lines_arrived(&lines(0..n + 51), true), 50);
        assert_eq!(window.lines_arrived(&lines(0..2 * n + 50), true), 50);
        // One more while following: the newest `LINES_SHOWN` again.
        let from = window.lines_arrived(&lines(0..2 * n + 51), true);
        assert_eq!(from, LINES_SHOWN + 51);
        // Reading back (not following), the window only grows.
        assert_eq!(window.lines_arrived(&lines(0..4 * n), false), from);
        assert_eq!(window.lines_arrived(&lines(0..10 * n), false), from);
        // Earlier lines loaded in front of the window do not count as arrived: the same
        // first line is shown.
        assert_eq!(
            window.lines_arrived(&lines(-n..10 * n), false),
            from + LINES_SHOWN
        );
    }
}
