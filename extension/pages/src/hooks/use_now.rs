//! The time now, refreshed every `period_ms`: for what the page shows as a live duration
//! ("3 min"). The interval ends with the component.

use wasm_bindgen::prelude::*;
use yew::prelude::*;

/// Milliseconds since the epoch, re-rendering the component every `period_ms`.
#[hook]
pub fn use_now(period_ms: i32) -> i64 {
    let now = use_state(|| js_sys::Date::now() as i64);
    {
        let now = now.clone();
        use_effect_with(period_ms, move |period| {
            let tick = Closure::<dyn Fn()>::new(move || now.set(js_sys::Date::now() as i64));
            let handle = web_sys::window().and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    *period,
                )
                .ok()
            });
            move || {
                if let (Some(w), Some(h)) = (web_sys::window(), handle) {
                    w.clear_interval_with_handle(h);
                }
                drop(tick);
            }
        });
    }
    *now
}
