//! Localised strings for the pages.

/// The message `key` from `_locales`; the key itself when there is none (a missing string
/// shows up as its name instead of an empty space).
pub fn t(key: &str) -> String {
    t_with(key, &[])
}

/// The message `key` with `$1`.. substitutions.
pub fn t_with(key: &str, substitutions: &[&str]) -> String {
    webext::i18n::message(key, substitutions).unwrap_or_else(|| key.to_owned())
}
