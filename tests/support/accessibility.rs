//! Accessibility: axe-core (npm, pinned in package-lock.json) run inside the extension's pages
//! as the agent sees them — the popup signed out, the desk with an invitation and with a chat
//! open, the options page — with 0 violations allowed. In Chromium each page is checked in the
//! light and the dark theme.

use std::path::PathBuf;

use super::agent_desk::{open_chat, sign_in, wait_for_chat_state};
use super::*;

/// The rule sets checked: WCAG 2.0/2.1 A and AA, and axe's best practices.
const AXE_RUN: &str = "
    const done = arguments[arguments.length - 1];
    axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    }).then(
      r => done(r.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({ target: n.target.join(' '), summary: n.failureSummary })),
      }))),
      e => done({ error: String(e) }),
    );";

fn axe_source() -> Result<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (cargo xtask test installs it from package-lock.json)",
            path.display()
        )
    })
}

/// Runs axe on the page as it is now; the violations, one line each.
async fn violations(s: &Session, axe: &str) -> Result<Vec<String>, String> {
    // One script: axe defines itself and runs, whatever sandbox the driver evaluates in.
    let result = s
        .client
        .execute_async(&format!("{axe}\n;{AXE_RUN}"), vec![])
        .await
        .map_err(|e| format!("axe: {e}"))?;
    if let Some(e) = result.get("error") {
        return Err(format!("axe failed: {e}"));
    }
    let list = result.as_array().ok_or(format!("axe answered {result}"))?;
    Ok(list
        .iter()
        .map(|v| {
            let nodes: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| format!("{} ({})", n["target"], n["summary"]))
                .collect();
            format!(
                "{} [{}] {}: {}",
                v["id"],
                v["impact"],
                v["help"],
                nodes.join("; ")
            )
        })
        .collect())
}

/// Checks the page in each theme the browser can be switched to from outside.
async fn check(s: &Session, axe: &str, page: &str, found: &mut Vec<String>) -> Result<(), String> {
    let themes: &[&str] = match s.browser {
        Browser::Chromium => &["light", "dark"],
        Browser::Firefox => &["system"],
    };
    for theme in themes {
        if s.browser == Browser::Chromium {
            s.cdp(
                "Emulation.setEmulatedMedia",
                json!({ "features": [{ "name": "prefers-color-scheme", "value": theme }] }),
            )
            .await?;
        }
        for v in violations(s, axe).await? {
            found.push(format!("{page} ({theme}): {v}"));
        }
    }
    Ok(())
}

/// The popup signed out, the desk with an invitation and with a chat open, and the options
/// page: 0 violations.
pub async fn the_pages_have_no_accessibility_violations(s: &Session) -> Result<(), String> {
    let axe = axe_source()?;
    let mut found = Vec::new();
    let server = ReferenceServer::start_from_env(&[]);

    s.goto("popup.html").await?;
    s.wait_for("the sign-in form", || async {
        s.attr("#signin-submit", "id").await
    })
    .await?;
    // First, that axe can fail here: a button with no name is a violation it must report.
    s.client
        .execute(
            "const b = document.createElement('button'); b.id = 'axe-canary';
             document.querySelector('main').append(b);",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let canary = violations(s, &axe).await?;
    if !canary
        .iter()
        .any(|v| v.contains("button-name") && v.contains("axe-canary"))
    {
        return Err(format!("axe did not see a nameless button: {canary:?}"));
    }
    s.client
        .execute("document.getElementById('axe-canary').remove();", vec![])
        .await
        .map_err(|e| e.to_string())?;
    check(s, &axe, "popup, signed out", &mut found).await?;

    super::open_options(s).await?;
    check(s, &axe, "options", &mut found).await?;

    sign_in(s, &server).await?;
    let customer = Customer::request(&server, "Pat Customer").await;
    wait_for_chat_state(s, &customer.chat_id, "Invited").await?;
    open_chat(s, &customer.chat_id).await?;
    s.wait_for("the invitation's buttons", || async {
        s.attr("#accept", "id").await
    })
    .await?;
    check(s, &axe, "desk, an invitation", &mut found).await?;

    s.click("#accept").await?;
    wait_for_chat_state(s, &customer.chat_id, "Chatting").await?;
    customer.send("hello, my order is late").await;
    s.wait_for("the customer's message", || async {
        s.text("#transcript")
            .await
            .filter(|t| t.contains("my order is late"))
    })
    .await?;
    check(s, &axe, "desk, a chat open", &mut found).await?;
    drop(server);
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} accessibility violations:\n{}",
            found.len(),
            found.join("\n")
        ))
    }
}
