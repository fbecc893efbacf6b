//! The events ports of the extension's open pages (connections, not state): who is looking,
//! and pushing them what changed.

use std::cell::RefCell;

use cobrowse_agent::protocol::BackgroundEvent;
use webext::port::Port;
use webext::Listener;

thread_local! {
    static PORTS: RefCell<Vec<OpenPort>> = const { RefCell::new(Vec::new()) };
}

/// A page's events port and the listener that forgets it when it closes.
struct OpenPort {
    port: Port,
    _on_disconnect: Listener,
}

/// Keeps `port` until the page closes it.
pub fn add(port: &Port) {
    let closed = port.clone();
    let on_disconnect = port.on_disconnect(move || {
        PORTS.with(|ports| ports.borrow_mut().retain(|p| !p.port.is_same(&closed)));
    });
    PORTS.with(|ports| {
        ports.borrow_mut().push(OpenPort {
            port: port.clone(),
            _on_disconnect: on_disconnect,
        })
    });
}

/// Whether a page of the extension (the popup) is open now: it shows everything itself.
pub fn any_open() -> bool {
    PORTS.with(|p| !p.borrow().is_empty())
}

pub fn post(port: &Port, event: &BackgroundEvent) {
    // The page may be closing: a failed post is expected and harmless.
    let _ = port.post(event);
}

/// Posts `event` to every open page.
pub fn broadcast(event: &BackgroundEvent) {
    let ports: Vec<Port> = PORTS.with(|p| p.borrow().iter().map(|p| p.port.clone()).collect());
    for port in &ports {
        post(port, event);
    }
}
