//! `i18n`: every string a person sees comes from `_locales/<lang>/messages.json`.

use wasm_bindgen::prelude::*;

use crate::extension_api;

#[wasm_bindgen]
extern "C" {
    type I18n;
    #[wasm_bindgen(method, js_name = getMessage)]
    fn get_message(this: &I18n, name: &str, substitutions: &JsValue) -> Option<String>;
    #[wasm_bindgen(method, js_name = getUILanguage)]
    fn get_ui_language(this: &I18n) -> Option<String>;
}

fn i18n() -> Option<I18n> {
    let root = extension_api().ok()?;
    let ns = js_sys::Reflect::get(&root, &"i18n".into()).ok()?;
    (!ns.is_undefined()).then(|| ns.unchecked_into())
}

/// The localised message `name` with `$1`.. substitutions; `None` when there is no such
/// message or no extension context (tests in a plain page).
pub fn message(name: &str, substitutions: &[&str]) -> Option<String> {
    let subs = js_sys::Array::new();
    for s in substitutions {
        subs.push(&JsValue::from_str(s));
    }
    i18n()?.get_message(name, &subs).filter(|m| !m.is_empty())
}

/// The browser's UI language, e.g. `en-US`.
pub fn ui_language() -> Option<String> {
    i18n()?.get_ui_language()
}
