//! The API's handlers: each reads its parameters, asks the store once or twice, and answers.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use northstar_store::{
    AnyStore, Bounds, MetricsGroup, NewScore, RunFilter, RunSort, ScoreFilter, ScoreQuery, SessionFilter, SessionSort,
    SessionStatus, SpanFilter, Store,
};
use northstar_wire::{Event, ScoreDataType, ScoreSource, Span, SpanKind, Status};
use uuid::Uuid;

use super::model::{
    ErrorBody, EventOut, Fields, MetricsGroupOut, MetricsOut, NewScoreIn, Page, PromptOut, RunDetail, RunOut, ScoreOut,
    SessionDetail, SessionOut, SpanDetail, SpanNode, SpanOut, query,
};
use super::params::{Params, next_cursor};
use super::{ApiError, ApiState, ReadKey};

/// Runs of one session a session's answer carries at most.
const SESSION_FIRST_RUNS: u32 = 100;

/// `fields=core,figures,io`.
fn fields(p: &Params) -> Result<Fields, ApiError> {
    let Some(list) = p.one("fields")?.filter(|f| !f.is_empty()) else { return Ok(Fields::ALL) };
    let mut fields = Fields { figures: false, io: false };
    for f in list.split(',').map(str::trim) {
        match f {
            "core" => {}
            "figures" => fields.figures = true,
            "io" => fields.io = true,
            other => {
                return Err(ApiError::bad_request(format!("unknown field group `{other}`: use core, figures, io")));
            }
        }
    }
    Ok(fields)
}

fn status(p: &Params) -> Result<Option<Status>, ApiError> {
    p.parsed("status", "running, ok or error", Status::parse)
}

/// The runs filter of `GET /runs` (and MCP's `search_runs`), newest first.
pub(crate) fn run_filter(p: &Params) -> Result<RunFilter, ApiError> {
    let (min, max, category) = (p.number("score_min")?, p.number("score_max")?, p.text("score_category")?);
    let score = p.text("score_name")?.map(|name| ScoreFilter { name, min, max, category });
    Ok(RunFilter {
        session: p.uuid("session")?,
        status: status(p)?,
        range: p.range()?,
        search: p.text("text")?,
        score,
        name: p.text("name")?,
        model: p.text("model")?,
        cost: Bounds { min: p.number("min_cost")?, max: p.number("max_cost")? },
        latency_ms: Bounds { min: p.number("min_latency_ms")?, max: p.number("max_latency_ms")? },
        metadata: p.pairs("metadata"),
        prompt_version: p.uuid("prompt_version")?,
        after: p.cursor()?,
        sort: RunSort::Started,
        descending: true,
        limit: p.limit()?,
        offset: 0,
    })
}

/// Lists runs, newest first, with the filters below.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs",
    params(
        ("from" = Option<String>, Query, description = "Runs started at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "Runs started before this RFC 3339 time", format = DateTime),
        ("status" = Option<query::Status>, Query, description = "running, ok or error"),
        ("name" = Option<String>, Query, description = "Exact run name"),
        ("session" = Option<Uuid>, Query, description = "Runs of this session"),
        ("model" = Option<String>, Query, description = "A model its model spans name"),
        ("min_cost" = Option<f64>, Query, description = "USD, inclusive"),
        ("max_cost" = Option<f64>, Query, description = "USD, inclusive"),
        ("min_latency_ms" = Option<f64>, Query, description = "Inclusive; running runs are left out"),
        ("max_latency_ms" = Option<f64>, Query, description = "Inclusive; running runs are left out"),
        ("score_name" = Option<String>, Query, description = "Runs with a score of this name"),
        ("score_min" = Option<f64>, Query, description = "With score_name: its value at least this"),
        ("score_max" = Option<f64>, Query, description = "With score_name: its value at most this"),
        ("score_category" = Option<String>, Query, description = "With score_name: this category"),
        ("metadata" = Option<Vec<String>>, Query, description = "key:value (the key holds this value: a string, or a number or boolean as JSON writes it) or key (the key is present); repeatable, all must match", explode = true),
        ("text" = Option<String>, Query, description = "Case-insensitive text in the run's id, name or metadata values"),
        ("prompt_version" = Option<Uuid>, Query, description = "Runs a span of which used this prompt version"),
        ("fields" = Option<String>, Query, description = "Field groups, comma-separated: core (always), figures, io. Default: all"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = Page<RunOut>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("read_key" = [])))]
pub(crate) async fn list_runs(
    State(s): State<ApiState>,
    key: ReadKey,
    p: Params,
) -> Result<Json<Page<RunOut>>, ApiError> {
    let (filter, fields) = (run_filter(&p)?, fields(&p)?);
    let rows = s.store.find_runs(key.project, &filter).await.map_err(ApiError::store)?;
    let next_cursor = next_cursor(&rows, filter.limit, |r| (r.started_at, r.id));
    Ok(Json(Page { data: rows.into_iter().map(|r| RunOut::of(r, fields)).collect(), next_cursor }))
}

fn path_id(id: &str) -> Result<Uuid, ApiError> {
    // Anything that is not an id names nothing: 404, as an unknown id.
    Uuid::parse_str(id).map_err(|_| ApiError::not_found("not found"))
}

/// What hangs below each node of a run: `T`s by the id of their span, `None` for the run.
pub(crate) type ByNode<T> = HashMap<Option<Uuid>, Vec<T>>;

/// A run's spans by parent and its events by span, each in their order. A parent (or an
/// event's span) that is not among `spans` counts as the run itself, so every record is drawn.
pub(crate) fn nest<S: std::borrow::Borrow<Span>>(spans: Vec<S>, events: Vec<Event>) -> (ByNode<S>, ByNode<Event>) {
    let ids: std::collections::HashSet<Uuid> = spans.iter().map(|s| s.borrow().id).collect();
    let known = |id: Option<Uuid>| id.filter(|id| ids.contains(id));
    let mut children: ByNode<S> = HashMap::new();
    let mut own_events: ByNode<Event> = HashMap::new();
    for e in events {
        own_events.entry(known(e.span_id)).or_default().push(e);
    }
    for s in spans {
        let parent = known(s.borrow().parent_span_id);
        children.entry(parent).or_default().push(s);
    }
    (children, own_events)
}

/// Nests `spans` under their parents, `events` under their spans, to `depth` levels.
pub(crate) fn tree(spans: Vec<Span>, events: Vec<Event>, depth: usize) -> (Vec<EventOut>, Vec<SpanNode>) {
    let (mut children, mut own_events) = nest(spans, events);
    let mut events_of =
        move |node: Option<Uuid>| own_events.remove(&node).unwrap_or_default().into_iter().map(EventOut::of).collect();
    fn build(
        parent: Option<Uuid>,
        level: usize,
        depth: usize,
        children: &mut ByNode<Span>,
        events_of: &mut impl FnMut(Option<Uuid>) -> Vec<EventOut>,
    ) -> Vec<SpanNode> {
        let spans = children.remove(&parent).unwrap_or_default();
        spans
            .into_iter()
            .map(|s| {
                let id = s.id;
                let child_count = children.get(&Some(id)).map_or(0, Vec::len);
                let nested =
                    if level + 1 < depth { build(Some(id), level + 1, depth, children, events_of) } else { Vec::new() };
                SpanNode { span: SpanOut::of(s), events: events_of(Some(id)), child_count, children: nested }
            })
            .collect()
    }
    let top = build(None, 0, depth, &mut children, &mut events_of);
    (events_of(None), top)
}

/// A run with its span → event tree, written out under the run's share of the read budget.
pub(crate) async fn run_detail(s: &ApiState, project: Uuid, id: Uuid, depth: usize) -> Result<Response, ApiError> {
    let store = &s.store;
    let mut row = store
        .run_row(project, id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("run not found"))?;
    let _budget = s.reads.of(row.spans).await;
    row.scores = store.list_scores(project, id).await.map_err(ApiError::store)?;
    let (spans, events) = (
        store.list_spans(project, id).await.map_err(ApiError::store)?,
        store.list_events(project, id).await.map_err(ApiError::store)?,
    );
    let (events, spans) = tree(spans, events, depth);
    Ok(Json(RunDetail { run: RunOut::of(row, Fields::ALL), events, spans }).into_response())
}

/// One run with its whole span → event tree (or `depth` levels of it).
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs",
    params(
        ("id" = String, Path, description = "Run id"),
        ("depth" = Option<u32>, Query, description = "Levels of spans to nest (default: all); deeper spans through GET /api/v1/spans?parent=", minimum = 1),
    ),
    responses((status = 200, body = RunDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn get_run(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let depth = p.parsed("depth", "a whole number of at least 1", |v| v.parse::<usize>().ok().filter(|d| *d >= 1))?;
    run_detail(&s, key.project, id, depth.unwrap_or(usize::MAX)).await
}

/// One run as an LLM-sized text summary (what MCP's `get_run_context` answers): its span tree
/// with timings, tokens, costs and errors, model calls' messages in full, other payloads cut,
/// at most `max_bytes`.
#[utoipa::path(get, path = "/api/v1/runs/{id}/context", tag = "runs",
    params(
        ("id" = String, Path, description = "Run id"),
        ("max_bytes" = Option<u32>, Query, description = "Most bytes of the summary: 1000 to 1000000, default 60000", minimum = 1000, maximum = 1000000),
    ),
    responses((status = 200, description = "The summary", content_type = "text/plain", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn run_context(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let what = "a whole number from 1000 to 1000000";
    let cap = p.parsed("max_bytes", what, |v| v.parse::<usize>().ok().filter(|n| (1_000..=1_000_000).contains(n)))?;
    let text = super::mcp::run_context(&s, key.project, id, cap.unwrap_or(super::mcp::CONTEXT_BYTES)).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Deletes a run with its spans, events and scores (a data-subject request); its session's
/// figures follow.
#[utoipa::path(delete, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn delete_run(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    if !s.store.delete_run(key.project, id).await.map_err(ApiError::store)? {
        return Err(ApiError::not_found("run not found"));
    }
    tracing::info!(target: "northstar::audit", project = %key.project, key = %key.key, run = %id, "deleted a run through the API");
    Ok(StatusCode::NO_CONTENT)
}

/// Lists spans across runs, oldest first.
#[utoipa::path(get, path = "/api/v1/spans", tag = "spans",
    params(
        ("run" = Option<Uuid>, Query, description = "Spans of this run"),
        ("parent" = Option<String>, Query, description = "Children of this span id; `root` for a run's top-level spans"),
        ("kind" = Option<query::SpanKind>, Query, description = "agent, workflow, model, tool or custom"),
        ("name" = Option<String>, Query, description = "Exact span name"),
        ("status" = Option<query::Status>, Query, description = "running, ok or error"),
        ("model" = Option<String>, Query, description = "A model span's model"),
        ("attribute" = Option<Vec<String>>, Query, description = "key:value (the attribute holds this value) or key (the attribute is present); repeatable, all must match", explode = true),
        ("from" = Option<String>, Query, description = "Spans started at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "Spans started before this RFC 3339 time", format = DateTime),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page<SpanOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn list_spans(
    State(s): State<ApiState>,
    key: ReadKey,
    p: Params,
) -> Result<Json<Page<SpanOut>>, ApiError> {
    let filter = span_filter(&p)?;
    let rows = s.store.find_spans(key.project, &filter).await.map_err(ApiError::store)?;
    let next_cursor = next_cursor(&rows, filter.limit, |r| (r.started_at, r.id));
    Ok(Json(Page { data: rows.into_iter().map(SpanOut::of).collect(), next_cursor }))
}

pub(crate) fn span_filter(p: &Params) -> Result<SpanFilter, ApiError> {
    let parent = match p.one("parent")? {
        None | Some("") => None,
        Some("root") => Some(None),
        Some(id) => {
            Some(Some(Uuid::parse_str(id).map_err(|_| ApiError::bad_request("`parent` must be a span id or root"))?))
        }
    };
    Ok(SpanFilter {
        run: p.uuid("run")?,
        parent,
        kind: p.parsed("kind", "agent, workflow, model, tool or custom", SpanKind::parse)?,
        name: p.text("name")?,
        status: status(p)?,
        model: p.text("model")?,
        attributes: p.pairs("attribute"),
        range: p.range()?,
        after: p.cursor()?,
        limit: p.limit()?,
    })
}

/// One span with its own events.
#[utoipa::path(get, path = "/api/v1/spans/{id}", tag = "spans",
    params(("id" = String, Path, description = "Span id")),
    responses((status = 200, body = SpanDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn get_span(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<Json<SpanDetail>, ApiError> {
    Ok(Json(span_detail(&s.store, key.project, path_id(&id)?).await?))
}

pub(crate) async fn span_detail(store: &AnyStore, project: Uuid, id: Uuid) -> Result<SpanDetail, ApiError> {
    let span = store
        .get_span(project, id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("span not found"))?;
    let events = store.list_node_events(project, span.run_id, Some(id)).await.map_err(ApiError::store)?;
    Ok(SpanDetail { span: SpanOut::of(span), events: events.into_iter().map(EventOut::of).collect() })
}

/// The sessions filter of `GET /sessions` (and MCP's `list_sessions`), newest first.
pub(crate) fn session_filter(p: &Params) -> Result<SessionFilter, ApiError> {
    Ok(SessionFilter {
        status: p.parsed("status", "active, completed or errored", SessionStatus::parse)?,
        range: p.range()?,
        search: p.text("text")?,
        after: p.cursor()?,
        sort: SessionSort::Started,
        descending: true,
        limit: p.limit()?,
        offset: 0,
    })
}

/// Lists sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    params(
        ("from" = Option<String>, Query, description = "Sessions created at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "Sessions created before this RFC 3339 time", format = DateTime),
        ("status" = Option<query::SessionState>, Query, description = "active, completed or errored"),
        ("text" = Option<String>, Query, description = "Case-insensitive text in the session's or its runs' ids, names or metadata values"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page<SessionOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn list_sessions(
    State(s): State<ApiState>,
    key: ReadKey,
    p: Params,
) -> Result<Json<Page<SessionOut>>, ApiError> {
    let filter = session_filter(&p)?;
    let page = s.store.list_session_rows(key.project, &filter).await.map_err(ApiError::store)?;
    let next_cursor = next_cursor(&page.rows, filter.limit, |r| (r.created_at, r.id));
    Ok(Json(Page { data: page.rows.into_iter().map(SessionOut::of).collect(), next_cursor }))
}

/// One session with its first 100 runs, oldest first.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = SessionDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn get_session(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let id = path_id(&id)?;
    let session = s
        .store
        .session_row(key.project, id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("session not found"))?;
    let runs = RunFilter { session: Some(id), descending: false, limit: SESSION_FIRST_RUNS, ..RunFilter::default() };
    let runs = s.store.find_runs(key.project, &runs).await.map_err(ApiError::store)?;
    Ok(Json(SessionDetail {
        session: SessionOut::of(session),
        first_runs: runs.into_iter().map(|r| RunOut::of(r, Fields::ALL)).collect(),
    }))
}

/// Deletes a session with all its runs (a data-subject request).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn delete_session(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    let Some(runs) = s.store.delete_session(key.project, id).await.map_err(ApiError::store)? else {
        return Err(ApiError::not_found("session not found"));
    };
    tracing::info!(target: "northstar::audit", project = %key.project, key = %key.key, session = %id, runs, "deleted a session through the API");
    Ok(StatusCode::NO_CONTENT)
}

/// Lists scores, newest first.
#[utoipa::path(get, path = "/api/v1/scores", tag = "scores",
    params(
        ("run" = Option<Uuid>, Query, description = "Scores of this run"),
        ("name" = Option<String>, Query, description = "Exact score name"),
        ("source" = Option<query::ScoreSource>, Query, description = "human, api or auto"),
        ("from" = Option<String>, Query, description = "Scores created at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "Scores created before this RFC 3339 time", format = DateTime),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page<ScoreOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn list_scores(
    State(s): State<ApiState>,
    key: ReadKey,
    p: Params,
) -> Result<Json<Page<ScoreOut>>, ApiError> {
    let filter = ScoreQuery {
        run: p.uuid("run")?,
        name: p.text("name")?,
        source: p.parsed("source", "human, api or auto", ScoreSource::parse)?,
        range: p.range()?,
        after: p.cursor()?,
        limit: p.limit()?,
    };
    let rows = s.store.find_scores(key.project, &filter).await.map_err(ApiError::store)?;
    let next_cursor = next_cursor(&rows, filter.limit, |r| (r.created_at, r.id));
    Ok(Json(Page { data: rows.iter().map(ScoreOut::of).collect(), next_cursor }))
}

/// Adds a score (source `api`) to a run of the key's project, or one of its spans.
#[utoipa::path(post, path = "/api/v1/scores", tag = "scores", request_body = NewScoreIn,
    responses((status = 201, body = ScoreOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn add_score(
    State(s): State<ApiState>,
    key: ReadKey,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let input: NewScoreIn =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid score: {e}")))?;
    let score = add(&s.store, key.project, input).await?;
    Ok((StatusCode::CREATED, Json(ScoreOut::of(&score))).into_response())
}

pub(crate) async fn add(store: &AnyStore, project: Uuid, input: NewScoreIn) -> Result<northstar_wire::Score, ApiError> {
    let data_type = match input.data_type.as_deref() {
        None => ScoreDataType::Numeric,
        Some(t) => ScoreDataType::parse(t)
            .ok_or_else(|| ApiError::bad_request("data_type must be numeric, boolean or categorical"))?,
    };
    let value = match (data_type, input.value) {
        (ScoreDataType::Categorical, v) => v.unwrap_or(0.0),
        (_, Some(v)) => v,
        (_, None) => return Err(ApiError::bad_request("value is required for numeric and boolean scores")),
    };
    let new = NewScore {
        run: input.run_id,
        span: input.span_id,
        name: input.name,
        value,
        data_type,
        string_value: input.string_value,
        comment: input.comment,
        created_by: None,
        source: ScoreSource::Api,
    };
    store.add_score(project, &new).await.map_err(ApiError::store)
}

pub(crate) fn metrics_group(p: &Params) -> Result<MetricsGroup, ApiError> {
    Ok(p.parsed("group_by", "day, run_name or model", |v| match v {
        "day" => Some(MetricsGroup::Day),
        "run_name" => Some(MetricsGroup::RunName),
        "model" => Some(MetricsGroup::Model),
        _ => None,
    })?
    .unwrap_or(MetricsGroup::Day))
}

pub(crate) fn group_name(g: MetricsGroup) -> &'static str {
    match g {
        MetricsGroup::Day => "day",
        MetricsGroup::RunName => "run_name",
        MetricsGroup::Model => "model",
    }
}

/// Runs, errors, cost, tokens and latency percentiles over a time range, in all and by day,
/// run name or model.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics",
    params(
        ("from" = Option<String>, Query, description = "Runs started at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "Runs started before this RFC 3339 time", format = DateTime),
        ("group_by" = Option<query::GroupBy>, Query, description = "day (default), run_name or model (model calls, by their spans)"),
    ),
    responses((status = 200, body = MetricsOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn metrics(State(s): State<ApiState>, key: ReadKey, p: Params) -> Result<Json<MetricsOut>, ApiError> {
    let (range, group) = (p.range()?, metrics_group(&p)?);
    Ok(Json(metrics_of(&s.store, key.project, range, group).await?))
}

pub(crate) async fn metrics_of(
    store: &AnyStore,
    project: Uuid,
    range: northstar_store::TimeRange,
    group: MetricsGroup,
) -> Result<MetricsOut, ApiError> {
    let o = store.overview(project, range).await.map_err(ApiError::store)?;
    let groups = store.metrics(project, range, group).await.map_err(ApiError::store)?;
    Ok(MetricsOut {
        runs: o.runs,
        errored_runs: o.errored_runs,
        sessions: o.sessions,
        tool_calls: o.tool_calls,
        cost_usd: o.cost_usd,
        input_tokens: o.input_tokens,
        output_tokens: o.output_tokens,
        latency_p50_ms: o.latency_p50_ms,
        latency_p95_ms: o.latency_p95_ms,
        group_by: group_name(group).to_owned(),
        groups: groups.into_iter().map(MetricsGroupOut::of).collect(),
    })
}

/// A prompt version: the one a label points at (`prod` by default), or a version by number.
/// The prompt is found by slug, else by name (any case). `latest` is the newest version unless
/// a label of that name was set.
#[utoipa::path(get, path = "/api/v1/prompts/{slug}", tag = "prompts",
    params(
        ("slug" = String, Path, description = "The prompt's slug (or name)"),
        ("label" = Option<String>, Query, description = "A label; prod by default"),
        ("version" = Option<i64>, Query, description = "A version number (then the label is not used)"),
    ),
    responses((status = 200, body = PromptOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("read_key" = [])))]
pub(crate) async fn get_prompt(
    State(s): State<ApiState>,
    key: ReadKey,
    Path(slug): Path<String>,
    p: Params,
) -> Result<Json<PromptOut>, ApiError> {
    let label = p.text("label")?.unwrap_or_else(|| "prod".to_owned());
    let version = p.parsed("version", "an integer", |v| v.parse::<i64>().ok())?;
    let (prompt, version) = s
        .store
        .resolve_prompt(key.project, &slug, &label, version)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("prompt not found"))?;
    Ok(Json(PromptOut::of(&prompt, version)))
}
