//! Localised strings for the pages.

use std::cell::RefCell;

thread_local! {
    /// The messages looked up so far: a page's words do not change while it is open, and a
    /// list or transcript asks for the same few on every entry (each look-up is a call into
    /// the browser).
    /// (A few dozen keys: a list is smaller code than a hash map, and as fast at this size.)
    static MESSAGES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// The message `key` from `_locales`; the key itself when there is none (a missing string
/// shows up as its name instead of an empty space).
pub fn t(key: &str) -> String {
    let held = MESSAGES.with(|m| {
        m.borrow()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.clone())
    });
    if let Some(m) = held {
        return m;
    }
    let m = t_with(key, &[]);
    MESSAGES.with(|cache| cache.borrow_mut().push((key.to_owned(), m.clone())));
    m
}

/// The message `key` with `$1`.. substitutions.
pub fn t_with(key: &str, substitutions: &[&str]) -> String {
    webext::i18n::message(key, substitutions).unwrap_or_else(|| key.to_owned())
}

thread_local! {
    static UI_LOCALE: String = {
        let words = webext::i18n::message("localeCode", &[]).unwrap_or_else(|| "en".to_owned());
        match webext::i18n::ui_language() {
            Some(ui) if ui == words || ui.starts_with(&format!("{words}-")) => ui,
            _ => words,
        }
    };
}

/// The language the page's words are in, as a BCP 47 tag for `lang` and for dates and times:
/// the browser's UI language when the words are in it (`en-GB` keeps its 24-hour clock), else
/// the `_locales` language the browser fell back to (a German UI reads `de`, never `en`).
/// Worked out once per page: every rendered time asks.
pub fn ui_locale() -> String {
    UI_LOCALE.with(String::clone)
}
