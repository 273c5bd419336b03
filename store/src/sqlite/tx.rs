//! A SQLite write transaction and the ingest upserts: multi-row `VALUES`, chunked only to stay
//! under SQLite's bound-parameter limit.

use northstar_wire::{Event, Run, Score, Session, Span, Timestamp, format_timestamp};
use serde_json::Value;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, Transaction};
use uuid::Uuid;

use super::rows::bound;
use crate::StoreError;
use crate::ingest::{IngestTx, RunDelta};
use crate::query::sql::{Dialect, SQLITE_MAX_PARAMS, Sql, WriteTx};

pub(super) fn ts(t: &Timestamp) -> String {
    format_timestamp(t)
}

fn js(v: &Value) -> String {
    v.to_string()
}

pub(crate) struct LiteTx {
    pub(super) tx: Transaction<'static, Sqlite>,
    /// The project, as stored (text) and as an id.
    pub(super) project: String,
    pub(super) id: Uuid,
    /// This process's write turn, when the transaction holds it itself (a group's writer
    /// holds it for the group).
    pub(super) turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl LiteTx {
    pub(super) fn new(tx: Transaction<'static, Sqlite>, project: Uuid) -> Self {
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
            // Not kept prepared: the text differs with every row count, and the connection's
            // statement cache would keep up to a hundred of them, each as large as its rows.
            written += qb.build().persistent(false).execute(&mut *self.tx).await?.rows_affected();
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

    async fn upsert_runs(&mut self, rows: &[Run], figures: &[RunDelta]) -> Result<u64, StoreError> {
        let rows: Vec<(&Run, &RunDelta)> = rows.iter().zip(figures).collect();
        self.upsert(
            "INSERT INTO runs (id, session_id, project_id, name, started_at, ended_at, status, error, metadata,
                               span_cost, span_cost_n, span_input, span_input_n, span_output, span_output_n,
                               tool_calls, span_count) ",
            " ON CONFLICT (id) DO UPDATE SET
                 ended_at = COALESCE(excluded.ended_at, runs.ended_at),
                 status = excluded.status,
                 error = excluded.error,
                 metadata = excluded.metadata
             WHERE runs.project_id = excluded.project_id
               AND (runs.status = 'running' OR excluded.status <> 'running')",
            17,
            &rows,
            |b, (r, f), project| {
                b.push_bind(r.id.to_string())
                    .push_bind(r.session_id.to_string())
                    .push_bind(project.to_owned())
                    .push_bind(r.name.clone())
                    .push_bind(ts(&r.started_at))
                    .push_bind(r.ended_at.as_ref().map(ts))
                    .push_bind(r.status.as_str())
                    .push_bind(r.error.as_ref().map(js))
                    .push_bind(js(&r.metadata))
                    .push_bind(f.cost.0)
                    .push_bind(f.cost.1)
                    .push_bind(f.input.0)
                    .push_bind(f.input.1)
                    .push_bind(f.output.0)
                    .push_bind(f.output.1)
                    .push_bind(f.tool_calls)
                    .push_bind(f.spans);
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
