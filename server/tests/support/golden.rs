//! Golden JSON: the exact shapes the server sends, pinned in `tests/fixtures/`. Values that
//! change run to run (ids, keys, tokens, times, ports) are replaced by placeholders first. To
//! accept an intended change: `UPDATE_GOLDEN=1 cargo test -p cobrowse-server`.

use std::path::PathBuf;

use serde_json::{json, Value};

/// Replaces run-specific values with placeholders, by key.
pub fn normalise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let placeholder = match k.as_str() {
                    "id" | "chatId" | "userId" | "participantId" if val.is_string() => Some("<id>"),
                    "secureKey" => Some("<secureKey>"),
                    "timestamp" | "receivedDate" => Some("<timestamp>"),
                    "timestampSeconds" | "utcTime" => Some("<ms>"),
                    "uri" | "chatUri" | "path" | "chatPath" => Some("<uri>"),
                    // Co-browse.
                    "sessionToken" => Some("<token>"),
                    "customerToken" | "userToken" | "joinTicket" => Some("<secret>"),
                    "sessionHistoryId" | "CoBrowseSessionId" => Some("<uuid>"),
                    "joinUrl" | "sessionServerUrl" | "url" => Some("<url>"),
                    "creationTime"
                    | "activationTime"
                    | "deactivationTime"
                    | "expiresAt"
                    | "joinTicketExpiresAt"
                    | "enteredTimestamp"
                    | "CoBrowseStartTime"
                        if !val.is_null() =>
                    {
                        Some("<ms>")
                    }
                    _ => None,
                };
                match placeholder {
                    Some(p) => *val = json!(p),
                    None => normalise(val),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// Also proves the extension's parser (core `gws`) reads what the server sends.
pub fn check_notification(name: &str, value: Value) {
    let parsed: cobrowse_agent::gws::Notification = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{name}: core cannot parse it: {e}"));
    assert_ne!(
        parsed,
        cobrowse_agent::gws::Notification::Unknown,
        "{name}: core does not know this notification"
    );
    check(name, value);
}

pub fn check(name: &str, mut value: Value) {
    normalise(&mut value);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let ours = serde_json::to_string_pretty(&value).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &ours).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(ours, golden, "{name} drifted from its fixture");
}
