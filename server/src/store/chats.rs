//! The chats' tables: chats, who refused them (`chat_refusals`), and their transcripts
//! (`messages`, indexed per chat in the same transaction as the chat's next index).

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError, StoreResult};
use crate::model::{
    Author, ChatRow, ChatStatus, MessageKind, NewMessage, StoredMessage, Visibility,
};

pub(super) const SCHEMA: &str = "
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
    // ---- chats ----

    pub fn insert_chat(&self, chat: &ChatRow, first: &NewMessage) -> StoreResult<StoredMessage> {
        self.write(|c| {
        let tx = c.transaction()?;
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
        })
    }

    pub fn chat(&self, id: &str) -> StoreResult<ChatRow> {
        let sql = format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?1");
        self.read(|c| {
            c.query_row(&sql, params![id], chat_from_row)
                .optional()?
                .ok_or(StoreError::NotFound)
        })
    }

    fn chats_where(&self, clause: &str, value: &dyn rusqlite::ToSql) -> StoreResult<Vec<ChatRow>> {
        let sql =
            format!("SELECT {CHAT_COLUMNS} FROM chats WHERE {clause} ORDER BY created_ms, id");
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params![value], chat_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
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

    /// The chat that has waited longest in the queue.
    pub fn first_queued_chat(&self) -> StoreResult<Option<ChatRow>> {
        let sql = format!(
            "SELECT {CHAT_COLUMNS} FROM chats WHERE status = 'queued' ORDER BY created_ms, id LIMIT 1"
        );
        self.read(|c| Ok(c.query_row(&sql, [], chat_from_row).optional()?))
    }

    /// Queued chats requested before `created_before_ms` (those that waited too long).
    pub fn queued_before(&self, created_before_ms: i64) -> StoreResult<Vec<ChatRow>> {
        self.chats_where("status = 'queued' AND created_ms < ?1", &created_before_ms)
    }

    pub fn offered_chats(&self) -> StoreResult<Vec<ChatRow>> {
        self.chats_where("status = ?1", &"offered")
    }

    /// Writes the routing and lifecycle columns of `chat`.
    pub fn update_chat(&self, chat: &ChatRow) -> StoreResult<()> {
        self.write(|c| {
        c.execute(
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
        })
    }

    /// Agents holding at least one offered or active chat.
    pub fn agents_with_chats(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT DISTINCT agent_id FROM chats WHERE status IN ('offered', 'active') AND agent_id IS NOT NULL")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn add_refusal(&self, chat_id: &str, agent_id: &str) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT OR IGNORE INTO chat_refusals (chat_id, agent_id) VALUES (?1, ?2)",
                params![chat_id, agent_id],
            )?;
            Ok(())
        })
    }

    /// The index the next transcript entry of `chat_id` will get.
    pub fn next_index(&self, chat_id: &str) -> StoreResult<i64> {
        self.read(|c| {
            c.query_row(
                "SELECT next_index FROM chats WHERE id = ?1",
                params![chat_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Forgets who refused a chat; returns how many had.
    pub fn clear_refusals(&self, chat_id: &str) -> StoreResult<usize> {
        self.write(|c| {
            Ok(c.execute(
                "DELETE FROM chat_refusals WHERE chat_id = ?1",
                params![chat_id],
            )?)
        })
    }

    // ---- transcript ----

    /// Appends messages to a chat's transcript in one transaction; returns them with indices.
    pub fn append(
        &self,
        chat_id: &str,
        messages: &[NewMessage],
    ) -> StoreResult<Vec<StoredMessage>> {
        self.write(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(messages.len());
            for m in messages {
                out.push(append_in(&tx, chat_id, m)?);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    /// Messages with `index >= from`, at most `count`.
    pub fn messages(
        &self,
        chat_id: &str,
        from: i64,
        count: i64,
    ) -> StoreResult<Vec<StoredMessage>> {
        self.read(|c| {
        let mut stmt = c.prepare(
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
        })
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
