//! Embedded SQLite: the same tables without the `private` schema. UUIDs are stored as
//! lower-case hyphenated text, timestamps in one canonical text form (text order = time order),
//! JSON as text. Writes run in `BEGIN IMMEDIATE` transactions so concurrent ingests queue on the
//! busy timeout instead of failing on a lock upgrade. Batch writes are multi-row `VALUES`
//! upserts, chunked only to stay under SQLite's bound-parameter limit. Concurrent ingest
//! requests are written by one task, those that queue up meanwhile together (`group`).

//!
//! The store (`mod.rs`: connections, reads, the backend's operations), its one writer
//! (`writer.rs`: the write turn, group commit, WAL checkpoints), its write transaction and
//! upserts (`tx.rs`), and its column encodings (`rows.rs`).

mod rows;
mod tx;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use northstar_wire::Batch;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use uuid::Uuid;

use crate::backend::Backend;
use crate::ingest::group::Groups;
use crate::migrations::Embedded;
use crate::query::sql::{Dialect, Reader, Sql};
use crate::{IngestCounts, StoreError, TraceBatch, TraceCounts};
use rows::bound;
pub(crate) use tx::LiteTx;
use writer::{Writer, checkpoints};

/// The embedded SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// This process's changes to this database file.
    feed: crate::changes::Feed,
    writer: Writer,
    /// Ingest requests, written in groups (see `group`): native batches, and spans of a
    /// tracing protocol.
    groups: std::sync::Arc<Groups<Writer, Batch>>,
    traces: std::sync::Arc<Groups<Writer, TraceBatch>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`).
    ///
    /// # Errors
    ///
    /// When the URL does not parse or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::with_options(SqliteConnectOptions::from_str(url)?, in_memory).await
    }

    /// Opens the database file at `path`, creating it if missing. Unlike a URL, any path works
    /// (spaces, `?`, `#`).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or created.
    pub async fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        private_file(path)?;
        Self::with_options(SqliteConnectOptions::new().filename(path), false).await
    }

    async fn with_options(options: SqliteConnectOptions, in_memory: bool) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // Checkpoints run beside the writer (`checkpoints`); a committing writer copies
            // the WAL back itself only past 40 MB, if they fall that far behind.
            .pragma("wal_autocheckpoint", "10000");
        // An in-memory database exists per connection: keep exactly one.
        let max = if in_memory { 1 } else { 8 };
        // No ping before each use: a connection to a local file does not go stale, and the
        // ping was one more round trip to the connection's thread per statement sequence.
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        // Writes (one at a time anyway) go through a connection of their own: always the same
        // connection thread, whose allocator keeps one batch's worth of memory, rather than
        // whichever of the readers' threads each batch happened to get.
        let write_pool = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(options.clone()).await?
        };
        let feed = crate::changes::Feed::of_file((!in_memory).then(|| options.get_filename()));
        let committed = std::sync::Arc::new(tokio::sync::Notify::new());
        if !in_memory {
            tokio::spawn(checkpoints(options, std::sync::Arc::downgrade(&committed)));
        }
        let turn = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let writer = Writer { pool: write_pool, turn, committed, feed: feed.clone() };
        let (groups, traces) = (Groups::new(writer.clone()), Groups::new(writer.clone()));
        Ok(Self { pool, feed, groups: std::sync::Arc::new(groups), traces: std::sync::Arc::new(traces), writer })
    }

    /// Changes committed by this process to this database file, from now on.
    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::changes::Change> {
        self.feed.subscribe()
    }

    /// Tells this process's subscribers about a committed write.
    pub(crate) fn announce(&self, change: crate::changes::Change) {
        self.feed.send(change);
    }

    /// This process's write turn, held until dropped (as a long write would).
    #[cfg(test)]
    pub(crate) async fn hold_write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer.turn.clone().lock_owned().await
    }

    /// How many ingest requests (native, tracing) a merged group write has stored.
    pub(crate) fn merged_requests(&self) -> u64 {
        self.groups.merged_requests() + self.traces.merged_requests()
    }
}

/// Creates the database file readable by its owner only, if missing (SQLite gives its WAL and
/// shared-memory files the database file's permissions): traces are nobody else's to read.
fn private_file(path: &std::path::Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(StoreError::Unavailable(sqlx::Error::Io(err))),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Reader for SqliteStore {
    type Row = SqliteRow;
    const DIALECT: Dialect = Dialect::Sqlite;

    async fn fetch_all(&self, sql: Sql) -> Result<Vec<SqliteRow>, StoreError> {
        Ok(bound(sql).fetch_all(&self.pool).await?)
    }

    async fn write(&self, sql: Sql) -> Result<Vec<SqliteRow>, StoreError> {
        let _turn = self.writer.turn.clone().lock_owned().await;
        Ok(bound(sql).fetch_all(&self.writer.pool).await?)
    }
}

impl Backend for SqliteStore {
    type Tx = LiteTx;
    const MIGRATIONS: Embedded = Embedded::SQLITE;

    async fn begin(&self, project: Uuid) -> Result<LiteTx, StoreError> {
        self.writer.begin(project).await
    }

    async fn commit(&self, tx: LiteTx) -> Result<(), StoreError> {
        self.writer.commit(tx).await
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        Ok(Self::MIGRATIONS.migrator().await?.run(&self.pool).await?)
    }

    async fn applied_migrations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?)
    }

    async fn ingest(&self, project: Uuid, batch: &Batch) -> Result<IngestCounts, StoreError> {
        self.groups.ingest(project, batch.clone()).await
    }

    async fn ingest_owned(&self, project: Uuid, batch: Batch) -> Result<IngestCounts, StoreError> {
        self.groups.ingest(project, batch).await
    }

    async fn ingest_traces(&self, project: Uuid, batch: TraceBatch) -> Result<TraceCounts, StoreError> {
        self.traces.ingest(project, batch).await
    }

    fn pool_usage(&self) -> (u32, u32) {
        (self.pool.size(), u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_new_database_file_and_its_wal_are_readable_by_their_owner_only() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("private.db");
        let store = crate::AnyStore::Sqlite(super::SqliteStore::open(&path).await.expect("open"));
        crate::Store::migrate(&store).await.expect("migrate");
        for file in [path.clone(), dir.path().join("private.db-wal")] {
            let mode = std::fs::metadata(&file).expect("the file exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    /// A multi-row upsert's text differs with its row count: kept prepared, each count would
    /// stay in the write connection's statement cache (up to a hundred statements, each as large
    /// as its rows: 10 MiB of the server's memory under 32 exporters).
    #[tokio::test]
    async fn batches_of_forty_sizes_leave_no_statement_per_size_in_the_writers_cache() {
        use serde_json::json;
        use sqlx::Connection;
        use uuid::Uuid;

        let dir = tempfile::tempdir().expect("dir");
        let store = super::SqliteStore::open(&dir.path().join("cache.db")).await.expect("open");
        let any = crate::AnyStore::Sqlite(store.clone());
        crate::Store::migrate(&any).await.expect("migrate");
        let project = crate::Store::create_project(&any, "p", "hash-of-key").await.expect("project").id;
        let at = "2025-05-01T10:00:00Z";
        for events in 1..=40 {
            let (s, r) = (Uuid::new_v4(), Uuid::new_v4());
            let events: Vec<_> = (0..events)
                .map(|_| {
                    json!({"id": Uuid::new_v4(), "run_id": r, "type": "user_input", "created_at": at,
                                "content": {"text": "hi"}, "attributes": {}})
                })
                .collect();
            let body = json!({"schema_version": 2, "sessions": [{"id": s, "created_at": at, "metadata": {}}],
                              "runs": [{"id": r, "session_id": s, "name": "agent", "started_at": at,
                                        "status": "running", "metadata": {}}],
                              "spans": [], "events": events, "scores": [], "prompt_links": []});
            let batch = super::Batch::from_value(&body).expect("batch");
            crate::Store::ingest(&any, project, &batch).await.expect("ingest");
        }
        let conn = store.writer.pool.acquire().await.expect("the write connection");
        let cached = conn.cached_statements_size();
        assert!(cached < 20, "{cached} statements cached after batches of 40 different sizes");
    }
}
