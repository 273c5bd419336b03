//! Validated records. Every field has already been checked; JSON payloads (`metadata`,
//! `attributes`, `error`, `content`) are kept as the exact JSON values the client sent.
//!
//! A record carries no `project_id`: the project is the authenticated one, always.

use serde::{Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::{EventType, ScoreDataType, ScoreSource, SpanKind, Status, Timestamp, format_timestamp};

// Serialization produces the contract's JSON exactly as the original SDK sent it: absent
// optionals are omitted (never `null`), timestamps are RFC 3339 UTC with `Z`, and an event's
// `content` is always present, even when null, so the batch is valid for the original server too.

fn ts<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(t))
}

fn opt_ts<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ts(t, s),
        None => s.serialize_none(),
    }
}

/// One process's lifetime of traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub id: Uuid,
    #[serde(serialize_with = "ts")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "opt_ts", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// `{}` when the key was absent; JSON `null` when the client sent `null`.
    pub metadata: Value,
}

/// One agent run: what the dashboard and scores call a *trace*.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: Uuid,
    pub session_id: Uuid,
    pub name: String,
    #[serde(serialize_with = "ts")]
    pub started_at: Timestamp,
    #[serde(serialize_with = "opt_ts", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    pub status: Status,
    /// `None` when absent (stored as SQL NULL); `Some(Value::Null)` for an explicit `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    pub metadata: Value,
}

/// One step inside a run; spans nest through `parent_span_id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub id: Uuid,
    pub run_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<Uuid>,
    pub kind: SpanKind,
    pub name: String,
    #[serde(serialize_with = "ts")]
    pub started_at: Timestamp,
    #[serde(serialize_with = "opt_ts", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<i32>,
    pub attributes: Value,
}

/// A typed piece of content recorded in a run, optionally on one of its spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: Uuid,
    pub run_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(serialize_with = "ts")]
    pub created_at: Timestamp,
    /// JSON `null` when the client sent `null` or (deliberate fix) no `content` key at all.
    pub content: Value,
    pub attributes: Value,
}

/// A link from a span to the prompt version it rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptLink {
    pub trace_id: Uuid,
    pub span_id: Uuid,
    pub prompt_version_id: Uuid,
    pub variable_values: Value,
}

/// An evaluation of a run (`trace_id` is a run id), optionally of one of its spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub id: Uuid,
    pub trace_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<Uuid>,
    /// Trimmed, as the original's storage function stored it.
    pub name: String,
    pub value: f64,
    pub data_type: ScoreDataType,
    /// Trimmed; present exactly for categorical scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    pub source: ScoreSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(serialize_with = "ts")]
    pub created_at: Timestamp,
}
