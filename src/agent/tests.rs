//! The session's rules, one test each, against a simulated background: the desk in memory,
//! replies written by the test, time moved by hand.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use super::*;
use crate::bayeux::message::Message;
use crate::chat::{Desk, OutgoingState};
use crate::cobrowse::Attachments;
use crate::gws::{Cookies, Method};

const SERVER: &str = "http://127.0.0.1:8700";

fn creds(agent: &str) -> Credentials {
    Credentials {
        server_url: SERVER.into(),
        agent_name: agent.into(),
        password: agent.into(),
        display_name: None,
    }
}

fn ok(body: Value) -> Result<HttpReply, String> {
    reply(200, body.to_string(), &[])
}

fn reply(status: u16, body: String, headers: &[(&str, &str)]) -> Result<HttpReply, String> {
    Ok(HttpReply {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body,
    })
}

fn me(user: &str) -> Value {
    json!({"statusCode": 0, "user": {"userName": user, "firstName": "Ann"}})
}

/// `GET /api/v2/me` from a server that hands out notifications tokens: this one.
fn me_with_token(user: &str, token: &str) -> Result<HttpReply, String> {
    reply(
        200,
        me(user).to_string(),
        &[(NOTIFICATIONS_TOKEN_HEADER, token)],
    )
}

/// The background, simulated: it performs the session's commands the way the real one does
/// (desk changes applied in order and fed back), and keeps what a test looks at.
struct Background {
    session: Session,
    now: i64,
    desk: Desk,
    cobrowse: Attachments,
    /// Tabs opened, published messages (link, channel, data), the badge's last count.
    tabs: Vec<String>,
    published: Vec<(LinkId, String, Value)>,
    badge: usize,
    /// Requests sent and not answered yet, oldest first.
    requests: VecDeque<(RequestId, Outgoing)>,
    /// Every request sent, in order.
    sent: Vec<Outgoing>,
    links: Vec<(LinkId, LinkPlan)>,
    closed: Vec<LinkId>,
    timers: BTreeMap<Timer, u64>,
    replies: BTreeMap<Ticket, Result<(), Refusal>>,
    writes: Vec<Write>,
    status: Vec<StatusChange>,
    logs: Vec<String>,
    tickets: u64,
    /// `storage.local` refuses every write (full, or failing): changes leave the desk as it was.
    storage_fails: bool,
}

impl Background {
    fn new() -> Background {
        Background {
            session: Session::new(),
            now: 1_000_000,
            desk: Desk::default(),
            cobrowse: Attachments::default(),
            tabs: Vec::new(),
            published: Vec::new(),
            badge: 0,
            requests: VecDeque::new(),
            sent: Vec::new(),
            links: Vec::new(),
            closed: Vec::new(),
            timers: BTreeMap::new(),
            replies: BTreeMap::new(),
            writes: Vec::new(),
            status: Vec::new(),
            logs: Vec::new(),
            tickets: 0,
            storage_fails: false,
        }
    }

    /// A worker that starts with these secrets in `storage.session`.
    fn restored(credentials: Option<Credentials>) -> Background {
        let mut b = Background::new();
        b.input(Input::Restored {
            credentials,
            csrf: None,
            policy: Policy::default(),
        });
        b
    }

    fn input(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for command in self.session.handle(self.now, input) {
                match command {
                    Command::Send { request, outgoing } => {
                        self.sent.push(outgoing.clone());
                        self.requests.push_back((request, outgoing));
                    }
                    Command::OpenLink { link, plan } => self.links.push((link, plan)),
                    Command::CloseLink(link) => self.closed.push(link),
                    Command::SetTimer { timer, after_ms } => {
                        self.timers.insert(timer, after_ms);
                    }
                    Command::ChangeDesk { change, after } => {
                        let outcome = if self.storage_fails {
                            DeskOutcome {
                                stored: Stored::Failed,
                                ..DeskOutcome::default()
                            }
                        } else {
                            DeskOutcome {
                                stored: Stored::Stored,
                                ..self.desk.change(change, self.now)
                            }
                        };
                        queue.push_back(Input::DeskChanged { after, outcome });
                    }
                    Command::Save(w) => self.writes.push(w),
                    Command::UpdateStatus(s) => self.status.push(s),
                    Command::SetBadge(n) => self.badge = n,
                    Command::ChangeCobrowse { change, after } => {
                        let outcome = self.cobrowse.change(change, self.now);
                        queue.push_back(Input::CobrowseChanged { after, outcome });
                    }
                    Command::OpenTab { url } => self.tabs.push(url),
                    Command::Publish {
                        link,
                        channel,
                        data,
                    } => self.published.push((link, channel, data)),
                    Command::Reply { ticket, result } => {
                        self.replies.insert(ticket, result);
                    }
                    Command::Log(line) => self.logs.push(line),
                }
            }
        }
    }

    fn page(&mut self, command: PageCommand) -> Ticket {
        self.tickets += 1;
        let ticket = Ticket(self.tickets);
        self.input(Input::Page { ticket, command });
        ticket
    }

    /// The agent writes `text` in chat `chat_id`, as message `client_id`.
    fn send_message(&mut self, chat_id: &str, client_id: &str, text: &str) -> Ticket {
        self.page(PageCommand::SendMessage {
            chat_id: chat_id.into(),
            client_id: client_id.into(),
            text: text.into(),
        })
    }

    /// Answers the oldest request in flight, which must be `method path` (path without query;
    /// the resync's read of the channel states only by its own, `paths::ME_WITH_SUBRESOURCES`).
    fn answer(&mut self, method: Method, path: &str, reply: Result<HttpReply, String>) {
        let at = self
            .requests
            .iter()
            .position(|(_, o)| {
                let p = &o.request.path;
                o.request.method == method
                    && (p == path
                        || (p.split('?').next() == Some(path) && p != paths::ME_WITH_SUBRESOURCES))
            })
            .unwrap_or_else(|| panic!("no {method:?} {path} in flight: {:#?}", self.requests));
        let (request, _) = self.requests.remove(at).unwrap();
        self.input(Input::Replied { request, reply });
    }

    fn last_link(&self) -> LinkId {
        self.links.last().expect("a link was opened").0
    }

    fn link_event(&mut self, event: Event) {
        let link = self.last_link();
        self.input(Input::Link { link, event });
    }

    fn notification(&mut self, data: Value) {
        self.link_event(Event::Message(Box::new(Message {
            channel: paths::CHATS_TOPIC.into(),
            data: Some(data),
            ..Message::default()
        })));
    }

    /// The server refused the link's handshake for good, as our server does (`403`, with
    /// `reconnect: none`, so the client ends).
    fn handshake_refused(&mut self) {
        self.link_event(Event::HandshakeFailed {
            reason: "403::unauthorized".into(),
        });
        self.link_event(Event::Disconnected {
            reason: "403::unauthorized".into(),
        });
    }

    /// Signs in through every step with a server that hands out notifications tokens, and
    /// opens the link.
    fn signed_in(agent: &str) -> Background {
        let mut b = Background::restored(None);
        let ticket = b.page(PageCommand::SignIn(creds(agent)));
        b.answer(Method::Get, paths::ME, ok(me(agent)));
        b.answer(Method::Get, paths::ME, ok(me(agent)));
        b.answer(Method::Post, paths::ME, ok(json!({"statusCode": 0})));
        assert_eq!(b.replies[&ticket], Ok(()));
        b.answer(Method::Get, paths::ME, me_with_token(agent, "tok-1"));
        b
    }

    /// The link connects and the resync finds `chats` (each Chatting with an empty transcript
    /// beyond `transcripts`).
    fn connected_with(&mut self, chats: &[(&str, Value)]) {
        self.link_event(Event::Connected);
        let list: Vec<Value> = chats
            .iter()
            .map(|(id, _)| json!({"id": id, "state": "Chatting", "capabilities": ["SendMessage"]}))
            .collect();
        self.answer(
            Method::Get,
            paths::CHATS,
            ok(json!({"statusCode": 0, "chats": list})),
        );
        self.answer(
            Method::Get,
            paths::ME_WITH_SUBRESOURCES,
            ok(channel_states("NotReady")),
        );
        for (id, messages) in chats {
            self.answer(
                Method::Get,
                &format!("{}/{id}/messages", paths::CHATS),
                ok(json!({"statusCode": 0, "messages": messages})),
            );
        }
    }

    fn in_flight(&self, method: Method, path: &str) -> usize {
        self.requests
            .iter()
            .filter(|(_, o)| o.request.method == method && o.request.path == path)
            .count()
    }
}

/// A `GET /api/v2/me?subresources=*` reply with the chat channel in `state`.
fn channel_states(state: &str) -> Value {
    json!({"statusCode": 0, "user": {"userName": "agent1", "channels": [
        {"channel": "chat", "dndState": "Off", "userState": {"id": state, "state": state, "displayName": state}}
    ]}})
}

fn agent_text(index: i64, text: &str) -> Value {
    json!({"index": index, "type": "Text", "text": text, "from": {"type": "Agent", "nickname": "Ann"}})
}

#[test]
fn sign_in_checks_the_password_alone_then_the_session_then_starts_it() {
    let mut b = Background::restored(None);
    let ticket = b.page(PageCommand::SignIn(Credentials {
        server_url: "http://127.0.0.1:8700/".into(),
        ..creds("agent1")
    }));
    let check = &b.sent[0];
    assert_eq!(check.url, "http://127.0.0.1:8700/api/v2/me");
    assert_eq!(
        check.request.cookies,
        Cookies::Omit,
        "the password on its own"
    );
    assert_eq!(
        check.headers,
        [(
            "Authorization".into(),
            basic_authorization("agent1", "agent1")
        )]
    );
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    assert!(b.writes.contains(&Write::ForgetCsrfToken));
    assert_eq!(b.sent[1].request.cookies, Cookies::Include);
    b.answer(
        Method::Get,
        paths::ME,
        reply(
            200,
            me("agent1").to_string(),
            &[("X-CSRF-HEADER", "X-CSRF-TOKEN"), ("X-CSRF-TOKEN", "c1")],
        ),
    );
    let start = &b.sent[2];
    assert_eq!(
        start.request.operation().cloned(),
        Some(Operation::start_chat_session())
    );
    assert!(
        start
            .headers
            .contains(&("X-CSRF-TOKEN".into(), "c1".into())),
        "the session's CSRF token goes on writes: {:?}",
        start.headers
    );
    assert!(
        !b.replies.contains_key(&ticket),
        "not before the session started"
    );
    b.answer(Method::Post, paths::ME, ok(json!({"statusCode": 0})));
    assert_eq!(b.replies[&ticket], Ok(()));
    // Kept with the name customers will see, from the server's answer.
    assert!(b.writes.contains(&Write::Credentials(Credentials {
        display_name: Some("Ann".into()),
        ..creds("agent1")
    })));
    assert!(b.writes.contains(&Write::Settings(Settings {
        server_url: SERVER.into(),
        agent_name: "agent1".into()
    })));
    assert!(b.session.is_signed_in());
    // Connecting starts at once: the transport plan asks GET /api/v2/me.
    assert_eq!(b.in_flight(Method::Get, paths::ME), 1);
}

#[test]
fn sign_in_is_refused_with_a_reason_and_keeps_nothing() {
    let cases: [(Result<HttpReply, String>, Problem); 3] = [
        (reply(401, String::new(), &[]), Problem::BadCredentials),
        (Err("connection refused".into()), Problem::ServerUnreachable),
        (
            reply(
                500,
                json!({"statusCode": 4, "statusMessage": "boom"}).to_string(),
                &[],
            ),
            Problem::ServerRefused,
        ),
    ];
    for (answer, problem) in cases {
        let mut b = Background::restored(None);
        let ticket = b.page(PageCommand::SignIn(creds("agent1")));
        b.answer(Method::Get, paths::ME, answer);
        let refusal = b.replies[&ticket].clone().unwrap_err();
        assert_eq!(refusal.message_key, problem.message_key());
        assert!(b.writes.is_empty(), "{:?}", b.writes);
        assert!(!b.session.is_signed_in());
    }
    let mut b = Background::restored(None);
    let ticket = b.page(PageCommand::SignIn(Credentials {
        server_url: "ftp://x".into(),
        ..creds("agent1")
    }));
    assert_eq!(
        b.replies[&ticket].clone().unwrap_err().reason,
        RefusalReason::InvalidSettings
    );
    assert!(b.sent.is_empty());
}

#[test]
fn sign_in_is_refused_while_the_browser_holds_another_agents_session() {
    let mut b = Background::restored(None);
    let ticket = b.page(PageCommand::SignIn(creds("agent2")));
    b.answer(Method::Get, paths::ME, ok(me("agent2")));
    // With the cookie, the server answers for agent1: that session would act for them.
    b.answer(Method::Get, paths::ME, ok(me("Agent1")));
    assert_eq!(
        b.replies[&ticket].clone().unwrap_err().message_key,
        Problem::OtherAgentSession.message_key()
    );
    assert!(!b.session.is_signed_in());
    assert_eq!(b.in_flight(Method::Post, paths::ME), 0);
}

#[test]
fn the_transport_plan_follows_the_notifications_token_answer() {
    // A token: WebSocket first, the token in the handshake ext.
    let b = Background::signed_in("agent1");
    let (_, plan) = &b.links[0];
    assert_eq!(plan.config.transports, [WEBSOCKET, LONG_POLLING]);
    assert_eq!(
        crate::gws::notifications_token_in(&plan.config.handshake_ext),
        Some("tok-1")
    );
    assert_eq!(plan.url, "http://127.0.0.1:8700/api/v2/notifications");
    assert_eq!(
        plan.topics,
        [paths::CHATS_TOPIC, paths::CHANNELS_TOPIC, COBROWSE_TOPIC]
    );
    assert_eq!(plan.config.backoff_max_ms, LINK_BACKOFF_MAX_MS);

    // No token (a real GWS): long-polling with Basic.
    let mut b = Background::restored(Some(creds("agent1")));
    b.input(Input::WokeUp);
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    let (_, plan) = &b.links[0];
    assert_eq!(plan.config.transports, [LONG_POLLING]);
    assert!(plan.config.handshake_ext.is_empty());
    assert!(plan.headers[0].1.starts_with("Basic "));

    // No answer at all: try the socket; a refused handshake will tell more.
    let mut b = Background::restored(Some(creds("agent1")));
    b.input(Input::WokeUp);
    b.answer(Method::Get, paths::ME, Err("offline".into()));
    assert_eq!(b.links[0].1.config.transports, [WEBSOCKET, LONG_POLLING]);
}

#[test]
fn wake_ups_build_one_link_at_a_time() {
    let mut b = Background::restored(Some(creds("agent1")));
    b.input(Input::WokeUp);
    b.input(Input::WokeUp);
    assert_eq!(b.in_flight(Method::Get, paths::ME), 1, "one plan at a time");
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    b.input(Input::WokeUp);
    assert_eq!(b.links.len(), 1);
    assert!(b.requests.is_empty());
    // The link ended by itself: the next wake-up builds another.
    b.link_event(Event::Disconnected {
        reason: "bye".into(),
    });
    b.input(Input::WokeUp);
    assert_eq!(b.in_flight(Method::Get, paths::ME), 1);
}

#[test]
fn signed_out_while_planning_opens_no_link_and_old_links_are_not_heard() {
    let mut b = Background::restored(Some(creds("agent1")));
    b.input(Input::WokeUp);
    let ticket = b.page(PageCommand::SignOut);
    b.answer(Method::Post, paths::ME, ok(json!({"statusCode": 0})));
    assert_eq!(b.replies[&ticket], Ok(()));
    assert!(b.writes.contains(&Write::ForgetSecrets));
    assert!(
        !b.status
            .iter()
            .any(|s| matches!(s, StatusChange::Unstored(_))),
        "the status went with the secrets: the desk's clearing writes none again"
    );
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    assert!(b.links.is_empty(), "signed out meanwhile");

    let mut b = Background::signed_in("agent1");
    let old = b.last_link();
    b.page(PageCommand::SignIn(creds("agent1")));
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    b.answer(Method::Post, paths::ME, ok(json!({"statusCode": 0})));
    assert!(b.closed.contains(&old), "a new sign-in replaces the link");
    let before = b.status.len();
    b.input(Input::Link {
        link: old,
        event: Event::Connected,
    });
    assert_eq!(b.status.len(), before, "a closed link's events are ignored");
}

#[test]
fn a_refused_handshake_with_rejected_credentials_asks_for_a_new_sign_in() {
    let mut b = Background::signed_in("agent1");
    b.handshake_refused();
    b.answer(Method::Get, paths::ME, reply(401, String::new(), &[]));
    assert!(b.writes.contains(&Write::ForgetCredentials));
    assert!(!b.writes.contains(&Write::ForgetSecrets), "chats stay");
    assert!(b
        .status
        .contains(&StatusChange::Problem(Some(Problem::BadCredentials))));
    assert!(!b.session.is_signed_in());
    assert!(b.timers.is_empty(), "no reconnect without credentials");
    b.input(Input::WokeUp);
    assert!(
        b.requests.is_empty(),
        "nothing is tried as this agent any more"
    );
}

#[test]
fn refused_handshakes_get_new_links_after_pauses_that_double_and_reset() {
    let mut b = Background::signed_in("agent1");
    let mut pauses = Vec::new();
    for n in 0..7 {
        b.handshake_refused();
        b.answer(Method::Get, paths::ME, ok(me("agent1")));
        pauses.push(
            b.timers
                .remove(&Timer::Reconnect)
                .expect("a reconnect timer"),
        );
        assert_eq!(b.links.len(), n + 1, "no new link before the timer");
        b.input(Input::TimerFired(Timer::Reconnect));
        b.answer(Method::Get, paths::ME, me_with_token("agent1", "t"));
    }
    assert_eq!(pauses, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    // A link that connects resets the pause.
    b.link_event(Event::Connected);
    b.handshake_refused();
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    assert_eq!(b.timers[&Timer::Reconnect], 1000);
    // Other failures are not refusals: the client retries by itself.
    let requests = b.sent.len();
    b.input(Input::TimerFired(Timer::Reconnect));
    b.answer(Method::Get, paths::ME, ok(me("agent1")));
    b.link_event(Event::HandshakeFailed {
        reason: "socket closed".into(),
    });
    assert_eq!(b.sent.len(), requests + 1);
    assert_eq!(
        b.status.last(),
        Some(&StatusChange::Problem(Some(Problem::ServerUnreachable)))
    );
}

#[test]
fn a_write_refused_for_its_csrf_token_fetches_a_new_one_and_goes_once_more() {
    let mut b = Background::signed_in("agent1");
    let ticket = b.page(PageCommand::SetReady(true));
    b.answer(
        Method::Post,
        paths::CHAT_CHANNEL,
        reply(403, "Missing or invalid Csrf token".into(), &[]),
    );
    b.answer(
        Method::Get,
        paths::ME,
        reply(
            200,
            me("agent1").to_string(),
            &[("X-CSRF-HEADER", "X-CSRF-TOKEN"), ("X-CSRF-TOKEN", "fresh")],
        ),
    );
    let resent = b.sent.last().unwrap();
    assert_eq!(resent.request.operation().cloned(), Some(Operation::Ready));
    assert!(resent
        .headers
        .contains(&("X-CSRF-TOKEN".into(), "fresh".into())));
    assert!(b.writes.contains(&Write::CsrfToken(CsrfToken {
        header: "X-CSRF-TOKEN".into(),
        token: "fresh".into()
    })));
    // Refused again: no third try, the page hears of it.
    b.answer(
        Method::Post,
        paths::CHAT_CHANNEL,
        reply(403, "Missing or invalid Csrf token".into(), &[]),
    );
    assert!(b.replies[&ticket].is_err());
    assert_eq!(b.in_flight(Method::Get, paths::ME), 0);
    assert_eq!(b.in_flight(Method::Post, paths::CHAT_CHANNEL), 0);
}

#[test]
fn nothing_is_sent_before_the_first_resync_and_a_cut_send_is_not_doubled() {
    // The previous worker died with two sends on their way: one reached the server.
    let mut b = Background::new();
    b.desk.outbox.push("arrived", "C1", "first", 0);
    b.desk.outbox.push("lost", "C2", "second", 0);
    b.desk.outbox.take_next(0);
    b.desk.outbox.take_next(0);
    b.input(Input::Restored {
        credentials: Some(creds("agent1")),
        csrf: None,
        policy: Policy::default(),
    });
    b.input(Input::WokeUp);
    b.answer(Method::Get, paths::ME, me_with_token("agent1", "t"));
    let ticket = b.send_message("C3", "new", "third");
    assert_eq!(b.replies[&ticket], Ok(()));
    assert_eq!(
        b.in_flight(Method::Post, &paths::chat("C3")),
        0,
        "not before the resync"
    );
    b.link_event(Event::Connected);
    b.answer(
        Method::Get,
        paths::CHATS,
        ok(json!({"statusCode": 0, "chats": [
            {"id": "C1", "state": "Chatting"}, {"id": "C2", "state": "Chatting"},
            {"id": "C3", "state": "Chatting"}]})),
    );
    assert_eq!(
        b.in_flight(Method::Post, &paths::chat("C2")),
        0,
        "transcripts first"
    );
    b.answer(
        Method::Get,
        &format!("{}/C1/messages", paths::CHATS),
        ok(json!({"statusCode": 0, "messages": [agent_text(1, "first")]})),
    );
    for chat in ["C2", "C3"] {
        assert_eq!(
            b.in_flight(Method::Post, &paths::chat(chat)),
            0,
            "transcripts first"
        );
        b.answer(
            Method::Get,
            &format!("{}/{chat}/messages", paths::CHATS),
            ok(json!({"statusCode": 0, "messages": []})),
        );
    }
    // "first" was delivered: settled by its echo. "second" is unconfirmed (its worker
    // stopped): its chat's transcript is asked again before it goes; "third" goes meanwhile.
    let texts: Vec<_> = b
        .requests
        .iter()
        .filter_map(|(_, o)| match o.request.operation() {
            Some(Operation::SendMessage { text }) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["third"], "one at a time, and not C2's");
    b.answer(
        Method::Get,
        &format!("{}/C2/messages", paths::CHATS),
        ok(json!({"statusCode": 0, "messages": []})),
    );
    b.answer(
        Method::Post,
        &paths::chat("C3"),
        ok(json!({"statusCode": 0})),
    );
    b.answer(
        Method::Post,
        &paths::chat("C2"),
        ok(json!({"statusCode": 0})),
    );
    let sent: Vec<_> = b
        .sent
        .iter()
        .filter_map(|o| match o.request.operation() {
            Some(Operation::SendMessage { text }) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["third", "second"]);
    assert_eq!(
        b.desk.outbox.for_chat("C1").count(),
        0,
        "settled by its echo"
    );
    assert!(b
        .desk
        .outbox
        .for_chat("C3")
        .all(|m| m.state == OutgoingState::Sent));
}

#[test]
fn an_unanswered_send_is_checked_in_the_transcript_before_it_goes_again_and_never_given_up() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([]))]);
    b.send_message("C1", "m1", "hello");
    let messages = format!("{}/C1/messages", paths::CHATS);
    let mut waits = Vec::new();
    for _ in 0..6 {
        b.answer(Method::Post, &paths::chat("C1"), Err("offline".into()));
        assert_eq!(b.in_flight(Method::Post, &paths::chat("C1")), 0);
        // After the wait, the transcript says whether it arrived; it did not: again.
        let wait = b
            .timers
            .remove(&Timer::OutboxRetry)
            .expect("a check is due");
        waits.push(wait);
        b.now += wait as i64;
        b.input(Input::TimerFired(Timer::OutboxRetry));
        assert_eq!(
            b.in_flight(Method::Post, &paths::chat("C1")),
            0,
            "not before the check"
        );
        b.answer(
            Method::Get,
            &messages,
            ok(json!({"statusCode": 0, "messages": []})),
        );
    }
    assert_eq!(waits, [1000, 2000, 4000, 8000, 8000, 8000]);
    // This time it arrived though no answer came: its echo settles it, nothing goes again.
    b.answer(Method::Post, &paths::chat("C1"), Err("offline".into()));
    b.now += b.timers.remove(&Timer::OutboxRetry).unwrap() as i64;
    b.input(Input::TimerFired(Timer::OutboxRetry));
    b.answer(
        Method::Get,
        &messages,
        ok(json!({"statusCode": 0, "messages": [agent_text(1, "hello")]})),
    );
    assert!(b.desk.outbox.is_empty());
    assert!(b.requests.is_empty(), "{:?}", b.requests);
}

#[test]
fn a_message_that_cannot_be_stored_is_refused_so_the_page_keeps_its_text() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([]))]);
    let send = |b: &mut Background, client_id: &str| b.send_message("C1", client_id, "hello");
    let unstored = |b: &Background| -> Vec<bool> {
        b.status
            .iter()
            .filter_map(|s| match s {
                StatusChange::Unstored(u) => Some(*u),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        unstored(&b),
        [false],
        "the first change of an instance says"
    );
    b.storage_fails = true;
    let refused = send(&mut b, "m1");
    let refusal = b.replies[&refused].clone().unwrap_err();
    assert_eq!(refusal.message_key, Problem::Storage.message_key());
    assert_eq!(
        b.in_flight(Method::Post, &paths::chat("C1")),
        0,
        "nothing queued, nothing sent"
    );

    // The page says so, once however many changes fail.
    send(&mut b, "m2");
    assert_eq!(unstored(&b), [false, true]);

    // With room again, the same message is taken, answered once stored, and sent.
    b.storage_fails = false;
    let taken = send(&mut b, "m1");
    assert_eq!(unstored(&b), [false, true, false]);
    assert_eq!(b.replies[&taken], Ok(()));
    assert_eq!(b.desk.outbox.for_chat("C1").count(), 1);
    assert_eq!(b.in_flight(Method::Post, &paths::chat("C1")), 1);
}

#[test]
fn a_retry_or_a_read_mark_that_cannot_be_stored_is_refused_not_taken() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([]))]);
    b.send_message("C1", "m1", "hello");
    b.answer(
        Method::Post,
        &paths::chat("C1"),
        ok(json!({"statusCode": 1, "statusMessage": "refused"})),
    );
    assert!(b.desk.outbox.for_chat("C1").all(|m| m.state.is_failed()));
    b.storage_fails = true;
    let retry = b.page(PageCommand::RetryMessage {
        client_id: "m1".into(),
    });
    let read = b.page(PageCommand::MarkRead {
        chat_id: "C1".into(),
    });
    for ticket in [retry, read] {
        let refusal = b.replies[&ticket].clone().unwrap_err();
        assert_eq!(refusal.message_key, Problem::Storage.message_key());
    }
    assert_eq!(
        b.in_flight(Method::Post, &paths::chat("C1")),
        0,
        "nothing resent"
    );

    b.storage_fails = false;
    let retry = b.page(PageCommand::RetryMessage {
        client_id: "m1".into(),
    });
    let read = b.page(PageCommand::MarkRead {
        chat_id: "C1".into(),
    });
    assert_eq!((&b.replies[&retry], &b.replies[&read]), (&Ok(()), &Ok(())));
    assert_eq!(
        b.in_flight(Method::Post, &paths::chat("C1")),
        1,
        "sent again"
    );
}

#[test]
fn a_slow_down_waits_and_a_refusal_fails_at_once_until_the_agent_retries() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([]))]);
    b.send_message("C1", "m1", "hello");
    b.answer(
        Method::Post,
        &paths::chat("C1"),
        reply(
            429,
            json!({"statusCode": 1, "statusMessage": "too many requests"}).to_string(),
            &[],
        ),
    );
    assert_eq!(b.timers.remove(&Timer::OutboxRetry), Some(1000));
    b.now += 1000;
    b.input(Input::TimerFired(Timer::OutboxRetry));
    b.answer(
        Method::Post,
        &paths::chat("C1"),
        reply(
            400,
            json!({"statusCode": 2, "statusMessage": "the chat has ended"}).to_string(),
            &[],
        ),
    );
    assert_eq!(
        b.desk.outbox.for_chat("C1").next().unwrap().state,
        OutgoingState::Failed("the chat has ended".into())
    );
    assert!(b.timers.is_empty());
    assert!(b.requests.is_empty(), "no automatic send after a refusal");
    b.page(PageCommand::RetryMessage {
        client_id: "m1".into(),
    });
    assert_eq!(b.in_flight(Method::Post, &paths::chat("C1")), 1);
}

#[test]
fn a_notification_changes_the_desk_and_asks_for_what_it_lacks() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[]);
    b.notification(
        json!({"messageType": "MessageLogUpdated", "notificationType": "NewMessages",
        "chatId": "NEW", "messages": []}),
    );
    assert_eq!(
        b.in_flight(Method::Get, &paths::messages("NEW", 1)),
        1,
        "a log for an unknown chat fetches it"
    );
    b.notification(json!({"messageType": "ChannelStateChangeMessageV2",
        "channels": [{"channel": "chat", "userState": {"state": "Ready"}}]}));
    assert_eq!(
        b.desk.meta.channel_state,
        Some(crate::gws::AgentState::Ready)
    );
    assert!(matches!(b.status.last(), Some(StatusChange::Heard { .. })));
    b.notification(json!("not an object"));
    assert_eq!(b.logs.len(), 1, "{:?}", b.logs);
}

#[test]
fn page_commands_need_a_signed_in_agent_and_a_sane_message() {
    let mut b = Background::restored(None);
    let t = b.page(PageCommand::SetReady(true));
    assert_eq!(
        b.replies[&t].clone().unwrap_err().reason,
        RefusalReason::NotSignedIn
    );
    let mut b = Background::signed_in("agent1");
    for text in ["  ", &"x".repeat(MAX_TEXT_BYTES + 1)] {
        let t = b.send_message("C1", "m", text);
        assert_eq!(
            b.replies[&t].clone().unwrap_err().message_key,
            Problem::MessageInvalid.message_key()
        );
    }
    let t = b.page(PageCommand::ChatAction {
        chat_id: "C1".into(),
        action: ChatAction::Accept,
    });
    let accept = b.sent.last().unwrap();
    assert_eq!(
        accept.request.operation().cloned(),
        // The name customers see is the server's first name for the agent, not the login.
        Some(Operation::Accept {
            nickname: Some("Ann".into())
        })
    );
    assert!(
        !b.replies.contains_key(&t),
        "answered when the server answered"
    );
    b.answer(
        Method::Post,
        &paths::chat("C1"),
        ok(json!({"statusCode": 0})),
    );
    assert_eq!(b.replies[&t], Ok(()));
}

#[test]
fn signing_out_ends_the_session_then_forgets_secrets_and_chats() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([agent_text(1, "hi")]))]);
    assert_eq!(b.desk.heads.len(), 1);
    let t = b.page(PageCommand::SignOut);
    assert!(!b.replies.contains_key(&t));
    assert_eq!(
        b.sent.last().unwrap().request.operation().cloned(),
        Some(Operation::EndContactCenterSession)
    );
    // The server is gone: the secrets go anyway.
    b.answer(Method::Post, paths::ME, Err("offline".into()));
    assert_eq!(b.replies[&t], Ok(()));
    assert!(b.writes.contains(&Write::ForgetSecrets));
    assert!(b.desk.heads.is_empty());
    assert_eq!(b.closed, [b.last_link()]);
    b.input(Input::WokeUp);
    assert!(b.requests.is_empty(), "no connection without credentials");
}

// ---- co-browse ----

fn customer_notice(chat: &str, index: i64, text: &str) -> Value {
    json!({"messageType": "MessageLogUpdated", "notificationType": "NewMessages", "chatId": chat,
           "messages": [{"index": index, "type": "CustomNotice", "text": text,
                         "from": {"type": "Customer", "nickname": "Pat"}}]})
}

fn verification(chat: &str, state: &str) -> Result<HttpReply, String> {
    ok(json!({"statusCode": 0, "cobrowse": {
        "sessionToken": "535176834", "chatId": chat, "state": state,
        "expiresAt": 1_300_000, "sessionHistoryId": format!("h-{chat}"),
        "joinTicket": "t", "joinTicketExpiresAt": 1_060_000,
        "joinUrl": format!("{SERVER}/cobrowse/agent.html?ticket=t-{chat}")}}))
}

fn no_match() -> Result<HttpReply, String> {
    reply(
        404,
        json!({"statusCode": 6, "statusMessage": "no live co-browse session for this chat"})
            .to_string(),
        &[],
    )
}

const VERIFY: &str = crate::gws::cobrowse::VERIFICATIONS_PATH;

/// Signed in, connected, with a live chat `C1`.
fn chatting() -> Background {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([]))]);
    b
}

#[test]
fn a_customer_notice_is_verified_for_its_chat_then_attached_and_joined_with_a_fresh_ticket() {
    let mut b = chatting();
    b.notification(customer_notice("C1", 1, "cobrowse-token:535176834"));
    let asked = b.sent.last().unwrap();
    assert_eq!(asked.request.path, VERIFY);
    assert_eq!(
        serde_json::from_str::<Value>(&asked.request.body_json().unwrap()).unwrap(),
        json!({"chatId": "C1", "sessionToken": "535176834"})
    );
    b.answer(Method::Post, VERIFY, verification("C1", "Idle"));
    let session = b.cobrowse.chats["C1"].session.clone().unwrap();
    assert_eq!(session.history_id, "h-C1");
    assert_eq!(b.badge, 1, "a co-browse waits for the agent");
    assert!(b.tabs.is_empty(), "the agent clicks to join");
    assert!(
        b.logs.iter().all(|l| !l.contains("535176834")),
        "{:?}",
        b.logs
    );

    let join = b.page(PageCommand::JoinCobrowse {
        chat_id: "C1".into(),
        end_other: false,
    });
    assert_eq!(b.in_flight(Method::Post, VERIFY), 1, "a fresh ticket");
    b.answer(Method::Post, VERIFY, verification("C1", "Idle"));
    assert_eq!(b.replies[&join], Ok(()));
    assert_eq!(
        b.tabs,
        [format!("{SERVER}/cobrowse/agent.html?ticket=t-C1")]
    );

    // The server says it is active, then ended: the token goes.
    let changed = |state: &str| {
        Event::Message(Box::new(Message {
            channel: COBROWSE_TOPIC.into(),
            data: Some(
                json!({"messageType": "CobrowseSessionChanged", "cobrowse": {
                "chatId": "C1", "sessionHistoryId": "h-C1", "state": state}}),
            ),
            ..Message::default()
        }))
    };
    b.link_event(changed("Active"));
    assert!(b.cobrowse.waiting().is_empty(), "joined: waits no more");
    assert_eq!(
        b.badge, 1,
        "the chat itself still waits (the customer spoke last)"
    );
    b.link_event(changed("Ended"));
    assert_eq!(b.cobrowse.chats["C1"].session.as_ref().unwrap().token, None);
}

#[test]
fn a_refused_token_is_asked_once_and_a_throttled_one_waits() {
    let mut b = chatting();
    b.notification(customer_notice("C1", 1, "cobrowse-token:111111111"));
    b.answer(Method::Post, VERIFY, no_match());
    assert!(b.cobrowse.chats["C1"].session.is_none());
    assert!(b.cobrowse.chats["C1"].not_verified_at_ms.is_some());
    b.notification(customer_notice("C1", 2, "cobrowse-token:111111111"));
    assert_eq!(b.in_flight(Method::Post, VERIFY), 0, "asked once");

    b.notification(customer_notice("C1", 3, "cobrowse-token:222222222"));
    b.answer(
        Method::Post,
        VERIFY,
        reply(429, json!({"statusCode": 4}).to_string(), &[]),
    );
    assert_eq!(
        b.timers.get(&Timer::CobrowseResume),
        Some(&(crate::cobrowse::attach::THROTTLED_PAUSE_MS as u64))
    );
    assert_eq!(b.in_flight(Method::Post, VERIFY), 0, "no hammering");
    b.now += crate::cobrowse::attach::THROTTLED_PAUSE_MS;
    b.input(Input::TimerFired(Timer::CobrowseResume));
    assert_eq!(
        b.in_flight(Method::Post, VERIFY),
        1,
        "asked again after the pause"
    );
}

#[test]
fn the_admins_auto_open_opens_the_view_on_attach() {
    let mut b = Background::new();
    b.input(Input::Restored {
        credentials: Some(creds("agent1")),
        csrf: None,
        policy: Policy {
            cobrowse_auto_open: true,
            ..Policy::default()
        },
    });
    b.input(Input::WokeUp);
    b.answer(Method::Get, paths::ME, me_with_token("agent1", "t"));
    b.connected_with(&[("C1", json!([]))]);
    b.notification(customer_notice("C1", 1, "cobrowse-token:535176834"));
    b.answer(Method::Post, VERIFY, verification("C1", "Idle"));
    assert_eq!(b.tabs.len(), 1);
}

#[test]
fn joining_a_second_co_browse_ends_the_first_as_controller_when_asked() {
    let mut b = Background::signed_in("agent1");
    b.connected_with(&[("C1", json!([])), ("C2", json!([]))]);
    b.notification(customer_notice("C1", 1, "cobrowse-token:111111111"));
    b.answer(Method::Post, VERIFY, verification("C1", "Active"));
    b.notification(customer_notice("C2", 1, "cobrowse-token:222222222"));
    b.answer(Method::Post, VERIFY, verification("C2", "Idle"));

    let busy = b.page(PageCommand::JoinCobrowse {
        chat_id: "C2".into(),
        end_other: false,
    });
    let refused = b.replies[&busy].clone().unwrap_err();
    assert_eq!(refused.message_key, Problem::CobrowseBusy.message_key());
    assert_eq!(refused.detail, "C1");

    let join = b.page(PageCommand::JoinCobrowse {
        chat_id: "C2".into(),
        end_other: true,
    });
    let (controller, plan) = b.links.last().cloned().unwrap();
    assert_eq!(plan.url, format!("{SERVER}/cobrowse/cometd"));
    assert!(plan.topics.is_empty());
    let event = |b: &mut Background, event| {
        b.input(Input::Link {
            link: controller,
            event,
        })
    };
    event(
        &mut b,
        Event::Handshaken {
            client_id: "x".into(),
            transport: LONG_POLLING.into(),
            ack: false,
        },
    );
    assert_eq!(
        b.published.last().unwrap(),
        &(
            controller,
            "/service/session/join".to_owned(),
            json!({"sessionToken": "111111111", "role": 3})
        )
    );
    let answer = |channel: &str, data: Value| {
        Event::Message(Box::new(Message {
            channel: channel.into(),
            data: Some(data),
            ..Message::default()
        }))
    };
    event(
        &mut b,
        answer(
            "/service/session/join",
            json!({"userToken": "u-1", "userId": 3}),
        ),
    );
    assert_eq!(
        b.published.last().unwrap().1,
        "/service/session/stop",
        "then stops it"
    );
    assert_eq!(b.published.last().unwrap().2, json!({"userToken": "u-1"}));
    assert!(!b.replies.contains_key(&join));
    event(&mut b, answer("/service/session/stop", json!({})));
    assert!(b.closed.contains(&controller));
    assert!(!b.cobrowse.chats["C1"].session.as_ref().unwrap().is_live());
    b.answer(Method::Post, VERIFY, verification("C2", "Idle"));
    assert_eq!(b.replies[&join], Ok(()));
    assert_eq!(
        b.tabs,
        [format!("{SERVER}/cobrowse/agent.html?ticket=t-C2")]
    );
}

#[test]
fn a_reconnect_re_verifies_and_a_chat_that_ends_ends_its_co_browse() {
    let mut b = chatting();
    b.notification(customer_notice("C1", 1, "cobrowse-token:535176834"));
    b.answer(Method::Post, VERIFY, verification("C1", "Idle"));
    b.link_event(Event::Connected);
    assert_eq!(
        b.in_flight(Method::Post, VERIFY),
        1,
        "re-verified on reconnect"
    );
    b.answer(Method::Post, VERIFY, no_match());
    assert!(!b.cobrowse.chats["C1"].session.as_ref().unwrap().is_live());
    assert!(b.cobrowse.waiting().is_empty());
    // The stale lookups of the reconnect are still in flight: answer them.
    b.answer(
        Method::Get,
        paths::CHATS,
        ok(json!({"statusCode": 0, "chats": [{"id": "C1", "state": "Chatting"}]})),
    );

    let mut b = chatting();
    b.notification(customer_notice("C1", 1, "cobrowse-token:535176834"));
    b.answer(Method::Post, VERIFY, verification("C1", "Idle"));
    b.notification(
        json!({"messageType": "ChatStateChangeMessage", "notificationType": "StatusChange",
        "chat": {"id": "C1", "state": "Completed"}}),
    );
    let s = b.cobrowse.chats["C1"].session.clone().unwrap();
    assert_eq!((s.is_live(), s.token), (false, None));
}

#[test]
fn every_resync_reads_the_channel_state_the_server_has_not_the_stored_one() {
    use crate::gws::AgentState;
    let answer = |b: &mut Background, reply: Value| {
        b.answer(Method::Get, paths::ME_WITH_SUBRESOURCES, ok(reply));
    };
    // Stored by an earlier session (the browser restarted, or another agent used it): the
    // server's own state was set meanwhile, and no notification says so.
    let mut b = Background::signed_in("agent1");
    b.desk.meta.channel_state = Some(AgentState::Ready);
    b.connected_with(&[]);
    assert_eq!(b.desk.meta.channel_state, Some(AgentState::NotReady));

    // Two resyncs in a row: only the newer one's answer counts.
    b.link_event(Event::Connected);
    b.link_event(Event::Connected);
    answer(&mut b, channel_states("Ready"));
    assert_eq!(
        b.desk.meta.channel_state,
        Some(AgentState::NotReady),
        "the older resync's answer is dropped"
    );
    answer(&mut b, channel_states("Ready"));
    assert_eq!(b.desk.meta.channel_state, Some(AgentState::Ready));

    // An answer without channel states changes nothing.
    b.link_event(Event::Connected);
    answer(
        &mut b,
        json!({"statusCode": 0, "user": {"userName": "agent1"}}),
    );
    assert_eq!(b.desk.meta.channel_state, Some(AgentState::Ready));

    // A notification heard while the resync's read is on its way is newer than its answer:
    // the two come over different connections, and the answer can be the later to arrive.
    b.link_event(Event::Connected);
    b.notification(json!({"messageType": "ChannelStateChangeMessageV2",
        "channels": [{"channel": "chat", "userState": {"state": "NotReady"}}]}));
    assert_eq!(b.desk.meta.channel_state, Some(AgentState::NotReady));
    answer(&mut b, channel_states("Ready"));
    assert_eq!(
        b.desk.meta.channel_state,
        Some(AgentState::NotReady),
        "the answer asked for before the notification is dropped"
    );
}
