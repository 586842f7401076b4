//! Durable state in the data directory: one embedded transactional database
//! (redb) holding deployments, components and message history.
//!
//! Every write that the node acknowledges is committed with immediate
//! durability (fsync) first, so it survives `kill -9` and power loss.
//!
//! # Layout
//! - [`history`]: per-channel message history, bounded, in timetoken order;
//! - [`deployments`]: deployed functions and their components;
//! - [`kv`]: the functions' key-value store;
//! - [`revocations`]: revoked access tokens;
//! - [`groups`]: channel groups;
//! - [`actions`]: message actions;
//! - [`objects`]: App Context objects;
//! - [`files`]: shared files' records (their bytes live in `files/`).

pub mod actions;
pub mod deployments;
pub mod files;
pub mod groups;
pub mod history;
pub mod kv;
pub mod objects;
pub mod revocations;

use std::path::Path;

use redb::{Database, ReadableDatabase, TableDefinition};

/// History: (channel, timetoken) → stored message (JSON).
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
/// How many messages each channel's history holds.
const HISTORY_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("history_counts");
/// Node-wide counters, e.g. the last timetoken handed out.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// Deployed functions: name → deployment record (JSON).
const DEPLOYMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("deployments");
/// Components by content hash (hex SHA-256) → Wasm bytes.
const COMPONENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("components");
/// The functions' key-value store: key → (expiry in Unix ms or 0, value).
const KV: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("kv");
/// Revoked tokens: signature → expiry of the token (Unix seconds).
const REVOKED: TableDefinition<&[u8], u64> = TableDefinition::new("revoked_tokens");
/// Channel groups: name → its channels (JSON list).
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("channel_groups");

/// A failure of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("storage error: {0}")]
    Db(#[from] redb::Error),
    /// A record could not be decoded.
    #[error("stored record `{key}` is corrupt: {reason}")]
    Corrupt {
        /// Which record.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A blocking store task failed to run.
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(e.into())
}

/// The node's database.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    ///
    /// # Errors
    /// When the file cannot be created, is locked by another process or is corrupt.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let db = Database::create(data_dir.join("edgefn.redb")).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(HISTORY).map_err(db_err)?;
        txn.open_table(HISTORY_COUNTS).map_err(db_err)?;
        txn.open_table(history::TRIMMED).map_err(db_err)?;
        txn.open_table(COUNTERS).map_err(db_err)?;
        txn.open_table(DEPLOYMENTS).map_err(db_err)?;
        txn.open_table(COMPONENTS).map_err(db_err)?;
        txn.open_table(KV).map_err(db_err)?;
        txn.open_table(REVOKED).map_err(db_err)?;
        txn.open_table(GROUPS).map_err(db_err)?;
        txn.open_table(actions::ACTIONS).map_err(db_err)?;
        txn.open_table(objects::OBJECTS).map_err(db_err)?;
        txn.open_table(objects::MEMBERSHIPS).map_err(db_err)?;
        txn.open_table(objects::MEMBERS).map_err(db_err)?;
        txn.open_table(files::FILES).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    fn read(&self) -> Result<redb::ReadTransaction> {
        self.db.begin_read().map_err(db_err)
    }

    fn write(&self) -> Result<redb::WriteTransaction> {
        self.db.begin_write().map_err(db_err)
    }
}

/// [`blocking`] as a boxed future whose error is the one of the domain
/// contract it serves (each converts from [`StoreError`]).
pub fn off_thread<T, E, F>(f: F) -> futures::future::BoxFuture<'static, Result<T, E>>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + 'static,
{
    Box::pin(async move { Ok(blocking(f).await?) })
}

/// Runs a blocking store operation off the async executor.
///
/// # Errors
/// The operation's own error, or [`StoreError::Task`] if it panicked.
pub async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}
