//! What the API answers with: its types are the OpenAPI document's schemas.

use chrono::{DateTime, Utc};
use northstar_store::{MetricsRow, RunRow, SessionRow};
use northstar_wire::{Event, Score, Span};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `unauthorized`, `forbidden`, `not_found`, `busy`, `unavailable` or
    /// `internal`.
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub(crate) fn new(code: &str, message: String) -> Self {
        Self { error: ErrorDetail { code: code.to_owned(), message } }
    }
}

/// A page of a list. `next_cursor` is absent on the last page; pass it as `cursor` for the next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The field groups a list of runs may ask for (`fields=core,figures,io`; all by default).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub figures: bool,
    pub io: bool,
}

impl Fields {
    pub(crate) const ALL: Self = Self { figures: true, io: true };
}

/// A run. `core` fields always; `figures` and `io` unless `fields` leaves them out.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunOut {
    pub id: Uuid,
    pub session_id: Uuid,
    pub name: String,
    /// `running`, `ok` or `error`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Absent while running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// Figures: under the cost rule (its model spans' figures, else its metadata's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<RunFigures>,
    /// Inputs and outputs: the start of its first input, its user, metadata and scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io: Option<RunIo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunFigures {
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// How many distinct models its model spans name.
    pub models: i64,
    pub tool_calls: i64,
    pub spans: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunIo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub scores: Vec<ScoreOut>,
}

impl RunOut {
    pub(crate) fn of(row: RunRow, fields: Fields) -> Self {
        let figures = fields.figures.then(|| RunFigures {
            cost_usd: row.cost_usd,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            model: row.model.clone(),
            models: row.models,
            tool_calls: row.tool_calls,
            spans: row.spans,
        });
        let io = fields.io.then(|| RunIo {
            input: row.input.clone(),
            user: row.user.clone(),
            metadata: row.metadata.clone(),
            scores: row.scores.iter().map(ScoreOut::of).collect(),
        });
        Self {
            id: row.id,
            session_id: row.session_id,
            name: row.name,
            status: row.status.as_str().to_owned(),
            started_at: row.started_at,
            ended_at: row.ended_at,
            duration_ms: row.duration_ms,
            error: row.error,
            figures,
            io,
        }
    }
}

/// A span with its timing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanOut {
    pub id: Uuid,
    pub run_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<Uuid>,
    /// `agent`, `workflow`, `model`, `tool` or `custom`.
    pub kind: String,
    pub name: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<i32>,
    #[schema(value_type = Object)]
    pub attributes: Value,
}

pub(crate) fn millis(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<f64> {
    to.map(|to| (to - from).num_microseconds().map_or(0.0, |us| us as f64 / 1000.0))
}

impl SpanOut {
    pub(crate) fn of(s: Span) -> Self {
        Self {
            duration_ms: millis(s.started_at, s.ended_at),
            id: s.id,
            run_id: s.run_id,
            parent_span_id: s.parent_span_id,
            kind: s.kind.as_str().to_owned(),
            name: s.name,
            status: s.status.as_str().to_owned(),
            started_at: s.started_at,
            ended_at: s.ended_at,
            error: s.error,
            iteration: s.iteration,
            attributes: s.attributes,
        }
    }
}

/// A message or payload recorded in a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<Uuid>,
    /// `user_input`, `system_message`, `assistant_message`, `reasoning`, `tool_arguments`,
    /// `tool_result`, `final_response` or `custom`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub content: Value,
    #[schema(value_type = Object)]
    pub attributes: Value,
}

impl EventOut {
    pub(crate) fn of(e: Event) -> Self {
        Self {
            id: e.id,
            span_id: e.span_id,
            event_type: e.event_type.as_str().to_owned(),
            created_at: e.created_at,
            content: e.content,
            attributes: e.attributes,
        }
    }
}

/// A span in its run's tree: its own events and its children.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanNode {
    #[serde(flatten)]
    pub span: SpanOut,
    pub events: Vec<EventOut>,
    /// How many children it has (`children` is empty below the requested `depth`).
    pub child_count: usize,
    #[schema(no_recursion)]
    pub children: Vec<SpanNode>,
}

/// A run with its tree: its own events and its top-level spans, each with its events and
/// children.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunOut,
    pub events: Vec<EventOut>,
    pub spans: Vec<SpanNode>,
}

/// A span with its own events.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanDetail {
    #[serde(flatten)]
    pub span: SpanOut,
    pub events: Vec<EventOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// `active`, `completed` or `errored`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    pub runs: i64,
    pub errored_runs: i64,
    pub tool_calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl SessionOut {
    pub(crate) fn of(s: SessionRow) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            ended_at: s.ended_at,
            status: s.status.as_str().to_owned(),
            duration_ms: s.duration_ms,
            runs: s.runs,
            errored_runs: s.errored_runs,
            tool_calls: s.tool_calls,
            cost_usd: s.cost_usd,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            user: s.user,
            metadata: s.metadata,
        }
    }
}

/// A session with its first runs (oldest first; the rest through `GET /api/v1/runs?session=`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionOut,
    pub first_runs: Vec<RunOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreOut {
    pub id: Uuid,
    pub run_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<Uuid>,
    pub name: String,
    pub value: f64,
    /// `numeric`, `boolean` or `categorical`.
    pub data_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// `human`, `api` or `auto`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ScoreOut {
    pub(crate) fn of(s: &Score) -> Self {
        Self {
            id: s.id,
            run_id: s.trace_id,
            span_id: s.span_id,
            name: s.name.clone(),
            value: s.value,
            data_type: s.data_type.as_str().to_owned(),
            string_value: s.string_value.clone(),
            source: s.source.as_str().to_owned(),
            comment: s.comment.clone(),
            created_at: s.created_at,
        }
    }
}

/// A score to add to a run (or one of its spans); stored with source `api`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScoreIn {
    pub run_id: Uuid,
    #[serde(default)]
    pub span_id: Option<Uuid>,
    pub name: String,
    /// `numeric` (default), `boolean` (value 0 or 1) or `categorical` (with `string_value`).
    #[serde(default)]
    pub data_type: Option<String>,
    /// Required for numeric and boolean scores.
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub string_value: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Figures of one group (a day, a run name or a model).
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsGroupOut {
    pub key: String,
    /// Runs, or model calls when grouped by model.
    pub count: i64,
    pub errors: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
}

impl MetricsGroupOut {
    pub(crate) fn of(m: MetricsRow) -> Self {
        Self {
            key: m.key,
            count: m.count,
            errors: m.errors,
            cost_usd: m.cost_usd,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            latency_p50_ms: m.latency_p50_ms,
            latency_p95_ms: m.latency_p95_ms,
        }
    }
}

/// The overview's figures as data.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsOut {
    pub runs: i64,
    pub errored_runs: i64,
    pub sessions: i64,
    pub tool_calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    /// `day`, `run_name` or `model`.
    pub group_by: String,
    pub groups: Vec<MetricsGroupOut>,
}

/// The values of the API's enumerated query parameters, for the OpenAPI document (the handlers
/// parse them with the wire types' own parsers).
#[allow(dead_code, reason = "described in the document, parsed as text")]
pub mod query {
    use utoipa::ToSchema;

    /// A run's or span's status.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum Status {
        Running,
        Ok,
        Error,
    }

    /// A session's state.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum SessionState {
        Active,
        Completed,
        Errored,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum SpanKind {
        Agent,
        Workflow,
        Model,
        Tool,
        Custom,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum ScoreSource {
        Human,
        Api,
        Auto,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum GroupBy {
        Day,
        RunName,
        Model,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum ExportFormat {
        Jsonl,
        Otlp,
    }
}

/// A prompt version as the registry resolves it, with its prompt.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromptOut {
    /// The version's id (what a span's prompt link names).
    pub id: Uuid,
    pub prompt_id: Uuid,
    pub name: String,
    pub slug: String,
    pub version_number: i32,
    /// The template: `{{ variable }}` or `{variable}`.
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i32>,
    /// `[{"name", "type", "required", "default"}]`.
    #[schema(value_type = Vec<Object>)]
    pub variables: Value,
    /// SHA-256 of the content, hex.
    pub content_hash: String,
    /// The labels pointing at this version.
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl PromptOut {
    pub(crate) fn of(prompt: &northstar_store::Prompt, v: northstar_store::PromptVersion) -> Self {
        Self {
            labels: prompt.labels.iter().filter(|(_, id)| **id == v.id).map(|(l, _)| l.clone()).collect(),
            id: v.id,
            prompt_id: v.prompt_id,
            name: prompt.name.clone(),
            slug: prompt.slug.clone(),
            version_number: v.version_number,
            content: v.content,
            model: v.model,
            temperature: v.temperature,
            max_tokens: v.max_tokens,
            variables: v.variables,
            content_hash: v.content_hash,
            created_at: v.created_at,
        }
    }
}
