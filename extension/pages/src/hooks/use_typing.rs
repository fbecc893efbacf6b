//! Typing notifications from the composer: a start at most every few seconds while keys come,
//! a stop once they have paused.

use std::cell::RefCell;
use std::rc::Rc;

use cobrowse_agent::protocol::PopupRequest;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::backend::act;

/// Typing starts are sent at most this often; a stop follows this long after the last key.
const TYPING_REPEAT_MS: f64 = 3000.0;
const TYPING_IDLE_MS: i32 = 2500;

#[derive(Default)]
struct Typing {
    started_at: f64,
    stop_timer: Option<i32>,
}

/// A callback to call on every keystroke in chat `chat_id`'s composer.
#[hook]
pub fn use_typing(chat_id: &str, on_error: Callback<Option<String>>) -> Callback<()> {
    let state = use_mut_ref(Typing::default);
    let chat_id = chat_id.to_owned();
    use_callback((chat_id, on_error), move |(), (chat_id, on_error)| {
        typed(&state, chat_id, on_error)
    })
}

fn typed(state: &Rc<RefCell<Typing>>, chat_id: &str, on_error: &Callback<Option<String>>) {
    let now = js_sys::Date::now();
    if now - state.borrow().started_at > TYPING_REPEAT_MS {
        state.borrow_mut().started_at = now;
        act(
            PopupRequest::Typing {
                chat_id: chat_id.to_owned(),
                typing: true,
            },
            on_error.clone(),
        );
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(t) = state.borrow_mut().stop_timer.take() {
        window.clear_timeout_with_handle(t);
    }
    let stop = {
        let (state, chat_id, on_error) = (state.clone(), chat_id.to_owned(), on_error.clone());
        Closure::once_into_js(move || {
            state.borrow_mut().started_at = 0.0;
            act(
                PopupRequest::Typing {
                    chat_id,
                    typing: false,
                },
                on_error,
            );
        })
    };
    state.borrow_mut().stop_timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(stop.unchecked_ref(), TYPING_IDLE_MS)
        .ok();
}
