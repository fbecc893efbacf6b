//! The customer side's decoders under generated input, against the real binary: GMS Chat API
//! v2 bodies (form-encoded, or any bytes at all) to the request-chat endpoint and to every
//! operation on a real chat, with its credentials mixed in so that many get past the identity
//! check. Nothing may answer 5xx or leave a body that is not Genesys JSON, and the server
//! must still serve a new customer afterwards.
//!
//! `GMS_FUZZ_CASES` sets the number of bodies (default 300; `cargo xtask soak` runs many more).
//! A failing input is kept in `gms_fuzz.proptest-regressions` beside this file.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use serde_json::Value;
use support::*;

const OPERATIONS: &[&str] = &[
    "send",
    "refresh",
    "startTyping",
    "stopTyping",
    "updateNickname",
    "updateData",
    "customNotice",
    "pushUrl",
    "disconnect",
    "bogus",
    "",
];

const KEYS: &[&str] = &[
    "userId",
    "secureKey",
    "alias",
    "message",
    "nickname",
    "firstName",
    "lastName",
    "subject",
    "emailAddress",
    "transcriptPosition",
    "userData[TimeZone]",
    "userData[]",
    "userData[x",
    "userData[a][b]",
    "userData[cobrowse-token]",
    "userData",
    "",
];

/// A value: short text, numbers, odd unicode and control characters, or something long.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ._%&=+\\[\\]-]{0,24}",
        2 => any::<String>(),
        1 => "-?[0-9]{1,20}",
        1 => (0usize..40_000).prop_map(|n| "x".repeat(n)),
        1 => Just("\u{202e}\u{0000}\u{fffd}<script>".to_owned()),
    ]
}

#[derive(Debug, Clone)]
enum Body {
    Form(Vec<(String, String)>),
    Bytes(Vec<u8>),
}

fn body(credentials: Vec<(String, String)>) -> impl Strategy<Value = Body> {
    let key = prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let pairs = proptest::collection::vec((key, value()), 0..12);
    prop_oneof![
        4 => (pairs, any::<bool>()).prop_map(move |(mut pairs, with_identity)| {
            if with_identity {
                pairs.splice(0..0, credentials.clone());
            }
            Body::Form(pairs)
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..2_000).prop_map(Body::Bytes),
    ]
}

fn encode(pairs: &[(String, String)]) -> String {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    testkit::form::encode(&refs)
}

#[test]
fn generated_gms_bodies_never_break_the_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&["--per-address-limit", "1000000"]);
    let customer = rt.block_on(Customer::request(&server, "Fuzz"));
    let credentials = vec![
        ("userId".to_owned(), customer.user_id.clone()),
        ("secureKey".to_owned(), customer.secure_key.clone()),
        ("alias".to_owned(), customer.alias.clone()),
    ];
    let http = reqwest::Client::new();
    let cases = std::env::var("GMS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/gms_fuzz.proptest-regressions",
        ))),
        ..Config::default()
    });
    let base = server.url.clone();
    let chat = customer.chat_id.clone();
    let strategy = (
        proptest::option::of(proptest::sample::select(OPERATIONS)),
        body(credentials),
    );
    let result = runner.run(&strategy, |(operation, body)| {
        let url = match operation {
            None => format!("{base}/genesys/2/chat/customer-support"),
            Some(op) => format!("{base}/genesys/2/chat/customer-support/{chat}/{op}"),
        };
        let bytes = match &body {
            Body::Form(pairs) => encode(pairs).into_bytes(),
            Body::Bytes(b) => b.clone(),
        };
        let (status, text) = rt.block_on(async {
            let r = http
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(bytes)
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("the server stopped answering: {e}")))?;
            let status = r.status().as_u16();
            Ok::<_, TestCaseError>((status, r.text().await.unwrap_or_default()))
        })?;
        prop_assert!(status < 500, "{url}: {status} {text}");
        // 429 comes from the per-chat limit; every answer is JSON a GMS client can read.
        let reply: Result<Value, _> = serde_json::from_str(&text);
        prop_assert!(
            reply.is_ok() || text.is_empty() && status == 404,
            "{url}: {status} answered {text:?}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Still serving: a new customer gets a chat and can write in it.
    let fresh = rt.block_on(Customer::request(&server, "After the fuzz"));
    rt.block_on(fresh.send("still here"));
}
