//! `GET /api/v1/export`: every run of a time range, oldest first, streamed as JSON Lines (one
//! run with its tree per line) or as OTLP JSON Lines (one `ExportTraceServiceRequest` per run,
//! the OpenTelemetry file exporter's format). Runs are read a page at a time and written
//! through a small channel, so the server holds a few runs whatever the range. A failure
//! mid-stream ends the response without its final chunk: a client sees a broken transfer, never
//! a short export that looks whole.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use northstar_store::{AnyStore, RunFilter, RunRow, RunSort, Store, TimeRange};
use northstar_wire::{Event, Span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtelSpan, Status as OtelStatus, span, status,
};
use serde_json::Value;
use tokio::sync::mpsc::error::SendTimeoutError;
use uuid::Uuid;

use super::handlers::tree;
use super::model::{ErrorBody, Fields, RunDetail, RunOut, query};
use super::params::Params;
use super::{ApiError, ApiState, ReadKey};

/// Runs read per page (with their spans and events: three reads a page).
const PAGE: u32 = 100;
/// Spans whose trees are read at once (see [`write_runs`]).
const TREE_SPANS: i64 = 20_000;
/// Lines written ahead of the client.
const AHEAD: usize = 8;
/// Exports the server writes at once, and per project: each holds up to its largest run in
/// memory (see [`write_runs`]), so their number bounds the memory exports take.
const AT_ONCE: usize = 2;
/// How long a line may wait for a client that reads nothing before the export gives up (and
/// its turn goes to another).
const STALL: Duration = Duration::from_secs(60);

/// Turns to export: [`AT_ONCE`] on the server, one per project, so that neither a flood of
/// exports nor one project's clients can take the server's memory or every turn.
#[derive(Debug, Default)]
pub(crate) struct Exports {
    running: Mutex<HashSet<Uuid>>,
}

/// A running export's turn, given back when its writer ends.
struct Turn {
    exports: Arc<Exports>,
    project: Uuid,
}

impl Exports {
    fn start(self: &Arc<Self>, project: Uuid) -> Result<Turn, ApiError> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains(&project) {
            return Err(ApiError::busy("this project's previous export is still running; retry when it ends"));
        }
        if running.len() >= AT_ONCE {
            return Err(ApiError::busy("the server is writing as many exports as it allows at once; retry later"));
        }
        running.insert(project);
        Ok(Turn { exports: self.clone(), project })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.exports.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.project);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Otlp,
}

/// Every run started in [`from`, `to`), oldest first, with its tree.
#[utoipa::path(get, path = "/api/v1/export", tag = "export",
    params(
        ("from" = Option<String>, Query, description = "Runs started at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "Runs started before this RFC 3339 time", format = DateTime),
        ("format" = Option<query::ExportFormat>, Query, description = "jsonl (default: a run with its tree per line, as GET /api/v1/runs/{id}) or otlp (an OTLP JSON ExportTraceServiceRequest per run)"),
    ),
    responses(
        (status = 200, description = "One JSON document per line", content_type = "application/x-ndjson", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 429, description = "The project's previous export, or as many as the server writes at once, is still running; retry after Retry-After seconds", body = ErrorBody),
    ),
    security(("read_key" = [])))]
pub(crate) async fn export(State(s): State<ApiState>, key: ReadKey, p: Params) -> Result<Response, ApiError> {
    let range = p.range()?;
    let format = p
        .parsed("format", "jsonl or otlp", |v| match v {
            "jsonl" => Some(Format::JsonLines),
            "otlp" => Some(Format::Otlp),
            _ => None,
        })?
        .unwrap_or(Format::JsonLines);
    let turn = s.exports.start(key.project)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(AHEAD);
    // A failure is handed over beside the lines, never through their channel: a client that
    // reads nothing must not keep the writer (and its turn) waiting to say so.
    let (failed_tx, failed) = tokio::sync::oneshot::channel::<String>();
    let store = s.store.clone();
    tokio::spawn(async move {
        let _turn = turn;
        if let Err(err) = write_runs(&store, key.project, range, format, &tx).await {
            tracing::warn!(project = %key.project, error = %err.message(), "an export stopped part-way");
            let _ = failed_tx.send(err.message().to_owned());
        }
    });
    let stream = futures_util::stream::unfold((rx, Some(failed)), |(mut rx, mut failed)| async move {
        match rx.recv().await {
            Some(line) => Some((Ok(line), (rx, failed))),
            // The writer has ended; if it failed, the body ends with an error, not its final chunk.
            None => {
                let message = failed.take()?.try_recv().ok()?;
                Some((Err(std::io::Error::other(message)), (rx, None)))
            }
        }
    });
    tracing::info!(target: "northstar::audit", project = %key.project, key = %key.key, ?range, "export started");
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response())
}

/// Writes the lines; returns early (Ok) when the client has gone, and fails when it has read
/// nothing for [`STALL`].
async fn write_runs(
    store: &AnyStore,
    project: Uuid,
    range: TimeRange,
    format: Format,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), ApiError> {
    let mut after = None;
    loop {
        let filter =
            RunFilter { range, after, sort: RunSort::Started, descending: false, limit: PAGE, ..RunFilter::default() };
        let rows = store.find_runs(project, &filter).await.map_err(ApiError::store)?;
        let full = rows.len() == PAGE as usize;
        after = rows.last().map(|r| (r.started_at, r.id));
        // The page's trees, read for a few runs at a time: as many as hold about
        // `TREE_SPANS` spans together (a run larger than that alone), so that memory is
        // bounded by the largest run, not by the page.
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut chunk = Vec::new();
            let mut spans_in_chunk = 0;
            while let Some(row) = rows.next_if(|r| chunk.is_empty() || spans_in_chunk + r.spans <= TREE_SPANS) {
                spans_in_chunk += row.spans;
                chunk.push(row);
            }
            let ids: Vec<Uuid> = chunk.iter().map(|r| r.id).collect();
            let (spans, events) = store.trees_of(project, &ids).await.map_err(ApiError::store)?;
            let (mut spans, mut events) = (group(spans, |s| s.run_id), group(events, |e| e.run_id));
            for row in chunk {
                let id = row.id;
                let (spans, events) = (spans.remove(&id).unwrap_or_default(), events.remove(&id).unwrap_or_default());
                let mut line = match format {
                    Format::JsonLines => {
                        let (events, spans) = tree(spans, events, usize::MAX);
                        serde_json::to_vec(&RunDetail { run: RunOut::of(row, Fields::ALL), events, spans })
                    }
                    Format::Otlp => serde_json::to_vec(&otlp(&row, spans, events)),
                }
                .map_err(|e| ApiError::bad_request(format!("a run could not be written: {e}")))?;
                line.push(b'\n');
                match tx.send_timeout(Bytes::from(line), STALL).await {
                    Ok(()) => {}
                    Err(SendTimeoutError::Closed(_)) => return Ok(()),
                    Err(SendTimeoutError::Timeout(_)) => {
                        return Err(ApiError::busy(
                            "the client read nothing for a minute; the export gave its turn up",
                        ));
                    }
                }
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// `items` by run, in their order.
fn group<T>(items: Vec<T>, run: impl Fn(&T) -> Uuid) -> std::collections::HashMap<Uuid, Vec<T>> {
    let mut by_run: std::collections::HashMap<Uuid, Vec<T>> = std::collections::HashMap::new();
    for item in items {
        by_run.entry(run(&item)).or_default().push(item);
    }
    by_run
}

fn nanos(t: chrono::DateTime<chrono::Utc>) -> u64 {
    t.timestamp_nanos_opt().and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// An OTLP span id for a NorthStar id: its first 8 bytes.
fn span_id(id: Uuid) -> Vec<u8> {
    id.as_bytes()[..8].to_vec()
}

fn any(value: &Value) -> AnyValue {
    let v = match value {
        Value::String(s) => any_value::Value::StringValue(s.clone()),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        other => any_value::Value::StringValue(other.to_string()),
    };
    AnyValue { value: Some(v) }
}

fn kv(key: &str, value: &Value) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(any(value)), ..KeyValue::default() }
}

fn attributes(map: &Value) -> Vec<KeyValue> {
    map.as_object().map(|m| m.iter().map(|(k, v)| kv(k, v)).collect()).unwrap_or_default()
}

fn otel_status(status: northstar_wire::Status, error: Option<&Value>) -> Option<OtelStatus> {
    let code = match status {
        northstar_wire::Status::Ok => status::StatusCode::Ok,
        northstar_wire::Status::Error => status::StatusCode::Error,
        northstar_wire::Status::Running => status::StatusCode::Unset,
    };
    let message = error.map(|e| e.get("message").and_then(Value::as_str).map_or_else(|| e.to_string(), str::to_owned));
    Some(OtelStatus { code: code as i32, message: message.unwrap_or_default() })
}

/// One run as an OTLP trace: a root span for the run (the trace id is the run's id), its spans
/// below it, each event as a span event whose `content` attribute is its JSON.
fn otlp(run: &RunRow, spans: Vec<Span>, events: Vec<Event>) -> ExportTraceServiceRequest {
    let trace_id = run.id.as_bytes().to_vec();
    let root = span_id(run.id);
    let mut by_span: std::collections::HashMap<Option<Uuid>, Vec<span::Event>> = std::collections::HashMap::new();
    for e in events {
        let mut attrs = vec![kv("content", &Value::String(e.content.to_string()))];
        attrs.extend(attributes(&e.attributes));
        by_span.entry(e.span_id).or_default().push(span::Event {
            time_unix_nano: nanos(e.created_at),
            name: e.event_type.as_str().to_owned(),
            attributes: attrs,
            dropped_attributes_count: 0,
        });
    }
    let mut run_attrs = vec![kv("northstar.run.name", &Value::String(run.name.clone()))];
    run_attrs.extend(attributes(&run.metadata).into_iter().map(|mut a| {
        a.key = format!("northstar.metadata.{}", a.key);
        a
    }));
    let mut out = vec![OtelSpan {
        trace_id: trace_id.clone(),
        span_id: root.clone(),
        name: run.name.clone(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: nanos(run.started_at),
        end_time_unix_nano: run.ended_at.map_or(0, nanos),
        attributes: run_attrs,
        events: by_span.remove(&None).unwrap_or_default(),
        status: otel_status(run.status, run.error.as_ref()),
        ..OtelSpan::default()
    }];
    for s in spans {
        let mut attrs = vec![kv("northstar.span.kind", &Value::String(s.kind.as_str().to_owned()))];
        if let Some(i) = s.iteration {
            attrs.push(kv("northstar.iteration", &Value::from(i)));
        }
        attrs.extend(attributes(&s.attributes));
        out.push(OtelSpan {
            trace_id: trace_id.clone(),
            span_id: span_id(s.id),
            parent_span_id: s.parent_span_id.map_or_else(|| root.clone(), span_id),
            name: s.name.clone(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: nanos(s.started_at),
            end_time_unix_nano: s.ended_at.map_or(0, nanos),
            attributes: attrs,
            events: by_span.remove(&Some(s.id)).unwrap_or_default(),
            status: otel_status(s.status, s.error.as_ref()),
            ..OtelSpan::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", &Value::String("northstar-export".into())),
                    kv("northstar.session.id", &Value::String(run.session_id.to_string())),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "northstar".into(), ..InstrumentationScope::default() }),
                spans: out,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
