//! What the desk shows of its connection and of the agent's state, derived in one place.
//!
//! The popup's indicator, its banner and its Ready switch all read one [`Presence`], computed
//! from the [`AgentStatus`] the background keeps (the age of the last server event, the last
//! problem, the channel's state) and the time now. So they cannot disagree: while the
//! connection is down the indicator says so, the banner explains it, and the switch neither
//! claims "Ready" nor can be used; when the connection is back all three recover together.

use crate::gws::AgentState;
use crate::protocol::{AgentStatus, Problem};

/// How old the last server event may be for the connection to count as live: a held connect
/// answers at least every 20 s, so two missed answers and a margin.
pub const LIVE_MS: u64 = 45_000;

/// The connection as the agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// The server was heard recently and nothing is wrong.
    Live,
    /// Nothing is known to be wrong, but the server has not been heard lately (starting up,
    /// or waking after the browser slept).
    Connecting,
    /// The last attempt failed: the banner explains the problem.
    Down(Problem),
}

impl Connection {
    /// A stable name for the page's `data-state` (tests and styles read it).
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Live => "live",
            Connection::Connecting => "connecting",
            Connection::Down(_) => "down",
        }
    }

    /// The indicator's short words (`_locales` key).
    pub fn message_key(self) -> &'static str {
        match self {
            Connection::Live => "statusConnected",
            Connection::Connecting => "statusConnecting",
            Connection::Down(_) => "statusOffline",
        }
    }
}

/// The agent's chat channel as the switch shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Chats are offered to the agent.
    Ready,
    /// No chats are offered (Not ready, or any other state the server reports).
    NotReady,
    /// Not connected: what the server holds is not known, and the switch cannot act.
    Unknown,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Ready => "ready",
            Availability::NotReady => "not-ready",
            Availability::Unknown => "unknown",
        }
    }

    /// The words that say the state (`_locales` key).
    pub fn message_key(self) -> &'static str {
        match self {
            Availability::Ready => "stateReady",
            Availability::NotReady => "stateNotReady",
            Availability::Unknown => "stateUnknownOffline",
        }
    }
}

/// The one view of connection and agent state that every part of the desk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub connection: Connection,
    pub availability: Availability,
}

impl Presence {
    /// The presence of `status` at `now_ms` (epoch milliseconds).
    pub fn of(status: &AgentStatus, now_ms: u64) -> Presence {
        let heard_lately = status
            .last_event_ms
            .is_some_and(|at| now_ms.saturating_sub(at) <= LIVE_MS);
        let connection = match (status.problem, heard_lately) {
            (Some(p), _) => Connection::Down(p),
            (None, true) => Connection::Live,
            (None, false) => Connection::Connecting,
        };
        let availability = match (connection, status.channel_state) {
            (Connection::Live, Some(AgentState::Ready)) => Availability::Ready,
            (Connection::Live, _) => Availability::NotReady,
            _ => Availability::Unknown,
        };
        Presence {
            connection,
            availability,
        }
    }

    /// The banner's problem, if the desk shows one.
    pub fn banner(&self) -> Option<Problem> {
        match self.connection {
            Connection::Down(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the agent can switch Ready / Not ready now.
    pub fn can_switch(&self) -> bool {
        self.connection == Connection::Live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(
        last: Option<u64>,
        problem: Option<Problem>,
        state: Option<AgentState>,
    ) -> AgentStatus {
        AgentStatus {
            signed_in: true,
            channel_state: state,
            last_event_ms: last,
            problem,
            transport: None,
            unstored: false,
        }
    }

    #[test]
    fn heard_lately_and_ready_is_live_and_ready() {
        let p = Presence::of(&status(Some(1_000), None, Some(AgentState::Ready)), 2_000);
        assert_eq!(p.connection, Connection::Live);
        assert_eq!(p.availability, Availability::Ready);
        assert!(p.can_switch());
        assert_eq!(p.banner(), None);
    }

    #[test]
    fn a_problem_wins_over_a_recent_event_and_the_switch_stops_claiming_ready() {
        // The outage is reported seconds after the last event: the indicator must not stay
        // "connected" until the event is 45 s old.
        let s = status(
            Some(1_000),
            Some(Problem::ServerUnreachable),
            Some(AgentState::Ready),
        );
        let p = Presence::of(&s, 1_500);
        assert_eq!(p.connection, Connection::Down(Problem::ServerUnreachable));
        assert_eq!(p.banner(), Some(Problem::ServerUnreachable));
        assert_eq!(p.availability, Availability::Unknown);
        assert!(!p.can_switch());
    }

    #[test]
    fn an_old_event_is_connecting() {
        let s = status(Some(1_000), None, Some(AgentState::NotReady));
        assert_eq!(
            Presence::of(&s, 1_000 + LIVE_MS).connection,
            Connection::Live
        );
        let later = Presence::of(&s, 1_000 + LIVE_MS + 1);
        assert_eq!(later.connection, Connection::Connecting);
        assert_eq!(later.availability, Availability::Unknown);
        assert_eq!(later.banner(), None);
    }

    #[test]
    fn recovering_clears_the_banner_and_shows_the_servers_state_again() {
        let mut s = status(
            Some(1_000),
            Some(Problem::ServerUnreachable),
            Some(AgentState::Ready),
        );
        crate::protocol::StatusChange::Connected { at_ms: 90_000 }.apply(&mut s);
        let p = Presence::of(&s, 90_001);
        assert_eq!(p.connection, Connection::Live);
        assert_eq!(p.banner(), None);
        assert_eq!(p.availability, Availability::Ready);
    }

    #[test]
    fn never_heard_is_connecting_and_any_other_server_state_is_not_ready() {
        assert_eq!(
            Presence::of(&status(None, None, None), 5).connection,
            Connection::Connecting
        );
        let other = Presence::of(&status(Some(5), None, Some(AgentState::Other)), 6);
        assert_eq!(other.availability, Availability::NotReady);
    }
}
