//! One read model per page of the dashboard: what a view shows, read by one call. Each is the
//! reads that view needs and nothing more (a node reads its own events, not its run's).

use chrono::{DateTime, Utc};
use northstar_wire::{Event, Span, SpanKind, Status};
use serde_json::Value;
use uuid::Uuid;

use super::sql::{Arg, Reader};
use super::{RunFilter, RunRow, SessionRow, run_page, run_row, session_row};
use crate::rows::Columns;
use crate::{StoreError, records};

/// The runs a session page lists at most.
pub const SESSION_VIEW_RUNS: u32 = 1000;

/// The run page: the run with its figures, its spans and its events (the tree).
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub run: RunRow,
    pub spans: Vec<Span>,
    pub events: Vec<Event>,
}

/// The run page's tree: the run, its spans with only what a tree row shows (a model span's
/// model, tokens and cost, not every attribute), and its events.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutline {
    pub run: RunRow,
    pub spans: Vec<SpanOutline>,
    pub events: Vec<Event>,
}

/// A span as a row of the run's tree shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanOutline {
    pub id: Uuid,
    pub parent_span_id: Option<Uuid>,
    pub kind: SpanKind,
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub iteration: Option<i32>,
    /// A model span's `attributes.model`.
    pub model: Option<String>,
    /// A model span's input plus output tokens (0 for other spans).
    pub tokens: f64,
    /// A model span's cost (0 for other spans).
    pub cost_usd: f64,
}

/// The session page: the session with its figures and metadata, and its runs, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionView {
    pub session: SessionRow,
    pub metadata: Value,
    pub runs: Vec<RunRow>,
    /// The session as one conversation: a turn per run (of `runs`, in order) that has an input
    /// or an answer.
    pub turns: Vec<Turn>,
}

/// One run of a session as a turn of its conversation: what it was asked (its first
/// `user_input`) and what it answered (its last `final_response`, else its last
/// `assistant_message`). The messages of the model calls inside the run are the run's own
/// business: each call repeats the history, so they are not the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub run: Uuid,
    pub input: Option<Event>,
    pub output: Option<Event>,
}

/// What a click on one node of the run page shows: the run itself or one of its spans, and
/// that node's own events.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeView {
    Run { run: RunRow, events: Vec<Event> },
    Span { span: Span, events: Vec<Event> },
}

pub(crate) async fn run_view<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<RunView>, StoreError> {
    let Some(run) = run_row(r, project, id).await? else { return Ok(None) };
    let spans = records::list_spans(r, project, id).await?;
    let events = records::list_events(r, project, id).await?;
    Ok(Some(RunView { run, spans, events }))
}

pub(crate) async fn run_outline<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<RunOutline>, StoreError> {
    use northstar_wire::attributes as attr;
    let Some(run) = run_row(r, project, id).await? else { return Ok(None) };
    let mut q = r.sql();
    let spans = q.table("spans");
    let model = format!("CASE WHEN kind = 'model' THEN {} END", q.json_text("attributes", attr::MODEL));
    let (input, output, cost) = (
        q.json_num("attributes", attr::INPUT_TOKENS),
        q.json_num("attributes", attr::OUTPUT_TOKENS),
        q.json_num("attributes", attr::COST_USD),
    );
    let (kind, status) = (q.as_text("kind"), q.as_text("status"));
    let rows =
        q.json_rows("id, parent_span_id, kind, name, started_at, ended_at, status, iteration, model, tokens, cost_usd");
    q.push(&format!(
        "SELECT {rows} AS spans FROM (
             SELECT id, parent_span_id, {kind} AS kind, name, started_at, ended_at, {status} AS status, iteration,
                    {model} AS model,
                    CAST(CASE WHEN kind = 'model' THEN COALESCE({input}, 0) + COALESCE({output}, 0) ELSE 0 END AS DOUBLE PRECISION) AS tokens,
                    CAST(CASE WHEN kind = 'model' THEN COALESCE({cost}, 0) ELSE 0 END AS DOUBLE PRECISION) AS cost_usd
             FROM {spans} WHERE project_id = "
    ))
    .arg(Arg::Uuid(project));
    // No ORDER BY: the tree orders each node's children by time itself. The rows come as one
    // JSON value (`Sql::json_rows`): the run page of a 100k-span run reads them in a fraction
    // of the time row by row took.
    q.push(" AND run_id = ").arg(Arg::Uuid(id)).push(") AS s");
    type Row = (
        Uuid,
        Option<Uuid>,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        String,
        Option<i32>,
        Option<String>,
        f64,
        f64,
    );
    let found = r.fetch_all(q).await?;
    let text = found.first().map(|c| c.opt_text("spans")).transpose()?.flatten().unwrap_or_default();
    let rows: Vec<Row> = if text.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&text).map_err(|e| StoreError::InvalidData(format!("a run's spans: {e}")))?
    };
    let invalid = |what: &str, v: &str| StoreError::InvalidData(format!("a span's {what}: {v}"));
    let spans = rows
        .into_iter()
        .map(|(id, parent_span_id, kind, name, started_at, ended_at, status, iteration, model, tokens, cost_usd)| {
            Ok(SpanOutline {
                id,
                parent_span_id,
                kind: SpanKind::parse(&kind).ok_or_else(|| invalid("kind", &kind))?,
                name,
                started_at,
                ended_at,
                status: Status::parse(&status).ok_or_else(|| invalid("status", &status))?,
                iteration,
                model,
                tokens,
                cost_usd,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let events = records::list_events(r, project, id).await?;
    Ok(Some(RunOutline { run, spans, events }))
}

pub(crate) async fn session_view<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<SessionView>, StoreError> {
    let Some(session) = session_row(r, project, id).await? else { return Ok(None) };
    let metadata =
        records::get_session(r, project, id).await?.map_or_else(|| Value::Object(Default::default()), |s| s.metadata);
    let filter = RunFilter { session: Some(id), descending: false, limit: SESSION_VIEW_RUNS, ..RunFilter::default() };
    let runs = run_page(r, project, &filter).await?;
    let turns = session_turns(r, project, id).await?;
    Ok(Some(SessionView { session, metadata, runs, turns }))
}

/// The turns of a session's first [`SESSION_VIEW_RUNS`] runs: which events they are, per run,
/// then those events by id.
async fn session_turns<R: Reader>(r: &R, project: Uuid, session: Uuid) -> Result<Vec<Turn>, StoreError> {
    let mut q = r.sql();
    let (runs, events, recorded) = (q.table("runs"), q.table("events"), q.recorded());
    let p1 = q.p1();
    q.push(&format!(
        "SELECT r.id AS run_id,
           (SELECT e.id FROM {events} e WHERE e.run_id = r.id AND e.project_id = {p1} AND e.type = 'user_input'
            ORDER BY e.created_at, e.{recorded} LIMIT 1) AS input_id,
           (SELECT e.id FROM {events} e WHERE e.run_id = r.id AND e.project_id = {p1}
              AND e.type IN ('final_response', 'assistant_message')
            ORDER BY CASE WHEN e.type = 'final_response' THEN 0 ELSE 1 END, e.created_at DESC, e.{recorded} DESC
            LIMIT 1) AS output_id
         FROM {runs} r WHERE r.project_id = "
    ));
    q.arg(Arg::Uuid(project)).push(" AND r.session_id = ").arg(Arg::Uuid(session));
    q.push(&format!(" ORDER BY r.started_at, r.id LIMIT {SESSION_VIEW_RUNS}"));
    let mut turns = Vec::new();
    for row in r.fetch_all(q).await? {
        let (input, output) = (row.opt_uuid("input_id")?, row.opt_uuid("output_id")?);
        if input.is_some() || output.is_some() {
            turns.push((row.uuid("run_id")?, input, output));
        }
    }
    let ids: Vec<Uuid> = turns.iter().flat_map(|&(_, i, o)| [i, o]).flatten().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = r.sql();
    q.push(&format!("SELECT {} FROM {events} WHERE ", crate::rows::select::EVENT)).in_ids("id", ids);
    q.push(" AND ").project_is("project_id", project);
    let mut by_id: std::collections::HashMap<Uuid, Event> =
        r.fetch_all(q).await?.iter().map(|row| crate::rows::event(row).map(|e| (e.id, e))).collect::<Result<_, _>>()?;
    let mut take = |id: Option<Uuid>| id.and_then(|id| by_id.remove(&id));
    Ok(turns.into_iter().map(|(run, i, o)| Turn { run, input: take(i), output: take(o) }).collect())
}

pub(crate) async fn run_text_search<R: Reader>(
    r: &R,
    project: Uuid,
    run: Uuid,
    text: &str,
    limit: u32,
) -> Result<Vec<Uuid>, StoreError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = r.sql();
    let (spans, events) = (q.table("spans"), q.table("events"));
    let (attributes, content) = (q.as_text("s.attributes"), q.as_text("e.content"));
    q.push(&format!("SELECT s.id AS id FROM {spans} s WHERE s.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND s.run_id = ").arg(Arg::Uuid(run));
    let n = q.pattern(text);
    q.push(" AND ").like(&attributes, n);
    q.push(&format!(" UNION SELECT e.span_id AS id FROM {events} e WHERE e.project_id = ")).again(1);
    q.push(" AND e.run_id = ").again(2).push(" AND e.span_id IS NOT NULL AND ").like(&content, n);
    q.push(" LIMIT ").arg(Arg::I64(i64::from(limit)));
    r.fetch_all(q).await?.iter().map(|row| row.uuid("id")).collect()
}

/// `span`: the span clicked, or `None` for the run itself. `None` when the run (or the span in
/// that run) is not the project's.
pub(crate) async fn node_view<R: Reader>(
    r: &R,
    project: Uuid,
    run: Uuid,
    span: Option<Uuid>,
) -> Result<Option<NodeView>, StoreError> {
    let node = match span {
        None => {
            let Some(row) = run_row(r, project, run).await? else { return Ok(None) };
            let events = records::list_node_events(r, project, run, None).await?;
            NodeView::Run { run: row, events }
        }
        Some(id) => {
            let found = records::get_span(r, project, id).await?.filter(|s| s.run_id == run);
            let Some(found) = found else { return Ok(None) };
            let events = records::list_node_events(r, project, run, Some(id)).await?;
            NodeView::Span { span: found, events }
        }
    };
    Ok(Some(node))
}
