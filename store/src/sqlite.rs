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

use crate::group::{GroupWriter, Groups};
use crate::migrations::Embedded;
use crate::query::sql::{Arg, Dialect, Reader, SQLITE_MAX_PARAMS, Sql};
use crate::refs::{self, IngestTx, Table};
use crate::rows::{self, Columns, Listing, select};
use crate::{IngestCounts, Project, Store, StoreError};

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
    /// The write turn of this process, then an immediate (write) transaction.
    async fn begin(&self) -> Result<(tokio::sync::OwnedMutexGuard<()>, Transaction<'static, Sqlite>), StoreError> {
        let turn = self.turn.clone().lock_owned().await;
        Ok((turn, self.pool.begin_with("BEGIN IMMEDIATE").await?))
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
            refs::ingest(&mut tx, batch).await?;
        }
        tx.tx.commit().await?;
        self.committed.notify_one();
        Ok(())
    }
}

impl SqliteStore {
    /// The migrations embedded in this build.
    pub(crate) const MIGRATIONS: Embedded = Embedded::SQLITE;

    /// How many migrations the database records as applied.
    pub(crate) async fn applied_migrations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?)
    }

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

    /// The write turn of this process, then an immediate (write) transaction.
    async fn begin_write(
        &self,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, Transaction<'static, Sqlite>), StoreError> {
        self.writer.begin().await
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

/// `[ "id", … ]` for `json_each`, so an id set is one parameter whatever its size.
fn id_list(ids: &[Uuid]) -> String {
    Value::Array(ids.iter().map(|id| Value::String(id.to_string())).collect()).to_string()
}

struct LiteTx {
    tx: Transaction<'static, Sqlite>,
    /// The project, as stored (text) and as an id.
    project: String,
    id: Uuid,
}

impl LiteTx {
    fn new(tx: Transaction<'static, Sqlite>, project: Uuid) -> Self {
        Self { tx, project: project.to_string(), id: project }
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

fn parse_ids(rows: Vec<String>) -> Result<Vec<Uuid>, StoreError> {
    rows.iter().map(|s| Uuid::parse_str(s).map_err(|_| StoreError::Corrupt("id"))).collect()
}

// In the id-set lookups below, `+project_id` keeps SQLite's planner from scanning the project's
// rows by its project index (it cannot tell how short the id list is): it looks the ids up by
// primary key and checks the project on each.
impl IngestTx for LiteTx {
    type Row = SqliteRow;
    const DIALECT: Dialect = Dialect::Sqlite;

    fn project(&self) -> Uuid {
        self.id
    }

    async fn fetch_all(&mut self, sql: Sql) -> Result<Vec<SqliteRow>, StoreError> {
        Ok(bound(sql).fetch_all(&mut *self.tx).await?)
    }

    async fn ids_in_project(&mut self, table: Table, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        let sql = format!(
            "SELECT id FROM {} WHERE +project_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
            table.name()
        );
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(&self.project)
            .bind(id_list(ids))
            .fetch_all(&mut *self.tx)
            .await?;
        parse_ids(rows)
    }

    async fn foreign_id(&mut self, table: Table, ids: &[Uuid]) -> Result<Option<Uuid>, StoreError> {
        let sql = format!(
            "SELECT id FROM {} WHERE project_id <> ?1 AND id IN (SELECT value FROM json_each(?2)) LIMIT 1",
            table.name()
        );
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(&self.project)
            .bind(id_list(ids))
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(parse_ids(rows)?.into_iter().next())
    }

    async fn span_runs(&mut self, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, run_id FROM spans WHERE +project_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        )
        .bind(&self.project)
        .bind(id_list(ids))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(|(s, r)| Ok((parse_uuid(&s, "spans.id")?, parse_uuid(&r, "spans.run_id")?))).collect()
    }

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
        // A statement that writes (a new score) takes this process's write turn like ingest.
        let writes = ["INSERT", "UPDATE", "DELETE"].iter().any(|w| sql.text.starts_with(w));
        let query = bound(sql);
        if writes {
            let _turn = self.writer.turn.clone().lock_owned().await;
            return Ok(query.fetch_all(&self.writer.pool).await?);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

impl SqliteStore {
    /// One row of `table` by id within the project, decoded.
    async fn get<T>(
        &self,
        table: &str,
        columns: &str,
        project: Uuid,
        id: Uuid,
        decode: impl Fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT {columns} FROM {table} WHERE project_id = ?1 AND id = ?2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The rows of `listing` under `parent`, within the project, decoded.
    async fn list<T>(
        &self,
        listing: &Listing,
        project: Uuid,
        parent: Uuid,
        decode: impl Fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE project_id = ?1 AND {} = ?2 ORDER BY {}",
            listing.columns, listing.table, listing.parent, listing.order
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project.to_string())
            .bind(parent.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }
}

impl Store for SqliteStore {
    crate::read_models!();

    async fn migrate(&self) -> Result<(), StoreError> {
        Self::MIGRATIONS.migrator().await?.run(&self.pool).await?;
        let pending: Option<String> = sqlx::query_scalar("SELECT what FROM pending_rebuilds WHERE what = 'figures'")
            .fetch_optional(&self.pool)
            .await?;
        if pending.is_some() {
            self.rebuild_figures().await?;
        }
        Ok(())
    }

    async fn rebuild_figures(&self) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let projects: Vec<String> = sqlx::query_scalar("SELECT id FROM projects").fetch_all(&mut *tx).await?;
        for project in projects {
            for sql in crate::figures::rebuild(Dialect::Sqlite, parse_uuid(&project, "projects.id")?) {
                bound(sql).execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM pending_rebuilds WHERE what = 'figures'").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn resolve_api_key(&self, key_hash: &str) -> Result<Option<Uuid>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT project_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL")
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
        id.map(|s| parse_uuid(&s, "api_keys.project_id")).transpose()
    }

    async fn ingest(&self, project: Uuid, batch: &Batch) -> Result<IngestCounts, StoreError> {
        self.groups.ingest(project, batch.clone()).await
    }

    async fn ingest_owned(&self, project: Uuid, batch: Batch) -> Result<IngestCounts, StoreError> {
        self.groups.ingest(project, batch).await
    }

    async fn ingest_traces(&self, project: Uuid, batch: crate::TraceBatch) -> Result<crate::TraceCounts, StoreError> {
        // Not through the group writer: a request of traces is its own transaction, in turn.
        let (_turn, tx) = self.writer.begin().await?;
        let mut tx = LiteTx::new(tx, project);
        let counts = crate::traces::ingest(&mut tx, batch).await?;
        tx.tx.commit().await?;
        self.writer.committed.notify_one();
        Ok(counts)
    }

    async fn create_project(&self, name: &str, key_hash: &str) -> Result<Project, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("project name must not be empty".into()));
        }
        let id = Uuid::new_v4();
        let (_turn, mut tx) = self.begin_write().await?;
        // Microseconds from here: the column default (strftime's %f) has only milliseconds.
        let created_at = ts(&Utc::now());
        sqlx::query("INSERT INTO projects (id, name, created_at) VALUES (?1, ?2, ?3)")
            .bind(id.to_string())
            .bind(name)
            .bind(&created_at)
            .execute(&mut *tx)
            .await?;
        insert_key(&mut tx, id, key_hash).await?;
        tx.commit().await?;
        let created_at = parse_ts(&created_at, "projects.created_at")?;
        Ok(Project {
            id,
            name: name.to_owned(),
            created_at,
            key_created_at: Some(created_at),
            key_revoked_at: None,
            retention_days: None,
        })
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.created_at, k.created_at AS key_created_at, k.revoked_at, p.retention_days
             FROM projects p LEFT JOIN api_keys k ON k.project_id = p.id
             ORDER BY p.created_at, p.rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::project).collect()
    }

    async fn rotate_key(&self, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM projects WHERE id = ?1")
            .bind(project.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::ProjectNotFound(project));
        }
        insert_key(&mut tx, project, key_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_key(&self, project: Uuid) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let row: Option<(Option<String>,)> = sqlx::query_as("SELECT revoked_at FROM api_keys WHERE project_id = ?1")
            .bind(project.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let revoked = match row {
            None => return Err(StoreError::ProjectNotFound(project)),
            Some((Some(_),)) => false,
            Some((None,)) => {
                sqlx::query("UPDATE api_keys SET revoked_at = ?2 WHERE project_id = ?1")
                    .bind(project.to_string())
                    .bind(ts(&Utc::now()))
                    .execute(&mut *tx)
                    .await?;
                true
            }
        };
        tx.commit().await?;
        Ok(revoked)
    }

    async fn get_session(&self, project: Uuid, id: Uuid) -> Result<Option<Session>, StoreError> {
        self.get("sessions", select::SESSION, project, id, rows::session).await
    }

    async fn get_run(&self, project: Uuid, id: Uuid) -> Result<Option<Run>, StoreError> {
        self.get("runs", select::RUN, project, id, rows::run).await
    }

    async fn get_span(&self, project: Uuid, id: Uuid) -> Result<Option<Span>, StoreError> {
        self.get("spans", select::SPAN, project, id, rows::span).await
    }

    async fn get_event(&self, project: Uuid, id: Uuid) -> Result<Option<Event>, StoreError> {
        self.get("events", select::EVENT, project, id, rows::event).await
    }

    async fn get_score(&self, project: Uuid, id: Uuid) -> Result<Option<Score>, StoreError> {
        let columns = "id, trace_id, span_id, name, value, data_type, string_value, source, comment, created_at";
        self.get("scores", columns, project, id, rows::score).await
    }

    async fn list_runs(&self, project: Uuid, session: Uuid) -> Result<Vec<Run>, StoreError> {
        self.list(&rows::RUNS_OF_SESSION, project, session, rows::run).await
    }

    async fn list_spans(&self, project: Uuid, run: Uuid) -> Result<Vec<Span>, StoreError> {
        self.list(&rows::SPANS_OF_RUN, project, run, rows::span).await
    }

    async fn list_events(&self, project: Uuid, run: Uuid) -> Result<Vec<Event>, StoreError> {
        self.list(&rows::EVENTS_OF_RUN, project, run, rows::event).await
    }

    async fn count_records(&self, project: Uuid) -> Result<IngestCounts, StoreError> {
        let (sessions, runs, spans, events, scores): (i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM sessions WHERE project_id = ?1),
                    (SELECT count(*) FROM runs WHERE project_id = ?1),
                    (SELECT count(*) FROM spans WHERE project_id = ?1),
                    (SELECT count(*) FROM events WHERE project_id = ?1),
                    (SELECT count(*) FROM scores WHERE project_id = ?1)",
        )
        .bind(project.to_string())
        .fetch_one(&self.pool)
        .await?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        Ok(IngestCounts { sessions: n(sessions), runs: n(runs), spans: n(spans), events: n(events), scores: n(scores) })
    }
}

/// Inserts or replaces the project's single key row (the original's rotation semantics).
async fn insert_key(tx: &mut Transaction<'static, Sqlite>, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, project_id, name, key_hash, created_at)
         VALUES (?1, ?2, 'Project key', ?3, ?4)
         ON CONFLICT (project_id) DO UPDATE SET
             id = excluded.id, key_hash = excluded.key_hash, created_at = excluded.created_at, revoked_at = NULL",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(project.to_string())
    .bind(key_hash)
    .bind(ts(&Utc::now()))
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Invalid("that API key is already in use".into())
        } else {
            e.into()
        }
    })?;
    Ok(())
}

impl SqliteStore {
    /// One retention pass (`Store::delete_runs_before`) in one transaction, taking its turn
    /// with the other writers.
    async fn retention_pass(&self, project: Uuid, cutoff: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let (_turn, tx) = self.begin_write().await?;
        let mut tx = LiteTx::new(tx, project);
        let deleted = crate::access::delete_runs_before(&mut tx, cutoff, limit).await?;
        tx.tx.commit().await?;
        Ok(deleted)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_new_database_file_and_its_wal_are_readable_by_their_owner_only() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("private.db");
        let store = super::SqliteStore::open(&path).await.expect("open");
        crate::Store::migrate(&store).await.expect("migrate");
        for file in [path.clone(), dir.path().join("private.db-wal")] {
            let mode = std::fs::metadata(&file).expect("the file exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
}
