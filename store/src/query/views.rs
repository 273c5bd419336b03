//! One read model per page of the dashboard: what a view shows, read by one call. Each is the
//! reads that view needs and nothing more (a node reads its own events, not its run's).

use northstar_wire::{Event, Span};
use serde_json::Value;
use uuid::Uuid;

use super::sql::{Arg, Reader};
use super::{RunFilter, RunRow, SessionRow, run_row, run_rows, session_row};
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

/// The session page: the session with its figures and metadata, and its runs, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionView {
    pub session: SessionRow,
    pub metadata: Value,
    pub runs: Vec<RunRow>,
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

pub(crate) async fn session_view<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<SessionView>, StoreError> {
    let Some(session) = session_row(r, project, id).await? else { return Ok(None) };
    let metadata =
        records::get_session(r, project, id).await?.map_or_else(|| Value::Object(Default::default()), |s| s.metadata);
    let filter = RunFilter { session: Some(id), oldest_first: true, limit: SESSION_VIEW_RUNS, ..RunFilter::default() };
    let runs = run_rows(r, project, &filter).await?.rows;
    Ok(Some(SessionView { session, metadata, runs }))
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
