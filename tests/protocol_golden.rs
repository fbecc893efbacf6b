//! Golden JSON fixtures pin the popup <-> background protocol: every variant of every
//! direction has a file in `tests/fixtures/protocol/`. Renaming a field or variant changes the
//! JSON and fails here. To accept an intended change: `UPDATE_GOLDEN=1 cargo test --test protocol_golden`
//! and bump `PROTOCOL_VERSION` if old pages could no longer talk to the new worker.

use std::path::PathBuf;

use cobrowse_agent::protocol::*;
use cobrowse_agent::settings::Settings;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/protocol")
        .join(format!("{name}.json"))
}

/// Serialises `value`, compares with the fixture, and parses the fixture back to `value`.
fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let path = fixture_path(name);
    let ours = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &ours).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        ours, golden,
        "{name}: serialisation drifted from the fixture"
    );
    let parsed: T = serde_json::from_str(&golden).unwrap();
    assert_eq!(&parsed, value, "{name}: fixture does not parse back");
}

fn snapshot() -> Snapshot {
    Snapshot {
        protocol: PROTOCOL_VERSION,
        settings: Settings {
            server_url: "http://127.0.0.1:8700".into(),
            agent_name: "agent1".into(),
        },
        configured: true,
        worker: WorkerInfo {
            started_at_ms: 1_764_000_000_000,
        },
    }
}

#[test]
fn requests_match_fixtures() {
    check(
        "request_get_snapshot",
        &RequestEnvelope::new(PopupRequest::GetSnapshot),
    );
    check(
        "request_save_settings",
        &RequestEnvelope::new(PopupRequest::SaveSettings(snapshot().settings)),
    );
}

#[test]
fn replies_match_fixtures() {
    check("reply_snapshot", &PopupReply::Snapshot(snapshot()));
    check(
        "reply_settings_saved",
        &PopupReply::SettingsSaved(snapshot()),
    );
    check(
        "reply_refused",
        &PopupReply::Refused(Refusal::new(
            RefusalReason::InvalidSettings,
            "errorUrlScheme",
            "the server URL must start with http:// or https://",
        )),
    );
}

#[test]
fn events_match_fixtures() {
    check("event_snapshot", &BackgroundEvent::Snapshot(snapshot()));
}

#[test]
fn fixtures_decode_through_the_background_entry_point() {
    for name in ["request_get_snapshot", "request_save_settings"] {
        let text = std::fs::read_to_string(fixture_path(name)).unwrap();
        decode_request(&text).unwrap_or_else(|r| panic!("{name}: {r:?}"));
    }
}

#[test]
fn every_fixture_file_is_checked() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/protocol");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "event_snapshot.json",
            "reply_refused.json",
            "reply_settings_saved.json",
            "reply_snapshot.json",
            "request_get_snapshot.json",
            "request_save_settings.json",
        ],
        "a fixture without a check (or a check without a fixture)"
    );
}
