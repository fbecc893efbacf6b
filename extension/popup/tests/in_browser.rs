//! The pages rendered in a real browser page (no extension APIs there).
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use cobrowse_agent::protocol::{Snapshot, WorkerInfo, PROTOCOL_VERSION};
use cobrowse_agent::settings::Settings;
use popup::popup::{PopupApp, SnapshotView, SnapshotViewProps};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn fresh_root() -> web_sys::Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    root
}

/// Waits until `f` finds what it looks for in `root` (Yew renders asynchronously).
async fn wait_for<T>(root: &web_sys::Element, f: impl Fn(&web_sys::Element) -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f(root) {
            return v;
        }
        yew::platform::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never rendered: {}", root.inner_html());
}

fn text_of(root: &web_sys::Element, selector: &str) -> Option<String> {
    root.query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
}

#[wasm_bindgen_test]
async fn settings_with_markup_render_as_text() {
    let root = fresh_root();
    let hostile = r#"<img src=x onerror="document.title='pwned'"><script>alert(1)</script>"#;
    let snapshot = Snapshot {
        protocol: PROTOCOL_VERSION,
        settings: Settings {
            server_url: "http://127.0.0.1:8700".into(),
            agent_name: hostile.into(),
        },
        configured: true,
        worker: WorkerInfo { started_at_ms: 1 },
    };
    yew::Renderer::<SnapshotView>::with_root_and_props(
        root.clone(),
        SnapshotViewProps { snapshot },
    )
    .render();
    let name = wait_for(&root, |r| text_of(r, "#agent-name")).await;
    assert_eq!(name, hostile);
    assert!(
        root.query_selector("img").unwrap().is_none(),
        "markup was parsed"
    );
    assert!(
        root.query_selector("script").unwrap().is_none(),
        "markup was parsed"
    );
    assert_eq!(
        root.query_selector("#worker-started")
            .unwrap()
            .unwrap()
            .get_attribute("data-ms")
            .as_deref(),
        Some("1")
    );
}

#[wasm_bindgen_test]
async fn popup_outside_an_extension_says_the_background_is_unreachable() {
    let root = fresh_root();
    yew::Renderer::<PopupApp>::with_root(root.clone()).render();
    let status = wait_for(&root, |r| {
        let el = r.query_selector("#status.error").ok().flatten()?;
        el.dyn_ref::<web_sys::HtmlElement>().map(|e| e.inner_text())
    })
    .await;
    // No _locales in a plain page: the message key shows instead of the text.
    assert_eq!(status, "errorBackgroundUnreachable");
}
