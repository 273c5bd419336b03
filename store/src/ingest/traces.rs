//! Spans from a tracing protocol (OTLP): stored whatever order they arrive in.
//!
//! Native ingest takes a batch whose every reference is already stored or earlier in the
//! batch. An OpenTelemetry exporter sends a span when it ends, so children come before their
//! parents, a trace's spans are spread over many requests and its root (which names the run)
//! comes last or never. This module writes such spans through the same native path, after
//! deciding in the same transaction what is known:
//!
//! - **The run** (one per trace) is created from the first spans that arrive, as `running`
//!   under a provisional name; the root span, whenever it comes, gives it its name, times,
//!   status and error.
//! - **The session** is the root's, else the stored run's, else the one named by the trace's
//!   earliest span that names one, else the trace's own. A root that names another session than
//!   the run's moves the run, and both sessions' figures are recomputed.
//! - **A parent** not stored and not in the request is left out of the span and written to
//!   `span_parents_pending`; when it arrives, its waiting children get it. An event of a span
//!   not stored yet (a GenAI event sent as a log record) waits the same way, in
//!   `event_spans_pending`.
//! - A trace whose id is a run of another project is refused whole, the rest stored: the
//!   caller reports it as a partial success.
//!
//! Sessions of such traces have no end of their own: a session ends with its last run when no
//! run of it is still running, and is open again while one is.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use northstar_wire::{Batch, Event, Run, Score, Session, Span, Status};
use serde_json::Value;
use uuid::Uuid;

use super::refs::{Table, ids_in_project};
use super::{Caller, IngestTx, unique};
use crate::StoreError;
use crate::query::sql::{Arg, Dialect, SQLITE_MAX_PARAMS, Sql, WriteTx};
use crate::rows::Columns;

/// The spans of a request, by trace, for one project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceBatch {
    pub traces: Vec<Trace>,
}

impl TraceBatch {
    /// How many spans it carries.
    #[must_use]
    pub fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len()).sum()
    }
}

/// What one request carries of one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The run's id (an OTLP trace id is 16 bytes: the run's UUID).
    pub run_id: Uuid,
    /// The run as the root span describes it, when the root is in this request.
    pub root: Option<RootRun>,
    /// The session named by the earliest span of this request that names one (the root aside).
    pub session_hint: Option<Uuid>,
    /// The session of a trace that names none.
    pub own_session: Uuid,
    /// The run's name until its root arrives.
    pub provisional_name: String,
    /// The earliest start among the spans.
    pub first_start: DateTime<Utc>,
    /// Spans with no `parent_span_id` set; the parent each names is in `parents`.
    pub spans: Vec<Span>,
    /// Span id → the parent span it names.
    pub parents: HashMap<Uuid, Uuid>,
    pub events: Vec<Event>,
    pub scores: Vec<Score>,
    /// Spans that name the registry prompt version they used.
    pub prompt_refs: Vec<PromptRef>,
}

/// A span's use of a prompt of the registry, by the prompt's slug (or name) and the version's
/// number, as a tracing protocol names it (Langfuse's `langfuse.observation.prompt.*`). It is
/// stored as a prompt link when the project's registry has that version; otherwise the span is
/// stored without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub span_id: Uuid,
    pub prompt: String,
    pub version: i32,
}

/// The run as its root span describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RootRun {
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub error: Option<Value>,
    pub metadata: Value,
    /// The session the root names, if it names one.
    pub session: Option<Uuid>,
}

/// What a [`TraceBatch`] write stored and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceCounts {
    pub runs: usize,
    pub spans: usize,
    pub events: usize,
    pub scores: usize,
    /// Spans of traces refused because their id is a run of another project.
    pub rejected_spans: usize,
    /// Events of those traces.
    pub rejected_events: usize,
}

/// What a request's answer needs of each of its traces, taken before it is written: its run,
/// how many spans, events and scores it carries (each id once), and whether its root came.
#[derive(Debug)]
pub(crate) struct Tally(Vec<(Uuid, [usize; 3], bool)>);

/// What writing traces reported: the traces refused because their id is a run of another
/// project, and the runs the write created.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    foreign: HashSet<Uuid>,
    created: HashSet<Uuid>,
}

/// A request of traces, grouped with others by [`super::group`]: requests of one group name
/// different traces (each trace is decided once per transaction, from its stored run), so their
/// merge is their traces side by side.
impl super::group::Job for TraceBatch {
    type Tally = Tally;
    type Outcome = Outcome;
    type Answer = TraceCounts;

    fn records(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len() + t.events.len() + t.scores.len()).sum()
    }
    fn exclusive(&self) -> Vec<Uuid> {
        self.traces.iter().map(|t| t.run_id).collect()
    }
    fn tally(&self) -> Tally {
        let distinct = |ids: Vec<Uuid>| unique(ids).len();
        Tally(
            self.traces
                .iter()
                .map(|t| {
                    let counts = [
                        distinct(t.spans.iter().map(|s| s.id).collect()),
                        distinct(t.events.iter().map(|e| e.id).collect()),
                        distinct(t.scores.iter().map(|s| s.id).collect()),
                    ];
                    (t.run_id, counts, t.root.is_some())
                })
                .collect(),
        )
    }
    fn merge(jobs: Vec<Self>) -> Self {
        TraceBatch { traces: jobs.into_iter().flat_map(|j| j.traces).collect() }
    }
    fn change(&self, project: Uuid) -> crate::changes::Change {
        crate::changes::Change::of_traces(project, self)
    }
    fn answer(tally: Tally, outcome: &Outcome) -> TraceCounts {
        let mut counts = TraceCounts::default();
        for (run, [spans, events, scores], root) in tally.0 {
            if outcome.foreign.contains(&run) {
                counts.rejected_spans += spans;
                counts.rejected_events += events;
                continue;
            }
            counts.runs += usize::from(root || outcome.created.contains(&run));
            counts.spans += spans;
            counts.events += events;
            counts.scores += scores;
        }
        counts
    }
    async fn write<T: IngestTx + Send>(self, tx: &mut T) -> Result<Outcome, StoreError> {
        ingest(tx, self).await
    }
}

/// A run as stored, as far as this write needs it.
struct StoredRun {
    session: Uuid,
}

/// Writes `batch` (see the module): what it refused and created.
pub(crate) async fn ingest<T: IngestTx>(tx: &mut T, batch: TraceBatch) -> Result<Outcome, StoreError> {
    let project = tx.project();
    let run_ids = unique(batch.traces.iter().map(|t| t.run_id));
    if run_ids.is_empty() {
        return Ok(Outcome::default());
    }
    super::figures::take_locks(tx, &run_ids).await?;

    let (stored, foreign) = stored_runs(tx, &run_ids).await?;
    let traces: Vec<Trace> = batch.traces.into_iter().filter(|t| !foreign.contains(&t.run_id)).collect();
    let created: HashSet<Uuid> = traces.iter().map(|t| t.run_id).filter(|run| !stored.contains_key(run)).collect();

    // Runs and their sessions.
    let mut runs: Vec<Run> = Vec::new();
    let mut renamed: Vec<(Uuid, String, DateTime<Utc>)> = Vec::new();
    let mut moved: Vec<(Uuid, Uuid)> = Vec::new();
    // The sessions a run leaves or joins: their figures are recomputed from their runs.
    let mut moved_from: BTreeSet<Uuid> = BTreeSet::new();
    let mut session_start: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
    let mut chosen: HashMap<Uuid, Uuid> = HashMap::new();
    for trace in &traces {
        let old = stored.get(&trace.run_id).map(|r| r.session).or_else(|| chosen.get(&trace.run_id).copied());
        let session =
            trace.root.as_ref().and_then(|r| r.session).or(old).or(trace.session_hint).unwrap_or(trace.own_session);
        chosen.insert(trace.run_id, session);
        let start = session_start.entry(session).or_insert(trace.first_start);
        *start = (*start).min(trace.first_start);
        if let Some(old) = stored.get(&trace.run_id).map(|r| r.session)
            && old != session
        {
            moved.push((trace.run_id, session));
            moved_from.insert(old);
            moved_from.insert(session);
        }
        match &trace.root {
            Some(root) => {
                runs.push(Run {
                    id: trace.run_id,
                    session_id: session,
                    name: root.name.clone(),
                    started_at: root.started_at,
                    ended_at: root.ended_at,
                    status: root.status,
                    error: root.error.clone(),
                    metadata: root.metadata.clone(),
                });
                if stored.contains_key(&trace.run_id) {
                    renamed.push((trace.run_id, root.name.clone(), root.started_at));
                }
            }
            None if !stored.contains_key(&trace.run_id) => runs.push(Run {
                id: trace.run_id,
                session_id: session,
                name: trace.provisional_name.clone(),
                started_at: trace.first_start,
                ended_at: None,
                status: Status::Running,
                error: None,
                metadata: Value::Object(serde_json::Map::new()),
            }),
            None => {}
        }
    }

    // The sessions go into the native batch: their ids are derived from the project and their
    // metadata is always empty, so the upsert of one that exists changes nothing. A run that
    // changes session needs its new session first, and moves before the native write, which
    // reads each run's session before and after.
    let sessions: Vec<Session> = session_start
        .iter()
        .map(|(id, start)| Session {
            id: *id,
            created_at: *start,
            ended_at: None,
            metadata: Value::Object(serde_json::Map::new()),
        })
        .collect();
    if !moved.is_empty() {
        tx.upsert_sessions(&sessions).await?;
    }
    for (run, session) in &moved {
        let mut q = Sql::new(T::DIALECT);
        let table = q.table("runs");
        q.push(&format!("UPDATE {table} SET session_id = ")).arg(Arg::Uuid(*session));
        q.push(" WHERE id = ").arg(Arg::Uuid(*run)).push(" AND project_id = ").arg(Arg::Uuid(project));
        tx.fetch_all(q).await?;
    }

    // Spans: a parent in the request or stored is set; any other waits.
    let mut spans: Vec<Span> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut scores: Vec<Score> = Vec::new();
    let mut parents: HashMap<Uuid, Uuid> = HashMap::new();
    let mut prompt_refs: Vec<PromptRef> = Vec::new();
    for trace in traces {
        spans.extend(trace.spans);
        parents.extend(trace.parents);
        events.extend(trace.events);
        scores.extend(trace.scores);
        prompt_refs.extend(trace.prompt_refs);
    }
    let in_request: HashSet<Uuid> = spans.iter().map(|s| s.id).collect();
    // Spans named from outside the request: parents, and the spans of events from log records.
    let outside = unique(
        parents.values().copied().chain(events.iter().filter_map(|e| e.span_id)).filter(|p| !in_request.contains(p)),
    );
    let stored_parents: HashSet<Uuid> = if outside.is_empty() {
        HashSet::new()
    } else {
        ids_in_project(tx, Table::Spans, &outside).await?.into_iter().collect()
    };
    for span in &mut spans {
        if let Some(parent) = parents.get(&span.id)
            && (in_request.contains(parent) || stored_parents.contains(parent))
            && *parent != span.id
        {
            span.parent_span_id = Some(*parent);
        }
    }
    // An event whose span is neither in the request nor stored waits for it without one.
    let mut events_waiting: Vec<(Uuid, Uuid)> = Vec::new();
    for event in &mut events {
        if let Some(span) = event.span_id
            && !in_request.contains(&span)
            && !stored_parents.contains(&span)
        {
            events_waiting.push((event.id, span));
            event.span_id = None;
        }
    }
    let mut native = Batch::merge([Batch { sessions, runs, spans, events, scores, ..Batch::default() }]);
    // A parent cycle inside the request: the spans that close it keep no parent.
    let mut placed = HashSet::with_capacity(native.spans.len());
    for span in &mut native.spans {
        if let Some(parent) = span.parent_span_id
            && in_request.contains(&parent)
            && !placed.contains(&parent)
        {
            span.parent_span_id = None;
        }
        placed.insert(span.id);
    }
    let waiting: Vec<(Uuid, Uuid)> = native
        .spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .filter_map(|s| parents.get(&s.id).map(|p| (s.id, *p)))
        .filter(|(_, p)| !in_request.contains(p) && !stored_parents.contains(p))
        .collect();
    native.prompt_links = prompt_links(tx, &native.spans, &prompt_refs).await?;
    super::write(tx, &native, Caller::Traces).await?;

    // The root's name and start over a run stored before it (the native upsert keeps a stored
    // run's name and start).
    for (run, name, started_at) in renamed {
        let mut q = Sql::new(T::DIALECT);
        let table = q.table("runs");
        q.push(&format!("UPDATE {table} SET name = ")).arg(Arg::Text(name));
        q.push(", started_at = ").arg(Arg::Ts(started_at));
        q.push(" WHERE id = ").arg(Arg::Uuid(run)).push(" AND project_id = ").arg(Arg::Uuid(project));
        tx.fetch_all(q).await?;
    }

    wait_for(tx, Waiting::Parents, &waiting).await?;
    wait_for(tx, Waiting::EventSpans, &events_waiting).await?;
    adopt(tx, in_request.into_iter().collect()).await?;
    refresh_moved(tx, moved_from.into_iter().collect()).await?;
    Ok(Outcome { foreign, created })
}

/// The links of `refs` whose prompt version the project's registry has (one lookup per prompt
/// and version named), each to a span of `spans`.
async fn prompt_links<T: WriteTx>(
    tx: &mut T,
    spans: &[Span],
    refs: &[PromptRef],
) -> Result<Vec<northstar_wire::PromptLink>, StoreError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let runs: HashMap<Uuid, Uuid> = spans.iter().map(|s| (s.id, s.run_id)).collect();
    let mut versions: HashMap<(&str, i32), Option<Uuid>> = HashMap::new();
    for r in refs {
        if versions.contains_key(&(r.prompt.as_str(), r.version)) {
            continue;
        }
        let mut q = Sql::new(T::DIALECT);
        let (prompts, table) = (q.table("prompts"), q.table("prompt_versions"));
        q.push(&format!("SELECT v.id FROM {table} v JOIN {prompts} p ON p.id = v.prompt_id WHERE v.project_id = "));
        q.arg(Arg::Uuid(tx.project())).push(" AND v.version_number = ").arg(Arg::I64(i64::from(r.version)));
        let order = crate::prompts::push_named(&mut q, &r.prompt);
        q.push(&format!(" ORDER BY {order} LIMIT 1"));
        let found = tx.fetch_all(q).await?.first().map(|row| row.uuid("id")).transpose()?;
        versions.insert((r.prompt.as_str(), r.version), found);
    }
    Ok(refs
        .iter()
        .filter_map(|r| {
            let version = versions.get(&(r.prompt.as_str(), r.version)).copied().flatten()?;
            Some(northstar_wire::PromptLink {
                trace_id: *runs.get(&r.span_id)?,
                span_id: r.span_id,
                prompt_version_id: version,
                variable_values: Value::Object(serde_json::Map::new()),
            })
        })
        .collect())
}

/// Of `runs`, those stored in this project (with their session) and those of another project.
async fn stored_runs<T: WriteTx>(
    tx: &mut T,
    runs: &[Uuid],
) -> Result<(HashMap<Uuid, StoredRun>, HashSet<Uuid>), StoreError> {
    let project = tx.project();
    let mut q = Sql::new(T::DIALECT);
    let table = q.table("runs");
    q.push(&format!("SELECT id, session_id, project_id FROM {table} WHERE ")).in_ids("id", runs.to_vec());
    let (mut mine, mut foreign) = (HashMap::new(), HashSet::new());
    for row in tx.fetch_all(q).await? {
        let id = row.uuid("id")?;
        if row.uuid("project_id")? == project {
            mine.insert(id, StoredRun { session: row.uuid("session_id")? });
        } else {
            foreign.insert(id);
        }
    }
    Ok((mine, foreign))
}

/// What waits for a span to arrive: a child span for its parent, or an event for its span.
#[derive(Debug, Clone, Copy)]
enum Waiting {
    Parents,
    EventSpans,
}

impl Waiting {
    /// (table, waiting row's id column, the awaited span's column, the table it updates, the
    /// column set there).
    const fn names(self) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        match self {
            Waiting::Parents => ("span_parents_pending", "span_id", "parent_span_id", "spans", "parent_span_id"),
            Waiting::EventSpans => ("event_spans_pending", "event_id", "span_id", "events", "span_id"),
        }
    }
}

/// Records the span each of `waiting` (row, awaited span) waits for.
async fn wait_for<T: WriteTx>(tx: &mut T, what: Waiting, waiting: &[(Uuid, Uuid)]) -> Result<(), StoreError> {
    let (table, row, awaited, _, _) = what.names();
    let chunk = match T::DIALECT {
        Dialect::Sqlite => SQLITE_MAX_PARAMS / 3,
        Dialect::Postgres => 1000,
    };
    for some in waiting.chunks(chunk) {
        let mut q = Sql::new(T::DIALECT);
        let table = q.table(table);
        q.push(&format!("INSERT INTO {table} ({row}, {awaited}, project_id) VALUES "));
        for (i, (id, span)) in some.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.arg(Arg::Uuid(*id)).push(", ").arg(Arg::Uuid(*span)).push(", ").arg(Arg::Uuid(tx.project()));
            q.push(")");
        }
        q.push(&format!(" ON CONFLICT ({row}) DO UPDATE SET {awaited} = excluded.{awaited}"));
        tx.fetch_all(q).await?;
    }
    Ok(())
}

/// Gives every child span and every event waiting for one of `arrived` its span: one lookup in
/// both waiting tables, then an update per awaited span.
async fn adopt<T: WriteTx>(tx: &mut T, arrived: Vec<Uuid>) -> Result<(), StoreError> {
    if arrived.is_empty() {
        return Ok(());
    }
    let project = tx.project();
    let mut q = Sql::new(T::DIALECT);
    for (i, what) in [Waiting::Parents, Waiting::EventSpans].into_iter().enumerate() {
        let (pending, row, awaited, _, _) = what.names();
        let table = q.table(pending);
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push(&format!(
            "SELECT CAST({i} AS BIGINT) AS what, {row} AS waiting, {awaited} AS awaited FROM {table} WHERE "
        ));
        q.in_ids(awaited, arrived.clone()).push(" AND project_id = ").arg(Arg::Uuid(project));
    }
    let mut rows: BTreeMap<(i64, Uuid), Vec<Uuid>> = BTreeMap::new();
    for found in tx.fetch_all(q).await? {
        rows.entry((found.i64("what")?, found.uuid("awaited")?)).or_default().push(found.uuid("waiting")?);
    }
    for ((what, span), ids) in rows {
        let what = if what == 0 { Waiting::Parents } else { Waiting::EventSpans };
        let (pending, row, _, target, column) = what.names();
        let mut q = Sql::new(T::DIALECT);
        let target = q.table(target);
        q.push(&format!("UPDATE {target} SET {column} = ")).arg(Arg::Uuid(span));
        q.push(" WHERE ").in_ids("id", ids.clone()).push(" AND project_id = ").arg(Arg::Uuid(project));
        tx.fetch_all(q).await?;
        let mut q = Sql::new(T::DIALECT);
        let table = q.table(pending);
        q.push(&format!("DELETE FROM {table} WHERE ")).in_ids(row, ids);
        tx.fetch_all(q).await?;
    }
    Ok(())
}

/// The sessions runs left or joined (`moved`): each ends with its runs and gets its figures
/// recomputed from them. (Every other session a request touches is a session of its batch,
/// which [`super::write`] ended.)
async fn refresh_moved<T: WriteTx>(tx: &mut T, moved: Vec<Uuid>) -> Result<(), StoreError> {
    if moved.is_empty() {
        return Ok(());
    }
    let project = tx.project();
    let mut q = Sql::new(T::DIALECT);
    super::figures::end_from_runs(&mut q, project, moved.clone());
    tx.fetch_all(q).await?;
    let mut q = Sql::new(T::DIALECT);
    super::figures::refresh_sessions(&mut q, project, Some(moved));
    tx.fetch_all(q).await?;
    Ok(())
}
