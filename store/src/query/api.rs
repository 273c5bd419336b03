//! The public API's reads beyond the dashboard's: spans and scores across runs, metrics grouped
//! by day, run name or model, and deleting a run or a session for a data-subject request.

use chrono::{DateTime, Utc};
use northstar_wire::attributes as attr;
use northstar_wire::{Score, ScoreSource, Span, SpanKind, Status};
use uuid::Uuid;

use super::sql::{Arg, Reader};
use super::{JsonMatch, TimeRange, count, push_after, push_range};
use crate::StoreError;
use crate::rows::{self, Columns, select};

/// Which spans `GET /api/v1/spans` lists, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanFilter {
    pub run: Option<Uuid>,
    /// `Some(None)`: a run's top-level spans; `Some(Some(p))`: the children of span `p`.
    pub parent: Option<Option<Uuid>>,
    pub kind: Option<SpanKind>,
    pub name: Option<String>,
    pub status: Option<Status>,
    /// A model span's `attributes.model`.
    pub model: Option<String>,
    /// Attributes that must be present (`None`) or hold these values (see [`JsonMatch`]).
    pub attributes: Vec<JsonMatch>,
    /// On `started_at`.
    pub range: TimeRange,
    /// Keyset paging: only spans after this (start, id).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u32,
}

/// Which scores `GET /api/v1/scores` lists, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreQuery {
    pub run: Option<Uuid>,
    pub name: Option<String>,
    pub source: Option<ScoreSource>,
    /// On `created_at`.
    pub range: TimeRange,
    /// Keyset paging: only scores before this (created, id).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u32,
}

/// What metrics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsGroup {
    /// UTC day of the run's start (`YYYY-MM-DD`).
    Day,
    /// The run's name.
    RunName,
    /// The model of each model span: its calls, not runs.
    Model,
}

/// The figures of one group: runs (or, by model, model calls).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRow {
    pub key: String,
    /// Runs, or model calls when grouped by model.
    pub count: i64,
    pub errors: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Nearest-rank percentiles of the finished ones' durations; `None` when none finished.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

pub(crate) async fn span_list<R: Reader>(r: &R, project: Uuid, f: &SpanFilter) -> Result<Vec<Span>, StoreError> {
    let mut q = r.sql();
    let spans = q.table("spans");
    let columns = select::SPAN.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
    q.push(&format!("SELECT {columns} FROM {spans} s WHERE s.project_id = ")).arg(Arg::Uuid(project));
    if let Some(run) = f.run {
        q.push(" AND s.run_id = ").arg(Arg::Uuid(run));
    }
    match f.parent {
        None => {}
        Some(None) => {
            q.push(" AND s.parent_span_id IS NULL");
        }
        Some(Some(parent)) => {
            q.push(" AND s.parent_span_id = ").arg(Arg::Uuid(parent));
        }
    }
    if let Some(kind) = f.kind {
        q.push(" AND s.kind = ").arg(Arg::Text(kind.as_str().to_owned()));
    }
    if let Some(name) = &f.name {
        q.push(" AND s.name = ").arg(Arg::Text(name.clone()));
    }
    if let Some(status) = f.status {
        q.push(" AND s.status = ").arg(Arg::Text(status.as_str().to_owned()));
    }
    if let Some(model) = &f.model {
        let m = q.json_text("s.attributes", attr::MODEL);
        q.push(&format!(" AND s.kind = 'model' AND {m} = ")).arg(Arg::Text(model.clone()));
    }
    super::push_json_matches(&mut q, "s.attributes", &f.attributes);
    push_range(&mut q, "s.started_at", &f.range);
    push_after(&mut q, ("s.started_at", "s.id"), f.after, false);
    q.push(&format!(" ORDER BY s.started_at, s.id LIMIT {}", f.limit));
    r.fetch_all(q).await?.iter().map(rows::span).collect()
}

pub(crate) async fn score_list<R: Reader>(r: &R, project: Uuid, f: &ScoreQuery) -> Result<Vec<Score>, StoreError> {
    let mut q = r.sql();
    let (cols, scores) = (super::scores::columns(&q), q.table("scores"));
    q.push(&format!("SELECT {cols} FROM {scores} sc WHERE sc.project_id = ")).arg(Arg::Uuid(project));
    if let Some(run) = f.run {
        q.push(" AND sc.trace_id = ").arg(Arg::Uuid(run));
    }
    if let Some(name) = &f.name {
        q.push(" AND sc.name = ").arg(Arg::Text(name.clone()));
    }
    if let Some(source) = f.source {
        let source_text = q.as_text("sc.source");
        q.push(&format!(" AND {source_text} = ")).arg(Arg::Text(source.as_str().to_owned()));
    }
    push_range(&mut q, "sc.created_at", &f.range);
    push_after(&mut q, ("sc.created_at", "sc.id"), f.after, true);
    q.push(&format!(" ORDER BY sc.created_at DESC, sc.id DESC LIMIT {}", f.limit));
    r.fetch_all(q).await?.iter().map(rows::score).collect()
}

/// Figures by day, run name or model over `range` (runs by start; model calls by their
/// span's start), in key order. Percentiles by window functions, one SQL text for both
/// backends.
pub(crate) async fn metrics<R: Reader>(
    r: &R,
    project: Uuid,
    range: TimeRange,
    group: MetricsGroup,
) -> Result<Vec<MetricsRow>, StoreError> {
    let mut q = r.sql();
    let (runs, spans) = (q.table("runs"), q.table("spans"));
    // Each row of `items`: its group key `g`, error flag, cost, tokens and duration `d`.
    let items = match group {
        MetricsGroup::Day | MetricsGroup::RunName => {
            let key = if group == MetricsGroup::Day { q.day("r.started_at") } else { "r.name".to_owned() };
            let (cost, input, output) =
                (super::run_cost(&q, "r"), super::run_input_tokens(&q, "r"), super::run_output_tokens(&q, "r"));
            let d = q.millis("r.started_at", "r.ended_at");
            q.push(&format!(
                "WITH items AS (SELECT {key} AS g, CASE WHEN r.status = 'error' THEN 1 ELSE 0 END AS err,
                   CAST({cost} AS DOUBLE PRECISION) AS cost, CAST({input} AS DOUBLE PRECISION) AS tin,
                   CAST({output} AS DOUBLE PRECISION) AS tout, {d} AS d
                 FROM {runs} r WHERE r.project_id = "
            ));
            q.arg(Arg::Uuid(project));
            push_range(&mut q, "r.started_at", &range);
            "items"
        }
        MetricsGroup::Model => {
            let model = q.json_text("s.attributes", attr::MODEL);
            let num = |key: &str| format!("COALESCE({}, 0)", q.json_num("s.attributes", key));
            let (cost, input, output) = (num(attr::COST_USD), num(attr::INPUT_TOKENS), num(attr::OUTPUT_TOKENS));
            let d = q.millis("s.started_at", "s.ended_at");
            q.push(&format!(
                "WITH items AS (SELECT COALESCE({model}, 'unknown') AS g, CASE WHEN s.status = 'error' THEN 1 ELSE 0 END AS err,
                   CAST({cost} AS DOUBLE PRECISION) AS cost, CAST({input} AS DOUBLE PRECISION) AS tin,
                   CAST({output} AS DOUBLE PRECISION) AS tout, {d} AS d
                 FROM {spans} s WHERE s.kind = 'model' AND s.project_id = "
            ));
            q.arg(Arg::Uuid(project));
            push_range(&mut q, "s.started_at", &range);
            "items"
        }
    };
    q.push(&format!(
        "),
         totals AS (SELECT g, COUNT(*) AS n, SUM(err) AS errors, SUM(cost) AS cost, SUM(tin) AS tin, SUM(tout) AS tout,
                    COUNT(d) AS finished FROM {items} GROUP BY g),
         ranked AS (SELECT g, d, ROW_NUMBER() OVER (PARTITION BY g ORDER BY d) AS rn FROM {items} WHERE d IS NOT NULL),
         pct AS (SELECT k.g,
                   MAX(CASE WHEN k.rn = (t.finished + 1) / 2 THEN k.d END) AS p50,
                   MAX(CASE WHEN k.rn = (t.finished * 95 + 99) / 100 THEN k.d END) AS p95
                 FROM ranked k JOIN totals t ON t.g = k.g GROUP BY k.g)
         SELECT t.g AS g, CAST(t.n AS BIGINT) AS n, CAST(t.errors AS BIGINT) AS errors,
                CAST(t.cost AS DOUBLE PRECISION) AS cost, CAST(t.tin AS DOUBLE PRECISION) AS tin,
                CAST(t.tout AS DOUBLE PRECISION) AS tout, p.p50 AS p50, p.p95 AS p95
         FROM totals t LEFT JOIN pct p ON p.g = t.g ORDER BY t.g"
    ));
    r.fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            Ok(MetricsRow {
                key: row.opt_text("g")?.unwrap_or_default(),
                count: row.i64("n")?,
                errors: row.i64("errors")?,
                cost_usd: row.f64("cost")?,
                input_tokens: count(row.f64("tin")?),
                output_tokens: count(row.f64("tout")?),
                latency_p50_ms: row.opt_f64("p50")?,
                latency_p95_ms: row.opt_f64("p95")?,
            })
        })
        .collect()
}
