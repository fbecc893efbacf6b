//! How notifications reach agents: the one interface a deployment on several nodes would
//! replace (each node delivering to its own CometD sessions, the nodes joined by PostgreSQL
//! LISTEN/NOTIFY or Redis pub/sub). The embedded server has one node: its Bayeux engine.

use serde_json::Value;

use super::AgentBayeux;

pub trait Fanout: Send + Sync {
    /// Delivers `data` on `channel` to every CometD session of agent `agent_id`; kept for the
    /// agent while they have none (e.g. re-handshaking).
    fn deliver(&self, agent_id: &str, channel: &str, data: Value);
    /// Whether the agent has a live CometD session.
    fn is_connected(&self, agent_id: &str) -> bool;
    /// Ends every CometD session of the agent (sign-out).
    fn disconnect(&self, agent_id: &str);
}

impl Fanout for AgentBayeux {
    fn deliver(&self, agent_id: &str, channel: &str, data: Value) {
        self.deliver_to_principal(&agent_id.to_owned(), channel, data);
    }

    fn is_connected(&self, agent_id: &str) -> bool {
        self.has_session(&agent_id.to_owned())
    }

    fn disconnect(&self, agent_id: &str) {
        self.forget_principal(&agent_id.to_owned());
    }
}
