//! Validated records. Every field has already been checked; JSON payloads (`metadata`,
//! `attributes`, `error`, `content`) are kept as the exact JSON values the client sent.
//!
//! A record carries no `project_id`: the project is the authenticated one, always.

use serde_json::Value;
use uuid::Uuid;

use crate::{EventType, ScoreDataType, ScoreSource, SpanKind, Status, Timestamp};

/// One process's lifetime of traces.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    /// `{}` when the key was absent; JSON `null` when the client sent `null`.
    pub metadata: Value,
}

/// One agent run: what the dashboard and scores call a *trace*.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: Uuid,
    pub session_id: Uuid,
    pub name: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub status: Status,
    /// `None` when absent (stored as SQL NULL); `Some(Value::Null)` for an explicit `null`.
    pub error: Option<Value>,
    pub metadata: Value,
}

/// One step inside a run; spans nest through `parent_span_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub id: Uuid,
    pub run_id: Uuid,
    pub parent_span_id: Option<Uuid>,
    pub kind: SpanKind,
    pub name: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub status: Status,
    pub error: Option<Value>,
    pub iteration: Option<i32>,
    pub attributes: Value,
}

/// A typed piece of content recorded in a run, optionally on one of its spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub run_id: Uuid,
    pub span_id: Option<Uuid>,
    pub event_type: EventType,
    pub created_at: Timestamp,
    /// JSON `null` when the client sent `null` or (deliberate fix) no `content` key at all.
    pub content: Value,
    pub attributes: Value,
}

/// A link from a span to the prompt version it rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptLink {
    pub trace_id: Uuid,
    pub span_id: Uuid,
    pub prompt_version_id: Uuid,
    pub variable_values: Value,
}

/// An evaluation of a run (`trace_id` is a run id), optionally of one of its spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub id: Uuid,
    pub trace_id: Uuid,
    pub span_id: Option<Uuid>,
    /// Trimmed, as the original's storage function stored it.
    pub name: String,
    pub value: f64,
    pub data_type: ScoreDataType,
    /// Trimmed; present exactly for categorical scores.
    pub string_value: Option<String>,
    pub source: ScoreSource,
    pub comment: Option<String>,
    pub created_at: Timestamp,
}
