//! The dashboard's read models: every query behind its pages, written once for both backends
//! (see [`sql`]). All of them are scoped to one project.
//!
//! **The cost rule**, applied everywhere (runs, sessions, models, days): a run's cost and
//! tokens are the sums of its `model` spans' `attributes.cost_usd` / `input_tokens` /
//! `output_tokens`; the run's own `metadata.cost_usd` / `total_input_tokens` /
//! `total_output_tokens` counts only when none of its model spans carries that figure, so
//! nothing is counted twice. Values that are not JSON numbers are ignored, never an error.

mod api;
mod overview;
mod runs;
mod scores;
mod sessions;
pub(crate) mod sql;
mod views;

use chrono::{DateTime, Utc};
use northstar_wire::attributes as attr;
use northstar_wire::{Score, ScoreDataType, ScoreSource, Status};
use serde_json::Value;
use uuid::Uuid;

pub use api::{MetricsGroup, MetricsRow, ScoreQuery, SpanFilter};
pub(crate) use api::{metrics, score_list, span_list};
pub(crate) use overview::overview;
pub(crate) use runs::{run_page, run_row, run_rows};
pub use scores::ScoreRow;
pub(crate) use scores::{add_score, list_scores, score_names, score_rows, score_summaries};
pub(crate) use sessions::{session_row, session_rows};
pub use views::{NodeView, RunOutline, RunView, SESSION_VIEW_RUNS, SessionView, SpanOutline, Turn};
pub(crate) use views::{node_view, run_outline, run_text_search, run_view, session_view};

/// The run's cost under the cost rule, as SQL over its row `r`.
pub(crate) fn run_cost(q: &sql::Sql, r: &str) -> String {
    rule(q, r, "span_cost", attr::COST_USD)
}

/// The run's input tokens under the cost rule.
pub(crate) fn run_input_tokens(q: &sql::Sql, r: &str) -> String {
    rule(q, r, "span_input", attr::TOTAL_INPUT_TOKENS)
}

/// The run's output tokens under the cost rule.
pub(crate) fn run_output_tokens(q: &sql::Sql, r: &str) -> String {
    rule(q, r, "span_output", attr::TOTAL_OUTPUT_TOKENS)
}

fn rule(q: &sql::Sql, r: &str, column: &str, metadata_key: &str) -> String {
    let fallback = q.json_num(&format!("{r}.metadata"), metadata_key);
    format!("(CASE WHEN {r}.{column}_n > 0 THEN {r}.{column} ELSE COALESCE({fallback}, 0) END)")
}

/// Characters of a run's first input a list shows at most.
const INPUT_PREVIEW: u32 = 300;

/// The start of the text of run `run`'s first `user_input` event, as an SQL value (NULL when
/// it has none). The partial index of migration 0009 finds it without reading the run's
/// other events. Binds nothing: the project is `P1`.
fn first_input(q: &sql::Sql, run: &str) -> String {
    let (events, recorded, p1) = (q.table("events"), q.recorded(), q.p1());
    let preview = q.message_preview("e.content", INPUT_PREVIEW);
    format!(
        "(SELECT {preview} FROM {events} e WHERE e.run_id = {run} AND e.project_id = {p1} AND e.type = 'user_input'
          ORDER BY e.created_at, e.{recorded} LIMIT 1)"
    )
}

/// The metadata keys that say who a run or session was for, in order of preference.
const USER_KEYS: [&str; 3] = ["user_id", "user", "user.id"];

/// Who `metadata` says a run or session was for (Rust's side of [`sql::Sql::metadata_user`]).
fn metadata_user(metadata: &Value) -> Option<String> {
    USER_KEYS.iter().find_map(|k| metadata.get(*k).and_then(Value::as_str)).map(str::to_owned)
}

/// A half-open time window `[from, to)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The project at a glance, for a time range (runs by `started_at`, sessions by `created_at`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    pub runs: i64,
    pub errored_runs: i64,
    pub sessions: i64,
    pub tool_calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Over finished runs; `None` when no run has ended.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    /// One entry per UTC day that has runs, oldest first.
    pub days: Vec<DayTotals>,
    /// Cost by model, most expensive first. A run priced only through its metadata counts
    /// under the model its spans name, else its `metadata.model`, else `unknown`.
    pub by_model: Vec<ModelTotals>,
}

impl Overview {
    /// Errored runs ÷ runs (0 when there are no runs).
    #[must_use]
    pub fn error_rate(&self) -> f64 {
        if self.runs == 0 { 0.0 } else { self.errored_runs as f64 / self.runs as f64 }
    }
}

/// The runs started on one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayTotals {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub runs: i64,
    pub errored_runs: i64,
    pub tool_calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Spend on one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTotals {
    pub model: String,
    /// Model spans (0 for runs priced only through their metadata).
    pub calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// A session's state as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Not ended and no errored run.
    Active,
    /// Ended, no errored run.
    Completed,
    /// At least one run ended in error.
    Errored,
}

impl SessionStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Errored => "errored",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "completed" => Some(Self::Completed),
            "errored" => Some(Self::Errored),
            _ => None,
        }
    }
}

/// Columns the sessions list sorts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionSort {
    #[default]
    Started,
    Duration,
    Runs,
    ToolCalls,
    Cost,
    Tokens,
}

impl SessionSort {
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Started, Self::Duration, Self::Runs, Self::ToolCalls, Self::Cost, Self::Tokens]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Duration => "duration",
            Self::Runs => "runs",
            Self::ToolCalls => "tool_calls",
            Self::Cost => "cost",
            Self::Tokens => "tokens",
        }
    }
}

/// What the sessions list shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFilter {
    pub status: Option<SessionStatus>,
    /// On `created_at`.
    pub range: TimeRange,
    /// Case-insensitive text in the session's id or metadata values, or in the id, name or
    /// metadata values of one of its runs.
    pub search: Option<String>,
    /// Keyset paging, for [`SessionSort::Started`]: only sessions after this (created, id) in
    /// the list's order.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub sort: SessionSort,
    pub descending: bool,
    pub limit: u32,
    pub offset: u32,
}

impl Default for SessionFilter {
    fn default() -> Self {
        Self {
            status: None,
            range: TimeRange::default(),
            search: None,
            after: None,
            sort: SessionSort::Started,
            descending: true,
            limit: 50,
            offset: 0,
        }
    }
}

/// One row of the sessions list.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: SessionStatus,
    /// To `ended_at`, or (while active) to the end of its latest run.
    pub duration_ms: Option<f64>,
    pub runs: i64,
    pub errored_runs: i64,
    pub tool_calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub metadata: Value,
    /// Who the session was for: its `metadata.user_id` (or `user`, `user.id`), else its first
    /// run's.
    pub user: Option<String>,
    /// Its first run's name and input (see [`RunRow::input`]).
    pub first_run: Option<String>,
    pub input: Option<String>,
}

/// Columns the runs list sorts by. Each has its index (migrations 0002, 0009).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunSort {
    #[default]
    Started,
    /// Running runs count as the longest (first when descending, last when ascending).
    Duration,
    Cost,
    Tokens,
}

impl RunSort {
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Started, Self::Duration, Self::Cost, Self::Tokens].into_iter().find(|s| s.as_str() == text)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Duration => "duration",
            Self::Cost => "cost",
            Self::Tokens => "tokens",
        }
    }
}

/// A page of rows and the number of rows that match in all, counted up to [`COUNT_CAP`]:
/// more than that reads `COUNT_CAP + 1` (counting a million runs for a pager costs more than
/// the page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

/// Rows a list counts at most (see [`Page`]).
pub const COUNT_CAP: i64 = 10_000;

/// The total a page already tells, without counting: a page that is not full (and not past
/// the end) is the last one.
fn known_total(offset: u32, limit: u32, rows: usize) -> Option<i64> {
    let rows = rows as i64;
    (rows < i64::from(limit) && (rows > 0 || offset == 0)).then_some(i64::from(offset) + rows)
}

/// A list's total for [`Page`]: what the page tells, else the rows of `table` (as `alias`) of
/// the project that `filters` keep, counted up to [`COUNT_CAP`] + 1.
async fn page_total<R: sql::Reader>(
    r: &R,
    (offset, limit, rows): (u32, u32, usize),
    (table, alias): (&str, &str),
    project: Uuid,
    filters: impl FnOnce(&mut sql::Sql),
) -> Result<i64, crate::StoreError> {
    if let Some(total) = known_total(offset, limit, rows) {
        return Ok(total);
    }
    let mut c = r.sql();
    let table = c.table(table);
    c.push(&format!("SELECT COUNT(*) AS n FROM (SELECT 1 FROM {table} {alias} WHERE {alias}.project_id = "));
    c.arg(sql::Arg::Uuid(project));
    filters(&mut c);
    c.push(&format!(" LIMIT {}) capped", COUNT_CAP + 1));
    count_of(r, c).await
}

/// Keeps runs that have a score of this name in the given bounds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreFilter {
    pub name: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// For categorical scores: the exact category.
    pub category: Option<String>,
}

/// What a runs list shows (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct RunFilter {
    pub session: Option<Uuid>,
    pub status: Option<Status>,
    /// On `started_at`.
    pub range: TimeRange,
    /// Case-insensitive text in the run's id, name or metadata values.
    pub search: Option<String>,
    pub score: Option<ScoreFilter>,
    /// The exact run name.
    pub name: Option<String>,
    /// A model one of its model spans names, or its `metadata.model`.
    pub model: Option<String>,
    /// Bounds (inclusive) on its cost under the cost rule, in USD.
    pub cost: Bounds,
    /// Bounds (inclusive) on its duration in ms; a running run has none and is left out.
    pub latency_ms: Bounds,
    /// Metadata keys that must be present or hold these values (see [`JsonMatch`]).
    pub metadata: Vec<JsonMatch>,
    /// Runs a span of which used this prompt version.
    pub prompt_version: Option<Uuid>,
    /// Keyset paging, for [`RunSort::Started`]: only runs after this (start, id) in the
    /// list's order (a cursor stays right while runs arrive; an offset would shift).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub sort: RunSort,
    pub descending: bool,
    pub limit: u32,
    pub offset: u32,
}

/// A top-level key of a JSON object that must be present with a non-null value (`None`), or
/// hold this value: a string, or a number or boolean as JSON writes it.
pub type JsonMatch = (String, Option<String>);

/// Appends a condition per match on JSON column `col`.
fn push_json_matches(q: &mut sql::Sql, col: &str, matches: &[JsonMatch]) {
    for (key, value) in matches {
        q.push(" AND ").json_text_at(col, key);
        match value {
            Some(value) => q.push(" = ").arg(sql::Arg::Text(value.clone())),
            None => q.push(" IS NOT NULL"),
        };
    }
}

/// Inclusive lower and upper bounds; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Default for RunFilter {
    fn default() -> Self {
        Self {
            session: None,
            status: None,
            range: TimeRange::default(),
            search: None,
            score: None,
            name: None,
            model: None,
            cost: Bounds::default(),
            latency_ms: Bounds::default(),
            metadata: Vec::new(),
            prompt_version: None,
            after: None,
            sort: RunSort::Started,
            descending: true,
            limit: 50,
            offset: 0,
        }
    }
}

/// A run with its figures under the cost rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub error: Option<Value>,
    pub metadata: Value,
    pub duration_ms: Option<f64>,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// The model of its model spans when they agree (else the smallest name, with
    /// `models` > 1), or `metadata.model`.
    pub model: Option<String>,
    pub models: i64,
    pub tool_calls: i64,
    pub spans: i64,
    /// The start of its first `user_input` event's text (what the run was asked).
    pub input: Option<String>,
    /// Who the run was for: `metadata.user_id` (or `user`, `user.id`).
    pub user: Option<String>,
    /// Its scores, newest first, when a list asks for them (empty otherwise).
    pub scores: Vec<Score>,
}

/// A score a person adds from the dashboard (source `human`) or a program through the public
/// API (source `api`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewScore {
    pub run: Uuid,
    pub span: Option<Uuid>,
    pub name: String,
    pub value: f64,
    pub data_type: ScoreDataType,
    pub string_value: Option<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub source: ScoreSource,
}

/// How one score name is distributed and how it moves.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSummary {
    pub name: String,
    pub data_type: ScoreDataType,
    pub count: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    /// Numeric: ten equal-width buckets from `min` to `max` (label = lower bound); boolean:
    /// `pass`/`fail`; categorical: one per category, most frequent first.
    pub buckets: Vec<(String, i64)>,
    /// Per UTC day: (`YYYY-MM-DD`, average value, count). For boolean scores the average is
    /// the pass rate.
    pub trend: Vec<(String, f64, i64)>,
}

/// The columns of a run row that [`run_figures`] reads (a CTE of runs must select them).
const RUN_FIGURE_COLUMNS: &str = "r.span_cost, r.span_cost_n, r.span_input, r.span_input_n, r.span_output, r.span_output_n, r.tool_calls, r.span_count";

/// The figures of one run under the cost rule, as SQL over its row `r` (see
/// [`crate::figures`], which keeps the columns).
fn run_figures(q: &sql::Sql) -> String {
    format!(
        "CAST({cost} AS DOUBLE PRECISION) AS cost_usd,
         CAST({input} AS DOUBLE PRECISION) AS input_tokens,
         CAST({output} AS DOUBLE PRECISION) AS output_tokens,
         r.tool_calls AS tool_calls, r.span_count AS spans",
        cost = run_cost(q, "r"),
        input = run_input_tokens(q, "r"),
        output = run_output_tokens(q, "r"),
    )
}

/// A run's model as SQL over `r` and `a` (its [`model_totals`] or [`run_models`]).
fn run_model(q: &sql::Sql) -> String {
    format!(
        "COALESCE(a.model, {mm}) AS model, CAST(COALESCE(a.models, 0) AS BIGINT) AS models",
        mm = q.json_text("r.metadata", attr::MODEL),
    )
}

/// Per run (of the runs `runs_sql` selects, by id): the model(s) its model spans name. Binds
/// nothing: the project is `P1`.
fn model_totals(q: &sql::Sql, runs_sql: &str) -> String {
    format!(
        "SELECT s.run_id AS run_id, MIN({name}) AS model, COUNT(DISTINCT {name}) AS models
         FROM {spans} s
         WHERE s.project_id = {p1} AND s.kind = 'model' AND s.run_id IN ({runs_sql})
         GROUP BY s.run_id",
        name = q.json_text("s.attributes", attr::MODEL),
        spans = q.table("spans"),
        p1 = q.p1(),
    )
}

/// [`model_totals`] for a page of runs (`ids_sql` selects them as `id`), in a few index
/// lookups per run however many model spans it has: each run's distinct models are found one
/// after the other, each the next one in the (run, model) index of migration 0009 (a "loose
/// index scan"; a run of 100,000 model calls to one model costs two lookups, not 100,000 rows).
fn run_models(q: &sql::Sql, ids_sql: &str) -> String {
    let (name, spans, p1) = (q.json_text("s.attributes", attr::MODEL), q.table("spans"), q.p1());
    let next = |run: &str, after: &str| {
        format!(
            "(SELECT {name} FROM {spans} s WHERE s.run_id = {run} AND s.kind = 'model' AND s.project_id = {p1}
              AND {name} {after} ORDER BY {name} LIMIT 1)"
        )
    };
    format!(
        "WITH RECURSIVE found(run_id, model) AS (
             SELECT p.id, {first} FROM ({ids_sql}) p
             UNION ALL
             SELECT f.run_id, {then} FROM found f WHERE f.model IS NOT NULL)
         SELECT run_id, MIN(model) AS model, COUNT(model) AS models FROM found GROUP BY run_id",
        first = next("p.id", "IS NOT NULL"),
        then = next("f.run_id", "> f.model"),
    )
}

/// Appends ` AND col >= from AND col < to` for the bounds that are set.
fn push_range(q: &mut sql::Sql, col: &str, range: &TimeRange) {
    if let Some(from) = range.from {
        q.push(" AND ").push(col).push(" >= ").arg(sql::Arg::Ts(from));
    }
    if let Some(to) = range.to {
        q.push(" AND ").push(col).push(" < ").arg(sql::Arg::Ts(to));
    }
}

/// Appends ` AND (a, b) < (after)` (`>` ascending): keyset paging on a list ordered by
/// `(a, b)`.
fn push_after(q: &mut sql::Sql, (a, b): (&str, &str), after: Option<(DateTime<Utc>, Uuid)>, descending: bool) {
    if let Some((at, id)) = after {
        let op = if descending { "<" } else { ">" };
        q.push(&format!(" AND ({a}, {b}) {op} (")).arg(sql::Arg::Ts(at)).push(", ").arg(sql::Arg::Uuid(id)).push(")");
    }
}

/// Appends ` AND expr >= min AND expr <= max` for the bounds that are set.
fn push_bounds(q: &mut sql::Sql, expr: &str, bounds: Bounds) {
    if let Some(min) = bounds.min {
        q.push(&format!(" AND {expr} >= ")).arg(sql::Arg::F64(min));
    }
    if let Some(max) = bounds.max {
        q.push(&format!(" AND {expr} <= ")).arg(sql::Arg::F64(max));
    }
}

/// Runs a `SELECT COUNT(*) AS n …`.
async fn count_of<R: sql::Reader>(r: &R, q: sql::Sql) -> Result<i64, crate::StoreError> {
    use crate::rows::Columns;
    match r.fetch_all(q).await?.first() {
        Some(row) => row.i64("n"),
        None => Ok(0),
    }
}

fn count(v: f64) -> i64 {
    // Token sums come back as doubles (JSON numbers); they are whole numbers in practice.
    v.round() as i64
}

#[cfg(test)]
mod tests {
    use super::known_total;

    #[test]
    fn a_page_that_is_not_full_is_the_last_and_tells_the_total() {
        assert_eq!(known_total(0, 50, 12), Some(12));
        assert_eq!(known_total(0, 50, 0), Some(0), "nothing at all");
        assert_eq!(known_total(100, 50, 7), Some(107));
        assert_eq!(known_total(0, 50, 50), None, "a full page: there may be more");
        assert_eq!(known_total(100, 50, 0), None, "past the end: how far is not known");
    }
}
