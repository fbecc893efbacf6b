//! The session's requests in flight: what each one is for, so its reply continues the right
//! flow.

use crate::cobrowse::Found;
use crate::gws::Request;
use crate::protocol::Credentials;
use crate::settings::Settings;

use super::{LinkId, Ticket};

/// Names one request in flight; its reply comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A request in flight: as sent (to send it again after a CSRF refusal), and what for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pending {
    /// The credentials it goes with (typed ones while signing in).
    pub auth: Credentials,
    pub request: Request,
    pub purpose: Purpose,
    /// Already sent once more after a CSRF refusal.
    pub csrf_retried: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Sign-in, step 1: the password alone (no cookies).
    CheckPassword {
        ticket: Ticket,
        settings: Settings,
    },
    /// Step 2: with the session cookie, for whom does the server take us?
    CheckIdentity {
        ticket: Ticket,
        settings: Settings,
    },
    /// Step 3: `StartContactCenterSession`.
    StartSession {
        ticket: Ticket,
        settings: Settings,
    },
    /// Sign-out: `EndContactCenterSession` (best effort; the secrets go either way).
    EndSession {
        ticket: Ticket,
    },
    /// Anything else a page asked for: its reply answers the page.
    PageOperation {
        ticket: Ticket,
    },
    /// `GET /api/v2/me` before opening link `link`: is there a notifications token?
    LinkPlan {
        link: LinkId,
    },
    /// `GET /api/v2/me` after link `link`'s handshake was refused: credentials or token?
    RecoverHandshake {
        link: LinkId,
    },
    /// The chat list of resync number `resync`.
    ChatList {
        resync: u64,
    },
    /// The agent's channel states, read at resync number `resync`: a change while the link
    /// was down (or before it subscribed, as right after signing in) has no notification.
    /// `heard` counts the channel-state notifications applied when it was asked.
    ChannelStates {
        resync: u64,
        heard: u64,
    },
    /// A transcript from `from`, asked for at `asked_at_ms`.
    Fetch {
        chat_id: String,
        from: i64,
        asked_at_ms: i64,
        resync: Option<u64>,
    },
    SendMessage {
        client_id: String,
    },
    /// A co-browse verification of `found`; for the page `join` waits on, its join URL opens
    /// the agent view.
    Verify {
        found: Found,
        join: Option<Ticket>,
    },
    /// A GET for the session's current CSRF token; then `retry` goes once more.
    RefreshCsrf {
        retry: Box<Pending>,
    },
}
