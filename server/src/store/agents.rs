//! The agents' tables: who they are (`agents`) and where they are (`agent_state`: session,
//! ready, idle since), and which of them can take a chat now.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError, StoreResult};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    max_chats INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_state (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id),
    in_session INTEGER NOT NULL,
    ready INTEGER NOT NULL,
    idle_since_ms INTEGER NOT NULL
);
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: String,
    pub user_name: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub max_chats: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentState {
    pub in_session: bool,
    pub ready: bool,
    /// When the agent last became free (ready with no chat), for longest-idle routing.
    pub idle_since_ms: i64,
}

impl Store {
    pub fn upsert_agent(&self, a: &AgentRow) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO agents (id, user_name, password_hash, first_name, last_name, max_chats)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(user_name) DO UPDATE SET password_hash = excluded.password_hash,
                   first_name = excluded.first_name, last_name = excluded.last_name, max_chats = excluded.max_chats",
                params![a.id, a.user_name, a.password_hash, a.first_name, a.last_name, a.max_chats],
            )?;
            Ok(())
        })
    }

    fn agent_where(&self, clause: &str, value: &str) -> StoreResult<Option<AgentRow>> {
        let sql = format!("SELECT id, user_name, password_hash, first_name, last_name, max_chats FROM agents WHERE {clause} = ?1");
        self.read(|c| {
            Ok(c.query_row(&sql, params![value], |r| {
                Ok(AgentRow {
                    id: r.get(0)?,
                    user_name: r.get(1)?,
                    password_hash: r.get(2)?,
                    first_name: r.get(3)?,
                    last_name: r.get(4)?,
                    max_chats: r.get(5)?,
                })
            })
            .optional()?)
        })
    }

    pub fn agent_by_user(&self, user_name: &str) -> StoreResult<Option<AgentRow>> {
        self.agent_where("user_name", user_name)
    }

    pub fn agent(&self, id: &str) -> StoreResult<Option<AgentRow>> {
        self.agent_where("id", id)
    }

    pub fn agent_state(&self, agent_id: &str) -> StoreResult<AgentState> {
        self.read(|c| agent_state_in(c, agent_id))
    }

    /// Changes an agent's state in one transaction (read, `change`, write), so two changes at
    /// once never lose one another. `change` may refuse: nothing is written then.
    pub fn update_agent_state<E: From<StoreError>>(
        &self,
        agent_id: &str,
        change: impl FnOnce(&mut AgentState) -> Result<(), E>,
    ) -> Result<AgentState, E> {
        let outcome = self.write(|c| {
            let tx = c.transaction()?;
            let mut s = agent_state_in(&tx, agent_id)?;
            if let Err(refused) = change(&mut s) {
                return Ok(Err(refused));
            }
            set_agent_state_in(&tx, agent_id, s)?;
            tx.commit()?;
            Ok(Ok(s))
        });
        outcome?
    }

    /// Whether any ready agent in a session has room for another chat (routing has nothing to
    /// do otherwise, however long the queue).
    pub fn any_free_agent(&self) -> StoreResult<bool> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM agents a JOIN agent_state s ON s.agent_id = a.id
                 WHERE s.in_session = 1 AND s.ready = 1
                   AND (SELECT COUNT(*) FROM chats c WHERE c.agent_id = a.id AND c.status IN ('offered', 'active')) < a.max_chats)",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Whether `agent_id` is in a session with room for another chat (a transfer target).
    pub fn can_take_chat(&self, agent_id: &str) -> StoreResult<bool> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM agents a JOIN agent_state s ON s.agent_id = a.id
                 WHERE a.id = ?1 AND s.in_session = 1
                   AND (SELECT COUNT(*) FROM chats c WHERE c.agent_id = a.id AND c.status IN ('offered', 'active')) < a.max_chats)",
                params![agent_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Ready agents in a contact-center session with free capacity for `chat_id`, longest idle
    /// first, excluding agents who refused it.
    pub fn routable_agents(&self, chat_id: &str) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT a.id FROM agents a JOIN agent_state s ON s.agent_id = a.id
                 WHERE s.in_session = 1 AND s.ready = 1
                   AND a.id NOT IN (SELECT agent_id FROM chat_refusals WHERE chat_id = ?1)
                   AND (SELECT COUNT(*) FROM chats c WHERE c.agent_id = a.id AND c.status IN ('offered', 'active')) < a.max_chats
                 ORDER BY s.idle_since_ms ASC, a.user_name ASC",
            )?;
            let rows = stmt.query_map(params![chat_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

fn agent_state_in(c: &Connection, agent_id: &str) -> StoreResult<AgentState> {
    Ok(c.query_row(
        "SELECT in_session, ready, idle_since_ms FROM agent_state WHERE agent_id = ?1",
        params![agent_id],
        |r| {
            Ok(AgentState {
                in_session: r.get(0)?,
                ready: r.get(1)?,
                idle_since_ms: r.get(2)?,
            })
        },
    )
    .optional()?
    .unwrap_or(AgentState {
        in_session: false,
        ready: false,
        idle_since_ms: 0,
    }))
}

fn set_agent_state_in(c: &Connection, agent_id: &str, s: AgentState) -> StoreResult<()> {
    c.execute(
        "INSERT INTO agent_state (agent_id, in_session, ready, idle_since_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(agent_id) DO UPDATE SET in_session = excluded.in_session, ready = excluded.ready,
           idle_since_ms = excluded.idle_since_ms",
        params![agent_id, s.in_session, s.ready, s.idle_since_ms],
    )?;
    Ok(())
}
