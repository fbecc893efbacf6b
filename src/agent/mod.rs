//! The agent's session, sans-IO: every decision the background makes for a signed-in agent.
//!
//! In the shape of [`crate::bayeux::client::Client`]: the background feeds [`Input`]s (what a
//! page asked, what the server replied, what the CometD link reported, which timer fired, what
//! a desk change left) and performs the [`Command`]s that come back (requests to send, links
//! to open or close, storage writes, desk changes, timers, the badge, replies to pages). The
//! rules live here, tested natively with simulated time:
//!
//! - **Sign-in**: the password is checked on its own (no cookies, so a session cookie the
//!   browser still holds cannot stand in for it), then again with the cookie, as every later
//!   request goes, and refused if the server answers for another agent; then the
//!   contact-center session starts and the credentials are kept (in `storage.session` only).
//! - **Transport plan**: a WebSocket when `GET /api/v2/me` hands out a notifications token
//!   (presented in the handshake `ext`), falling back to long-polling; long-polling with Basic
//!   when the server hands out none (a real GWS); the socket is tried when the server gave no
//!   answer at all (a refused handshake then tells more).
//! - **Refused handshakes**: `GET /api/v2/me` says which it was: rejected credentials (ask for a
//!   new sign-in; chats stay) or a used token (a new link after a pause that doubles, 1 s to
//!   30 s, and starts again at the next successful connect).
//! - **CSRF**: the token a GET reply hands out goes on every write; a write refused for its
//!   token fetches a new one with a GET and is sent once more.
//! - **Resync before resend**: every (re)connect fetches the chat list and each transcript from
//!   where it is complete; the outbox is pumped only after this worker's first resync, so a
//!   send cut by the previous worker's death is settled against the transcript first.
//! - **Outbox**: one message at a time; a failed send waits per [`crate::chat::outbox`]'s
//!   back-off (a timer here; the alarm wakes a worker whose timer died); only "no answer" is
//!   retried by itself.
//!
//! What it keeps is bookkeeping of this worker instance (what is in flight, the link's number,
//! refused handshakes in a row, whether it has resynced) plus a copy of the secrets it was
//! given from `storage.session`; everything a page shows lives in storage.

mod cobrowse;
mod requests;
#[cfg(test)]
mod tests;

use crate::sorted::{SortedMap, SortedSet};

use serde_json::Map;

use crate::backoff::Backoff;
use crate::bayeux::client::{ClientConfig, Event};
use crate::bayeux::message::{read_data, BayeuxError};
use crate::bayeux::{LONG_POLLING, WEBSOCKET};
use crate::chat::{DeskChange, DeskOutcome, Effect, SendFailure, SendResult, Stored};
use crate::cobrowse::{CobrowseChange, CobrowseOutcome};
use crate::gws::cobrowse::{SessionChangedMessage, COBROWSE_TOPIC};
use crate::gws::{
    basic_authorization, notifications_token_ext, paths, ChannelStateChange, ChatsReply, Cookies,
    CsrfToken, HttpReply, MeReply, MessagesReply, Notification, Operation, Outcome, Request,
    MAX_TEXT_BYTES, NOTIFICATIONS_TOKEN_HEADER,
};
use crate::protocol::{
    ChatAction, Credentials, Problem, Refusal, RefusalReason, StatusChange, Transport,
};
use crate::settings::{Policy, Settings};

use cobrowse::Controller;
pub use cobrowse::{CobrowseAfter, CONTROLLER_GIVE_UP_MS};
pub use requests::RequestId;
use requests::{Pending, Purpose};

/// The pause before a new link after a refused handshake: doubles with each refusal in a row.
pub const REFUSED_HANDSHAKE_BACKOFF: Backoff = Backoff::new(1000, 30_000);
/// The agent link's reconnect back-off cap: an agent waits at most this long after the server
/// is back (one agent's retry every 10 s is nothing to a server).
pub const LINK_BACKOFF_MAX_MS: u64 = 10_000;

/// Names a request from a page, so its [`Command::Reply`] finds the page waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// Names one CometD link; events of links that are no longer current are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

/// The session's timers (at most one of each is armed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// A new link after a refused handshake.
    Reconnect,
    /// The outbox's next retry is due.
    OutboxRetry,
    /// The pause of co-browse verifications (after a 429, or no answer) is over.
    CobrowseResume,
    /// The controller stopping a co-browse has taken too long: give up.
    ControllerGiveUp,
}

/// What a page asked the background to do for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageCommand {
    SignIn(Credentials),
    SignOut,
    SetReady(bool),
    ChatAction {
        chat_id: String,
        action: ChatAction,
    },
    Typing {
        chat_id: String,
        typing: bool,
    },
    SendMessage {
        chat_id: String,
        client_id: String,
        text: String,
    },
    RetryMessage {
        client_id: String,
    },
    MarkRead {
        chat_id: String,
    },
    /// Join the chat's verified co-browse (ending another chat's active one first if
    /// `end_other`): opens the agent view.
    JoinCobrowse {
        chat_id: String,
        end_other: bool,
    },
    /// Stop the chat's co-browse, as its controller.
    EndCobrowse {
        chat_id: String,
    },
    /// A co-browse code the agent entered on the chat: verified like any other.
    EnterCobrowseCode {
        chat_id: String,
        code: String,
    },
}

/// What a desk change was for: its [`DeskOutcome`] comes back with this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// A notification was applied: fetch what it asks, then send what is due.
    Notification,
    /// The chat list of resync number `resync` was applied: fetch the transcripts.
    ChatList {
        resync: u64,
    },
    /// A transcript was applied; part of resync `resync` if any.
    Fetched {
        resync: Option<u64>,
    },
    /// The outbox pump: send the next message, or wait for the next retry.
    Pump,
    /// A page's request (a message queued, retried, a chat marked read): `ticket` is answered
    /// once the change is stored, and refused when it could not be (the page keeps the text
    /// of a message, and says why).
    Stored {
        ticket: Ticket,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A new worker instance read the secrets `storage.session` holds. Comes first; after it,
    /// the session is the only writer of those secrets, so its copy stays true.
    Restored {
        credentials: Option<Credentials>,
        csrf: Option<CsrfToken>,
        /// What the admin set in managed storage.
        policy: Policy,
    },
    /// The worker woke up (start, browser start, the alarm, a page opening): connect if signed
    /// in and not connected, and send what is due.
    WokeUp,
    Page {
        ticket: Ticket,
        command: PageCommand,
    },
    /// The reply to [`Command::Send`], or why there was none.
    Replied {
        request: RequestId,
        reply: Result<HttpReply, String>,
    },
    /// An event of the CometD link [`Command::OpenLink`] opened.
    Link {
        link: LinkId,
        event: Event,
    },
    TimerFired(Timer),
    /// What [`Command::ChangeDesk`] left.
    DeskChanged {
        after: After,
        outcome: DeskOutcome,
    },
    /// What [`Command::ChangeCobrowse`] left.
    CobrowseChanged {
        after: CobrowseAfter,
        outcome: CobrowseOutcome,
    },
}

/// A request as it goes out: where, with which headers (Basic, the CSRF token on writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub url: String,
    pub request: Request,
    pub headers: Vec<(String, String)>,
}

/// How to open a link: the core client's configuration and what the driver adds.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    pub url: String,
    pub config: ClientConfig,
    /// Headers for long-polling requests (Basic, the CSRF token).
    pub headers: Vec<(String, String)>,
    /// Subscribed as soon as the link exists.
    pub topics: Vec<String>,
}

/// A storage write (`storage.local` for settings, `storage.session` for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Settings(Settings),
    Credentials(Credentials),
    CsrfToken(CsrfToken),
    ForgetCsrfToken,
    /// The server refused the credentials: only they go (chats and status stay).
    ForgetCredentials,
    /// Signed out: credentials, CSRF token and connection status go.
    ForgetSecrets,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Send {
        request: RequestId,
        outgoing: Outgoing,
    },
    OpenLink {
        link: LinkId,
        plan: LinkPlan,
    },
    CloseLink(LinkId),
    SetTimer {
        timer: Timer,
        after_ms: u64,
    },
    /// Apply the change to the stored desk, one at a time, and feed its outcome back.
    ChangeDesk {
        change: DeskChange,
        after: After,
    },
    /// Apply the change to the stored co-browse attachments (`storage.session`), one at a
    /// time, and feed its outcome back.
    ChangeCobrowse {
        change: CobrowseChange,
        after: CobrowseAfter,
    },
    /// Open this URL (the co-browse agent view, with its single-use ticket) in a tab.
    OpenTab {
        url: String,
    },
    /// Publish on a link (the co-browse controller's service channels).
    Publish {
        link: LinkId,
        channel: String,
        data: serde_json::Value,
    },
    Save(Write),
    UpdateStatus(StatusChange),
    /// The toolbar badge: chats and co-browses waiting for the agent.
    SetBadge(usize),
    Reply {
        ticket: Ticket,
        result: Result<(), Refusal>,
    },
    /// Something worth a line in the background's log (never a secret).
    Log(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Down,
    /// Asking `GET /api/v2/me` for the transport plan.
    Planning(LinkId),
    Up(LinkId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PumpState {
    Idle,
    Busy { again: bool },
}

/// The agent's session in one worker instance.
#[derive(Debug)]
pub struct Session {
    credentials: Option<Credentials>,
    csrf: Option<CsrfToken>,
    link: LinkState,
    links_built: u64,
    refused_handshakes: u32,
    /// Resyncs started; the transcripts still to come of the current one.
    resyncs: u64,
    resync_fetches_left: usize,
    /// Channel-state notifications applied: a resync's read of the states that is answered
    /// after one of them is older than it (the reply and the notification travel on two
    /// connections, in either order).
    channel_states_heard: u64,
    /// This worker instance has completed a resync: its transcripts are fresh enough to send
    /// after.
    resynced: bool,
    pump: PumpState,
    next_request: u64,
    pending: SortedMap<RequestId, Pending>,
    policy: Policy,
    /// The badge's two parts, as the last desk and co-browse changes said.
    desk_waiting: SortedSet<String>,
    cobrowse_waiting: SortedSet<String>,
    /// Whether the last desk change could not be stored, as the status says (`None` until a
    /// change of this instance or a sign-out told it).
    desk_unstored: Option<bool>,
    /// The one co-browse being stopped as controller, if any.
    controller: Option<Controller>,
    /// Views to open once their chat's co-browse is attached (the admin's auto-open): the
    /// join URL of the verification that attached it, used at once.
    open_on_attach: SortedMap<String, String>,
    out: Vec<Command>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

fn problem_of(outcome: &Outcome) -> Problem {
    match outcome {
        Outcome::Unreachable(_) => Problem::ServerUnreachable,
        Outcome::BadCredentials => Problem::BadCredentials,
        Outcome::Ok(_) | Outcome::CsrfRefused | Outcome::Refused(_) | Outcome::Throttled(_) => {
            Problem::ServerRefused
        }
    }
}

fn refusal_of(outcome: &Outcome) -> Refusal {
    Refusal::of(problem_of(outcome), outcome.detail())
}

impl Session {
    pub fn new() -> Session {
        Session {
            credentials: None,
            csrf: None,
            link: LinkState::Down,
            links_built: 0,
            refused_handshakes: 0,
            resyncs: 0,
            channel_states_heard: 0,
            resync_fetches_left: 0,
            resynced: false,
            pump: PumpState::Idle,
            next_request: 0,
            pending: SortedMap::new(),
            policy: Policy::default(),
            desk_waiting: SortedSet::new(),
            cobrowse_waiting: SortedSet::new(),
            desk_unstored: None,
            controller: None,
            open_on_attach: SortedMap::new(),
            out: Vec::new(),
        }
    }

    pub fn is_signed_in(&self) -> bool {
        self.credentials.is_some()
    }

    /// Handles one input at `now_ms` (epoch ms); returns what to do, in order.
    pub fn handle(&mut self, now_ms: i64, input: Input) -> Vec<Command> {
        match input {
            Input::Restored {
                credentials,
                csrf,
                policy,
            } => {
                self.credentials = credentials;
                self.csrf = csrf;
                self.policy = policy;
            }
            Input::WokeUp => {
                self.connect();
                self.pump_outbox();
            }
            Input::Page { ticket, command } => self.on_page(ticket, command),
            Input::Replied { request, reply } => self.on_reply(request, reply),
            Input::Link { link, event } => self.on_link(now_ms, link, event),
            Input::TimerFired(Timer::Reconnect) => self.connect(),
            Input::TimerFired(Timer::OutboxRetry) => self.pump_outbox(),
            Input::TimerFired(Timer::CobrowseResume) => {
                self.change_cobrowse(CobrowseChange::Resume, CobrowseAfter::Nothing)
            }
            Input::TimerFired(Timer::ControllerGiveUp) => self.controller_gave_up(),
            Input::DeskChanged { after, outcome } => self.on_desk_changed(now_ms, after, outcome),
            Input::CobrowseChanged { after, outcome } => {
                self.on_cobrowse_changed(now_ms, after, outcome)
            }
        }
        std::mem::take(&mut self.out)
    }

    // ---- page commands ----

    fn reply(&mut self, ticket: Ticket, result: Result<(), Refusal>) {
        self.out.push(Command::Reply { ticket, result });
    }

    fn on_page(&mut self, ticket: Ticket, command: PageCommand) {
        match command {
            PageCommand::SignIn(typed) => self.sign_in(ticket, typed),
            PageCommand::SignOut => match self.credentials.clone() {
                Some(c) => self.send(
                    &c,
                    Request::post(paths::ME, Operation::EndContactCenterSession),
                    Purpose::EndSession { ticket },
                ),
                None => self.finish_sign_out(ticket),
            },
            PageCommand::SetReady(ready) => {
                let op = if ready {
                    Operation::Ready
                } else {
                    Operation::NotReady
                };
                self.page_operation(ticket, |_| Request::post(paths::CHAT_CHANNEL, op));
            }
            PageCommand::ChatAction { chat_id, action } => {
                self.page_operation(ticket, |c| {
                    Request::post(paths::chat(&chat_id), action.operation(c.nickname()))
                });
            }
            PageCommand::Typing { chat_id, typing } => {
                let op = if typing {
                    Operation::SendStartTypingNotification
                } else {
                    Operation::SendStopTypingNotification
                };
                self.page_operation(ticket, |_| Request::post(paths::chat(&chat_id), op));
            }
            PageCommand::SendMessage {
                chat_id,
                client_id,
                text,
            } => {
                if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
                    return self.reply(
                        ticket,
                        Err(Refusal::of(Problem::MessageInvalid, "empty or too long")),
                    );
                }
                if self.credentials.is_none() {
                    return self.reply(ticket, Err(not_signed_in()));
                }
                self.change_desk(
                    DeskChange::QueueMessage {
                        client_id,
                        chat_id,
                        text,
                    },
                    After::Stored { ticket },
                );
                self.pump_outbox();
            }
            PageCommand::RetryMessage { client_id } => {
                self.change_desk(DeskChange::Retry { client_id }, After::Stored { ticket });
                self.pump_outbox();
            }
            PageCommand::MarkRead { chat_id } => {
                self.change_desk(DeskChange::MarkRead { chat_id }, After::Stored { ticket });
            }
            PageCommand::JoinCobrowse { chat_id, end_other } => {
                self.page_cobrowse(ticket, CobrowseChange::Join { chat_id, end_other })
            }
            PageCommand::EndCobrowse { chat_id } => {
                self.page_cobrowse(ticket, CobrowseChange::End { chat_id })
            }
            PageCommand::EnterCobrowseCode { chat_id, code } => {
                self.enter_code(ticket, chat_id, &code)
            }
        }
    }

    /// An operation a page asked for, answered when the server answered.
    fn page_operation(&mut self, ticket: Ticket, request: impl FnOnce(&Credentials) -> Request) {
        let Some(c) = self.credentials.clone() else {
            return self.reply(ticket, Err(not_signed_in()));
        };
        let request = request(&c);
        self.send(&c, request, Purpose::PageOperation { ticket });
    }

    fn sign_in(&mut self, ticket: Ticket, typed: Credentials) {
        let settings = self.policy.allows(&Settings {
            server_url: typed.server_url.clone(),
            agent_name: typed.agent_name.clone(),
        });
        let settings = match settings {
            Ok(s) => s,
            Err(e) => {
                return self.reply(
                    ticket,
                    Err(Refusal::new(
                        RefusalReason::InvalidSettings,
                        e.message_key(),
                        e.to_string(),
                    )),
                )
            }
        };
        let creds = Credentials {
            server_url: settings.server_url.clone(),
            agent_name: settings.agent_name.clone(),
            password: typed.password,
            display_name: None,
        };
        self.send(
            &creds,
            Request::get(paths::ME).without_cookies(),
            Purpose::CheckPassword { ticket, settings },
        );
    }

    fn finish_sign_out(&mut self, ticket: Ticket) {
        self.close_link();
        self.credentials = None;
        self.csrf = None;
        self.resynced = false;
        self.out.push(Command::Save(Write::ForgetSecrets));
        // The status went with the secrets, and reads as stored.
        self.desk_unstored = Some(false);
        self.change_desk(DeskChange::Clear, After::Nothing);
        self.open_on_attach.clear();
        self.change_cobrowse(CobrowseChange::Clear, CobrowseAfter::Nothing);
        self.reply(ticket, Ok(()));
    }

    // ---- requests ----

    /// Basic (as GWS takes it on any request) and, on writes, the session's CSRF token.
    fn headers(&self, c: &Credentials, write: bool) -> Vec<(String, String)> {
        let mut headers = vec![(
            "Authorization".to_owned(),
            basic_authorization(&c.agent_name, &c.password),
        )];
        if let Some(t) = self.csrf.as_ref().filter(|_| write) {
            headers.push((t.header.clone(), t.token.clone()));
        }
        headers
    }

    fn send(&mut self, c: &Credentials, request: Request, purpose: Purpose) {
        self.send_pending(Pending {
            auth: c.clone(),
            request,
            purpose,
            csrf_retried: false,
        });
    }

    fn send_pending(&mut self, pending: Pending) {
        self.next_request += 1;
        let id = RequestId(self.next_request);
        let outgoing = Outgoing {
            url: format!("{}{}", pending.auth.server_url, pending.request.path),
            headers: self.headers(&pending.auth, pending.request.is_write()),
            request: pending.request.clone(),
        };
        self.pending.insert(id, pending);
        self.out.push(Command::Send {
            request: id,
            outgoing,
        });
    }

    fn on_reply(&mut self, id: RequestId, reply: Result<HttpReply, String>) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        // A GET reply of the agent's HTTP session hands out its CSRF token.
        if let Ok(r) = &reply {
            let session_reply =
                !pending.request.is_write() && pending.request.cookies == Cookies::Include;
            if let Some(token) = r.csrf_token().filter(|_| session_reply) {
                if self.csrf.as_ref() != Some(&token) {
                    self.csrf = Some(token.clone());
                    self.out.push(Command::Save(Write::CsrfToken(token)));
                }
            }
        }
        let outcome = Outcome::of(&reply);
        if outcome == Outcome::CsrfRefused && pending.request.is_write() && !pending.csrf_retried {
            // A GET fetches the session's current token; then the write goes once more.
            let auth = pending.auth.clone();
            return self.send(
                &auth,
                Request::get(paths::ME),
                Purpose::RefreshCsrf {
                    retry: Box::new(pending),
                },
            );
        }
        let notifications_token = reply
            .as_ref()
            .ok()
            .and_then(|r| r.header(NOTIFICATIONS_TOKEN_HEADER))
            .map(str::to_owned);
        self.on_outcome(pending, outcome, notifications_token);
    }

    fn on_outcome(
        &mut self,
        pending: Pending,
        outcome: Outcome,
        notifications_token: Option<String>,
    ) {
        let Pending { auth, purpose, .. } = pending;
        match purpose {
            Purpose::RefreshCsrf { retry } => match outcome {
                // No answer: the write is not sent again now; it ends with this outcome.
                Outcome::Unreachable(_) => self.on_outcome(*retry, outcome, None),
                _ => self.send_pending(Pending {
                    csrf_retried: true,
                    ..*retry
                }),
            },
            Purpose::CheckPassword { ticket, settings } => match outcome {
                Outcome::Ok(_) => {
                    // A token from an earlier session must not go with this one's writes.
                    self.csrf = None;
                    self.out.push(Command::Save(Write::ForgetCsrfToken));
                    self.send(
                        &auth,
                        Request::get(paths::ME),
                        Purpose::CheckIdentity { ticket, settings },
                    );
                }
                other => self.reply(ticket, Err(refusal_of(&other))),
            },
            Purpose::CheckIdentity { ticket, settings } => match outcome {
                Outcome::Ok(body) => {
                    let me = crate::json::from_str::<MeReply>(&body).ok();
                    let someone_else = me
                        .as_ref()
                        .is_some_and(|m| m.is_someone_else(&auth.agent_name));
                    if someone_else {
                        return self.reply(
                            ticket,
                            Err(Refusal::of(
                                Problem::OtherAgentSession,
                                "the browser holds another agent's session on this server",
                            )),
                        );
                    }
                    // Customers see the agent's name, not the login id.
                    let auth = Credentials {
                        display_name: me.and_then(|m| m.display_name()),
                        ..auth
                    };
                    self.send(
                        &auth,
                        Request::post(paths::ME, Operation::start_chat_session()),
                        Purpose::StartSession { ticket, settings },
                    );
                }
                other => self.reply(ticket, Err(refusal_of(&other))),
            },
            Purpose::StartSession { ticket, settings } => match outcome {
                Outcome::Ok(_) => {
                    self.out.push(Command::Save(Write::Settings(settings)));
                    self.out
                        .push(Command::Save(Write::Credentials(auth.clone())));
                    self.out
                        .push(Command::UpdateStatus(StatusChange::Problem(None)));
                    self.credentials = Some(auth);
                    self.close_link();
                    self.refused_handshakes = 0;
                    self.connect();
                    self.reply(ticket, Ok(()));
                }
                other => self.reply(ticket, Err(refusal_of(&other))),
            },
            Purpose::EndSession { ticket } => self.finish_sign_out(ticket),
            Purpose::PageOperation { ticket } => match outcome {
                Outcome::Ok(_) => self.reply(ticket, Ok(())),
                other => self.reply(ticket, Err(refusal_of(&other))),
            },
            Purpose::LinkPlan { link } => self.open_link(link, &outcome, notifications_token),
            Purpose::RecoverHandshake { link } => self.recover_handshake(link, &outcome),
            Purpose::ChatList { resync } => match outcome {
                Outcome::Ok(body) => match crate::json::from_str::<ChatsReply>(&body) {
                    Ok(list) => self
                        .change_desk(DeskChange::ApplyChatList(list), After::ChatList { resync }),
                    Err(e) => self.log(format!("resync: unreadable chat list: {e}")),
                },
                other => self.log(format!("resync: {}", other.detail())),
            },
            Purpose::ChannelStates { resync, heard } => match outcome {
                // A later resync's answer is newer, and so is a notification heard since the
                // question: either keeps the state current.
                _ if resync != self.resyncs || heard != self.channel_states_heard => {}
                Outcome::Ok(body) => match ChannelStateChange::from_me_reply(&body) {
                    Some(states) => self.change_desk(
                        DeskChange::ApplyNotification(Notification::ChannelStateChangeMessageV2(
                            states,
                        )),
                        After::Nothing,
                    ),
                    None => self.log("resync: no readable channel states".to_owned()),
                },
                other => self.log(format!("resync: channel states: {}", other.detail())),
            },
            Purpose::Fetch {
                chat_id,
                from,
                asked_at_ms,
                resync,
            } => {
                let messages = match &outcome {
                    Outcome::Ok(body) => crate::json::from_str::<MessagesReply>(body)
                        .map(|r| r.messages)
                        .map_err(|e| format!("unreadable transcript: {e}")),
                    other => Err(other.detail()),
                };
                match messages {
                    Ok(messages) => self.change_desk(
                        DeskChange::ApplyFetched {
                            chat_id,
                            from,
                            messages,
                            asked_at_ms,
                        },
                        After::Fetched { resync },
                    ),
                    Err(e) => {
                        self.log(format!("fetch {chat_id}: {e}"));
                        self.resync_fetch_done(resync);
                    }
                }
            }
            Purpose::Verify { found, join } => self.verified(found, join, &outcome),
            Purpose::SendMessage { client_id } => {
                let result = match &outcome {
                    Outcome::Ok(_) => SendResult::Sent,
                    Outcome::Unreachable(_) => SendResult::Failed(SendFailure::NoAnswer),
                    Outcome::Throttled(_) => SendResult::Failed(SendFailure::Throttled),
                    other => SendResult::Failed(SendFailure::Refused(other.detail())),
                };
                self.change_desk(DeskChange::SendSettled { client_id, result }, After::Pump);
            }
        }
    }

    // ---- the CometD link ----

    fn current_link(&self) -> Option<LinkId> {
        match self.link {
            LinkState::Up(id) => Some(id),
            _ => None,
        }
    }

    fn close_link(&mut self) {
        if let LinkState::Up(id) = self.link {
            self.out.push(Command::CloseLink(id));
        }
        self.link = LinkState::Down;
    }

    /// Plans a link if signed in and none is up or being planned.
    fn connect(&mut self) {
        let Some(c) = self.credentials.clone() else {
            return;
        };
        if self.link != LinkState::Down {
            return;
        }
        self.links_built += 1;
        let link = LinkId(self.links_built);
        self.link = LinkState::Planning(link);
        self.send(&c, Request::get(paths::ME), Purpose::LinkPlan { link });
    }

    fn open_link(&mut self, link: LinkId, outcome: &Outcome, token: Option<String>) {
        if self.link != LinkState::Planning(link) {
            return; // signed out or superseded meanwhile
        }
        let Some(c) = self.credentials.clone() else {
            self.link = LinkState::Down;
            return;
        };
        let socket_first = vec![WEBSOCKET.to_owned(), LONG_POLLING.to_owned()];
        let (transports, handshake_ext) = match (outcome, token) {
            (Outcome::Ok(_), Some(t)) => (socket_first, notifications_token_ext(&t)),
            // Not known yet (the server is down): try the socket; a refused handshake then
            // asks for a token.
            (Outcome::Unreachable(_), _) => (socket_first, Map::new()),
            _ => (vec![LONG_POLLING.to_owned()], Map::new()),
        };
        let plan = LinkPlan {
            url: format!("{}{}", c.server_url, paths::NOTIFICATIONS),
            config: ClientConfig {
                transports,
                handshake_ext,
                backoff_max_ms: LINK_BACKOFF_MAX_MS,
                ..ClientConfig::default()
            },
            // CometD requests are POSTs: writes of the HTTP session.
            headers: self.headers(&c, true),
            topics: vec![
                paths::CHATS_TOPIC.into(),
                paths::CHANNELS_TOPIC.into(),
                COBROWSE_TOPIC.into(),
            ],
        };
        self.link = LinkState::Up(link);
        self.out.push(Command::OpenLink { link, plan });
    }

    fn on_link(&mut self, now_ms: i64, link: LinkId, event: Event) {
        if self.controller.as_ref().is_some_and(|c| c.link == link) {
            return self.on_controller_event(event);
        }
        if self.current_link() != Some(link) {
            return; // a late event of a link that was closed
        }
        let at_ms = now_ms.max(0) as u64;
        match event {
            Event::Handshaken { transport, .. } => {
                if let Some(t) = Transport::from_connection_type(&transport) {
                    self.out
                        .push(Command::UpdateStatus(StatusChange::Transport(t)));
                }
            }
            Event::Connected => {
                self.refused_handshakes = 0;
                self.out
                    .push(Command::UpdateStatus(StatusChange::Connected { at_ms }));
                self.start_resync();
            }
            Event::Message(m) => {
                self.out
                    .push(Command::UpdateStatus(StatusChange::Heard { at_ms }));
                let Some(data) = m.data else { return };
                if m.channel == COBROWSE_TOPIC {
                    return match read_data::<SessionChangedMessage>(&data) {
                        Ok(n) => self.change_cobrowse(
                            CobrowseChange::Notified(n.cobrowse),
                            CobrowseAfter::Nothing,
                        ),
                        Err(e) => self.log(format!("unreadable co-browse notification: {e}")),
                    };
                }
                match Notification::from_text(&data.to_string()) {
                    Ok(n) => {
                        if matches!(n, Notification::ChannelStateChangeMessageV2(_)) {
                            self.channel_states_heard += 1;
                        }
                        self.change_desk(DeskChange::ApplyNotification(n), After::Notification)
                    }
                    Err(e) => self.log(format!("unreadable notification: {e}")),
                }
            }
            Event::HandshakeFailed { reason } if BayeuxError::parse(&reason).code == 403 => {
                // Which was it: the credentials, or a used notifications token?
                if let Some(c) = self.credentials.clone() {
                    self.send(
                        &c,
                        Request::get(paths::ME),
                        Purpose::RecoverHandshake { link },
                    );
                }
            }
            Event::ConnectionLost { .. } | Event::HandshakeFailed { .. } => {
                self.out
                    .push(Command::UpdateStatus(StatusChange::Problem(Some(
                        Problem::ServerUnreachable,
                    ))));
            }
            Event::Disconnected { .. } => self.link = LinkState::Down,
            _ => {}
        }
    }

    fn recover_handshake(&mut self, link: LinkId, outcome: &Outcome) {
        // The refused link has usually ended by now (`reconnect: none`); only a newer one
        // makes this answer moot.
        if let LinkState::Up(other) | LinkState::Planning(other) = self.link {
            if other != link {
                return;
            }
        }
        match outcome {
            Outcome::BadCredentials => {
                // Chats, transcripts and drafts stay; only the secret goes.
                self.out
                    .push(Command::UpdateStatus(StatusChange::Problem(Some(
                        Problem::BadCredentials,
                    ))));
                self.close_link();
                self.credentials = None;
                self.out.push(Command::Save(Write::ForgetCredentials));
            }
            other => {
                if !matches!(other, Outcome::Ok(_)) {
                    self.out
                        .push(Command::UpdateStatus(StatusChange::Problem(Some(
                            Problem::ServerUnreachable,
                        ))));
                }
                // The refusing server said `reconnect: none`: this link is over anyway. A new
                // one gets a fresh token, after a pause that grows while refusals go on.
                self.close_link();
                self.refused_handshakes = self.refused_handshakes.saturating_add(1);
                self.out.push(Command::SetTimer {
                    timer: Timer::Reconnect,
                    after_ms: REFUSED_HANDSHAKE_BACKOFF.delay_ms(self.refused_handshakes),
                });
            }
        }
    }

    // ---- resync and the outbox ----

    fn start_resync(&mut self) {
        let Some(c) = self.credentials.clone() else {
            return;
        };
        self.resyncs += 1;
        let resync = self.resyncs;
        self.change_cobrowse(CobrowseChange::Resync, CobrowseAfter::Nothing);
        self.send(&c, Request::get(paths::CHATS), Purpose::ChatList { resync });
        self.send(
            &c,
            Request::get(paths::ME_WITH_SUBRESOURCES),
            Purpose::ChannelStates {
                resync,
                heard: self.channel_states_heard,
            },
        );
    }

    fn fetch(&mut self, now_ms: i64, effects: Vec<Effect>, resync: Option<u64>) {
        let Some(c) = self.credentials.clone() else {
            return;
        };
        for Effect::Fetch { chat_id, from } in effects {
            self.send(
                &c,
                Request::get(paths::messages(&chat_id, from)),
                Purpose::Fetch {
                    chat_id,
                    from,
                    asked_at_ms: now_ms,
                    resync,
                },
            );
        }
    }

    fn resync_fetch_done(&mut self, resync: Option<u64>) {
        if resync != Some(self.resyncs) || self.resync_fetches_left == 0 {
            return;
        }
        self.resync_fetches_left -= 1;
        if self.resync_fetches_left == 0 {
            self.resynced();
        }
    }

    fn resynced(&mut self) {
        if !self.resynced {
            // This instance has sent nothing yet: what is on its way is an earlier one's.
            self.change_desk(DeskChange::TakeOverOutbox, After::Nothing);
        }
        self.resynced = true;
        self.pump_outbox();
    }

    fn change_desk(&mut self, change: DeskChange, after: After) {
        self.out.push(Command::ChangeDesk { change, after });
    }

    fn on_desk_changed(&mut self, now_ms: i64, after: After, outcome: DeskOutcome) {
        if outcome.waiting != self.desk_waiting {
            self.desk_waiting = outcome.waiting.clone();
        }
        // The page says so while changes cannot be stored (what arrives is not shown).
        let unstored = match outcome.stored {
            Stored::Nothing => None,
            Stored::Stored => Some(false),
            Stored::Failed => Some(true),
        };
        if let Some(unstored) = unstored.filter(|u| self.desk_unstored != Some(*u)) {
            self.desk_unstored = Some(unstored);
            self.out
                .push(Command::UpdateStatus(StatusChange::Unstored(unstored)));
        }
        self.set_badge();
        self.follow_desk(&outcome);
        match after {
            After::Nothing => {}
            After::Notification => {
                self.fetch(now_ms, outcome.fetch, None);
                self.pump_outbox();
            }
            After::ChatList { resync } => {
                if resync != self.resyncs {
                    return;
                }
                self.resync_fetches_left = outcome.fetch.len();
                if outcome.fetch.is_empty() {
                    self.resynced();
                } else {
                    self.fetch(now_ms, outcome.fetch, Some(resync));
                }
            }
            After::Fetched { resync } => {
                self.resync_fetch_done(resync);
                // A check may have found an unconfirmed message did not arrive: it goes again.
                if !outcome.outbox_changed.is_empty() {
                    self.pump_outbox();
                }
            }
            After::Pump => self.pumped(now_ms, outcome),
            After::Stored { ticket } => {
                let result = if outcome.stored == Stored::Failed {
                    Err(Refusal::of(
                        Problem::Storage,
                        "the change could not be stored (the browser's storage is full or failing)",
                    ))
                } else {
                    Ok(())
                };
                self.reply(ticket, result);
            }
        }
    }

    /// Sends what is due, one message at a time, once this worker has resynced.
    fn pump_outbox(&mut self) {
        if self.credentials.is_none() || !self.resynced {
            return;
        }
        match self.pump {
            PumpState::Busy { .. } => self.pump = PumpState::Busy { again: true },
            PumpState::Idle => {
                self.pump = PumpState::Busy { again: false };
                self.change_desk(DeskChange::TakeNextOutgoing, After::Pump);
            }
        }
    }

    fn pumped(&mut self, now_ms: i64, outcome: DeskOutcome) {
        self.fetch(now_ms, outcome.fetch, None);
        match (outcome.next_outgoing, self.credentials.clone()) {
            (Some(m), Some(c)) => self.send(
                &c,
                Request::post(
                    paths::chat(&m.chat_id),
                    Operation::SendMessage { text: m.text },
                ),
                Purpose::SendMessage {
                    client_id: m.client_id,
                },
            ),
            (Some(m), None) => {
                // Signed out since: it was not sent.
                self.pump = PumpState::Idle;
                self.change_desk(
                    DeskChange::SendSettled {
                        client_id: m.client_id,
                        result: SendResult::NotSent,
                    },
                    After::Nothing,
                );
            }
            (None, _) => {
                let again = self.pump == PumpState::Busy { again: true };
                self.pump = PumpState::Idle;
                if again {
                    self.pump_outbox();
                } else if let Some(at) = outcome.next_attempt_at {
                    self.out.push(Command::SetTimer {
                        timer: Timer::OutboxRetry,
                        after_ms: (at - now_ms).max(0) as u64,
                    });
                }
            }
        }
    }

    fn log(&mut self, line: String) {
        self.out.push(Command::Log(line));
    }
}

fn not_signed_in() -> Refusal {
    Refusal::of(Problem::NotSignedIn, "sign in first")
}
