//! Timers of this worker instance (`setTimeout`, which both background globals have). They die
//! with the worker: whatever must happen later anyway has the alarm as its safety net.

use wasm_bindgen::prelude::*;

use crate::global;

/// A timer's id, to clear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerId(i32);

/// Runs `f` once after `ms`.
pub fn set_timeout(f: impl FnOnce() + 'static, ms: u64) -> TimerId {
    let callback = Closure::once_into_js(f);
    let id = global::function("setTimeout")
        .and_then(|st| {
            st.call2(&js_sys::global(), &callback, &JsValue::from_f64(ms as f64))
                .ok()
        })
        .and_then(|id| id.as_f64())
        .map(|id| id as i32)
        .unwrap_or(-1);
    TimerId(id)
}

pub fn clear_timeout(id: TimerId) {
    if let Some(ct) = global::function("clearTimeout") {
        let _ = ct.call1(&js_sys::global(), &JsValue::from(id.0));
    }
}
