//! The driver of the agent's session (`cobrowse_agent::agent::Session`): feeds it what
//! happens and performs what it says. No decisions here; every rule is core's.
//!
//! In memory: the session's bookkeeping (core's), the open links, armed timers, and the
//! pages waiting for the answer to a request. A new worker instance starts them empty and
//! restores the session from `storage.session` before its first input.

use cobrowse_agent::sorted::SortedMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cobrowse_agent::agent::{Command, Input, LinkId, PageCommand, Session, Ticket, Timer};
use cobrowse_agent::protocol::{Problem, Refusal};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::link::BayeuxLink;
use crate::timer::{clear_timeout, set_timeout, TimerId};
use crate::{gws_client, store};

type Answer = Rc<RefCell<Option<Result<(), Refusal>>>>;

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::new());
    /// Resolves once the session has its secrets from storage.
    static RESTORED: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
    static LINKS: RefCell<SortedMap<LinkId, BayeuxLink>> = const { RefCell::new(SortedMap::new()) };
    static TIMERS: RefCell<SortedMap<Timer, TimerId>> = const { RefCell::new(SortedMap::new()) };
    /// Pages waiting for the answer to a request: where it goes, and what wakes them.
    static WAITING: RefCell<SortedMap<Ticket, (Answer, js_sys::Function)>> =
        const { RefCell::new(SortedMap::new()) };
    static TICKETS: Cell<u64> = const { Cell::new(0) };
}

/// Restores the session from storage once per worker instance; later calls wait for that.
async fn restored() {
    let existing = RESTORED.with(|r| r.borrow().clone());
    if let Some(p) = existing {
        let _ = JsFuture::from(p).await;
        return;
    }
    let mut resolve: Option<js_sys::Function> = None;
    let promise = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
    RESTORED.with(|r| *r.borrow_mut() = Some(promise));
    let input = Input::Restored {
        credentials: store::credentials().await,
        csrf: store::csrf_token().await,
        policy: store::policy().await,
    };
    execute(handle(input)).await;
    if let Some(r) = resolve {
        let _ = r.call0(&JsValue::UNDEFINED);
    }
}

fn handle(input: Input) -> Vec<Command> {
    let now = webext::now_ms() as i64;
    SESSION.with(|s| s.borrow_mut().handle(now, input))
}

/// Feeds one input and performs what comes of it.
pub async fn feed(input: Input) {
    restored().await;
    execute(handle(input)).await;
}

/// A wake-up (start, browser start, the alarm, a page opening).
pub async fn wake() {
    feed(Input::WokeUp).await;
}

/// Asks the session to do what a page asked; resolves with its answer.
pub async fn ask(command: PageCommand) -> Result<(), Refusal> {
    let ticket = Ticket(TICKETS.with(|t| {
        t.set(t.get() + 1);
        t.get()
    }));
    let answer: Answer = Rc::default();
    let mut resolve: Option<js_sys::Function> = None;
    let answered = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
    if let Some(r) = resolve {
        WAITING.with(|w| w.borrow_mut().insert(ticket, (answer.clone(), r)));
    }
    feed(Input::Page { ticket, command }).await;
    let _ = JsFuture::from(answered).await;
    let result = answer.borrow_mut().take();
    result.unwrap_or_else(|| Err(Refusal::of(Problem::Storage, "no answer")))
}

async fn execute(commands: Vec<Command>) {
    for command in commands {
        match command {
            Command::Send { request, outgoing } => spawn_local(async move {
                let reply = gws_client::send(&outgoing).await;
                feed(Input::Replied { request, reply }).await;
            }),
            Command::OpenLink { link, plan } => {
                let connection =
                    BayeuxLink::connect(&plan.url, plan.config, plan.headers, move |event| {
                        spawn_local(feed(Input::Link { link, event }))
                    });
                for topic in &plan.topics {
                    if let Err(e) = connection.subscribe(topic) {
                        webext::log_error(&format!("[cobrowse-agent] subscribe {topic}: {e}"));
                    }
                }
                LINKS.with(|l| l.borrow_mut().insert(link, connection));
            }
            Command::CloseLink(link) => {
                if let Some(connection) = LINKS.with(|l| l.borrow_mut().remove(&link)) {
                    connection.disconnect();
                }
            }
            Command::SetTimer { timer, after_ms } => {
                let id = set_timeout(
                    move || {
                        TIMERS.with(|t| t.borrow_mut().remove(&timer));
                        spawn_local(feed(Input::TimerFired(timer)));
                    },
                    after_ms,
                );
                if let Some(old) = TIMERS.with(|t| t.borrow_mut().insert(timer, id)) {
                    clear_timeout(old);
                }
            }
            Command::ChangeDesk { change, after } => {
                let outcome = store::change_desk(change).await;
                spawn_local(feed(Input::DeskChanged { after, outcome }));
            }
            Command::ChangeCobrowse { change, after } => {
                let outcome = store::change_cobrowse(change).await;
                spawn_local(feed(Input::CobrowseChanged { after, outcome }));
            }
            Command::OpenTab { url } => {
                if let Err(e) = webext::tabs::open(&url).await {
                    webext::log_error(&format!("[cobrowse-agent] opening the co-browse view: {e}"));
                }
            }
            Command::Publish {
                link,
                channel,
                data,
            } => {
                let connection = LINKS.with(|l| l.borrow().get(&link).cloned());
                if let Some(Err(e)) = connection.map(|c| c.publish(&channel, data)) {
                    webext::log_error(&format!("[cobrowse-agent] publish {channel}: {e}"));
                }
            }
            Command::Save(write) => store::save(write).await,
            Command::UpdateStatus(change) => store::update_status(change).await,
            Command::SetBadge(waiting) => {
                let text = if waiting == 0 {
                    String::new()
                } else {
                    waiting.to_string()
                };
                let _ = webext::action::set_badge_text(&text).await;
            }
            Command::Reply { ticket, result } => {
                if let Some((answer, wake)) = WAITING.with(|w| w.borrow_mut().remove(&ticket)) {
                    *answer.borrow_mut() = Some(result);
                    let _ = wake.call0(&JsValue::UNDEFINED);
                }
            }
            Command::Log(line) => webext::log_error(&format!("[cobrowse-agent] {line}")),
        }
    }
}
