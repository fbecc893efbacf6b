//! The agent's co-browse attachments, a reducer over one record in `storage.session`: per chat,
//! the candidate tokens waiting to be verified, the one being verified, the session attached
//! once the server verified it for that chat, and whether the last candidate was refused.
//!
//! Rules:
//! - A candidate is checked **once per chat** (a digest of each token asked about is kept, not
//!   the token) and one at a time per chat; after a 429 nothing is checked until the pause ends.
//! - Only a verified token is attached; a refused one leaves a "not verified" mark, never a
//!   session. A newer verified session replaces the chat's older one.
//! - Notifications of the server and re-verifications (every reconnect) keep the state true;
//!   an ended session drops its token at once (nothing left to join).
//! - One co-browse active per agent: joining while another chat's is active is refused unless
//!   the agent asked to end that one first.
//!
//! The record is bounded: [`MAX_CHATS`] chats, [`MAX_CHECKED`] digests and [`MAX_QUEUED`]
//! waiting candidates a chat.

use crate::sorted::{SortedMap, SortedSet};

use serde::{Deserialize, Serialize};

use super::detect::{Carrier, Found};
use super::token::Token;
use crate::gws::cobrowse::{SessionChanged, SessionState};

pub const MAX_CHATS: usize = 64;
pub const MAX_CHECKED: usize = 16;
pub const MAX_QUEUED: usize = 4;
/// After the server said "too many" (429): no verification for this long.
pub const THROTTLED_PAUSE_MS: i64 = 60_000;
/// After no answer: the candidate waits this long (or for the next reconnect).
pub const UNREACHABLE_PAUSE_MS: i64 = 10_000;

/// A stable digest of (chat, token), so "asked already" needs no token kept (FNV-1a, 64 bit).
fn digest(chat_id: &str, token: &Token) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in chat_id.bytes().chain([0]).chain(token.expose().bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A session attached to a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    /// Present while the session lives; dropped when it ends.
    pub token: Option<Token>,
    pub history_id: String,
    pub state: SessionState,
    /// When an idle session ends unless the agent joins.
    pub expires_at_ms: Option<i64>,
    pub carrier: Carrier,
    pub since_ms: i64,
    /// Why it ended, as the server said, if it did.
    #[serde(default)]
    pub end_reason: Option<String>,
}

impl Attached {
    pub fn is_live(&self) -> bool {
        self.state != SessionState::Ended
    }

    fn end(&mut self, reason: Option<String>) {
        self.state = SessionState::Ended;
        self.token = None;
        self.expires_at_ms = None;
        if reason.is_some() {
            self.end_reason = reason;
        }
    }
}

/// One chat's co-browse record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatCobrowse {
    #[serde(default)]
    pub checked: Vec<u64>,
    #[serde(default)]
    pub queue: Vec<Found>,
    #[serde(default)]
    pub checking: Option<Found>,
    #[serde(default)]
    pub session: Option<Attached>,
    /// When a candidate was last refused (the "not verified" mark), cleared by a verified one.
    #[serde(default)]
    pub not_verified_at_ms: Option<i64>,
    #[serde(default)]
    pub touched_ms: i64,
}

impl ChatCobrowse {
    fn live_token(&self) -> Option<&Token> {
        self.session
            .as_ref()
            .filter(|s| s.is_live())
            .and_then(|s| s.token.as_ref())
    }
}

/// The verification's answer for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Verified {
        history_id: String,
        state: SessionState,
        expires_at_ms: Option<i64>,
    },
    /// Not a live session bound to this chat of this agent (whatever the reason).
    NotVerified,
    /// HTTP 429.
    Throttled,
    /// No answer.
    Unreachable,
}

/// One change to the attachments.
#[derive(Debug, Clone, PartialEq)]
pub enum CobrowseChange {
    /// Candidates found in chats (new lines, user data, a code the agent entered).
    Found(Vec<Found>),
    /// The server answered a verification of `found`.
    Checked { found: Found, result: Check },
    /// A state change the server pushed.
    Notified(SessionChanged),
    /// These chats ended: their sessions end with them (the server ends them too).
    ChatsFinished(Vec<String>),
    /// These chats left the desk.
    ChatsRemoved(Vec<String>),
    /// The agent pressed Join on a chat's co-browse.
    Join { chat_id: String, end_other: bool },
    /// The agent pressed End.
    End { chat_id: String },
    /// The session of this chat was stopped (by us, as controller).
    Stopped { chat_id: String },
    /// A reconnect: re-verify every live session, retry what was in flight.
    Resync,
    /// The pause after a 429 (or no answer) is over.
    Resume,
    /// Signed out: everything goes.
    Clear,
}

/// Why a Join or End cannot go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No live verified session on that chat.
    NoSession,
    /// Another chat's co-browse is active (its id).
    Busy { other_chat: String },
}

/// What to join: the chat's token, after ending another chat's session first if asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPlan {
    pub chat_id: String,
    pub token: Token,
    pub end_first: Option<(String, Token)>,
}

/// What a change left for the caller.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CobrowseOutcome {
    /// Candidates to verify now.
    pub verify: Vec<Found>,
    pub join: Option<JoinPlan>,
    /// A session to stop as controller: (chat, token).
    pub end: Option<(String, Token)>,
    pub refused: Option<Refused>,
    /// Chats that got a verified session with this change.
    pub attached: Vec<String>,
    /// Typed tokens now verified: the transcript line to mask (chat, index, token).
    pub mask: Vec<(String, i64, Token)>,
    /// Chats with a live session no agent joined yet (the badge counts them).
    pub waiting: SortedSet<String>,
    /// When to send [`CobrowseChange::Resume`].
    pub resume_at_ms: Option<i64>,
    /// Whether the record changed (to be stored).
    pub changed: bool,
}

/// Every chat's co-browse record (`storage.session`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attachments {
    #[serde(default)]
    pub chats: SortedMap<String, ChatCobrowse>,
    #[serde(default)]
    pub paused_until_ms: Option<i64>,
}

impl Attachments {
    /// Applies `change` at `now_ms`.
    pub fn change(&mut self, change: CobrowseChange, now_ms: i64) -> CobrowseOutcome {
        let before = self.clone();
        let mut out = CobrowseOutcome::default();
        match change {
            CobrowseChange::Found(found) => {
                for f in found {
                    self.enqueue(f, now_ms);
                }
            }
            CobrowseChange::Checked { found, result } => {
                self.checked(found, result, now_ms, &mut out)
            }
            CobrowseChange::Notified(n) => {
                if let Some(s) = self
                    .chats
                    .get_mut(&n.chat_id)
                    .and_then(|c| c.session.as_mut())
                    .filter(|s| s.history_id == n.session_history_id)
                {
                    match n.state {
                        SessionState::Ended => s.end(n.end_reason),
                        state => {
                            s.state = state;
                            if n.expires_at.is_some() || state == SessionState::Active {
                                s.expires_at_ms = n.expires_at;
                            }
                        }
                    }
                }
            }
            CobrowseChange::ChatsFinished(ids) => {
                for id in ids {
                    if let Some(c) = self.chats.get_mut(&id) {
                        c.queue.clear();
                        c.checking = None;
                        if let Some(s) = c.session.as_mut().filter(|s| s.is_live()) {
                            s.end(Some("chat-ended".into()));
                        }
                    }
                }
            }
            CobrowseChange::ChatsRemoved(ids) => {
                for id in ids {
                    self.chats.remove(&id);
                }
            }
            CobrowseChange::Join { chat_id, end_other } => {
                out.join = self.plan_join(&chat_id, end_other, &mut out.refused);
            }
            CobrowseChange::End { chat_id } => {
                match self.chats.get(&chat_id).and_then(ChatCobrowse::live_token) {
                    Some(t) => out.end = Some((chat_id, t.clone())),
                    None => out.refused = Some(Refused::NoSession),
                }
            }
            CobrowseChange::Stopped { chat_id } => {
                if let Some(s) = self
                    .chats
                    .get_mut(&chat_id)
                    .and_then(|c| c.session.as_mut())
                    .filter(|s| s.is_live())
                {
                    s.end(Some("stopped".into()));
                }
            }
            CobrowseChange::Resync => {
                for (id, c) in &mut self.chats {
                    if let Some(f) = c.checking.take() {
                        c.queue.insert(0, f);
                    }
                    if let Some(s) = c.session.as_ref().filter(|s| s.is_live()) {
                        if let Some(token) = s.token.clone() {
                            let refresh = Found {
                                chat_id: id.clone(),
                                token,
                                carrier: s.carrier,
                                index: None,
                            };
                            if !c.queue.contains(&refresh) {
                                c.queue.insert(0, refresh);
                            }
                        }
                    }
                }
                self.paused_until_ms = None;
            }
            CobrowseChange::Resume => {
                if self.paused_until_ms.is_some_and(|t| t <= now_ms) {
                    self.paused_until_ms = None;
                }
            }
            CobrowseChange::Clear => *self = Attachments::default(),
        }
        self.bound(now_ms);
        out.verify = self.next_checks(now_ms);
        out.waiting = self.waiting();
        out.resume_at_ms = self.paused_until_ms;
        out.changed = *self != before;
        out
    }

    fn enqueue(&mut self, f: Found, now_ms: i64) {
        let d = digest(&f.chat_id, &f.token);
        let c = self.chats.entry(f.chat_id.clone()).or_default();
        let known = c.checked.contains(&d)
            || c.queue.iter().any(|q| q.token == f.token)
            || c.checking.as_ref().is_some_and(|q| q.token == f.token)
            || c.live_token() == Some(&f.token);
        if known {
            return;
        }
        c.touched_ms = now_ms;
        if c.queue.len() < MAX_QUEUED {
            c.queue.push(f);
        }
    }

    fn checked(&mut self, found: Found, result: Check, now_ms: i64, out: &mut CobrowseOutcome) {
        let Some(c) = self.chats.get_mut(&found.chat_id) else {
            return;
        };
        if c.checking.as_ref() == Some(&found) {
            c.checking = None;
        }
        c.touched_ms = now_ms;
        let is_attached = c.live_token() == Some(&found.token);
        match result {
            Check::Verified {
                history_id,
                state,
                expires_at_ms,
            } => {
                if is_attached {
                    let s = c.session.as_mut().expect("attached");
                    s.state = state;
                    s.expires_at_ms = expires_at_ms;
                    if state == SessionState::Ended {
                        s.end(None);
                    }
                } else {
                    c.remember(digest(&found.chat_id, &found.token));
                    c.not_verified_at_ms = None;
                    let mut session = Attached {
                        token: Some(found.token.clone()),
                        history_id,
                        state,
                        expires_at_ms,
                        carrier: found.carrier,
                        since_ms: now_ms,
                        end_reason: None,
                    };
                    if state == SessionState::Ended {
                        session.end(None);
                    } else {
                        out.attached.push(found.chat_id.clone());
                    }
                    c.session = Some(session);
                    if let (Carrier::Typed, Some(index)) = (found.carrier, found.index) {
                        out.mask.push((found.chat_id.clone(), index, found.token));
                    }
                }
            }
            Check::NotVerified => {
                if is_attached {
                    // It was verified before: the session is over (or the chat is no longer
                    // this agent's).
                    if let Some(s) = c.session.as_mut() {
                        s.end(None);
                    }
                } else {
                    c.remember(digest(&found.chat_id, &found.token));
                    c.not_verified_at_ms = Some(now_ms);
                }
            }
            Check::Throttled | Check::Unreachable => {
                c.queue.insert(0, found);
                c.queue.truncate(MAX_QUEUED);
                let pause = if result == Check::Throttled {
                    THROTTLED_PAUSE_MS
                } else {
                    UNREACHABLE_PAUSE_MS
                };
                self.paused_until_ms = Some(now_ms + pause);
            }
        }
    }

    fn plan_join(
        &self,
        chat_id: &str,
        end_other: bool,
        refused: &mut Option<Refused>,
    ) -> Option<JoinPlan> {
        let Some(token) = self.chats.get(chat_id).and_then(ChatCobrowse::live_token) else {
            *refused = Some(Refused::NoSession);
            return None;
        };
        let other = self.chats.iter().find_map(|(id, c)| {
            let s = c.session.as_ref()?;
            (id != chat_id && s.state == SessionState::Active)
                .then(|| (id.clone(), s.token.clone()))
        });
        let end_first = match other {
            None => None,
            Some((other_chat, Some(t))) if end_other => Some((other_chat, t)),
            Some((other_chat, _)) => {
                *refused = Some(Refused::Busy { other_chat });
                return None;
            }
        };
        Some(JoinPlan {
            chat_id: chat_id.to_owned(),
            token: token.clone(),
            end_first,
        })
    }

    /// The next candidate of each chat with none in flight, unless paused; marked in flight.
    fn next_checks(&mut self, now_ms: i64) -> Vec<Found> {
        if self.paused_until_ms.is_some_and(|t| t > now_ms) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for c in self.chats.values_mut() {
            if c.checking.is_none() && !c.queue.is_empty() {
                let f = c.queue.remove(0);
                c.checking = Some(f.clone());
                out.push(f);
            }
        }
        out
    }

    /// What pages show of every chat's co-browse (no token).
    pub fn views(&self) -> Vec<crate::protocol::CobrowseView> {
        self.chats
            .iter()
            .map(|(id, c)| crate::protocol::CobrowseView {
                chat_id: id.clone(),
                state: c.session.as_ref().map(|s| s.state),
                expires_at_ms: c.session.as_ref().and_then(|s| s.expires_at_ms),
                end_reason: c.session.as_ref().and_then(|s| s.end_reason.clone()),
                checking: c.checking.is_some() || !c.queue.is_empty(),
                not_verified: c.not_verified_at_ms.is_some(),
            })
            .collect()
    }

    /// Chats with a live session no agent joined yet.
    pub fn waiting(&self) -> SortedSet<String> {
        self.chats
            .iter()
            .filter(|(_, c)| {
                c.session
                    .as_ref()
                    .is_some_and(|s| s.state == SessionState::Idle)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Keeps at most [`MAX_CHATS`] records: those without a live session go first, oldest
    /// first.
    fn bound(&mut self, _now_ms: i64) {
        self.chats.retain(|_, c| {
            c.session.is_some()
                || !c.queue.is_empty()
                || c.checking.is_some()
                || c.not_verified_at_ms.is_some()
        });
        while self.chats.len() > MAX_CHATS {
            let oldest = self
                .chats
                .iter()
                .min_by_key(|(_, c)| (c.live_token().is_some(), c.touched_ms))
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.chats.remove(&id),
                None => break,
            };
        }
    }
}

impl ChatCobrowse {
    fn remember(&mut self, d: u64) {
        if !self.checked.contains(&d) {
            self.checked.push(d);
            if self.checked.len() > MAX_CHECKED {
                self.checked.remove(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(d: &str) -> Token {
        Token::parse(d).unwrap()
    }

    fn found(chat: &str, t: &str, carrier: Carrier) -> Found {
        Found {
            chat_id: chat.into(),
            token: token(t),
            carrier,
            index: Some(7),
        }
    }

    fn verified(state: SessionState) -> Check {
        Check::Verified {
            history_id: "h-1".into(),
            state,
            expires_at_ms: Some(300_000),
        }
    }

    #[test]
    fn a_candidate_is_checked_once_per_chat_and_attached_only_when_verified() {
        let mut a = Attachments::default();
        let f = found("A", "111111111", Carrier::Typed);
        let out = a.change(CobrowseChange::Found(vec![f.clone(), f.clone()]), 0);
        assert_eq!(
            out.verify,
            std::slice::from_ref(&f),
            "one check, the duplicate dropped"
        );
        let again = a.change(CobrowseChange::Found(vec![f.clone()]), 1);
        assert!(again.verify.is_empty(), "in flight already");

        let out = a.change(
            CobrowseChange::Checked {
                found: f.clone(),
                result: Check::NotVerified,
            },
            2,
        );
        assert!(out.attached.is_empty());
        let c = &a.chats["A"];
        assert!(c.session.is_none());
        assert_eq!(c.not_verified_at_ms, Some(2));
        assert!(
            !serde_json::to_string(&a).unwrap().contains("111111111"),
            "a refused token is not kept"
        );
        let out = a.change(CobrowseChange::Found(vec![f.clone()]), 3);
        assert!(out.verify.is_empty(), "asked once per chat");
        // The same token on another chat is another question.
        let other = found("B", "111111111", Carrier::Notice);
        assert_eq!(
            a.change(CobrowseChange::Found(vec![other.clone()]), 4)
                .verify,
            [other]
        );

        let good = found("A", "222222222", Carrier::Typed);
        a.change(CobrowseChange::Found(vec![good.clone()]), 5);
        let out = a.change(
            CobrowseChange::Checked {
                found: good.clone(),
                result: verified(SessionState::Idle),
            },
            6,
        );
        assert_eq!(out.attached, ["A"]);
        assert_eq!(out.mask, [("A".to_owned(), 7, token("222222222"))]);
        assert_eq!(out.waiting.len(), 1);
        let c = &a.chats["A"];
        assert_eq!(c.not_verified_at_ms, None);
        assert_eq!(c.session.as_ref().unwrap().state, SessionState::Idle);
    }

    fn attached(chat: &str, t: &str) -> (Attachments, Found) {
        let mut a = Attachments::default();
        let f = found(chat, t, Carrier::Notice);
        a.change(CobrowseChange::Found(vec![f.clone()]), 0);
        a.change(
            CobrowseChange::Checked {
                found: f.clone(),
                result: verified(SessionState::Idle),
            },
            1,
        );
        (a, f)
    }

    #[test]
    fn the_server_says_when_it_is_active_and_ended_and_the_token_goes() {
        let (mut a, _) = attached("A", "333333333");
        let change = |state, reason: Option<&str>| {
            CobrowseChange::Notified(SessionChanged {
                chat_id: "A".into(),
                session_history_id: "h-1".into(),
                state,
                expires_at: None,
                end_reason: reason.map(str::to_owned),
            })
        };
        let out = a.change(change(SessionState::Active, None), 2);
        assert_eq!(out.waiting.len(), 0);
        assert_eq!(
            a.chats["A"].session.as_ref().unwrap().state,
            SessionState::Active
        );
        // Another session's news does not touch this one.
        let mut stranger = change(SessionState::Ended, None);
        if let CobrowseChange::Notified(n) = &mut stranger {
            n.session_history_id = "h-other".into();
        }
        a.change(stranger, 3);
        assert!(a.chats["A"].session.as_ref().unwrap().is_live());
        a.change(change(SessionState::Ended, Some("stopped")), 4);
        let s = a.chats["A"].session.as_ref().unwrap();
        assert_eq!(
            (s.state, s.end_reason.as_deref()),
            (SessionState::Ended, Some("stopped"))
        );
        assert!(!serde_json::to_string(&a).unwrap().contains("333333333"));
    }

    #[test]
    fn a_reconnect_re_verifies_live_sessions_and_a_refusal_then_ends_them() {
        let (mut a, _) = attached("A", "444444444");
        let out = a.change(CobrowseChange::Resync, 10);
        assert_eq!(out.verify.len(), 1);
        let refresh = out.verify[0].clone();
        assert_eq!(refresh.token, token("444444444"));
        a.change(
            CobrowseChange::Checked {
                found: refresh,
                result: Check::NotVerified,
            },
            11,
        );
        let c = &a.chats["A"];
        assert_eq!(c.session.as_ref().unwrap().state, SessionState::Ended);
        assert_eq!(
            c.not_verified_at_ms, None,
            "an ended session is not a spoof"
        );
    }

    #[test]
    fn too_many_pauses_every_check_until_resumed() {
        let mut a = Attachments::default();
        let f = found("A", "555555555", Carrier::Typed);
        a.change(CobrowseChange::Found(vec![f.clone()]), 0);
        let out = a.change(
            CobrowseChange::Checked {
                found: f.clone(),
                result: Check::Throttled,
            },
            1,
        );
        assert_eq!(out.resume_at_ms, Some(1 + THROTTLED_PAUSE_MS));
        let g = found("B", "666666666", Carrier::Typed);
        assert!(a
            .change(CobrowseChange::Found(vec![g]), 2)
            .verify
            .is_empty());
        assert!(
            a.change(CobrowseChange::Resume, 3).verify.is_empty(),
            "not yet"
        );
        let out = a.change(CobrowseChange::Resume, 1 + THROTTLED_PAUSE_MS);
        assert_eq!(out.verify.len(), 2, "both chats' candidates go");
    }

    #[test]
    fn one_active_co_browse_at_a_time_unless_the_other_is_ended_first() {
        let (mut a, _) = attached("A", "777777777");
        let g = found("B", "888888888", Carrier::Notice);
        a.change(CobrowseChange::Found(vec![g.clone()]), 2);
        a.change(
            CobrowseChange::Checked {
                found: g,
                result: Check::Verified {
                    history_id: "h-2".into(),
                    state: SessionState::Active,
                    expires_at_ms: None,
                },
            },
            3,
        );
        let out = a.change(
            CobrowseChange::Join {
                chat_id: "A".into(),
                end_other: false,
            },
            4,
        );
        assert_eq!(
            out.refused,
            Some(Refused::Busy {
                other_chat: "B".into()
            })
        );
        let out = a.change(
            CobrowseChange::Join {
                chat_id: "A".into(),
                end_other: true,
            },
            5,
        );
        let plan = out.join.unwrap();
        assert_eq!(plan.token, token("777777777"));
        assert_eq!(plan.end_first, Some(("B".into(), token("888888888"))));
        let out = a.change(
            CobrowseChange::End {
                chat_id: "C".into(),
            },
            6,
        );
        assert_eq!(out.refused, Some(Refused::NoSession));
    }

    #[test]
    fn a_finished_chat_ends_its_session_and_the_record_stays_bounded() {
        let (mut a, _) = attached("A", "999999999");
        a.change(CobrowseChange::ChatsFinished(vec!["A".into()]), 2);
        let s = a.chats["A"].session.as_ref().unwrap();
        assert_eq!((s.state, s.token.is_none()), (SessionState::Ended, true));
        for n in 0..(MAX_CHATS + 10) {
            let f = Found {
                chat_id: format!("chat-{n}"),
                token: token(&format!("{:09}", n + 1)),
                carrier: Carrier::Typed,
                index: None,
            };
            a.change(CobrowseChange::Found(vec![f]), 10 + n as i64);
        }
        assert_eq!(a.chats.len(), MAX_CHATS);
        a.change(CobrowseChange::ChatsRemoved(vec!["chat-70".into()]), 100);
        assert!(!a.chats.contains_key("chat-70"));
        a.change(CobrowseChange::Clear, 101);
        assert!(a.chats.is_empty());
    }
}
