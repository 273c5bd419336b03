//! OTLP spans → NorthStar records. `docs/OTLP.md` is the table of this mapping, with the
//! reason for each choice; the functions below follow it in its order.

use northstar_wire::attributes as attr;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use northstar_store::{PromptRef, RootRun, Trace, TraceBatch};
use northstar_wire::{MAX_COST_USD, MAX_TOKENS, ScoreDataType, ScoreSource, SpanKind, Status};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{span, status};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::messages::{self, Message};

/// A request's spans as the store takes them, and what could not be taken.
#[derive(Debug, Default)]
pub(crate) struct Mapped {
    pub(crate) batch: TraceBatch,
    pub(crate) rejected: usize,
    /// Why the first spans were rejected (a few, for the partial-success message).
    pub(crate) reasons: Vec<String>,
}

impl Mapped {
    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        if self.reasons.len() < 3 {
            self.reasons.push(reason);
        }
    }
}

/// Maps every span of `request` for `project`.
pub(crate) fn map(project: Uuid, request: ExportTraceServiceRequest) -> Mapped {
    let mut mapped = Mapped::default();
    let mut traces: Vec<Trace> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    // The start of the span each trace's session hint came from: the earliest wins.
    let mut hint_start: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.map(|r| attributes(r.attributes)).unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.map(|s| json!({"name": clean(s.name), "version": clean(s.version)}));
            for otel in scope_spans.spans {
                let one = match SpanIn::read(otel, &resource, scope.as_ref()) {
                    Ok(one) => one,
                    Err(reason) => {
                        mapped.reject(reason);
                        continue;
                    }
                };
                let at = *index.entry(one.span.run_id).or_insert_with(|| {
                    traces.push(new_trace(project, one.span.run_id, &one.span.name, one.span.started_at));
                    traces.len() - 1
                });
                let trace = &mut traces[at];
                if one.span.started_at < trace.first_start {
                    trace.first_start = one.span.started_at;
                    trace.provisional_name.clone_from(&one.span.name);
                }
                let session = one.session.map(|s| derived(&[project.as_bytes(), b"session", s.as_bytes()]));
                match one.parent {
                    Some(parent) => {
                        trace.parents.insert(one.span.id, parent);
                        if let Some(session) = session
                            && hint_start.get(&trace.run_id).is_none_or(|t| one.span.started_at < *t)
                        {
                            hint_start.insert(trace.run_id, one.span.started_at);
                            trace.session_hint = Some(session);
                        }
                    }
                    None => {
                        trace.root = Some(RootRun {
                            name: one.run_name.unwrap_or_else(|| one.span.name.clone()),
                            started_at: one.span.started_at,
                            ended_at: one.span.ended_at,
                            status: one.span.status,
                            error: one.span.error.clone(),
                            metadata: Value::Object(one.run_metadata),
                            session,
                        });
                    }
                }
                trace.events.extend(one.events);
                trace.scores.extend(one.scores);
                trace.prompt_refs.extend(prompt_ref(&one.span));
                trace.spans.push(one.span);
            }
        }
    }
    mapped.batch = TraceBatch { traces };
    mapped
}

/// Maps the log records of `request` that are GenAI events inside a span (`gen_ai.user.message`,
/// `gen_ai.choice`, …, as the official instrumentations send chat messages) to events of that
/// span. Any other record is rejected (counted in the partial success): this server keeps
/// traces, not logs.
pub(crate) fn map_logs(project: Uuid, request: ExportLogsServiceRequest) -> Mapped {
    let mut mapped = Mapped::default();
    let mut traces: Vec<Trace> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for resource_logs in request.resource_logs {
        for scope_logs in resource_logs.scope_logs {
            for record in scope_logs.log_records {
                let mut a = attributes(record.attributes);
                let name = Some(clean(record.event_name))
                    .filter(|n| !n.is_empty())
                    .or_else(|| str_of(&a, "event.name"))
                    .unwrap_or_default();
                if record.trace_id.len() != 16
                    || record.trace_id.iter().all(|b| *b == 0)
                    || record.span_id.len() != 8
                    || record.span_id.iter().all(|b| *b == 0)
                {
                    mapped.reject(format!("log record {name:?}: only GenAI events inside a span are stored"));
                    continue;
                }
                let Some(at) = time(record.time_unix_nano).or_else(|| time(record.observed_time_unix_nano)) else {
                    mapped.reject(format!("log record {name:?}: no time"));
                    continue;
                };
                let body = record.body.map_or(Value::Null, value);
                let body_bytes = body.to_string();
                match body {
                    Value::Object(fields) => a.extend(fields),
                    Value::Null => {}
                    other => {
                        a.insert("content".into(), other);
                    }
                }
                let found = messages::from_span_event(&name, &a, at);
                if found.is_empty() {
                    mapped
                        .reject(format!("log record {name:?}: not a GenAI event; this server keeps traces, not logs"));
                    continue;
                }
                let run_id = Uuid::from_slice(&record.trace_id).unwrap_or_default();
                let span = derived(&[&record.trace_id, &record.span_id]);
                let at_bytes = record.time_unix_nano.to_le_bytes();
                let key =
                    [&record.trace_id[..], &record.span_id, b"log", &at_bytes, name.as_bytes(), body_bytes.as_bytes()];
                let events: Vec<northstar_wire::Event> = found
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let i = (i as u64).to_le_bytes();
                        let mut parts = key.to_vec();
                        parts.push(&i);
                        northstar_wire::Event {
                            id: derived(&parts),
                            run_id,
                            span_id: Some(span),
                            event_type: m.event_type,
                            created_at: m.at,
                            content: m.content,
                            attributes: Value::Object(m.attributes),
                        }
                    })
                    .collect();
                let at_index = *index.entry(run_id).or_insert_with(|| {
                    traces.push(new_trace(project, run_id, "(spans not received yet)", at));
                    traces.len() - 1
                });
                let trace = &mut traces[at_index];
                trace.first_start = trace.first_start.min(at);
                trace.events.extend(events);
            }
        }
    }
    mapped.batch = TraceBatch { traces };
    mapped
}

/// What a request carries of trace `run_id` before anything is added: a provisional name and
/// start, and the session of its own (derived from the project and the trace).
fn new_trace(project: Uuid, run_id: Uuid, provisional_name: &str, start: DateTime<Utc>) -> Trace {
    Trace {
        run_id,
        root: None,
        session_hint: None,
        own_session: derived(&[project.as_bytes(), b"trace", run_id.as_bytes()]),
        provisional_name: provisional_name.to_owned(),
        first_start: start,
        spans: Vec::new(),
        parents: HashMap::new(),
        events: Vec::new(),
        scores: Vec::new(),
        prompt_refs: Vec::new(),
    }
}

/// The registry prompt a Langfuse-instrumented generation says it used
/// (`langfuse.observation.prompt.name` and `.version`, both required).
fn prompt_ref(span: &northstar_wire::Span) -> Option<PromptRef> {
    let a = span.attributes.as_object()?;
    let prompt = str_of(a, "langfuse.observation.prompt.name")?.trim().to_owned();
    let version = num_of(a, "langfuse.observation.prompt.version").filter(|v| v.fract() == 0.0)?;
    #[expect(clippy::cast_possible_truncation, reason = "a whole number within i32, checked first")]
    let version = (1.0..=f64::from(i32::MAX)).contains(&version).then_some(version as i32)?;
    Some(PromptRef { span_id: span.id, prompt, version })
}

/// A UUID (version 8) derived from `parts`: the same parts give the same id, so a re-sent
/// export writes the same rows again instead of new ones.
fn derived(parts: &[&[u8]]) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(b"northstar-otlp");
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Postgres stores no NUL in text: it becomes U+FFFD, as in native ingest.
fn clean(s: String) -> String {
    if s.contains('\0') { s.replace('\0', "\u{fffd}") } else { s }
}

/// An OTLP value as JSON: integers and doubles as numbers, bytes as base64, lists as arrays,
/// key-value lists as objects.
fn value(v: AnyValue) -> Value {
    use any_value::Value as V;
    match v.value {
        // A string table index is meaningful only in profiles, never in spans.
        None | Some(V::StringValueStrindex(_)) => Value::Null,
        Some(V::StringValue(s)) => Value::String(clean(s)),
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => json!(i),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number),
        Some(V::BytesValue(b)) => Value::String(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)),
        Some(V::ArrayValue(a)) => Value::Array(a.values.into_iter().map(value).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(attributes(kv.values)),
    }
}

fn attributes(kvs: Vec<KeyValue>) -> Map<String, Value> {
    kvs.into_iter().map(|kv| (clean(kv.key), kv.value.map_or(Value::Null, value))).collect()
}

/// Nanoseconds since the epoch; `None` for 0 (unset) or beyond what a timestamp holds.
fn time(nanos: u64) -> Option<DateTime<Utc>> {
    if nanos == 0 {
        return None;
    }
    let nanos = i64::try_from(nanos).ok()?;
    let t = DateTime::from_timestamp_nanos(nanos);
    // Stored with microseconds, as every other time.
    Some(t - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000)))
}

fn hex_id(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// One span, read.
struct SpanIn {
    span: northstar_wire::Span,
    parent: Option<Uuid>,
    session: Option<String>,
    run_name: Option<String>,
    run_metadata: Map<String, Value>,
    events: Vec<northstar_wire::Event>,
    scores: Vec<northstar_wire::Score>,
}

fn str_of(a: &Map<String, Value>, key: &str) -> Option<String> {
    match a.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num_of(a: &Map<String, Value>, key: &str) -> Option<f64> {
    match a.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

/// A JSON attribute sent as a string (`langfuse.observation.usage_details`, …), parsed.
fn json_of(a: &Map<String, Value>, key: &str) -> Option<Value> {
    match a.get(key)? {
        Value::String(s) => Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))),
        other => Some(other.clone()),
    }
}

impl SpanIn {
    fn read(
        otel: opentelemetry_proto::tonic::trace::v1::Span,
        resource: &Map<String, Value>,
        scope: Option<&Value>,
    ) -> Result<Self, String> {
        let name = clean(otel.name);
        let label = if name.is_empty() { "a span".to_owned() } else { format!("span {name:?}") };
        if otel.trace_id.len() != 16 || otel.trace_id.iter().all(|b| *b == 0) {
            return Err(format!("{label}: trace_id must be 16 bytes, not all zero"));
        }
        if otel.span_id.len() != 8 || otel.span_id.iter().all(|b| *b == 0) {
            return Err(format!("{label}: span_id must be 8 bytes, not all zero"));
        }
        if !(otel.parent_span_id.is_empty() || otel.parent_span_id.len() == 8) {
            return Err(format!("{label}: parent_span_id must be empty or 8 bytes"));
        }
        let started_at = time(otel.start_time_unix_nano)
            .or_else(|| time(otel.end_time_unix_nano))
            .ok_or_else(|| format!("{label}: start_time_unix_nano is missing or out of range"))?;
        let ended_at = time(otel.end_time_unix_nano).map(|end| end.max(started_at));
        let run_id = Uuid::from_slice(&otel.trace_id).map_err(|_| format!("{label}: bad trace_id"))?;
        let id = derived(&[&otel.trace_id, &otel.span_id]);
        let parent = (!otel.parent_span_id.is_empty() && otel.parent_span_id.iter().any(|b| *b != 0))
            .then(|| derived(&[&otel.trace_id, &otel.parent_span_id]));

        let mut a = attributes(otel.attributes);
        let kind = kind_of(&a);
        let session =
            ["session.id", "gen_ai.conversation.id", "langfuse.session.id"].iter().find_map(|k| str_of(&a, k));

        // Status and error: the span's status, an `exception` event, Langfuse's level.
        let code = otel.status.as_ref().map_or(0, |s| s.code);
        let status_message = otel.status.as_ref().map(|s| clean(s.message.clone())).filter(|m| !m.is_empty());
        let mut failed = code == status::StatusCode::Error as i32;
        let level_error = str_of(&a, "langfuse.observation.level").is_some_and(|l| l.eq_ignore_ascii_case("ERROR"));
        failed |= level_error;
        let mut exception: Option<Map<String, Value>> = None;
        let mut kept_events: Vec<Value> = Vec::new();
        let mut messages: Vec<Message> = Vec::new();
        let mut scores = Vec::new();
        for (i, event) in otel.events.into_iter().enumerate() {
            let at = time(event.time_unix_nano).unwrap_or(started_at);
            let event_name = clean(event.name);
            let ea = attributes(event.attributes);
            if event_name == "exception" && exception.is_none() {
                exception = Some(ea);
                continue;
            }
            if event_name == "gen_ai.evaluation.result"
                && let Some(score) = score_of(run_id, id, i, at, &ea)
            {
                scores.push(score);
                continue;
            }
            let found = messages::from_span_event(&event_name, &ea, at);
            if found.is_empty() {
                kept_events
                    .push(json!({"name": event_name, "time": northstar_wire::format_timestamp(&at), "attributes": ea}));
            } else {
                messages.extend(found);
            }
        }
        let error = failed.then(|| {
            let ex = exception.as_ref();
            let get = |k: &str| ex.and_then(|e| str_of(e, k));
            let message = status_message
                .clone()
                .or_else(|| get("exception.message"))
                .or_else(|| str_of(&a, "langfuse.observation.status_message"))
                .unwrap_or_else(|| "error".into());
            let mut e = Map::new();
            e.insert("type".into(), json!(get("exception.type").unwrap_or_else(|| "error".into())));
            e.insert("message".into(), json!(message));
            if let Some(trace) = get("exception.stacktrace") {
                e.insert("stacktrace".into(), json!(trace));
            }
            Value::Object(e)
        });
        if let (Some(ex), false) = (exception, failed) {
            // An exception recorded on a span that did not fail (handled): kept as an event.
            kept_events.push(json!({"name": "exception", "attributes": ex}));
        }

        // Messages carried in attributes, by convention; the attributes they came from go.
        let role = if parent.is_none() { messages::Place::Root } else { messages::Place::Inner(kind) };
        messages.extend(messages::from_attributes(&mut a, role, started_at, ended_at.unwrap_or(started_at)));

        // Figures, under NorthStar's attribute names.
        figures(&mut a);

        // Run fields from the root.
        let run_name = str_of(&a, "langfuse.trace.name");
        let mut run_metadata = Map::new();
        run_metadata.insert("source".into(), json!("otlp"));
        if let Some(service) = str_of(resource, "service.name") {
            run_metadata.insert("service.name".into(), json!(service));
        }
        for key in ["user.id", "langfuse.user.id", "langfuse.trace.tags", "langfuse.release", "langfuse.version"] {
            if let Some(v) = a.get(key) {
                run_metadata.insert(key.trim_start_matches("langfuse.").to_owned(), v.clone());
            }
        }
        for (key, v) in &a {
            if let Some(rest) = key.strip_prefix("langfuse.trace.metadata.") {
                run_metadata.insert(rest.to_owned(), v.clone());
            }
        }
        let mut metadata = Map::new();
        for (key, v) in &a {
            if let Some(rest) = key.strip_prefix("langfuse.observation.metadata.") {
                metadata.insert(rest.to_owned(), v.clone());
            }
        }
        if !metadata.is_empty() {
            a.insert("metadata".into(), Value::Object(metadata));
        }

        // What OTLP says about the span beyond its attributes, kept beside them.
        let span_kind = match span::SpanKind::try_from(otel.kind).unwrap_or(span::SpanKind::Unspecified) {
            span::SpanKind::Internal => "internal",
            span::SpanKind::Server => "server",
            span::SpanKind::Client => "client",
            span::SpanKind::Producer => "producer",
            span::SpanKind::Consumer => "consumer",
            span::SpanKind::Unspecified => "unspecified",
        };
        a.insert("otel.span_kind".into(), json!(span_kind));
        a.insert("otel.trace_id".into(), json!(hex_id(&otel.trace_id)));
        a.insert("otel.span_id".into(), json!(hex_id(&otel.span_id)));
        if !otel.parent_span_id.is_empty() {
            a.insert("otel.parent_span_id".into(), json!(hex_id(&otel.parent_span_id)));
        }
        if let Some(message) = &status_message {
            a.insert("otel.status_message".into(), json!(message));
        }
        if let Some(scope) = scope {
            a.insert("otel.scope".into(), scope.clone());
        }
        if !resource.is_empty() {
            a.insert("otel.resource".into(), Value::Object(resource.clone()));
        }
        if !kept_events.is_empty() {
            a.insert("otel.events".into(), Value::Array(kept_events));
        }
        if !otel.links.is_empty() {
            let links = otel
                .links
                .into_iter()
                .map(|l| {
                    json!({"trace_id": hex_id(&l.trace_id), "span_id": hex_id(&l.span_id),
                           "attributes": attributes(l.attributes)})
                })
                .collect();
            a.insert("otel.links".into(), Value::Array(links));
        }

        // Events are read back by time: a span's messages share its start (or end), so each
        // comes at least a microsecond after the one before, keeping the conversation's order.
        let mut last: Option<DateTime<Utc>> = None;
        let events = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let at = match last {
                    Some(before) if m.at <= before => before + chrono::Duration::microseconds(1),
                    _ => m.at,
                };
                last = Some(at);
                northstar_wire::Event {
                    id: derived(&[id.as_bytes(), b"event", &(i as u64).to_le_bytes()]),
                    run_id,
                    span_id: Some(id),
                    event_type: m.event_type,
                    created_at: at,
                    content: m.content,
                    attributes: Value::Object(m.attributes),
                }
            })
            .collect();
        Ok(Self {
            span: northstar_wire::Span {
                id,
                run_id,
                parent_span_id: None,
                kind,
                name: if name.is_empty() { "(unnamed span)".into() } else { name },
                started_at,
                ended_at: Some(ended_at.unwrap_or(started_at)),
                status: if failed { Status::Error } else { Status::Ok },
                error,
                iteration: None,
                attributes: Value::Object(a),
            },
            parent,
            session,
            run_name,
            run_metadata,
            events,
            scores,
        })
    }
}

/// The span's kind, by the first of these that says: Langfuse's observation type,
/// OpenInference's span kind, the GenAI operation name, OpenLLMetry's span kind, then tool or
/// model attributes; else `custom`.
pub(crate) fn kind_of(a: &Map<String, Value>) -> SpanKind {
    let lower = |k: &str| str_of(a, k).map(|s| s.to_ascii_lowercase());
    if let Some(t) = lower("langfuse.observation.type") {
        match t.as_str() {
            "generation" | "embedding" => return SpanKind::Model,
            "agent" => return SpanKind::Agent,
            "tool" | "retriever" => return SpanKind::Tool,
            "chain" => return SpanKind::Workflow,
            "span" | "event" | "evaluator" | "guardrail" => return SpanKind::Custom,
            _ => {}
        }
    }
    if let Some(k) = lower("openinference.span.kind") {
        match k.as_str() {
            "llm" | "embedding" => return SpanKind::Model,
            "tool" | "retriever" | "reranker" => return SpanKind::Tool,
            "agent" => return SpanKind::Agent,
            "chain" => return SpanKind::Workflow,
            "guardrail" | "evaluator" | "prompt" => return SpanKind::Custom,
            _ => {}
        }
    }
    if let Some(op) = lower("gen_ai.operation.name") {
        match op.as_str() {
            "chat" | "text_completion" | "generate_content" | "embeddings" | "completion" => return SpanKind::Model,
            "execute_tool" => return SpanKind::Tool,
            "invoke_agent" | "create_agent" => return SpanKind::Agent,
            "invoke_workflow" => return SpanKind::Workflow,
            _ => {}
        }
    }
    if let Some(k) = lower("traceloop.span.kind") {
        match k.as_str() {
            "workflow" => return SpanKind::Workflow,
            "agent" => return SpanKind::Agent,
            "tool" => return SpanKind::Tool,
            "task" => return SpanKind::Custom,
            _ => {}
        }
    }
    if a.contains_key("gen_ai.tool.name") || a.contains_key("gen_ai.tool.call.id") {
        return SpanKind::Tool;
    }
    let model_keys = ["gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "llm.request.type"];
    if model_keys.iter().any(|k| a.contains_key(*k)) {
        return SpanKind::Model;
    }
    SpanKind::Custom
}

/// Model, tokens and cost under NorthStar's names (`model`, `input_tokens`, `output_tokens`,
/// `total_tokens`, `cached_input_tokens`, `cache_write_tokens`, `reasoning_tokens`,
/// `cost_usd`), from the GenAI conventions, OpenInference, OpenLLMetry and Langfuse. Cached
/// tokens are part of the input count (the GenAI rule), so nothing is billed twice.
fn figures(a: &mut Map<String, Value>) {
    let first = |a: &Map<String, Value>, keys: &[&str]| keys.iter().find_map(|k| num_of(a, k));
    let usage = json_of(a, "langfuse.observation.usage_details").and_then(|v| v.as_object().cloned());
    let from_usage = |keys: &[&str]| usage.as_ref().and_then(|u| keys.iter().find_map(|k| num_of(u, k)));
    let model = ["gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "langfuse.observation.model.name"]
        .iter()
        .find_map(|k| str_of(a, k));
    let input = first(a, &["gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens"])
        .or_else(|| from_usage(&["input", "prompt_tokens", "input_tokens"]));
    let output =
        first(a, &["gen_ai.usage.output_tokens", "llm.token_count.completion", "gen_ai.usage.completion_tokens"])
            .or_else(|| from_usage(&["output", "completion_tokens", "output_tokens"]));
    let cached = first(
        a,
        &[
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
        ],
    )
    .or_else(|| from_usage(&["input_cached_tokens", "cache_read_input_tokens", "input_cache_read"]));
    let written = first(
        a,
        &[
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_write.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
            "llm.token_count.prompt_details.cache_write",
        ],
    )
    .or_else(|| from_usage(&["cache_creation_input_tokens", "input_cache_creation"]));
    let reasoning = first(
        a,
        &[
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
        ],
    )
    .or_else(|| from_usage(&["output_reasoning_tokens", "reasoning_tokens"]));
    let cost = first(a, &["llm.cost.total", "gen_ai.usage.cost", "gen_ai.cost.total"]).or_else(|| {
        let details = json_of(a, "langfuse.observation.cost_details")?;
        let details = details.as_object()?;
        num_of(details, "total").or_else(|| {
            let parts: Vec<f64> = details.values().filter_map(Value::as_f64).collect();
            (!parts.is_empty()).then(|| parts.iter().sum())
        })
    });

    let tokens = |v: Option<f64>| v.filter(|t| *t >= 0.0 && *t <= MAX_TOKENS).map(|t| t.round() as u64);
    if let Some(model) = model {
        a.insert(attr::MODEL.into(), json!(model));
    }
    let (input, output) = (tokens(input), tokens(output));
    for (key, v) in [
        (attr::INPUT_TOKENS, input),
        (attr::OUTPUT_TOKENS, output),
        (attr::CACHED_INPUT_TOKENS, tokens(cached)),
        (attr::CACHE_WRITE_TOKENS, tokens(written)),
        (attr::REASONING_TOKENS, tokens(reasoning)),
    ] {
        if let Some(v) = v {
            a.insert(key.into(), json!(v));
        }
    }
    if input.is_some() || output.is_some() {
        a.insert(attr::TOTAL_TOKENS.into(), json!(input.unwrap_or(0) + output.unwrap_or(0)));
    }
    if let Some(cost) = cost.filter(|c| *c >= 0.0 && *c <= MAX_COST_USD) {
        a.insert(attr::COST_USD.into(), json!(cost));
        a.insert(attr::PRICING_SOURCE.into(), json!("client"));
    }
}

/// A `gen_ai.evaluation.result` event as a score of the run (and span).
fn score_of(
    run: Uuid,
    span: Uuid,
    index: usize,
    at: DateTime<Utc>,
    a: &Map<String, Value>,
) -> Option<northstar_wire::Score> {
    let name = str_of(a, "gen_ai.evaluation.name")?.trim().to_owned();
    let value = num_of(a, "gen_ai.evaluation.score.value").filter(|v| v.abs() <= northstar_wire::MAX_SCORE_VALUE);
    let label = str_of(a, "gen_ai.evaluation.score.label").map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    let (value, data_type, string_value) = match (value, label) {
        (Some(v), _) => (v, ScoreDataType::Numeric, None),
        (None, Some(label)) => (0.0, ScoreDataType::Categorical, Some(label)),
        (None, None) => return None,
    };
    Some(northstar_wire::Score {
        id: derived(&[span.as_bytes(), b"score", &(index as u64).to_le_bytes()]),
        trace_id: run,
        span_id: Some(span),
        name,
        value,
        data_type,
        string_value,
        source: ScoreSource::Api,
        comment: str_of(a, "gen_ai.evaluation.explanation"),
        created_at: at,
    })
}

#[cfg(test)]
mod tests;
