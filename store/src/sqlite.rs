//! Embedded SQLite: the same tables without the `private` schema. UUIDs are stored as
//! lower-case hyphenated text, timestamps in one canonical text form (text order = time order),
//! JSON as text. Writes run in `BEGIN IMMEDIATE` transactions so concurrent ingests queue on the
//! busy timeout instead of failing on a lock upgrade. Batch writes are multi-row `VALUES`
//! upserts, chunked only to stay under SQLite's bound-parameter limit. Concurrent ingest
//! requests are written by one task, those that queue up meanwhile together (`group`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use northstar_wire::{Batch, Event, Run, Score, Session, Span, Timestamp, format_timestamp};
use serde_json::Value;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::backend::Backend;
use crate::ingest::group::{GroupWriter, Groups};
use crate::ingest::{self, IngestTx, Locks};
use crate::migrations::Embedded;
use crate::query::sql::{Arg, Dialect, Reader, SQLITE_MAX_PARAMS, Sql, WriteTx};
use crate::rows::Columns;
use crate::{IngestCounts, StoreError, TraceBatch, TraceCounts};

/// The embedded SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    /// Ingest requests, written in groups by one task (see `group`).
    groups: std::sync::Arc<Groups<Writer>>,
}

/// SQLite has one writer at a time. Writers of this process queue on `turn`, in order, instead
/// of in SQLite's busy handler, which sleeps and retries (hundreds of ms of tail latency under
/// concurrent ingest). Other processes (the CLI) still meet the busy timeout.
#[derive(Debug, Clone)]
struct Writer {
    pool: SqlitePool,
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Told after each ingest commit; see [`checkpoints`].
    committed: std::sync::Arc<tokio::sync::Notify>,
}

impl Writer {
    /// The write turn of this process, then an immediate (write) transaction for `project`.
    async fn begin(&self, project: Uuid) -> Result<LiteTx, StoreError> {
        let turn = self.turn.clone().lock_owned().await;
        let mut tx = LiteTx::new(self.pool.begin_with("BEGIN IMMEDIATE").await?, project);
        tx.turn = Some(turn);
        Ok(tx)
    }

    /// Commits `tx` (its turn ends with it) and tells the checkpointer.
    async fn commit(&self, tx: LiteTx) -> Result<(), StoreError> {
        tx.tx.commit().await?;
        self.committed.notify_one();
        Ok(())
    }
}

impl GroupWriter for Writer {
    type Turn = tokio::sync::OwnedMutexGuard<()>;

    async fn turn(&self) -> Self::Turn {
        self.turn.clone().lock_owned().await
    }

    async fn write(&self, _turn: &Self::Turn, batches: &[(Uuid, &Batch)]) -> Result<(), StoreError> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut tx = LiteTx::new(tx, Uuid::nil());
        for (project, batch) in batches {
            tx.project = project.to_string();
            tx.id = *project;
            ingest::write(&mut tx, batch, Locks::Take).await?;
        }
        self.commit(tx).await
    }
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
        let committed = std::sync::Arc::new(tokio::sync::Notify::new());
        if !in_memory {
            tokio::spawn(checkpoints(options, std::sync::Arc::downgrade(&committed)));
        }
        let writer = Writer { pool: write_pool, turn: std::sync::Arc::new(tokio::sync::Mutex::new(())), committed };
        Ok(Self { pool, groups: std::sync::Arc::new(Groups::new(writer.clone())), writer })
    }

    /// This process's write turn, held until dropped (as a long write would).
    #[cfg(test)]
    pub(crate) async fn hold_write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer.turn.clone().lock_owned().await
    }

    /// How many ingest requests a merged group write has stored.
    #[cfg(test)]
    pub(crate) fn merged_requests(&self) -> u64 {
        self.groups.merged_requests()
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

/// Copies the WAL back into the database file after ingest commits, on a connection of its
/// own, at most every 100 ms. SQLite's default is a checkpoint by whichever commit takes the WAL
/// past 1,000 pages: on the single writer's path, where it was 40% of the time of a group
/// (8.5 ms of 20 ms, measured). A passive checkpoint takes no lock the writer needs, and pages
/// written again between two checkpoints are copied once. Ends when the store is dropped.
async fn checkpoints(options: SqliteConnectOptions, committed: std::sync::Weak<tokio::sync::Notify>) {
    use sqlx::Connection;
    let mut conn = match sqlx::SqliteConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(err) => {
            tracing::warn!(error = %err, "no checkpoint connection; commits will checkpoint the WAL themselves");
            return;
        }
    };
    while let Some(notify) = committed.upgrade() {
        let woken = tokio::time::timeout(Duration::from_secs(1), notify.notified()).await.is_ok();
        drop(notify);
        if woken {
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
                tracing::warn!(error = %err, "WAL checkpoint failed; retrying after the next commit");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = conn.close().await;
}

fn ts(t: &Timestamp) -> String {
    format_timestamp(t)
}

fn js(v: &Value) -> String {
    v.to_string()
}

pub(crate) struct LiteTx {
    tx: Transaction<'static, Sqlite>,
    /// The project, as stored (text) and as an id.
    project: String,
    id: Uuid,
    /// This process's write turn, when the transaction holds it itself (a group's writer
    /// holds it for the group).
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl LiteTx {
    fn new(tx: Transaction<'static, Sqlite>, project: Uuid) -> Self {
        Self { tx, project: project.to_string(), id: project, turn: None }
    }

    /// `head VALUES (…), (…) tail`, chunked under the parameter limit.
    async fn upsert<'r, T>(
        &mut self,
        head: &str,
        tail: &str,
        columns: usize,
        rows: &'r [T],
        mut push: impl FnMut(&mut Separated<'_, Sqlite, &'static str>, &'r T, &str),
    ) -> Result<u64, StoreError> {
        let mut written = 0;
        for chunk in rows.chunks(SQLITE_MAX_PARAMS / columns) {
            let mut qb = QueryBuilder::<Sqlite>::new(head);
            let project = self.project.as_str();
            qb.push_values(chunk, |mut b, row| push(&mut b, row, project));
            qb.push(tail);
            written += qb.build().execute(&mut *self.tx).await?.rows_affected();
        }
        Ok(written)
    }
}

impl WriteTx for LiteTx {
    type Row = SqliteRow;
    const DIALECT: Dialect = Dialect::Sqlite;

    fn project(&self) -> Uuid {
        self.id
    }

    async fn fetch_all(&mut self, sql: Sql) -> Result<Vec<SqliteRow>, StoreError> {
        Ok(bound(sql).fetch_all(&mut *self.tx).await?)
    }
}

impl IngestTx for LiteTx {
    async fn upsert_sessions(&mut self, rows: &[Session]) -> Result<u64, StoreError> {
        self.upsert(
            "INSERT INTO sessions (id, project_id, created_at, ended_at, metadata) ",
            " ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(excluded.ended_at, sessions.ended_at),
                 metadata = excluded.metadata
             WHERE sessions.project_id = excluded.project_id",
            5,
            rows,
            |b, r, project| {
                b.push_bind(r.id.to_string())
                    .push_bind(project.to_owned())
                    .push_bind(ts(&r.created_at))
                    .push_bind(r.ended_at.as_ref().map(ts))
                    .push_bind(js(&r.metadata));
            },
        )
        .await
    }

    async fn upsert_runs(&mut self, rows: &[Run]) -> Result<u64, StoreError> {
        self.upsert(
            "INSERT INTO runs (id, session_id, project_id, name, started_at, ended_at, status, error, metadata) ",
            " ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(excluded.ended_at, runs.ended_at),
                 status = excluded.status,
                 error = excluded.error,
                 metadata = excluded.metadata
             WHERE runs.project_id = excluded.project_id
               AND (runs.status = 'running' OR excluded.status <> 'running')",
            9,
            rows,
            |b, r, project| {
                b.push_bind(r.id.to_string())
                    .push_bind(r.session_id.to_string())
                    .push_bind(project.to_owned())
                    .push_bind(r.name.clone())
                    .push_bind(ts(&r.started_at))
                    .push_bind(r.ended_at.as_ref().map(ts))
                    .push_bind(r.status.as_str())
                    .push_bind(r.error.as_ref().map(js))
                    .push_bind(js(&r.metadata));
            },
        )
        .await
    }

    async fn upsert_spans(&mut self, rows: &[Span]) -> Result<u64, StoreError> {
        self.upsert(
            "INSERT INTO spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at,
                                status, error, iteration, attributes) ",
            " ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(excluded.ended_at, spans.ended_at),
                 status = excluded.status,
                 error = excluded.error,
                 attributes = excluded.attributes
             WHERE spans.project_id = excluded.project_id
               AND (spans.status = 'running' OR excluded.status <> 'running')",
            12,
            rows,
            |b, r, project| {
                b.push_bind(r.id.to_string())
                    .push_bind(r.run_id.to_string())
                    .push_bind(project.to_owned())
                    .push_bind(r.parent_span_id.map(|p| p.to_string()))
                    .push_bind(r.kind.as_str())
                    .push_bind(r.name.clone())
                    .push_bind(ts(&r.started_at))
                    .push_bind(r.ended_at.as_ref().map(ts))
                    .push_bind(r.status.as_str())
                    .push_bind(r.error.as_ref().map(js))
                    .push_bind(r.iteration)
                    .push_bind(js(&r.attributes));
            },
        )
        .await
    }

    async fn upsert_events(&mut self, rows: &[Event]) -> Result<u64, StoreError> {
        self.upsert(
            "INSERT INTO events (id, run_id, span_id, project_id, type, created_at, content, attributes) ",
            " ON CONFLICT (id) DO UPDATE SET content = excluded.content, attributes = excluded.attributes
             WHERE events.project_id = excluded.project_id",
            8,
            rows,
            |b, r, project| {
                b.push_bind(r.id.to_string())
                    .push_bind(r.run_id.to_string())
                    .push_bind(r.span_id.map(|s| s.to_string()))
                    .push_bind(project.to_owned())
                    .push_bind(r.event_type.as_str())
                    .push_bind(ts(&r.created_at))
                    .push_bind(js(&r.content))
                    .push_bind(js(&r.attributes));
            },
        )
        .await
    }

    async fn upsert_scores(&mut self, rows: &[Score]) -> Result<u64, StoreError> {
        self.upsert(
            "INSERT INTO scores (id, project_id, trace_id, span_id, name, value, data_type, string_value,
                                 source, comment, created_at) ",
            " ON CONFLICT (id) DO UPDATE SET
                 trace_id = excluded.trace_id, span_id = excluded.span_id, name = excluded.name,
                 value = excluded.value, data_type = excluded.data_type,
                 string_value = excluded.string_value, source = excluded.source,
                 comment = excluded.comment, created_by = excluded.created_by,
                 created_at = excluded.created_at
             WHERE scores.project_id = excluded.project_id",
            11,
            rows,
            |b, r, project| {
                b.push_bind(r.id.to_string())
                    .push_bind(project.to_owned())
                    .push_bind(r.trace_id.to_string())
                    .push_bind(r.span_id.map(|s| s.to_string()))
                    .push_bind(r.name.clone())
                    .push_bind(r.value)
                    .push_bind(r.data_type.as_str())
                    .push_bind(r.string_value.clone())
                    .push_bind(r.source.as_str())
                    .push_bind(r.comment.clone())
                    .push_bind(ts(&r.created_at));
            },
        )
        .await
    }
}

fn parse_uuid(s: &str, what: &'static str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(what))
}

fn parse_ts(s: &str, what: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| StoreError::Corrupt(what))
}

fn parse_json(s: &str, what: &'static str) -> Result<Value, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what))
}

/// Typed columns of a SQLite row, in the text encodings above.
impl Columns for SqliteRow {
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        parse_uuid(&self.text(col)?, col)
    }
    fn opt_uuid(&self, col: &'static str) -> Result<Option<Uuid>, StoreError> {
        self.opt_text(col)?.map(|s| parse_uuid(&s, col)).transpose()
    }
    fn ts(&self, col: &'static str) -> Result<DateTime<Utc>, StoreError> {
        parse_ts(&self.text(col)?, col)
    }
    fn opt_ts(&self, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_text(col)?.map(|s| parse_ts(&s, col)).transpose()
    }
    fn json(&self, col: &'static str) -> Result<Value, StoreError> {
        parse_json(&self.text(col)?, col)
    }
    fn opt_json(&self, col: &'static str) -> Result<Option<Value>, StoreError> {
        self.opt_text(col)?.map(|s| parse_json(&s, col)).transpose()
    }
    fn opt_i32(&self, col: &'static str) -> Result<Option<i32>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn f64(&self, col: &'static str) -> Result<f64, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_f64(&self, col: &'static str) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn i64(&self, col: &'static str) -> Result<i64, StoreError> {
        Ok(self.try_get(col)?)
    }
}

/// `sql` with its arguments bound in this backend's encoding.
fn bound(sql: Sql) -> sqlx::query::Query<'static, Sqlite, <Sqlite as sqlx::Database>::Arguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql.text));
    for arg in sql.args {
        query = match arg {
            Arg::Uuid(v) => query.bind(v.to_string()),
            Arg::Ts(v) => query.bind(ts(&v)),
            Arg::Text(v) => query.bind(v),
            Arg::F64(v) => query.bind(v),
            Arg::I64(v) => query.bind(v),
            Arg::Uuids(v) => query.bind(serde_json::to_string(&v).expect("ids serialize")),
            Arg::I64s(v) => query.bind(serde_json::to_string(&v).expect("integers serialize")),
        };
    }
    query
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
        // Not through the group writer: a request of traces is its own transaction, in turn.
        let mut tx = self.writer.begin(project).await?;
        let counts = ingest::traces::ingest(&mut tx, batch).await?;
        self.writer.commit(tx).await?;
        Ok(counts)
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
}
