//! Run and session figures kept in columns, so the dashboard's lists sort and filter by index
//! instead of aggregating spans at read time.
//!
//! **Runs** hold the sums of their model spans' `attributes.cost_usd` / `input_tokens` /
//! `output_tokens`, with how many spans carried each (`span_cost_n`, …: the cost rule falls
//! back to the run's metadata only when that count is 0), their tool spans and all spans. The
//! ingest transaction adds what each written span changes: its figures minus those of the stored
//! copy it replaces, exactly under the upsert's rule (a final span is never replaced by a
//! running one). A span's kind never changes once stored. A run the batch creates is inserted
//! with what its spans add ([`Locked::initial_figures`]): a runs row carries a dozen indexes,
//! and an insert followed by an update wrote every one of them twice. Two batches writing
//! spans of one run take turns on the run's lock (below) and read each other's result.
//!
//! **Sessions** hold their status, run and errored-run counts, tool calls, cost, tokens, last
//! activity and duration. A batch adds what its runs change: each run's part in its session
//! (errored or not, tool calls, cost, tokens, last activity) is read before the batch touches
//! the run and again after, and the difference is added to the session row by the batch's last
//! statement, so the session row is locked only for the commit, not the whole batch. The
//! before-read is exact because every batch that may change a run first takes that run's
//! transaction-scoped advisory lock (Postgres; SQLite writers already take turns): a batch that
//! inserts a run has committed or not started when another reads it. Should a run's last
//! activity move back, its session is recomputed from its runs instead (a maximum cannot be
//! subtracted). The cost of a batch is independent of the session's size. Sums of floating-point
//! figures kept this way may differ from a rebuild in the last bits.
//!
//! [`rebuild`] recomputes everything from the spans: after migration 0004 and on demand.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use northstar_wire::attributes as attr;
use northstar_wire::{Batch, Span, SpanKind, Status};
use serde_json::Value;
use uuid::Uuid;

use super::Caller;
use crate::StoreError;
use crate::query::sql::{Arg, Dialect, SQLITE_MAX_PARAMS, Sql, WriteTx};
use crate::query::{run_cost, run_input_tokens, run_output_tokens};
use crate::rows::Columns;

/// What one model span adds to its run: (value, 1) per figure it carries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Figures {
    cost: (f64, i64),
    input: (f64, i64),
    output: (f64, i64),
}

impl Figures {
    fn of(kind: SpanKind, cost: Option<f64>, input: Option<f64>, output: Option<f64>) -> Self {
        if kind != SpanKind::Model {
            return Self::default();
        }
        let one = |v: Option<f64>| v.map_or((0.0, 0), |v| (v, 1));
        Self { cost: one(cost), input: one(input), output: one(output) }
    }

    fn of_attributes(kind: SpanKind, attributes: &Value) -> Self {
        let num = |key: &str| attributes.get(key).filter(|v| v.is_number()).and_then(Value::as_f64);
        Self::of(kind, num(attr::COST_USD), num(attr::INPUT_TOKENS), num(attr::OUTPUT_TOKENS))
    }
}

/// What a batch's spans add to each run (as (sum, count) per figure), and what a run the batch
/// creates starts with.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RunDelta {
    pub(crate) cost: (f64, i64),
    pub(crate) input: (f64, i64),
    pub(crate) output: (f64, i64),
    pub(crate) tool_calls: i64,
    pub(crate) spans: i64,
}

impl RunDelta {
    fn add(&mut self, f: Figures, sign: f64) {
        let add = |acc: &mut (f64, i64), (v, n): (f64, i64)| {
            acc.0 += sign * v;
            acc.1 += sign as i64 * n;
        };
        add(&mut self.cost, f.cost);
        add(&mut self.input, f.input);
        add(&mut self.output, f.output);
    }
}

/// A stored span, as far as figures go.
struct Stored {
    kind: SpanKind,
    status: Status,
    figures: Figures,
}

/// Before the spans are written (their runs locked by [`lock_runs`]): each run's change, from
/// the batch's spans and the stored copies they will replace.
pub(crate) async fn span_deltas<T: WriteTx>(tx: &mut T, spans: &[Span]) -> Result<Vec<(Uuid, RunDelta)>, StoreError> {
    let project = tx.project();
    let mut q = Sql::new(T::DIALECT);
    let table = q.table("spans");
    let num = |key| format!("CAST({} AS DOUBLE PRECISION)", q.json_num("attributes", key));
    let (cost, input, output) = (num(attr::COST_USD), num(attr::INPUT_TOKENS), num(attr::OUTPUT_TOKENS));
    q.push(&format!(
        "SELECT id, kind, status, {cost} AS cost, {input} AS input, {output} AS output FROM {table} WHERE "
    ));
    q.project_is("project_id", project);
    q.push(" AND ").in_ids("id", spans.iter().map(|s| s.id).collect());
    let mut stored = HashMap::new();
    for row in tx.fetch_all(q).await? {
        let kind = row.parsed("kind", SpanKind::parse)?;
        let figures = Figures::of(kind, row.opt_f64("cost")?, row.opt_f64("input")?, row.opt_f64("output")?);
        stored.insert(row.uuid("id")?, Stored { kind, status: row.parsed("status", Status::parse)?, figures });
    }

    let mut deltas: HashMap<Uuid, RunDelta> = HashMap::new();
    for span in spans {
        let delta = deltas.entry(span.run_id).or_default();
        match stored.get(&span.id) {
            None => {
                delta.add(Figures::of_attributes(span.kind, &span.attributes), 1.0);
                delta.spans += 1;
                delta.tool_calls += i64::from(span.kind == SpanKind::Tool);
            }
            // The upsert's guard: a final span is never replaced by a running copy.
            Some(old) if old.status.is_final() && !span.status.is_final() => {}
            Some(old) => {
                delta.add(Figures::of_attributes(old.kind, &span.attributes), 1.0);
                delta.add(old.figures, -1.0);
            }
        }
    }
    let mut deltas: Vec<_> = deltas.into_iter().filter(|(_, d)| *d != RunDelta::default()).collect();
    deltas.sort_unstable_by_key(|(id, _)| *id);
    Ok(deltas)
}

/// After the spans are written: adds each run's change to its columns.
pub(crate) async fn add_to_runs<T: WriteTx>(tx: &mut T, deltas: Vec<(Uuid, RunDelta)>) -> Result<(), StoreError> {
    let project = tx.project();
    for (run, d) in deltas {
        let mut q = Sql::new(T::DIALECT);
        let runs = q.table("runs");
        q.push(&format!("UPDATE {runs} SET span_cost = span_cost + ")).arg(Arg::F64(d.cost.0));
        q.push(", span_cost_n = span_cost_n + ").arg(Arg::I64(d.cost.1));
        q.push(", span_input = span_input + ").arg(Arg::F64(d.input.0));
        q.push(", span_input_n = span_input_n + ").arg(Arg::I64(d.input.1));
        q.push(", span_output = span_output + ").arg(Arg::F64(d.output.0));
        q.push(", span_output_n = span_output_n + ").arg(Arg::I64(d.output.1));
        q.push(", tool_calls = tool_calls + ").arg(Arg::I64(d.tool_calls));
        q.push(", span_count = span_count + ").arg(Arg::I64(d.spans));
        q.push(" WHERE id = ").arg(Arg::Uuid(run)).push(" AND project_id = ").arg(Arg::Uuid(project));
        tx.fetch_all(q).await?;
    }
    Ok(())
}

/// A run's part in its session's figures.
#[derive(Debug, Clone, Copy)]
struct Part {
    session: Uuid,
    errored: i64,
    tool_calls: i64,
    cost: f64,
    input: f64,
    output: f64,
    last: DateTime<Utc>,
}

/// The runs a batch may change, locked, and their parts before the batch.
pub(crate) struct Locked {
    runs: Vec<Uuid>,
    before: HashMap<Uuid, Part>,
}

impl Locked {
    /// What each of `runs` (the batch's, in order) is inserted with: a run not stored before
    /// starts with what the batch's spans add to it, taken out of `deltas`, so it is written
    /// once (an insert and then an update would write the row, and every index of a table
    /// with many, twice). A stored run keeps its figures (the upsert leaves them) and gets its
    /// delta afterwards. The figures go to a run's first row only.
    pub(crate) fn initial_figures(
        &self,
        runs: &[northstar_wire::Run],
        deltas: &mut Vec<(Uuid, RunDelta)>,
    ) -> Vec<RunDelta> {
        let written: HashSet<Uuid> = runs.iter().map(|r| r.id).collect();
        let (new, stored): (Vec<_>, Vec<_>) = std::mem::take(deltas)
            .into_iter()
            .partition(|(run, _)| !self.before.contains_key(run) && written.contains(run));
        *deltas = stored;
        let mut new: HashMap<Uuid, RunDelta> = new.into_iter().collect();
        runs.iter().map(|r| new.remove(&r.id).unwrap_or_default()).collect()
    }
}

/// Before anything is written: takes the lock of every run the batch writes or adds spans to
/// (in one order for all batches, so none waits on another in a cycle) and reads their parts.
pub(crate) async fn lock_runs<T: WriteTx>(tx: &mut T, batch: &Batch, caller: Caller) -> Result<Locked, StoreError> {
    let runs = super::unique(batch.runs.iter().map(|r| r.id).chain(batch.spans.iter().map(|s| s.run_id)));
    if runs.is_empty() {
        return Ok(Locked { runs, before: HashMap::new() });
    }
    if caller == Caller::Native {
        take_locks(tx, &runs).await?;
    }
    let before = parts(tx, &runs).await?;
    Ok(Locked { runs, before })
}

/// The run locks of [`lock_runs`] alone, for a caller that must hold them before it builds its
/// batch (OTLP ingest reads the runs it is about to change).
pub(crate) async fn take_locks<T: WriteTx>(tx: &mut T, runs: &[Uuid]) -> Result<(), StoreError> {
    if runs.is_empty() || T::DIALECT != Dialect::Postgres {
        return Ok(());
    }
    // Advisory, not row locks: a run the batch inserts has no row to lock yet.
    let mut q = Sql::new(T::DIALECT);
    let (shared, exclusive) = run_locks(runs);
    q.push("SELECT pg_advisory_xact_lock_shared(k)::text FROM unnest(").arg(Arg::I64s(shared)).push("::int8[]) AS k");
    q.push(" UNION ALL SELECT pg_advisory_xact_lock(k)::text FROM unnest(").arg(Arg::I64s(exclusive));
    q.push("::int8[]) AS k");
    tx.fetch_all(q).await?;
    Ok(())
}

/// Advisory lock keys of NorthStar's run locks: `NS` in the high bits, then the level.
const LOCK_SPACE: i64 = 0x4E53 << 32;
const COARSE: i64 = LOCK_SPACE | 1 << 24;
const FINE: i64 = LOCK_SPACE | 2 << 24;
const COARSE_BUCKETS: u64 = 64;
const FINE_BUCKETS: u64 = 1 << 20;
/// The most runs a batch locks one by one; a batch with more locks coarse buckets instead.
const MOST_FINE_LOCKS: usize = 64;

/// The advisory locks (shared, exclusive) that give a batch the runs `runs`, in the order to
/// take them, so that no batch takes more than [`MOST_FINE_LOCKS`] + [`COARSE_BUCKETS`] locks
/// whatever its size (Postgres' lock table is shared by every session of the cluster, and a
/// lock per run let one batch fill it). Each run hashes to a coarse bucket and a fine one. A
/// small batch holds its runs' coarse buckets shared and their fine buckets exclusively; a
/// large one holds its coarse buckets exclusively. So two small batches exclude each other only
/// on a shared fine bucket, and a large batch excludes everyone touching its coarse buckets.
/// All coarse keys sort before all fine keys and each list is sorted: one order for everyone.
fn run_locks(runs: &[Uuid]) -> (Vec<i64>, Vec<i64>) {
    let hash = |run: &Uuid| {
        let (high, low) = run.as_u64_pair();
        high ^ low
    };
    let keys = |base: i64, buckets: u64| {
        let mut keys: Vec<i64> = runs.iter().map(|r| base | (hash(r) % buckets) as i64).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    if runs.len() <= MOST_FINE_LOCKS {
        (keys(COARSE, COARSE_BUCKETS), keys(FINE, FINE_BUCKETS))
    } else {
        (Vec::new(), keys(COARSE, COARSE_BUCKETS))
    }
}

async fn parts<T: WriteTx>(tx: &mut T, runs: &[Uuid]) -> Result<HashMap<Uuid, Part>, StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let table = q.table("runs");
    let (cost, input, output) = (run_cost(&q, "r"), run_input_tokens(&q, "r"), run_output_tokens(&q, "r"));
    q.push(&format!(
        "SELECT r.id, r.session_id, CAST(CASE WHEN r.status = 'error' THEN 1 ELSE 0 END AS BIGINT) AS errored, r.tool_calls,
                CAST({cost} AS DOUBLE PRECISION) AS cost, CAST({input} AS DOUBLE PRECISION) AS input,
                CAST({output} AS DOUBLE PRECISION) AS output, COALESCE(r.ended_at, r.started_at) AS last
         FROM {table} r WHERE "
    ));
    q.project_is("r.project_id", tx.project()).push(" AND ").in_ids("r.id", runs.to_vec());
    let mut parts = HashMap::new();
    for row in tx.fetch_all(q).await? {
        let part = Part {
            session: row.uuid("session_id")?,
            errored: row.i64("errored")?,
            tool_calls: row.i64("tool_calls")?,
            cost: row.f64("cost")?,
            input: row.f64("input")?,
            output: row.f64("output")?,
            last: row.ts("last")?,
        };
        parts.insert(row.uuid("id")?, part);
    }
    Ok(parts)
}

/// What a batch changes in one session.
#[derive(Debug, Default)]
struct SessionDelta {
    runs: i64,
    errored: i64,
    tool_calls: i64,
    cost: f64,
    input: f64,
    output: f64,
    /// The latest activity of the session's runs the batch wrote.
    latest: Option<DateTime<Utc>>,
    /// A run's last activity moved back: recompute from the runs.
    recompute: bool,
}

/// The batch's last statements: adds to each session what the batch changed in its runs, and
/// recomputes the status and duration of every session the batch wrote (for
/// [`Caller::Traces`], its end too: each row is updated once).
pub(crate) async fn update_sessions<T: WriteTx>(
    tx: &mut T,
    batch: &Batch,
    locked: Locked,
    caller: Caller,
) -> Result<(), StoreError> {
    let mut sessions: BTreeMap<Uuid, SessionDelta> =
        batch.sessions.iter().map(|s| (s.id, SessionDelta::default())).collect();
    if !locked.runs.is_empty() {
        let after = parts(tx, &locked.runs).await?;
        for (run, new) in &after {
            let d = sessions.entry(new.session).or_default();
            d.latest = d.latest.max(Some(new.last));
            let old = locked.before.get(run);
            let (o_errored, o_tools, o_cost, o_input, o_output) =
                old.map_or((0, 0, 0.0, 0.0, 0.0), |o| (o.errored, o.tool_calls, o.cost, o.input, o.output));
            d.runs += i64::from(old.is_none());
            d.errored += new.errored - o_errored;
            d.tool_calls += new.tool_calls - o_tools;
            d.cost += new.cost - o_cost;
            d.input += new.input - o_input;
            d.output += new.output - o_output;
            d.recompute |= old.is_some_and(|o| o.last > new.last);
        }
    }
    let project = tx.project();
    let (recompute, add): (Vec<_>, Vec<_>) = sessions.into_iter().partition(|(_, d)| d.recompute);
    if !recompute.is_empty() {
        let ids: Vec<Uuid> = recompute.into_iter().map(|(id, _)| id).collect();
        let mut q = Sql::new(T::DIALECT);
        refresh_sessions(&mut q, project, Some(ids.clone()));
        tx.fetch_all(q).await?;
        if caller == Caller::Traces {
            let mut q = Sql::new(T::DIALECT);
            end_from_runs(&mut q, project, ids);
            tx.fetch_all(q).await?;
        }
    }
    // One statement per chunk of sessions (8 parameters each, under SQLite's limit). Postgres'
    // concurrent batches first lock each chunk's rows in id order (`add` is sorted), so no
    // two batches ever wait on each other's sessions in opposite orders.
    let chunk = match T::DIALECT {
        Dialect::Sqlite => SQLITE_MAX_PARAMS / 8,
        Dialect::Postgres => 1000,
    };
    for some in add.chunks(chunk) {
        if T::DIALECT == Dialect::Postgres {
            let mut q = Sql::new(T::DIALECT);
            let sessions = q.table("sessions");
            q.push(&format!("SELECT id FROM {sessions} WHERE "));
            q.project_is("project_id", project).push(" AND ").in_ids("id", some.iter().map(|(id, _)| *id).collect());
            // The lock the UPDATE takes, taken first and in id order. Not `FOR UPDATE`, which
            // conflicts with the key-share lock a batch's new run takes on its session.
            q.push(" ORDER BY id FOR NO KEY UPDATE");
            tx.fetch_all(q).await?;
        }
        let mut q = Sql::new(T::DIALECT);
        add_to_sessions(&mut q, project, some, caller);
        tx.fetch_all(q).await?;
    }
    Ok(())
}

/// One `UPDATE` adding each session's delta, from a `VALUES` list; for [`Caller::Traces`] it
/// also sets each session's end from its runs ([`end_from_runs`]'s rule).
fn add_to_sessions(q: &mut Sql, project: Uuid, deltas: &[(Uuid, SessionDelta)], caller: Caller) {
    let (sessions, runs) = (q.table("sessions"), q.table("runs"));
    q.push(&format!(
        "UPDATE {sessions} SET run_count = run_count + d.runs, errored_runs = errored_runs + d.errored,
                tool_calls = tool_calls + d.tools, cost_usd = cost_usd + d.cost,
                input_tokens = input_tokens + d.input, output_tokens = output_tokens + d.output,
                tokens = tokens + d.input + d.output, "
    ));
    let (ended, end_column) = match caller {
        Caller::Native => ("ended_at", String::new()),
        Caller::Traces => {
            q.push("ended_at = d.ended, ");
            ("d.ended", format!(", {} AS ended", run_end(&runs, "v.column1")))
        }
    };
    // Every right-hand side reads the row as it was, so the new last activity is spelled out.
    let latest = "(CASE WHEN last_at IS NULL OR last_at < d.latest THEN d.latest ELSE last_at END)";
    let duration = q.millis("created_at", &format!("COALESCE({ended}, {latest})"));
    q.push(&format!(
        "last_at = {latest}, duration_ms = COALESCE({duration}, 0),
                status = CASE WHEN errored_runs + d.errored > 0 THEN 'errored' WHEN {ended} IS NULL THEN 'active' ELSE 'completed' END
         FROM (SELECT column1 AS id, column2 AS runs, column3 AS errored, column4 AS tools, column5 AS cost,
                      column6 AS input, column7 AS output, column8 AS latest{end_column} FROM (VALUES "
    ));
    for (i, (id, d)) in deltas.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" });
        q.arg(Arg::Uuid(*id)).push(", ").arg(Arg::I64(d.runs)).push(", ").arg(Arg::I64(d.errored));
        q.push(", ").arg(Arg::I64(d.tool_calls)).push(", ").arg(Arg::F64(d.cost));
        q.push(", ").arg(Arg::F64(d.input)).push(", ").arg(Arg::F64(d.output)).push(", ");
        match (d.latest, q.dialect) {
            (Some(t), _) => q.arg(Arg::Ts(t)),
            (None, Dialect::Postgres) => q.push("CAST(NULL AS timestamptz)"),
            (None, Dialect::Sqlite) => q.push("NULL"),
        };
        q.push(")");
    }
    q.push(&format!(") AS v) AS d WHERE {sessions}.id = d.id AND {sessions}.project_id = ")).arg(Arg::Uuid(project));
}

/// The end of the session `session` (an expression) as its runs give it: none while one of
/// them is running, else the last run's end.
fn run_end(runs: &str, session: &str) -> String {
    format!(
        "CASE WHEN EXISTS (SELECT 1 FROM {runs} r WHERE r.session_id = {session} AND r.status = 'running') THEN NULL
              ELSE (SELECT MAX(r.ended_at) FROM {runs} r WHERE r.session_id = {session}) END"
    )
}

/// `UPDATE` of the sessions `ids` of `project`: each ends with its runs ([`run_end`]), and its
/// status and duration follow.
pub(crate) fn end_from_runs(q: &mut Sql, project: Uuid, ids: Vec<Uuid>) {
    let (table, runs) = (q.table("sessions"), q.table("runs"));
    let end = run_end(&runs, &format!("{table}.id"));
    // The end is computed once per session (a row-value update, as `refresh_sessions` does).
    let duration = q.millis(&format!("{table}.created_at"), &format!("COALESCE(v.ended, {table}.last_at)"));
    q.push(&format!(
        "UPDATE {table} SET (ended_at, status, duration_ms) =
           (SELECT v.ended,
                   CASE WHEN {table}.errored_runs > 0 THEN 'errored' WHEN v.ended IS NULL THEN 'active' ELSE 'completed' END,
                   COALESCE({duration}, 0)
            FROM (SELECT {end} AS ended) v)
         WHERE "
    ));
    q.project_is("project_id", project).push(" AND ").in_ids("id", ids);
}

/// `UPDATE` of the sessions of `project` (those of `only`, when given) from their runs' columns.
pub(crate) fn refresh_sessions(q: &mut Sql, project: Uuid, only: Option<Vec<Uuid>>) {
    let (sessions, runs) = (q.table("sessions"), q.table("runs"));
    let (cost, input, output) = (run_cost(q, "r"), run_input_tokens(q, "r"), run_output_tokens(q, "r"));
    let last = "MAX(COALESCE(r.ended_at, r.started_at))";
    let s = &sessions;
    let duration = q.millis(&format!("{s}.created_at"), &format!("COALESCE({s}.ended_at, {last})"));
    q.push(&format!(
        "UPDATE {s} SET (status, run_count, errored_runs, tool_calls, cost_usd, input_tokens, output_tokens, tokens,
                         last_at, duration_ms) =
           (SELECT CASE WHEN SUM(CASE WHEN r.status = 'error' THEN 1 ELSE 0 END) > 0 THEN 'errored'
                        WHEN {s}.ended_at IS NULL THEN 'active' ELSE 'completed' END,
                   COUNT(*),
                   COALESCE(SUM(CASE WHEN r.status = 'error' THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(r.tool_calls), 0),
                   COALESCE(SUM({cost}), 0),
                   COALESCE(SUM({input}), 0),
                   COALESCE(SUM({output}), 0),
                   COALESCE(SUM({input}), 0) + COALESCE(SUM({output}), 0),
                   {last},
                   COALESCE({duration}, 0)
            FROM {runs} r WHERE r.session_id = {s}.id)
         WHERE "
    ));
    match only {
        Some(ids) => q.project_is("project_id", project).push(" AND ").in_ids("id", ids),
        None => q.push("project_id = ").arg(Arg::Uuid(project)),
    };
}

/// `UPDATE` of every run of `project` from its spans.
fn rebuild_runs(q: &mut Sql, project: Uuid) {
    let (runs, spans) = (q.table("runs"), q.table("spans"));
    let model = |e: String| format!("CASE WHEN s.kind = 'model' THEN {e} END");
    let (cost, input, output) = (
        model(q.json_num("s.attributes", attr::COST_USD)),
        model(q.json_num("s.attributes", attr::INPUT_TOKENS)),
        model(q.json_num("s.attributes", attr::OUTPUT_TOKENS)),
    );
    q.push(&format!(
        "UPDATE {runs} SET (span_cost, span_cost_n, span_input, span_input_n, span_output, span_output_n,
                            tool_calls, span_count) =
           (SELECT COALESCE(SUM({cost}), 0), COUNT({cost}), COALESCE(SUM({input}), 0), COUNT({input}),
                   COALESCE(SUM({output}), 0), COUNT({output}),
                   COALESCE(SUM(CASE WHEN s.kind = 'tool' THEN 1 ELSE 0 END), 0), COUNT(*)
            FROM {spans} s WHERE s.run_id = {runs}.id)
         WHERE "
    ));
    q.push("project_id = ").arg(Arg::Uuid(project));
}

/// The two statements that recompute a project's figures from its spans, in order.
pub(crate) fn rebuild(dialect: Dialect, project: Uuid) -> [Sql; 2] {
    let mut runs = Sql::new(dialect);
    rebuild_runs(&mut runs, project);
    let mut sessions = Sql::new(dialect);
    refresh_sessions(&mut sessions, project, None);
    [runs, sessions]
}
