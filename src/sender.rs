//! Who sent a message into the background, and whether to trust it.
//!
//! Only this extension's own pages (popup, options) may make requests. A message from a
//! content script, another extension or a web page (`externally_connectable`) is refused before
//! it is even decoded. The check is on the facts the browser fills in (`sender.id`,
//! `sender.url`), never on anything inside the message.

use serde::Deserialize;

/// The parts of `runtime.MessageSender` we look at (the browser fills these in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MessageSender {
    /// The sending extension's id.
    pub id: Option<String>,
    /// The URL of the page or frame that sent the message.
    pub url: Option<String>,
    /// Present when the sender is a content script in a tab.
    pub tab: Option<serde_json::Value>,
}

/// This extension, as the background sees itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnExtension {
    /// `runtime.id`.
    pub id: String,
    /// `runtime.getURL("")`, e.g. `chrome-extension://<id>/` or `moz-extension://<uuid>/`.
    pub base_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderTrust {
    /// One of this extension's own pages: may make any request.
    ExtensionPage,
    /// Anything else; the reason is for logs.
    Untrusted(&'static str),
}

pub fn classify_sender(sender: &MessageSender, own: &OwnExtension) -> SenderTrust {
    if own.id.is_empty() || own.base_url.is_empty() {
        return SenderTrust::Untrusted("own identity unknown");
    }
    if sender.id.as_deref() != Some(own.id.as_str()) {
        return SenderTrust::Untrusted("another extension or a web page");
    }
    if sender.tab.is_some() && !is_own_page(sender.url.as_deref(), own) {
        return SenderTrust::Untrusted("content script");
    }
    if !is_own_page(sender.url.as_deref(), own) {
        return SenderTrust::Untrusted("not an extension page");
    }
    SenderTrust::ExtensionPage
}

fn is_own_page(url: Option<&str>, own: &OwnExtension) -> bool {
    url.is_some_and(|u| u.starts_with(&own.base_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> OwnExtension {
        OwnExtension {
            id: "abc".into(),
            base_url: "chrome-extension://abc/".into(),
        }
    }

    fn sender(id: Option<&str>, url: Option<&str>, tab: bool) -> MessageSender {
        MessageSender {
            id: id.map(Into::into),
            url: url.map(Into::into),
            tab: tab.then(|| serde_json::json!({"id": 1})),
        }
    }

    #[test]
    fn own_popup_is_trusted() {
        let s = sender(
            Some("abc"),
            Some("chrome-extension://abc/popup.html"),
            false,
        );
        assert_eq!(classify_sender(&s, &own()), SenderTrust::ExtensionPage);
        // The popup opened as a tab is still our page.
        let s = sender(Some("abc"), Some("chrome-extension://abc/popup.html"), true);
        assert_eq!(classify_sender(&s, &own()), SenderTrust::ExtensionPage);
    }

    #[test]
    fn strangers_are_untrusted() {
        let cases = [
            sender(Some("evil"), Some("chrome-extension://evil/x.html"), false),
            sender(None, Some("https://shop.example/"), true),
            sender(Some("abc"), Some("https://shop.example/"), true),
            sender(Some("abc"), None, false),
            // A look-alike prefix must not pass.
            sender(
                Some("abc"),
                Some("chrome-extension://abcd/popup.html"),
                false,
            ),
        ];
        for s in cases {
            assert!(
                matches!(classify_sender(&s, &own()), SenderTrust::Untrusted(_)),
                "{s:?}"
            );
        }
    }

    #[test]
    fn unknown_own_identity_trusts_nobody() {
        let s = sender(Some(""), Some("/popup.html"), false);
        let own = OwnExtension {
            id: String::new(),
            base_url: String::new(),
        };
        assert!(matches!(
            classify_sender(&s, &own),
            SenderTrust::Untrusted(_)
        ));
    }
}
