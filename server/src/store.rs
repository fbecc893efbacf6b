//! Persistence: every agent, chat, transcript message and routing fact in SQLite (WAL,
//! `synchronous=FULL`), behind this one module. A message is committed before anyone is told
//! about it; per chat, indices strictly increase and never repeat (the next index lives in the
//! chat row and moves in the same transaction as the insert).
//!
//! Scaling past one machine means another implementation of this module (PostgreSQL), not a
//! change to its callers.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::model::{
    Author, ChatRow, ChatStatus, MessageKind, NewMessage, StoredMessage, Visibility,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("not found")]
    NotFound,
}

pub type StoreResult<T> = Result<T, StoreError>;

pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

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

const SCHEMA: &str = "
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
CREATE TABLE IF NOT EXISTS chats (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    agent_id TEXT,
    agent_participant TEXT,
    agent_nickname TEXT,
    invite_deadline_ms INTEGER,
    customer_user_id TEXT NOT NULL,
    secure_key TEXT NOT NULL,
    alias TEXT NOT NULL,
    customer_participant TEXT NOT NULL,
    nickname TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    user_data TEXT NOT NULL,
    customer_left INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    next_index INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chats_by_status ON chats(status, created_ms);
CREATE INDEX IF NOT EXISTS chats_by_agent ON chats(agent_id, status);
CREATE TABLE IF NOT EXISTS chat_refusals (
    chat_id TEXT NOT NULL REFERENCES chats(id),
    agent_id TEXT NOT NULL,
    PRIMARY KEY (chat_id, agent_id)
);
CREATE TABLE IF NOT EXISTS messages (
    chat_id TEXT NOT NULL REFERENCES chats(id),
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    from_role TEXT NOT NULL,
    from_nickname TEXT NOT NULL,
    from_participant TEXT NOT NULL,
    from_number INTEGER NOT NULL,
    text TEXT,
    visibility TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (chat_id, idx)
);
";

fn status_text(s: ChatStatus) -> &'static str {
    match s {
        ChatStatus::Queued => "queued",
        ChatStatus::Offered => "offered",
        ChatStatus::Active => "active",
        ChatStatus::Ended => "ended",
    }
}

fn parse_status(s: &str) -> ChatStatus {
    match s {
        "offered" => ChatStatus::Offered,
        "active" => ChatStatus::Active,
        "ended" => ChatStatus::Ended,
        _ => ChatStatus::Queued,
    }
}

const CHAT_COLUMNS: &str = "id, service, status, agent_id, agent_participant, agent_nickname, invite_deadline_ms, \
     customer_user_id, secure_key, alias, customer_participant, nickname, subject, email, user_data, customer_left, \
     created_ms, ended_ms";

fn chat_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChatRow> {
    Ok(ChatRow {
        id: r.get(0)?,
        service: r.get(1)?,
        status: parse_status(&r.get::<_, String>(2)?),
        agent_id: r.get(3)?,
        agent_participant: r.get(4)?,
        agent_nickname: r.get(5)?,
        invite_deadline_ms: r.get(6)?,
        customer_user_id: r.get(7)?,
        secure_key: r.get(8)?,
        alias: r.get(9)?,
        customer_participant: r.get(10)?,
        nickname: r.get(11)?,
        subject: r.get(12)?,
        email: r.get(13)?,
        user_data: serde_json::from_str(&r.get::<_, String>(14)?).unwrap_or_default(),
        customer_left: r.get(15)?,
        created_ms: r.get(16)?,
        ended_ms: r.get(17)?,
    })
}

impl Store {
    pub fn open(path: &Path) -> StoreResult<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Durable before acknowledged: fsync on every commit.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    // ---- agents ----

    pub fn upsert_agent(&self, a: &AgentRow) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO agents (id, user_name, password_hash, first_name, last_name, max_chats)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(user_name) DO UPDATE SET password_hash = excluded.password_hash,
               first_name = excluded.first_name, last_name = excluded.last_name, max_chats = excluded.max_chats",
            params![a.id, a.user_name, a.password_hash, a.first_name, a.last_name, a.max_chats],
        )?;
        Ok(())
    }

    fn agent_where(&self, clause: &str, value: &str) -> StoreResult<Option<AgentRow>> {
        let sql = format!("SELECT id, user_name, password_hash, first_name, last_name, max_chats FROM agents WHERE {clause} = ?1");
        Ok(self
            .conn
            .query_row(&sql, params![value], |r| {
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
    }

    pub fn agent_by_user(&self, user_name: &str) -> StoreResult<Option<AgentRow>> {
        self.agent_where("user_name", user_name)
    }

    pub fn agent(&self, id: &str) -> StoreResult<Option<AgentRow>> {
        self.agent_where("id", id)
    }

    pub fn agent_state(&self, agent_id: &str) -> StoreResult<AgentState> {
        Ok(self
            .conn
            .query_row(
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

    pub fn set_agent_state(&self, agent_id: &str, s: AgentState) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO agent_state (agent_id, in_session, ready, idle_since_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(agent_id) DO UPDATE SET in_session = excluded.in_session, ready = excluded.ready,
               idle_since_ms = excluded.idle_since_ms",
            params![agent_id, s.in_session, s.ready, s.idle_since_ms],
        )?;
        Ok(())
    }

    /// Ready agents in a contact-center session with free capacity for `chat_id`, longest idle
    /// first, excluding agents who refused it.
    pub fn routable_agents(&self, chat_id: &str) -> StoreResult<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT a.id FROM agents a JOIN agent_state s ON s.agent_id = a.id
             WHERE s.in_session = 1 AND s.ready = 1
               AND a.id NOT IN (SELECT agent_id FROM chat_refusals WHERE chat_id = ?1)
               AND (SELECT COUNT(*) FROM chats c WHERE c.agent_id = a.id AND c.status IN ('offered', 'active')) < a.max_chats
             ORDER BY s.idle_since_ms ASC, a.user_name ASC",
        )?;
        let rows = stmt.query_map(params![chat_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- chats ----

    pub fn insert_chat(
        &mut self,
        chat: &ChatRow,
        first: &NewMessage,
    ) -> StoreResult<StoredMessage> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO chats (id, service, status, agent_id, agent_participant, agent_nickname, invite_deadline_ms,
               customer_user_id, secure_key, alias, customer_participant, nickname, subject, email, user_data,
               customer_left, created_ms, ended_ms, next_index)
             VALUES (?1, ?2, ?3, NULL, NULL, NULL, NULL, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, NULL, 1)",
            params![
                chat.id,
                chat.service,
                status_text(chat.status),
                chat.customer_user_id,
                chat.secure_key,
                chat.alias,
                chat.customer_participant,
                chat.nickname,
                chat.subject,
                chat.email,
                serde_json::to_string(&chat.user_data).unwrap_or_else(|_| "{}".into()),
                chat.created_ms
            ],
        )?;
        let m = append_in(&tx, &chat.id, first)?;
        tx.commit()?;
        Ok(m)
    }

    pub fn chat(&self, id: &str) -> StoreResult<ChatRow> {
        let sql = format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?1");
        self.conn
            .query_row(&sql, params![id], chat_from_row)
            .optional()?
            .ok_or(StoreError::NotFound)
    }

    fn chats_where(&self, clause: &str, value: &dyn rusqlite::ToSql) -> StoreResult<Vec<ChatRow>> {
        let sql =
            format!("SELECT {CHAT_COLUMNS} FROM chats WHERE {clause} ORDER BY created_ms, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![value], chat_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The chats an agent holds (offered or active).
    pub fn agent_chats(&self, agent_id: &str) -> StoreResult<Vec<ChatRow>> {
        self.chats_where(
            "agent_id = ?1 AND status IN ('offered', 'active')",
            &agent_id,
        )
    }

    pub fn queued_chats(&self) -> StoreResult<Vec<ChatRow>> {
        self.chats_where("status = ?1", &"queued")
    }

    pub fn offered_chats(&self) -> StoreResult<Vec<ChatRow>> {
        self.chats_where("status = ?1", &"offered")
    }

    /// Writes the routing and lifecycle columns of `chat`.
    pub fn update_chat(&self, chat: &ChatRow) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE chats SET status = ?2, agent_id = ?3, agent_participant = ?4, agent_nickname = ?5,
               invite_deadline_ms = ?6, customer_left = ?7, ended_ms = ?8, user_data = ?9, nickname = ?10,
               service = ?11
             WHERE id = ?1",
            params![
                chat.id,
                status_text(chat.status),
                chat.agent_id,
                chat.agent_participant,
                chat.agent_nickname,
                chat.invite_deadline_ms,
                chat.customer_left,
                chat.ended_ms,
                serde_json::to_string(&chat.user_data).unwrap_or_else(|_| "{}".into()),
                chat.nickname,
                chat.service,
            ],
        )?;
        Ok(())
    }

    /// Agents holding at least one offered or active chat.
    pub fn agents_with_chats(&self) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT agent_id FROM chats WHERE status IN ('offered', 'active') AND agent_id IS NOT NULL")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_refusal(&self, chat_id: &str, agent_id: &str) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO chat_refusals (chat_id, agent_id) VALUES (?1, ?2)",
            params![chat_id, agent_id],
        )?;
        Ok(())
    }

    /// The index the next transcript entry of `chat_id` will get.
    pub fn next_index(&self, chat_id: &str) -> StoreResult<i64> {
        self.conn
            .query_row(
                "SELECT next_index FROM chats WHERE id = ?1",
                params![chat_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound)
    }

    /// Forgets who refused a chat; returns how many had.
    pub fn clear_refusals(&self, chat_id: &str) -> StoreResult<usize> {
        Ok(self.conn.execute(
            "DELETE FROM chat_refusals WHERE chat_id = ?1",
            params![chat_id],
        )?)
    }

    // ---- transcript ----

    /// Appends messages to a chat's transcript in one transaction; returns them with indices.
    pub fn append(
        &mut self,
        chat_id: &str,
        messages: &[NewMessage],
    ) -> StoreResult<Vec<StoredMessage>> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(append_in(&tx, chat_id, m)?);
        }
        tx.commit()?;
        Ok(out)
    }

    /// Messages with `index >= from`, at most `count`.
    pub fn messages(
        &self,
        chat_id: &str,
        from: i64,
        count: i64,
    ) -> StoreResult<Vec<StoredMessage>> {
        let mut stmt = self.conn.prepare(
            "SELECT idx, kind, from_role, from_nickname, from_participant, from_number, text, visibility, ts_ms
             FROM messages WHERE chat_id = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![chat_id, from, count], |r| {
            Ok(StoredMessage {
                index: r.get(0)?,
                kind: MessageKind::parse(&r.get::<_, String>(1)?),
                from: Author {
                    role: crate::model::Role::parse(&r.get::<_, String>(2)?),
                    nickname: r.get(3)?,
                    participant: r.get(4)?,
                    number: r.get(5)?,
                },
                text: r.get(6)?,
                visibility: if r.get::<_, String>(7)? == "Agents" {
                    Visibility::Agents
                } else {
                    Visibility::All
                },
                ts_ms: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn append_in(
    tx: &rusqlite::Transaction<'_>,
    chat_id: &str,
    m: &NewMessage,
) -> StoreResult<StoredMessage> {
    let index: i64 = tx
        .query_row(
            "SELECT next_index FROM chats WHERE id = ?1",
            params![chat_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    tx.execute(
        "INSERT INTO messages (chat_id, idx, kind, from_role, from_nickname, from_participant, from_number, text, visibility, ts_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            chat_id,
            index,
            m.kind.as_str(),
            m.from.role.as_str(),
            m.from.nickname,
            m.from.participant,
            m.from.number,
            m.text,
            if m.visibility == Visibility::Agents { "Agents" } else { "All" },
            m.ts_ms
        ],
    )?;
    tx.execute(
        "UPDATE chats SET next_index = ?2 WHERE id = ?1",
        params![chat_id, index + 1],
    )?;
    Ok(StoredMessage {
        index,
        kind: m.kind,
        from: m.from.clone(),
        text: m.text.clone(),
        visibility: m.visibility,
        ts_ms: m.ts_ms,
    })
}
