//! The background's entry points in a real service worker (no extension APIs there): they must
//! answer with a refusal, never trap or throw.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn stringify(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
fn runs_in_a_service_worker_global() {
    let global = js_sys::global();
    let name = js_sys::Reflect::get(&global.constructor(), &"name".into()).unwrap();
    assert_eq!(
        name.as_string().as_deref(),
        Some("ServiceWorkerGlobalScope")
    );
}

#[wasm_bindgen_test]
async fn request_without_extension_identity_is_refused_as_untrusted() {
    background::start();
    let reply = background::handle_message(
        json(r#"{"protocol":1,"request":"get_snapshot"}"#),
        json(r#"{"id":"someone","url":"https://shop.example/"}"#),
    )
    .await;
    let reply = stringify(&reply);
    assert!(reply.contains(r#"{"refused":"#), "{reply}");
    assert!(reply.contains(r#""reason":"untrusted_sender""#), "{reply}");
}

#[wasm_bindgen_test]
async fn garbage_message_gets_a_reply_not_a_trap() {
    let reply = background::handle_message(JsValue::UNDEFINED, JsValue::NULL).await;
    assert!(stringify(&reply).contains(r#"{"refused":"#));
}
