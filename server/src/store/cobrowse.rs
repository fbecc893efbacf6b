//! The co-browse tables: sessions (token, state, the chat they are bound to, who joined,
//! lifecycle times), their CometD participants (`cobrowse_users`), the pages the customer
//! visited (history), and the agents' join tickets and the views they were exchanged for.
//!
//! A live token is unique among live sessions (a partial unique index); an ended session keeps
//! its row for history, its token free again.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError, StoreResult};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cobrowse_sessions (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    state TEXT NOT NULL,
    chat_id TEXT,
    customer_token TEXT NOT NULL,
    agent_id TEXT,
    created_ms INTEGER NOT NULL,
    idle_deadline_ms INTEGER NOT NULL,
    activated_ms INTEGER,
    deactivated_ms INTEGER,
    end_reason TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS cobrowse_live_token ON cobrowse_sessions(token) WHERE state != 'ended';
CREATE INDEX IF NOT EXISTS cobrowse_by_chat ON cobrowse_sessions(chat_id, state);
CREATE INDEX IF NOT EXISTS cobrowse_by_agent ON cobrowse_sessions(agent_id, state);
CREATE INDEX IF NOT EXISTS cobrowse_by_deadline ON cobrowse_sessions(state, idle_deadline_ms);
CREATE TABLE IF NOT EXISTS cobrowse_users (
    user_token TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES cobrowse_sessions(id),
    user_id INTEGER NOT NULL,
    role INTEGER NOT NULL,
    name TEXT NOT NULL,
    agent_id TEXT,
    client_id TEXT
);
CREATE INDEX IF NOT EXISTS cobrowse_users_by_session ON cobrowse_users(session_id);
CREATE TABLE IF NOT EXISTS cobrowse_pages (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES cobrowse_sessions(id),
    entered_ms INTEGER NOT NULL,
    url TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cobrowse_pages_by_session ON cobrowse_pages(session_id, n);
CREATE TABLE IF NOT EXISTS cobrowse_tickets (
    ticket TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES cobrowse_sessions(id),
    agent_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cobrowse_views (
    view TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES cobrowse_sessions(id),
    agent_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
";

/// Where a co-browse session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CobrowseState {
    /// Created; no agent has joined yet.
    Idle,
    /// An agent joined.
    Active,
    Ended,
}

impl CobrowseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CobrowseState::Idle => "idle",
            CobrowseState::Active => "active",
            CobrowseState::Ended => "ended",
        }
    }

    fn parse(s: &str) -> CobrowseState {
        match s {
            "idle" => CobrowseState::Idle,
            "active" => CobrowseState::Active,
            _ => CobrowseState::Ended,
        }
    }

    pub fn is_live(self) -> bool {
        self != CobrowseState::Ended
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CobrowseRow {
    /// The history id (a UUID): what logs and reports name.
    pub id: String,
    /// The 9-digit live token: a secret while the session lives.
    pub token: String,
    pub state: CobrowseState,
    /// The chat it is bound to; `None`: made without a chat identity (read-the-digits).
    pub chat_id: Option<String>,
    /// What the customer's page presents to stream into it (our addition).
    pub customer_token: String,
    /// The agent who joined.
    pub agent_id: Option<String>,
    pub created_ms: i64,
    /// Ends by itself at this time if no agent joined.
    pub idle_deadline_ms: i64,
    pub activated_ms: Option<i64>,
    pub deactivated_ms: Option<i64>,
    pub end_reason: Option<String>,
}

/// A participant over CometD (or an agent's view): who, in which role, with which token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CobrowseUser {
    pub user_token: String,
    pub session_id: String,
    pub user_id: i64,
    pub role: i64,
    pub name: String,
    pub agent_id: Option<String>,
    /// The CometD client to notify, if it joined over CometD.
    pub client_id: Option<String>,
}

const COLUMNS: &str = "id, token, state, chat_id, customer_token, agent_id, created_ms, \
    idle_deadline_ms, activated_ms, deactivated_ms, end_reason";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CobrowseRow> {
    Ok(CobrowseRow {
        id: r.get(0)?,
        token: r.get(1)?,
        state: CobrowseState::parse(&r.get::<_, String>(2)?),
        chat_id: r.get(3)?,
        customer_token: r.get(4)?,
        agent_id: r.get(5)?,
        created_ms: r.get(6)?,
        idle_deadline_ms: r.get(7)?,
        activated_ms: r.get(8)?,
        deactivated_ms: r.get(9)?,
        end_reason: r.get(10)?,
    })
}

fn user(r: &rusqlite::Row<'_>) -> rusqlite::Result<CobrowseUser> {
    Ok(CobrowseUser {
        user_token: r.get(0)?,
        session_id: r.get(1)?,
        user_id: r.get(2)?,
        role: r.get(3)?,
        name: r.get(4)?,
        agent_id: r.get(5)?,
        client_id: r.get(6)?,
    })
}

impl Store {
    /// Inserts a new session; `Ok(false)` if its token is already live (draw another).
    pub fn insert_cobrowse(&self, s: &CobrowseRow) -> StoreResult<bool> {
        self.write(|c| {
        let r = c.execute(
            &format!("INSERT INTO cobrowse_sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![
                s.id,
                s.token,
                s.state.as_str(),
                s.chat_id,
                s.customer_token,
                s.agent_id,
                s.created_ms,
                s.idle_deadline_ms,
                s.activated_ms,
                s.deactivated_ms,
                s.end_reason
            ],
        );
        match r {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
            })
    }

    pub fn update_cobrowse(&self, s: &CobrowseRow) -> StoreResult<()> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE cobrowse_sessions SET state = ?2, agent_id = ?3, activated_ms = ?4,
                 deactivated_ms = ?5, end_reason = ?6 WHERE id = ?1",
                params![
                    s.id,
                    s.state.as_str(),
                    s.agent_id,
                    s.activated_ms,
                    s.deactivated_ms,
                    s.end_reason
                ],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn cobrowse_where(
        &self,
        clause: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<CobrowseRow>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM cobrowse_sessions WHERE {clause}"
            ))?;
            let rows = stmt.query_map(values, row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The live session with this token.
    pub fn live_cobrowse_by_token(&self, token: &str) -> StoreResult<Option<CobrowseRow>> {
        Ok(self
            .cobrowse_where("token = ?1 AND state != 'ended'", &[&token])?
            .into_iter()
            .next())
    }

    /// A session by its history id.
    pub fn cobrowse(&self, id: &str) -> StoreResult<CobrowseRow> {
        self.cobrowse_where("id = ?1", &[&id])?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    /// The live sessions bound to a chat.
    pub fn live_cobrowse_of_chat(&self, chat_id: &str) -> StoreResult<Vec<CobrowseRow>> {
        self.cobrowse_where("chat_id = ?1 AND state != 'ended'", &[&chat_id])
    }

    /// The session an agent is in now (joined, live), if any.
    pub fn active_cobrowse_of_agent(&self, agent_id: &str) -> StoreResult<Option<CobrowseRow>> {
        Ok(self
            .cobrowse_where("agent_id = ?1 AND state = 'active'", &[&agent_id])?
            .into_iter()
            .next())
    }

    /// How many sessions of this chat an agent joined so far (for `CoBrowseSessionsQuantity`).
    pub fn activated_cobrowse_count(&self, chat_id: &str) -> StoreResult<i64> {
        self.read(|c| {
        Ok(c.query_row(
            "SELECT COUNT(*) FROM cobrowse_sessions WHERE chat_id = ?1 AND activated_ms IS NOT NULL",
            params![chat_id],
            |r| r.get(0),
        )?)
            })
    }

    /// Idle sessions whose deadline passed.
    pub fn idle_cobrowse_due(&self, now_ms: i64) -> StoreResult<Vec<CobrowseRow>> {
        self.cobrowse_where("state = 'idle' AND idle_deadline_ms <= ?1", &[&now_ms])
    }

    /// Every live session (at start-up: whose customer pages must come back).
    pub fn live_cobrowse(&self) -> StoreResult<Vec<CobrowseRow>> {
        self.cobrowse_where("state != 'ended'", &[])
    }

    // ---- participants ----

    pub fn insert_cobrowse_user(&self, u: &CobrowseUser) -> StoreResult<()> {
        self.write(|c| {
        c.execute(
            "INSERT INTO cobrowse_users (user_token, session_id, user_id, role, name, agent_id, client_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![u.user_token, u.session_id, u.user_id, u.role, u.name, u.agent_id, u.client_id],
        )?;
        Ok(())
            })
    }

    pub fn cobrowse_users(&self, session_id: &str) -> StoreResult<Vec<CobrowseUser>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT user_token, session_id, user_id, role, name, agent_id, client_id
             FROM cobrowse_users WHERE session_id = ?1 ORDER BY user_id",
            )?;
            let rows = stmt.query_map(params![session_id], user)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn cobrowse_user(&self, user_token: &str) -> StoreResult<Option<CobrowseUser>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT user_token, session_id, user_id, role, name, agent_id, client_id
                 FROM cobrowse_users WHERE user_token = ?1",
                params![user_token],
                user,
            )
            .optional()?)
        })
    }

    // ---- history ----

    pub fn add_cobrowse_page(
        &self,
        session_id: &str,
        entered_ms: i64,
        url: &str,
    ) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO cobrowse_pages (session_id, entered_ms, url) VALUES (?1, ?2, ?3)",
                params![session_id, entered_ms, url],
            )?;
            Ok(())
        })
    }

    /// `(entered_ms, url)` in the order visited.
    pub fn cobrowse_pages(&self, session_id: &str) -> StoreResult<Vec<(i64, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT entered_ms, url FROM cobrowse_pages WHERE session_id = ?1 ORDER BY n",
            )?;
            let rows = stmt.query_map(params![session_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    // ---- tickets and views ----

    pub fn insert_cobrowse_ticket(
        &self,
        ticket: &str,
        session_id: &str,
        agent_id: &str,
        expires_ms: i64,
    ) -> StoreResult<()> {
        self.write(|c| {
        c.execute(
            "DELETE FROM cobrowse_tickets WHERE expires_ms < ?1",
            params![expires_ms - 3_600_000],
        )?;
        c.execute(
            "INSERT INTO cobrowse_tickets (ticket, session_id, agent_id, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![ticket, session_id, agent_id, expires_ms],
        )?;
        Ok(())
            })
    }

    /// Takes a ticket (single use): its session and agent, if it exists and has not expired.
    pub fn take_cobrowse_ticket(
        &self,
        ticket: &str,
        now_ms: i64,
    ) -> StoreResult<Option<(String, String)>> {
        self.write(|c| {
            let tx = c.transaction()?;
            let found: Option<(String, String, i64)> = tx
            .query_row(
                "SELECT session_id, agent_id, expires_ms FROM cobrowse_tickets WHERE ticket = ?1",
                params![ticket],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            tx.execute(
                "DELETE FROM cobrowse_tickets WHERE ticket = ?1",
                params![ticket],
            )?;
            tx.commit()?;
            Ok(found
                .filter(|(_, _, expires)| *expires > now_ms)
                .map(|(s, a, _)| (s, a)))
        })
    }

    pub fn insert_cobrowse_view(
        &self,
        view: &str,
        session_id: &str,
        agent_id: &str,
        created_ms: i64,
    ) -> StoreResult<()> {
        self.write(|c| {
        c.execute(
            "INSERT INTO cobrowse_views (view, session_id, agent_id, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![view, session_id, agent_id, created_ms],
        )?;
        Ok(())
            })
    }

    /// The session and agent of a view.
    pub fn cobrowse_view(&self, view: &str) -> StoreResult<Option<(String, String)>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT session_id, agent_id FROM cobrowse_views WHERE view = ?1",
                params![view],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
    }
}
