//! The screenshots themselves; host only (the test kit and tokio are host dev-dependencies).

use std::path::{Path, PathBuf};

use serde_json::json;
use testkit::browser::{Browser, Session};
use testkit::popup::{accept, open_chat, sign_in, wait_for_chat_state};
use testkit::{Customer, ReferenceServer};

const THEMES: [&str; 2] = ["light", "dark"];

/// Writes `<name>-<theme>.png` of the page's `main` in both themes.
async fn shoot(s: &Session, out: &Path, name: &str) {
    for theme in THEMES {
        s.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": theme }] }),
        )
        .await
        .unwrap();
        // Two frames: the theme's styles are applied and painted.
        s.client
            .execute_async(
                "const done = arguments[0];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await
            .unwrap();
        let main = s
            .client
            .find(fantoccini::Locator::Css("main"))
            .await
            .unwrap();
        let png = main.screenshot().await.unwrap();
        let path = out.join(format!("{name}-{theme}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("wrote {}", path.display());
    }
}

async fn run(out: PathBuf) {
    std::fs::create_dir_all(&out).unwrap();
    let server = ReferenceServer::start_from_env(&[]);
    let s = Session::start(Browser::Chromium).await;
    s.client.set_window_size(440, 760).await.unwrap();

    s.goto("popup.html").await.unwrap();
    s.wait_for("the sign-in form", || async {
        s.attr("#signin-submit", "id").await
    })
    .await
    .unwrap();
    shoot(&s, &out, "popup-sign-in").await;

    sign_in(&s, &server).await.unwrap();
    let ada = Customer::request(&server, "Ada Lovelace").await;
    accept(&s, &ada).await.unwrap();
    ada.send("Hi! My order #1042 still hasn't arrived.").await;
    s.wait_for("Ada's message", || async {
        s.text("#transcript").await.filter(|t| t.contains("#1042"))
    })
    .await
    .unwrap();
    s.fill(
        "#composer-input",
        "Sorry to hear that, Ada. Let me check it for you.",
    )
    .await
    .unwrap();
    s.click("#send").await.unwrap();
    ada.receives(&["Sorry to hear that, Ada. Let me check it for you."])
        .await
        .unwrap();
    ada.send("Thank you! It was a gift.").await;
    let ben = Customer::request(&server, "Ben Okafor").await;
    wait_for_chat_state(&s, &ben.chat_id, "Invited")
        .await
        .unwrap();
    open_chat(&s, &ada.chat_id).await.unwrap();
    s.wait_for("Ada's second message", || async {
        s.text("#transcript").await.filter(|t| t.contains("gift"))
    })
    .await
    .unwrap();
    shoot(&s, &out, "popup-desk").await;

    s.goto("options.html").await.unwrap();
    s.wait_for("the options form", || async {
        s.attr("#settings-form", "data-loaded")
            .await
            .filter(|v| v == "true")
    })
    .await
    .unwrap();
    s.client.set_window_size(640, 1100).await.unwrap();
    shoot(&s, &out, "options").await;
    s.close().await;
    drop(server);
}

pub fn main() {
    let out = std::env::var_os("COBROWSE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docs/screenshots"));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(out));
}
