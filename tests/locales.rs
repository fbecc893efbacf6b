//! Every string a person sees comes from `_locales`: each key the code names exists in every
//! language, and the languages have the same keys (a missing one would show as its bare name).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cobrowse_agent::chat::OutgoingState;
use cobrowse_agent::gws::ChatState;
use cobrowse_agent::presence::{Availability, Connection};
use cobrowse_agent::protocol::Problem;
use cobrowse_agent::settings::SettingsError;

/// One of each settings error (each names its message).
const SETTINGS_ERRORS: [SettingsError; 8] = [
    SettingsError::UnsupportedScheme,
    SettingsError::MissingHost,
    SettingsError::UnexpectedUrlPart,
    SettingsError::Malformed(""),
    SettingsError::UrlTooLong,
    SettingsError::EmptyAgentName,
    SettingsError::AgentNameTooLong,
    SettingsError::AgentNameControlChars,
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn keys_of(lang: &str) -> BTreeSet<String> {
    let path = root().join(format!("assets/_locales/{lang}/messages.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let messages: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (key, entry) in &messages {
        assert!(
            entry["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{lang}/{key} has no message"
        );
    }
    messages.keys().cloned().collect()
}

fn languages() -> Vec<String> {
    let mut langs: Vec<String> = std::fs::read_dir(root().join("assets/_locales"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    langs.sort();
    langs
}

fn rust_sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
}

/// The string literals that directly follow `prefix` (`t("` → the keys passed to `t`), where
/// `prefix` starts a word (`t("` is not the end of `get("`).
fn literals_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(at, _)| {
            text[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest.find('"')?;
            // `__MSG_name__` in the manifest: the name ends before the closing underscores.
            let key = rest[..end].trim_end_matches('_');
            key.chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then_some(key)
        })
        .filter(|k| !k.is_empty())
        .collect()
}

#[test]
fn every_language_has_the_same_keys() {
    let langs = languages();
    assert!(langs.contains(&"en".to_owned()), "no English: {langs:?}");
    let en = keys_of("en");
    for lang in &langs {
        let keys = keys_of(lang);
        let missing: Vec<_> = en.difference(&keys).collect();
        let extra: Vec<_> = keys.difference(&en).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{lang}: missing {missing:?}, not in en {extra:?}"
        );
    }
}

#[test]
fn every_key_the_code_names_exists() {
    let en = keys_of("en");
    let mut sources = Vec::new();
    for dir in ["src", "extension/pages/src", "extension/background/src"] {
        rust_sources(&root().join(dir), &mut sources);
    }
    let mut named = BTreeSet::new();
    for (path, text) in &sources {
        for prefix in ["t(\"", "t_with(\"", "text(\""] {
            for key in literals_after(text, prefix) {
                named.insert((key.to_owned(), path.clone()));
            }
        }
        // Refusals and settings errors carry their key as a literal starting with "error".
        for key in literals_after(text, "\"error") {
            named.insert((format!("error{key}"), path.clone()));
        }
    }
    // Keys that core enums name for their variants (pages show `x.message_key()`).
    let from_enums = ChatState::examples()
        .iter()
        .map(|s| s.message_key())
        .chain(OutgoingState::examples().iter().map(|s| s.message_key()))
        .chain(Problem::ALL.iter().map(|p| p.message_key()))
        .chain(SETTINGS_ERRORS.iter().map(|e| e.message_key()))
        .chain(
            [
                Connection::Live,
                Connection::Connecting,
                Connection::Down(Problem::Storage),
            ]
            .iter()
            .map(|c| c.message_key()),
        )
        .chain(
            [
                Availability::Ready,
                Availability::NotReady,
                Availability::Unknown,
            ]
            .iter()
            .map(|a| a.message_key()),
        )
        .map(str::to_owned)
        .collect::<Vec<_>>();
    for key in from_enums {
        named.insert((key, PathBuf::from("core enums")));
    }
    let manifest = std::fs::read_to_string(root().join("manifest.json")).unwrap();
    for key in literals_after(&manifest, "__MSG_") {
        named.insert((key.to_owned(), PathBuf::from("manifest.json")));
    }
    assert!(named.len() > 40, "the scan found too little: {named:?}");
    let missing: Vec<_> = named
        .iter()
        .filter(|(key, _)| key != "error" && !en.contains(key))
        .collect();
    assert!(missing.is_empty(), "keys not in _locales/en: {missing:?}");
}
