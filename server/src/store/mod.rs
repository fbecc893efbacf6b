//! Persistence: every agent, chat, transcript message and routing fact in SQLite (WAL,
//! `synchronous=FULL`), behind this one module. A message is committed before anyone is told
//! about it; per chat, indices strictly increase and never repeat (the next index lives in the
//! chat row and moves in the same transaction as the insert).
//!
//! No global lock: one writer connection (SQLite takes one writer at a time anyway; a write
//! holds it for its statement or transaction only) and a few reader connections that WAL lets
//! read while a write commits, so one chat's reads never wait for another chat's fsync. Every
//! call runs its SQL through [`blocking`]: on the server's multi-thread runtime the worker
//! thread hands its other tasks to the rest of the pool first, so database work never stalls
//! requests it has nothing to do with. A read-modify-write runs in one transaction on the
//! writer ([`Store::update_agent_state`]).
//!
//! Scaling past one machine means another implementation of this module (PostgreSQL), not a
//! change to its callers. One file per table group: `agents` (agents, their state),
//! `chats` (chats, refusals, transcripts), `cobrowse` (co-browse sessions, their participants,
//! pages, tickets and views); each owns its tables' schema.

mod agents;
mod chats;
mod cobrowse;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

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

/// How many reader connections: enough for the server's worker threads and the blocking pool's
/// usual load on a small machine; a reader beyond them waits for one in turn.
const READERS: usize = 4;

pub struct Store {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Runs blocking database work: on a multi-thread tokio runtime through `block_in_place` (the
/// worker's other tasks move to other threads meanwhile), inline anywhere else.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

fn locked(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
        let readers = (0..READERS)
            .map(|_| {
                let r = Connection::open(path)?;
                r.busy_timeout(std::time::Duration::from_secs(5))?;
                r.pragma_update(None, "query_only", "ON")?;
                Ok(Mutex::new(r))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Store {
            writer: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// `work` on the writer connection (writes, and reads that must see them in one
    /// transaction).
    fn write<T>(&self, work: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| work(&mut locked(&self.writer)))
    }

    /// `work` on a reader connection: any idle one, else the next in turn.
    fn read<T>(&self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| {
            let idle = self.readers.iter().find_map(|r| r.try_lock().ok());
            let conn = idle.unwrap_or_else(|| {
                let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
                locked(&self.readers[i])
            });
            work(&conn)
        })
    }
}
