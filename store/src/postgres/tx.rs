//! A Postgres write transaction and the ingest upserts: one typed array per column, `UNNEST`ed,
//! so each table is one statement whatever the batch size.

use northstar_wire::{Event, Run, Score, Session, Span};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::rows::bound;
use crate::StoreError;
use crate::ingest::{IngestTx, RunDelta};
use crate::query::sql::{Dialect, Sql, WriteTx};

/// How an ingest transaction begins (one round trip). Every statement of a batch, foreign-key
/// checks included, looks rows up by key. On a table still growing past its last statistics
/// the planner prices a sequential scan below N index probes, and a plan cached then scans ever
/// more rows until the next ANALYZE: no sequential scans. And with them priced out, the
/// planner judged every generic plan dearer than a custom one and planned each statement
/// again on every execution (planning took more time than executing the lookups): the
/// statements are prepared once per connection, so their one generic plan is used.
pub(super) const INGEST_BEGIN: &str =
    "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan";

pub(crate) struct PgTx<'a> {
    pub(super) tx: Transaction<'a, Postgres>,
    pub(super) project: Uuid,
}

fn json(v: &Value) -> Json<&Value> {
    Json(v)
}

impl WriteTx for PgTx<'_> {
    type Row = PgRow;
    const DIALECT: Dialect = Dialect::Postgres;

    fn project(&self) -> Uuid {
        self.project
    }

    async fn fetch_all(&mut self, sql: Sql) -> Result<Vec<PgRow>, StoreError> {
        Ok(bound(sql).fetch_all(&mut *self.tx).await?)
    }
}

impl IngestTx for PgTx<'_> {
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

    async fn upsert_runs(&mut self, rows: &[Run], figures: &[RunDelta]) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO private.runs AS r (id, session_id, project_id, name, started_at, ended_at, status, error, metadata,
                                        span_cost, span_cost_n, span_input, span_input_n, span_output, span_output_n,
                                        tool_calls, span_count)
             SELECT t.id, t.session_id, $1, t.name, t.started_at, t.ended_at, t.status, t.error, t.metadata,
                    t.span_cost, t.span_cost_n, t.span_input, t.span_input_n, t.span_output, t.span_output_n,
                    t.tool_calls, t.span_count
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                         $7::text[], $8::jsonb[], $9::jsonb[], $10::float8[], $11::int8[], $12::float8[], $13::int8[],
                         $14::float8[], $15::int8[], $16::int8[], $17::int8[])
                  AS t(id, session_id, name, started_at, ended_at, status, error, metadata, span_cost, span_cost_n,
                       span_input, span_input_n, span_output, span_output_n, tool_calls, span_count)
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
        .bind(figures.iter().map(|f| f.cost.0).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.cost.1).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.input.0).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.input.1).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.output.0).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.output.1).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.tool_calls).collect::<Vec<_>>())
        .bind(figures.iter().map(|f| f.spans).collect::<Vec<_>>())
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
