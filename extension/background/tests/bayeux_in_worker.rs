//! The background's Bayeux client in a real service worker, against our server
//! (`bayeux-interop-server --cors`, started by `cargo xtask test`, which passes its address in
//! `BAYEUX_TEST_URL` at build time): WebSocket, long-polling over `fetch`, and the fallback from
//! one to the other.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use background::link::BayeuxLink;
use cobrowse_agent::bayeux::client::{ClientConfig, Event};
use serde_json::{json, Value};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

fn server() -> &'static str {
    match option_env!("BAYEUX_TEST_URL") {
        Some(url) => url,
        None => panic!("BAYEUX_TEST_URL is not set: run these tests with `cargo xtask test`"),
    }
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout: js_sys::Function =
            js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
                .unwrap()
                .dyn_into()
                .unwrap();
        set_timeout
            .call2(&js_sys::global(), &resolve, &ms.into())
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

type Events = Rc<RefCell<Vec<Event>>>;

fn connect(path: &str, transports: &[&str]) -> (BayeuxLink, Events) {
    let events: Events = Rc::default();
    let sink = events.clone();
    let config = ClientConfig {
        transports: transports.iter().map(|t| t.to_string()).collect(),
        backoff_initial_ms: 100,
        ..ClientConfig::default()
    };
    let link = BayeuxLink::connect(
        &format!("{}{path}", server()),
        config,
        Vec::new(),
        move |e| sink.borrow_mut().push(e),
    );
    (link, events)
}

async fn wait_for<T>(events: &Events, what: &str, f: impl Fn(&Event) -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = events.borrow().iter().find_map(&f) {
            return v;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}: {:?}", events.borrow());
}

async fn round_trip(path: &str, transports: &[&str], expect_transport: &str) {
    let (link, events) = connect(path, transports);
    link.subscribe("/test/worker").unwrap();
    let transport = wait_for(&events, "handshake", |e| match e {
        Event::Handshaken { transport, .. } => Some(transport.clone()),
        _ => None,
    })
    .await;
    assert_eq!(transport, expect_transport);
    wait_for(&events, "subscription", |e| {
        matches!(e, Event::Subscribed { .. }).then_some(())
    })
    .await;
    for n in 0..3 {
        link.publish(
            "/service/publish",
            json!({ "channel": "/test/worker", "data": { "n": n } }),
        )
        .unwrap();
    }
    let got: Vec<Value> = wait_for(&events, "three messages", |_| {
        let got: Vec<Value> = events
            .borrow()
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) if m.channel == "/test/worker" => m.data.clone(),
                _ => None,
            })
            .collect();
        (got.len() >= 3).then_some(got)
    })
    .await;
    assert_eq!(got, vec![json!({"n": 0}), json!({"n": 1}), json!({"n": 2})]);
    link.publish("/service/echo", json!("ping")).unwrap();
    let echo = wait_for(&events, "echo", |e| match e {
        Event::Message(m) if m.channel == "/service/echo" => m.data.clone(),
        _ => None,
    })
    .await;
    assert_eq!(echo, json!("ping"));
    assert!(link.is_connected());
    link.disconnect();
    wait_for(&events, "disconnect", |e| {
        matches!(e, Event::Disconnected { .. }).then_some(())
    })
    .await;
}

#[wasm_bindgen_test]
async fn websocket_round_trip_in_a_service_worker() {
    round_trip("/cometd", &["websocket", "long-polling"], "websocket").await;
}

#[wasm_bindgen_test]
async fn long_polling_over_fetch_in_a_service_worker() {
    round_trip("/cometd", &["long-polling"], "long-polling").await;
}

#[wasm_bindgen_test]
async fn refused_websocket_falls_back_to_long_polling() {
    round_trip(
        "/cometd-long-polling-only",
        &["websocket", "long-polling"],
        "long-polling",
    )
    .await;
}
