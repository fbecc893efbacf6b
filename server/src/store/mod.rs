//! Persistence: every agent, chat, transcript message and routing fact in SQLite (WAL,
//! `synchronous=FULL`), behind this one module. A message is committed before anyone is told
//! about it; per chat, indices strictly increase and never repeat (the next index lives in the
//! chat row and moves in the same transaction as the insert).
//!
//! Scaling past one machine means another implementation of this module (PostgreSQL), not a
//! change to its callers. One file per table group: `agents` (agents, their state),
//! `chats` (chats, refusals, transcripts), `cobrowse` (co-browse sessions, their participants,
//! pages, tickets and views); each owns its tables' schema.

mod agents;
mod chats;
mod cobrowse;

use std::path::Path;

use rusqlite::Connection;

pub use agents::{AgentRow, AgentState};
pub use cobrowse::{CobrowseRow, CobrowseState, CobrowseUser};

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

impl Store {
    pub fn open(path: &Path) -> StoreResult<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Durable before acknowledged: fsync on every commit.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(agents::SCHEMA)?;
        conn.execute_batch(chats::SCHEMA)?;
        conn.execute_batch(cobrowse::SCHEMA)?;
        Ok(Store { conn })
    }
}
