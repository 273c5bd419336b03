//! Postgres: the original's schema in schema `private`. Batch writes bind one typed array per
//! column and `UNNEST` them, so each table is one statement whatever the batch size.

use chrono::{DateTime, Utc};
use northstar_wire::{Batch, Event, Run, Score, Session, Span};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::migrations::Embedded;
use crate::query::sql::{Arg, Dialect, Reader, Sql};
use crate::refs::{self, IngestTx, Table};
use crate::rows::{self, Columns, Listing, select};
use crate::{IngestCounts, Project, Store, StoreError};

/// The Postgres store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// The migrations embedded in this build.
    pub(crate) const MIGRATIONS: Embedded = Embedded::POSTGRES;

    /// How many migrations the database records as applied.
    pub(crate) async fn applied_migrations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?)
    }

    /// Connects to `url` (`postgres://…`).
    ///
    /// # Errors
    ///
    /// When the URL does not parse or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        // A short acquire timeout: while the database is away, ingest answers 503 promptly
        // instead of holding requests until the client's own timeout.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Wraps an existing pool.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The underlying pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// How an ingest transaction begins (one round trip). Every statement of a batch, foreign-key
/// checks included, looks rows up by key. On a table still growing past its last statistics
/// the planner prices a sequential scan below N index probes, and a plan cached then scans ever
/// more rows until the next ANALYZE: no sequential scans. And with them priced out, the
/// planner judged every generic plan dearer than a custom one and planned each statement
/// again on every execution (planning took more time than executing the lookups): the
/// statements are prepared once per connection, so their one generic plan is used.
const INGEST_BEGIN: &str = "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan";

struct PgTx<'a> {
    tx: Transaction<'a, Postgres>,
    project: Uuid,
}

fn json(v: &Value) -> Json<&Value> {
    Json(v)
}

impl IngestTx for PgTx<'_> {
    type Row = PgRow;
    const DIALECT: Dialect = Dialect::Postgres;

    fn project(&self) -> Uuid {
        self.project
    }

    async fn fetch_all(&mut self, sql: Sql) -> Result<Vec<PgRow>, StoreError> {
        Ok(bound(sql).fetch_all(&mut *self.tx).await?)
    }

    async fn ids_in_project(&mut self, table: Table, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        // The project test is kept off its index, as in `Sql::project_is`.
        let sql =
            format!("SELECT id FROM private.{} WHERE id = ANY($1) AND COALESCE(project_id = $2, false)", table.name());
        Ok(sqlx::query_scalar(AssertSqlSafe(sql)).bind(ids).bind(self.project).fetch_all(&mut *self.tx).await?)
    }

    async fn foreign_id(&mut self, table: Table, ids: &[Uuid]) -> Result<Option<Uuid>, StoreError> {
        let sql = format!("SELECT id FROM private.{} WHERE id = ANY($1) AND project_id <> $2 LIMIT 1", table.name());
        Ok(sqlx::query_scalar(AssertSqlSafe(sql)).bind(ids).bind(self.project).fetch_optional(&mut *self.tx).await?)
    }

    async fn span_runs(&mut self, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, run_id FROM private.spans WHERE id = ANY($1) AND COALESCE(project_id = $2, false)",
        )
        .bind(ids)
        .bind(self.project)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn upsert_sessions(&mut self, rows: &[Session]) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO private.sessions AS s (id, project_id, created_at, ended_at, metadata)
             SELECT t.id, $1, t.created_at, t.ended_at, t.metadata
             FROM UNNEST($2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
                  AS t(id, created_at, ended_at, metadata)
             ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(EXCLUDED.ended_at, s.ended_at),
                 metadata = EXCLUDED.metadata
             WHERE s.project_id = EXCLUDED.project_id",
        )
        .bind(self.project)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.ended_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| json(&r.metadata)).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn upsert_runs(&mut self, rows: &[Run]) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO private.runs AS r (id, session_id, project_id, name, started_at, ended_at, status, error, metadata)
             SELECT t.id, t.session_id, $1, t.name, t.started_at, t.ended_at, t.status, t.error, t.metadata
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                         $7::text[], $8::jsonb[], $9::jsonb[])
                  AS t(id, session_id, name, started_at, ended_at, status, error, metadata)
             ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(EXCLUDED.ended_at, r.ended_at),
                 status = EXCLUDED.status,
                 error = EXCLUDED.error,
                 metadata = EXCLUDED.metadata
             WHERE r.project_id = EXCLUDED.project_id
               AND (r.status = 'running' OR EXCLUDED.status <> 'running')",
        )
        .bind(self.project)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.session_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.started_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.ended_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.error.as_ref().map(json)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| json(&r.metadata)).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn upsert_spans(&mut self, rows: &[Span]) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO private.spans AS s (id, run_id, project_id, parent_span_id, kind, name, started_at,
                                         ended_at, status, error, iteration, attributes)
             SELECT t.id, t.run_id, $1, t.parent_span_id, t.kind, t.name, t.started_at,
                    t.ended_at, t.status, t.error, t.iteration, t.attributes
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                         $8::timestamptz[], $9::text[], $10::jsonb[], $11::int4[], $12::jsonb[])
                  AS t(id, run_id, parent_span_id, kind, name, started_at, ended_at, status, error, iteration, attributes)
             ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(EXCLUDED.ended_at, s.ended_at),
                 status = EXCLUDED.status,
                 error = EXCLUDED.error,
                 attributes = EXCLUDED.attributes
             WHERE s.project_id = EXCLUDED.project_id
               AND (s.status = 'running' OR EXCLUDED.status <> 'running')",
        )
        .bind(self.project)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.run_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.parent_span_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.started_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.ended_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.error.as_ref().map(json)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.iteration).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| json(&r.attributes)).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn upsert_events(&mut self, rows: &[Event]) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO private.events AS e (id, run_id, span_id, project_id, type, created_at, content, attributes)
             SELECT t.id, t.run_id, t.span_id, $1, t.type, t.created_at, t.content, t.attributes
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::jsonb[], $8::jsonb[])
                  AS t(id, run_id, span_id, type, created_at, content, attributes)
             ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, attributes = EXCLUDED.attributes
             WHERE e.project_id = EXCLUDED.project_id",
        )
        .bind(self.project)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.run_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.span_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| json(&r.content)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| json(&r.attributes)).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn upsert_scores(&mut self, rows: &[Score]) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO private.scores AS s (id, project_id, trace_id, span_id, name, value, data_type,
                                          string_value, source, comment, created_at)
             SELECT t.id, $1, t.trace_id, t.span_id, t.name, t.value, t.data_type::private.score_data_type,
                    t.string_value, t.source::private.score_source, t.comment, t.created_at
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::float8[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::timestamptz[])
                  AS t(id, trace_id, span_id, name, value, data_type, string_value, source, comment, created_at)
             ON CONFLICT (id) DO UPDATE SET
                 trace_id = EXCLUDED.trace_id, span_id = EXCLUDED.span_id, name = EXCLUDED.name,
                 value = EXCLUDED.value, data_type = EXCLUDED.data_type,
                 string_value = EXCLUDED.string_value, source = EXCLUDED.source,
                 comment = EXCLUDED.comment, created_by = EXCLUDED.created_by,
                 created_at = EXCLUDED.created_at
             WHERE s.project_id = EXCLUDED.project_id",
        )
        .bind(self.project)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.trace_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.span_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.value).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.data_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.string_value.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.source.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.comment.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Typed columns of a Postgres row.
impl Columns for PgRow {
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_uuid(&self, col: &'static str) -> Result<Option<Uuid>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn ts(&self, col: &'static str) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_ts(&self, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn json(&self, col: &'static str) -> Result<Value, StoreError> {
        Ok(self.try_get::<Json<Value>, _>(col)?.0)
    }
    fn opt_json(&self, col: &'static str) -> Result<Option<Value>, StoreError> {
        Ok(self.try_get::<Option<Json<Value>>, _>(col)?.map(|j| j.0))
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
fn bound(sql: Sql) -> sqlx::query::Query<'static, Postgres, <Postgres as sqlx::Database>::Arguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql.text));
    for arg in sql.args {
        query = match arg {
            Arg::Uuid(v) => query.bind(v),
            Arg::Ts(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::F64(v) => query.bind(v),
            Arg::I64(v) => query.bind(v),
            Arg::Uuids(v) => query.bind(v),
            Arg::I64s(v) => query.bind(v),
        };
    }
    query
}

impl Reader for PgStore {
    type Row = PgRow;
    const DIALECT: Dialect = Dialect::Postgres;

    async fn fetch_all(&self, sql: Sql) -> Result<Vec<PgRow>, StoreError> {
        let query = bound(sql);
        Ok(query.fetch_all(&self.pool).await?)
    }
}

impl PgStore {
    /// One row of `table` by id within the project, decoded.
    async fn get<T>(
        &self,
        table: &str,
        columns: &str,
        project: Uuid,
        id: Uuid,
        decode: impl Fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT {columns} FROM private.{table} WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(decode).transpose()
    }

    /// The rows of `listing` under `parent`, within the project, decoded.
    async fn list<T>(
        &self,
        listing: &Listing,
        project: Uuid,
        parent: Uuid,
        decode: impl Fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let sql = format!(
            "SELECT {} FROM private.{} WHERE project_id = $1 AND {} = $2 ORDER BY {}",
            listing.columns, listing.table, listing.parent, listing.order
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project).bind(parent).fetch_all(&self.pool).await?;
        rows.iter().map(decode).collect()
    }
}

impl Store for PgStore {
    crate::read_models!();

    async fn migrate(&self) -> Result<(), StoreError> {
        Self::MIGRATIONS.migrator().await?.run(&self.pool).await?;
        let pending: Option<String> =
            sqlx::query_scalar("SELECT what FROM private.pending_rebuilds WHERE what = 'figures'")
                .fetch_optional(&self.pool)
                .await?;
        if pending.is_some() {
            self.rebuild_figures().await?;
        }
        Ok(())
    }

    async fn rebuild_figures(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let projects: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM private.projects").fetch_all(&mut *tx).await?;
        for project in projects {
            for sql in crate::figures::rebuild(Dialect::Postgres, project) {
                bound(sql).execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM private.pending_rebuilds WHERE what = 'figures'").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn resolve_api_key(&self, key_hash: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar("SELECT project_id FROM private.api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn ingest(&self, project: Uuid, batch: &Batch) -> Result<IngestCounts, StoreError> {
        let tx = self.pool.begin_with(INGEST_BEGIN).await?;
        let mut tx = PgTx { tx, project };
        let counts = refs::ingest(&mut tx, batch).await?;
        tx.tx.commit().await?;
        Ok(counts)
    }

    async fn ingest_traces(&self, project: Uuid, batch: crate::TraceBatch) -> Result<crate::TraceCounts, StoreError> {
        let tx = self.pool.begin_with(INGEST_BEGIN).await?;
        let mut tx = PgTx { tx, project };
        let counts = crate::traces::ingest(&mut tx, batch).await?;
        tx.tx.commit().await?;
        Ok(counts)
    }

    async fn create_project(&self, name: &str, key_hash: &str) -> Result<Project, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("project name must not be empty".into()));
        }
        let id = Uuid::new_v4();
        let mut tx = self.pool.begin().await?;
        let created_at: DateTime<Utc> =
            sqlx::query_scalar("INSERT INTO private.projects (id, name) VALUES ($1, $2) RETURNING created_at")
                .bind(id)
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        insert_key(&mut tx, id, key_hash).await?;
        tx.commit().await?;
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
             FROM private.projects p LEFT JOIN private.api_keys k ON k.project_id = p.id
             ORDER BY p.created_at, p.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::project).collect()
    }

    async fn rotate_key(&self, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM private.projects WHERE id = $1 FOR UPDATE")
            .bind(project)
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
        let row: Option<(Option<DateTime<Utc>>,)> =
            sqlx::query_as("SELECT revoked_at FROM private.api_keys WHERE project_id = $1")
                .bind(project)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            None => Err(StoreError::ProjectNotFound(project)),
            Some((Some(_),)) => Ok(false),
            Some((None,)) => {
                sqlx::query(
                    "UPDATE private.api_keys SET revoked_at = now() WHERE project_id = $1 AND revoked_at IS NULL",
                )
                .bind(project)
                .execute(&self.pool)
                .await?;
                Ok(true)
            }
        }
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
        // The enum columns are read as text, like every other backend's.
        let columns = "id, trace_id, span_id, name, value, data_type::text AS data_type, string_value, \
                       source::text AS source, comment, created_at";
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
            "SELECT (SELECT count(*) FROM private.sessions WHERE project_id = $1),
                    (SELECT count(*) FROM private.runs WHERE project_id = $1),
                    (SELECT count(*) FROM private.spans WHERE project_id = $1),
                    (SELECT count(*) FROM private.events WHERE project_id = $1),
                    (SELECT count(*) FROM private.scores WHERE project_id = $1)",
        )
        .bind(project)
        .fetch_one(&self.pool)
        .await?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        Ok(IngestCounts { sessions: n(sessions), runs: n(runs), spans: n(spans), events: n(events), scores: n(scores) })
    }
}

/// Inserts or replaces the project's single key row (the original's rotation semantics).
async fn insert_key(tx: &mut Transaction<'_, Postgres>, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO private.api_keys (id, project_id, name, key_hash)
         VALUES ($1, $2, 'Project key', $3)
         ON CONFLICT (project_id) DO UPDATE SET
             id = EXCLUDED.id, key_hash = EXCLUDED.key_hash, created_at = now(), revoked_at = NULL",
    )
    .bind(Uuid::new_v4())
    .bind(project)
    .bind(key_hash)
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

impl PgStore {
    /// One retention pass (`Store::delete_runs_before`) in one transaction.
    async fn retention_pass(&self, project: Uuid, cutoff: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let mut tx = PgTx { tx: self.pool.begin().await?, project };
        let deleted = crate::access::delete_runs_before(&mut tx, cutoff, limit).await?;
        tx.tx.commit().await?;
        Ok(deleted)
    }
}
