//! The extension's pages, in Yew: the toolbar popup and the options page.
//!
//! This crate exports nothing to JS: each page is a module of its own (the crates `popup` and
//! `options` call [`run_popup`] and [`run_options`]), so the popup, opened many times a day,
//! does not carry the options page's code (about 11 KB gzip), and the options page not the desk.
//!
//! A page is a view: it renders a [`Snapshot`](cobrowse_agent::protocol::Snapshot) from the
//! background, repaints from the events port (which it re-opens when the worker restarts), and
//! sends requests. It never talks to a server and never holds state the background owns. All
//! text a person sees comes from `_locales` ([`i18n::t`]); all text from outside (settings,
//! later customers) is rendered as text, never as HTML.

use wasm_bindgen::JsValue;

pub mod backend;
pub mod desk;
pub mod hooks;
pub mod i18n;
pub mod options;
pub mod popup;

fn mount<C: yew::BaseComponent<Properties = ()>>(title_key: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    document.set_title(&i18n::t(title_key));
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("lang", &i18n::ui_locale());
    }
    match document.get_element_by_id("app") {
        Some(root) => {
            yew::Renderer::<C>::with_root(root).render();
        }
        None => webext::log_error("[cobrowse-agent] page has no #app element"),
    }
}

/// Entry point of `popup.html`; `early_port` is the events port `popup.js` opened before the
/// module was compiled (or null), with what it brought meanwhile.
pub fn run_popup(early_port: JsValue) {
    backend::hand_over_early_port(early_port);
    mount::<popup::PopupApp>("popupTitle");
}

/// Entry point of `options.html`.
pub fn run_options() {
    mount::<options::OptionsApp>("optionsTitle");
}
