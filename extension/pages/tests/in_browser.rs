//! The pages rendered in a real browser page (no extension APIs there).
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use std::rc::Rc;

use cobrowse_agent::chat::transcript::{Line, LineKind, Role};
use cobrowse_agent::protocol::{
    AgentStatus, ChatDetail, ChatSummary, Snapshot, WorkerInfo, PROTOCOL_VERSION,
};
use cobrowse_agent::settings::Settings;
use pages::desk::{DeskProps, DeskView};
use pages::popup::{Footer, FooterProps, PopupApp};
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
        agent: AgentStatus {
            signed_in: true,
            ..Default::default()
        },
        chats: Vec::new(),
        finished_more: 0,
        open: None,
        cobrowse: Vec::new(),
        policy: Default::default(),
        notify: Default::default(),
        retention: Default::default(),
    };
    yew::Renderer::<Footer>::with_root_and_props(root.clone(), FooterProps { snapshot }).render();
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
        root.query_selector("#snapshot")
            .unwrap()
            .unwrap()
            .get_attribute("data-worker-ms")
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

/// A signed-in desk listing `chats`, none loaded.
fn signed_in_with(chats: Vec<ChatSummary>) -> Snapshot {
    Snapshot {
        protocol: PROTOCOL_VERSION,
        settings: Settings {
            server_url: "http://127.0.0.1:8700".into(),
            agent_name: "agent1".into(),
        },
        configured: true,
        worker: WorkerInfo { started_at_ms: 1 },
        agent: AgentStatus {
            signed_in: true,
            channel_state: Some(cobrowse_agent::gws::AgentState::Ready),
            last_event_ms: None,
            problem: None,
            transport: None,
            unstored: false,
        },
        chats,
        finished_more: 0,
        open: None,
        cobrowse: Vec::new(),
        policy: Default::default(),
        notify: Default::default(),
        retention: Default::default(),
    }
}

/// A chat with `customer`, waiting for the agent.
fn chatting(id: &str, customer: &str) -> ChatSummary {
    ChatSummary {
        id: id.into(),
        state: cobrowse_agent::gws::ChatState::Chatting,
        capabilities: vec![cobrowse_agent::gws::OperationName::SendMessage],
        read_only: false,
        customer: customer.into(),
        subject: String::new(),
        unread: 1,
        waiting: true,
        since_ms: 0,
        waiting_since_ms: Some(0),
        typing: None,
        customer_words: None,
    }
}

fn customer_line(index: i64, text: &str) -> Line {
    Line {
        index,
        kind: LineKind::Text,
        role: Role::Customer,
        nickname: "Pat".into(),
        text: Some(text.into()),
        at_ms: None,
        internal: false,
    }
}

fn desk_props(snapshot: Snapshot, open: ChatDetail) -> DeskProps {
    DeskProps {
        snapshot,
        open: Some(Rc::new(open)),
        on_open: Default::default(),
        on_list_finished: Default::default(),
    }
}

#[wasm_bindgen_test]
async fn customer_text_in_a_chat_renders_as_text() {
    let root = fresh_root();
    let hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    let open = ChatDetail {
        id: "c1".into(),
        lines: vec![customer_line(1, hostile)],
        earlier: false,
        outgoing: Vec::new(),
    };
    let props = desk_props(signed_in_with(vec![chatting("c1", hostile)]), open);
    yew::Renderer::<DeskView>::with_root_and_props(root.clone(), props).render();
    let line = wait_for(&root, |r| text_of(r, "#transcript li[data-index='1']")).await;
    assert_eq!(line, hostile);
    assert_eq!(text_of(&root, "#chat-customer").as_deref(), Some(hostile));
    assert!(
        root.query_selector("img, script").unwrap().is_none(),
        "markup was parsed: {}",
        root.inner_html()
    );
}

/// What a new line costs must not grow with the lines shown: the lines and list entries
/// already on screen stay the same DOM nodes (Yew once replaced every line shown whenever one
/// arrived, because the list's children were not keyed throughout).
#[wasm_bindgen_test]
async fn a_new_line_leaves_the_lines_and_entries_on_screen_in_place() {
    let root = fresh_root();
    let snapshot = signed_in_with(vec![chatting("c1", "Pat"), chatting("c2", "Sam")]);
    let mut open = ChatDetail {
        id: "c1".into(),
        lines: (0..150)
            .map(|i| customer_line(i, &format!("line {i}")))
            .collect(),
        earlier: true,
        outgoing: Vec::new(),
    };
    let mut app = yew::Renderer::<DeskView>::with_root_and_props(
        root.clone(),
        desk_props(snapshot.clone(), open.clone()),
    )
    .render();
    let node = |selector: &str| root.query_selector(selector).unwrap();
    wait_for(&root, |_| node("#transcript li[data-index='149']")).await;
    // The earlier-lines button is shown: the case that made the list unkeyed.
    assert!(node("#earlier-lines").is_some());
    // The newest `LINES_FIRST_SHOWN` of the 150 are shown, from this one.
    let first_shown = 150 - i64::from(cobrowse_agent::protocol::LINES_FIRST_SHOWN);
    let kept = format!("#transcript li[data-index='{}']", first_shown + 10);
    let (line, entry) = (
        node(&kept).unwrap(),
        node("#chat-list li[data-chat='c2']").unwrap(),
    );

    open.lines.push(customer_line(150, "line 150"));
    let mut snapshot = snapshot;
    snapshot.chats[0].unread = 2;
    app.update(desk_props(snapshot, open));
    wait_for(&root, |_| node("#transcript li[data-index='150']")).await;
    let same = |old: &web_sys::Element, selector: &str| {
        node(selector).is_some_and(|now| now.is_same_node(Some(old)))
    };
    assert!(same(&line, &kept), "a line on screen was replaced");
    assert!(
        same(&entry, "#chat-list li[data-chat='c2']"),
        "an entry that did not change was replaced"
    );
    // The window does not slide: the first line shown stays.
    assert!(node(&format!("#transcript li[data-index='{first_shown}']")).is_some());
}
