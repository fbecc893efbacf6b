//! The session's co-browse rules: candidates the desk found are verified by the server for
//! their chat (one question at a time per chat, paused after a 429), verified ones attached;
//! Join asks for a fresh single-use join ticket and opens the agent view; End joins the Genesys
//! live API as controller (role 3) on `/cobrowse/cometd` and stops the session; the chat's
//! end, the server's state notifications and every reconnect keep the attachments true.

use crate::bayeux::client::{ClientConfig, Event};
use crate::bayeux::LONG_POLLING;
use crate::chat::{DeskChange, DeskOutcome};
use crate::cobrowse::detect::{self, Carrier, Found};
use crate::cobrowse::live::{
    JoinRequest, ServiceAnswer, StopRequest, DEACTIVATED_CHANNEL, JOIN_CHANNEL, ROLE_CONTROLLER,
    STOP_CHANNEL,
};
use crate::cobrowse::{Check, CobrowseChange, CobrowseOutcome, Refused, Token};
use crate::gws::cobrowse::{VerificationReply, COBROWSE_COMETD_PATH};
use crate::gws::{Outcome, Request};
use crate::protocol::{Problem, Refusal};

use super::requests::Purpose;
use super::{not_signed_in, After, Command, LinkId, LinkPlan, Session, Ticket, Timer};

/// How long stopping a co-browse as controller may take before it is given up.
pub const CONTROLLER_GIVE_UP_MS: u64 = 20_000;

/// What a co-browse change was for: its outcome comes back with this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CobrowseAfter {
    Nothing,
    /// A page's Join or End waits for the answer.
    Page {
        ticket: Ticket,
    },
    /// A page's entered code waits for it to be taken.
    Code {
        ticket: Ticket,
    },
    /// A verification of this chat's candidate was applied.
    Checked {
        chat_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Connecting,
    Joining,
    Stopping,
}

/// A join to do once the controller stopped another chat's co-browse.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JoinAfter {
    chat_id: String,
    token: Token,
    ticket: Ticket,
}

/// The one co-browse being stopped as its controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Controller {
    pub link: LinkId,
    chat_id: String,
    token: Token,
    step: Step,
    /// The page waiting for the End (none when it is a Join's first step).
    ticket: Option<Ticket>,
    then_join: Option<JoinAfter>,
}

fn refusal(problem: Problem, detail: &str) -> Refusal {
    Refusal::of(problem, detail)
}

impl Session {
    pub(super) fn change_cobrowse(&mut self, change: CobrowseChange, after: CobrowseAfter) {
        self.out.push(Command::ChangeCobrowse { change, after });
    }

    pub(super) fn set_badge(&mut self) {
        let count = self.desk_waiting.len()
            + self
                .cobrowse_waiting
                .iter()
                .filter(|id| !self.desk_waiting.contains(*id))
                .count();
        self.out.push(Command::SetBadge(count));
    }

    /// What a desk change means for co-browse: candidates found, chats that ended or left.
    pub(super) fn follow_desk(&mut self, outcome: &DeskOutcome) {
        if !outcome.found.is_empty() {
            self.change_cobrowse(
                CobrowseChange::Found(outcome.found.clone()),
                CobrowseAfter::Nothing,
            );
        }
        let finished: Vec<String> = outcome
            .changed
            .iter()
            .filter(|c| c.head.state.is_finished())
            .map(|c| c.head.id.clone())
            .collect();
        if !finished.is_empty() {
            self.change_cobrowse(
                CobrowseChange::ChatsFinished(finished),
                CobrowseAfter::Nothing,
            );
        }
        if !outcome.removed.is_empty() {
            self.change_cobrowse(
                CobrowseChange::ChatsRemoved(outcome.removed.clone()),
                CobrowseAfter::Nothing,
            );
        }
    }

    pub(super) fn page_cobrowse(&mut self, ticket: Ticket, change: CobrowseChange) {
        if self.credentials.is_none() {
            return self.reply(ticket, Err(not_signed_in()));
        }
        self.change_cobrowse(change, CobrowseAfter::Page { ticket });
    }

    pub(super) fn enter_code(&mut self, ticket: Ticket, chat_id: String, code: &str) {
        if self.credentials.is_none() {
            return self.reply(ticket, Err(not_signed_in()));
        }
        let Some(token) = detect::entered(code) else {
            return self.reply(
                ticket,
                Err(refusal(Problem::CobrowseCodeInvalid, "not nine digits")),
            );
        };
        self.change_cobrowse(
            CobrowseChange::Found(vec![Found {
                chat_id,
                token,
                carrier: Carrier::Agent,
                index: None,
            }]),
            CobrowseAfter::Code { ticket },
        );
    }

    pub(super) fn on_cobrowse_changed(
        &mut self,
        now_ms: i64,
        after: CobrowseAfter,
        outcome: CobrowseOutcome,
    ) {
        if outcome.waiting != self.cobrowse_waiting {
            self.cobrowse_waiting = outcome.waiting;
            self.set_badge();
        }
        for found in outcome.verify {
            self.verify(found, None);
        }
        if let Some(at) = outcome.resume_at_ms {
            self.out.push(Command::SetTimer {
                timer: Timer::CobrowseResume,
                after_ms: (at - now_ms).max(0) as u64,
            });
        }
        for (chat_id, index, token) in outcome.mask {
            self.change_desk(
                DeskChange::MaskToken {
                    chat_id,
                    index,
                    token,
                },
                After::Nothing,
            );
        }
        match after {
            CobrowseAfter::Nothing => {}
            CobrowseAfter::Code { ticket } => self.reply(ticket, Ok(())),
            CobrowseAfter::Checked { chat_id } => {
                let url = self.open_on_attach.remove(&chat_id);
                if let Some(url) = url.filter(|_| outcome.attached.contains(&chat_id)) {
                    self.out.push(Command::OpenTab { url });
                }
            }
            CobrowseAfter::Page { ticket } => {
                if let Some(r) = outcome.refused {
                    let refused = match r {
                        Refused::NoSession => {
                            refusal(Problem::CobrowseGone, "no live co-browse on this chat")
                        }
                        Refused::Busy { other_chat } => refusal(Problem::CobrowseBusy, &other_chat),
                    };
                    return self.reply(ticket, Err(refused));
                }
                if let Some(plan) = outcome.join {
                    match plan.end_first {
                        Some((other_chat, other_token)) => self.start_controller(
                            other_chat,
                            other_token,
                            None,
                            Some(JoinAfter {
                                chat_id: plan.chat_id,
                                token: plan.token,
                                ticket,
                            }),
                        ),
                        None => self.verify(
                            Found {
                                chat_id: plan.chat_id,
                                token: plan.token,
                                carrier: Carrier::Agent,
                                index: None,
                            },
                            Some(ticket),
                        ),
                    }
                } else if let Some((chat_id, token)) = outcome.end {
                    self.start_controller(chat_id, token, Some(ticket), None);
                } else {
                    self.reply(ticket, Ok(()));
                }
            }
        }
    }

    /// Asks the server whether `found` is a live session bound to its chat, which we hold.
    fn verify(&mut self, found: Found, join: Option<Ticket>) {
        let Some(c) = self.credentials.clone() else {
            if let Some(ticket) = join {
                self.reply(ticket, Err(not_signed_in()));
            }
            return;
        };
        let request = Request::verification(&found.chat_id, &found.token);
        self.send(&c, request, Purpose::Verify { found, join });
    }

    pub(super) fn verified(&mut self, found: Found, join: Option<Ticket>, outcome: &Outcome) {
        let reply = match outcome {
            Outcome::Ok(body) => crate::json::from_str::<VerificationReply>(body)
                .ok()
                // A reply for another chat than asked is no verification of this one.
                .filter(|r| r.cobrowse.chat_id == found.chat_id),
            _ => None,
        };
        let result = match (outcome, &reply) {
            (Outcome::Ok(_), Some(r)) => Check::Verified {
                history_id: r.cobrowse.session_history_id.clone(),
                state: r.cobrowse.state,
                expires_at_ms: r.cobrowse.expires_at,
            },
            (Outcome::Throttled(_), _) => Check::Throttled,
            (Outcome::Unreachable(_) | Outcome::BadCredentials | Outcome::CsrfRefused, _) => {
                Check::Unreachable
            }
            (Outcome::Ok(_) | Outcome::Refused(_), _) => Check::NotVerified,
        };
        let join_url = reply.map(|r| r.cobrowse.join_url);
        match join {
            Some(ticket) => {
                let answer = match (&result, join_url) {
                    (Check::Verified { .. }, Some(url)) => {
                        self.out.push(Command::OpenTab { url });
                        Ok(())
                    }
                    (Check::Throttled, _) => Err(refusal(Problem::TooManyRequests, "429")),
                    (Check::Unreachable, _) => {
                        Err(refusal(Problem::ServerUnreachable, &outcome.detail()))
                    }
                    _ => Err(refusal(Problem::CobrowseGone, "not verified any more")),
                };
                self.reply(ticket, answer);
            }
            None => {
                if let (Check::Verified { .. }, Some(url), true) =
                    (&result, join_url, self.policy.cobrowse_auto_open)
                {
                    self.open_on_attach.insert(found.chat_id.clone(), url);
                }
            }
        }
        let chat_id = found.chat_id.clone();
        self.change_cobrowse(
            CobrowseChange::Checked { found, result },
            CobrowseAfter::Checked { chat_id },
        );
    }

    // ---- the controller (End) ----

    fn start_controller(
        &mut self,
        chat_id: String,
        token: Token,
        ticket: Option<Ticket>,
        then_join: Option<JoinAfter>,
    ) {
        let Some(c) = self.credentials.clone() else {
            return self.fail_pages(ticket, then_join, not_signed_in());
        };
        if self.controller.is_some() {
            return self.fail_pages(
                ticket,
                then_join,
                refusal(Problem::CobrowseBusy, "a co-browse is being ended already"),
            );
        }
        self.links_built += 1;
        let link = LinkId(self.links_built);
        let plan = LinkPlan {
            url: format!("{}{}", c.server_url, COBROWSE_COMETD_PATH),
            config: ClientConfig {
                // Basic on every request: no token to fetch for a link this short.
                transports: vec![LONG_POLLING.to_owned()],
                ..ClientConfig::default()
            },
            headers: self.headers(&c, true),
            topics: Vec::new(),
        };
        self.controller = Some(Controller {
            link,
            chat_id,
            token,
            step: Step::Connecting,
            ticket,
            then_join,
        });
        self.out.push(Command::OpenLink { link, plan });
        self.out.push(Command::SetTimer {
            timer: Timer::ControllerGiveUp,
            after_ms: CONTROLLER_GIVE_UP_MS,
        });
    }

    fn fail_pages(&mut self, ticket: Option<Ticket>, then_join: Option<JoinAfter>, r: Refusal) {
        for t in ticket.into_iter().chain(then_join.map(|j| j.ticket)) {
            self.reply(t, Err(r.clone()));
        }
    }

    fn publish(&mut self, link: LinkId, channel: &str, data: impl serde::Serialize) {
        self.out.push(Command::Publish {
            link,
            channel: channel.to_owned(),
            data: serde_json::to_value(data).expect("live API requests serialize"),
        });
    }

    pub(super) fn on_controller_event(&mut self, event: Event) {
        let Some(c) = self.controller.clone() else {
            return;
        };
        match event {
            Event::Handshaken { .. } | Event::Connected if c.step == Step::Connecting => {
                self.publish(
                    c.link,
                    JOIN_CHANNEL,
                    JoinRequest {
                        session_token: c.token.expose().to_owned(),
                        role: ROLE_CONTROLLER,
                    },
                );
                self.set_step(Step::Joining);
            }
            Event::Message(m) => {
                let answer: ServiceAnswer = m
                    .data
                    .and_then(|d| crate::bayeux::message::read_data(&d).ok())
                    .unwrap_or_default();
                match m.channel.as_str() {
                    JOIN_CHANNEL if c.step == Step::Joining => {
                        match (answer.user_token, answer.error) {
                            (Some(user_token), None) => {
                                self.publish(c.link, STOP_CHANNEL, StopRequest { user_token });
                                self.set_step(Step::Stopping);
                            }
                            (_, error) => self.controller_done(Err(refusal(
                                Problem::CobrowseGone,
                                &error.unwrap_or_else(|| "joining as controller failed".into()),
                            ))),
                        }
                    }
                    STOP_CHANNEL => match answer.error {
                        None => self.controller_done(Ok(())),
                        Some(e) => self.controller_done(Err(refusal(Problem::CobrowseGone, &e))),
                    },
                    DEACTIVATED_CHANNEL => self.controller_done(Ok(())),
                    _ => {}
                }
            }
            Event::PublishFailed { reason, .. }
            | Event::HandshakeFailed { reason }
            | Event::Disconnected { reason } => {
                self.controller_done(Err(refusal(Problem::ServerUnreachable, &reason)))
            }
            _ => {}
        }
    }

    fn set_step(&mut self, step: Step) {
        if let Some(c) = self.controller.as_mut() {
            c.step = step;
        }
    }

    pub(super) fn controller_gave_up(&mut self) {
        if self.controller.is_some() {
            self.controller_done(Err(refusal(
                Problem::ServerUnreachable,
                "no answer from the co-browse server",
            )));
        }
    }

    fn controller_done(&mut self, result: Result<(), Refusal>) {
        let Some(c) = self.controller.take() else {
            return;
        };
        self.out.push(Command::CloseLink(c.link));
        match result {
            Ok(()) => {
                self.change_cobrowse(
                    CobrowseChange::Stopped {
                        chat_id: c.chat_id.clone(),
                    },
                    CobrowseAfter::Nothing,
                );
                if let Some(ticket) = c.ticket {
                    self.reply(ticket, Ok(()));
                }
                if let Some(j) = c.then_join {
                    self.verify(
                        Found {
                            chat_id: j.chat_id,
                            token: j.token,
                            carrier: Carrier::Agent,
                            index: None,
                        },
                        Some(j.ticket),
                    );
                }
            }
            Err(r) => self.fail_pages(c.ticket, c.then_join, r),
        }
    }
}
