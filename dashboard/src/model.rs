//! What the server functions send to the pages. Plain data: ids as text, times and figures
//! already formatted on the server, so the page renders the same on both sides of hydration.

use northstar_wire::{SpanKind, Status};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectItem {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The current user's role in it: `member` or `admin`.
    pub role: String,
}

/// A dashboard user, as a server admin manages them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserItem {
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created: String,
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub is_admin: bool,
}

/// A project's settings page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsData {
    pub project: ProjectItem,
    /// `active since …`, `revoked …` or `none`.
    pub key: String,
    pub retention_days: Option<i32>,
    pub ingest: Ingest,
}

/// Where agents send traces, as seen from the browser's side of this server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ingest {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub project: ProjectItem,
    pub ingest: Ingest,
    /// Whether the project has any session at all (in any time range).
    pub has_data: bool,
    pub runs: i64,
    pub errored_runs: i64,
    pub sessions: i64,
    pub tool_calls: i64,
    pub error_rate: f64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub days: Vec<DayPoint>,
    pub by_model: Vec<ModelPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayPoint {
    pub day: String,
    pub runs: i64,
    pub errors: i64,
    pub cost_usd: f64,
    pub tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPoint {
    pub model: String,
    pub calls: i64,
    pub cost_usd: f64,
    pub tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionItem {
    pub id: String,
    pub started: String,
    pub started_ago: String,
    pub status: String,
    pub duration_ms: Option<f64>,
    pub runs: i64,
    pub errored_runs: i64,
    pub tool_calls: i64,
    pub cost_usd: f64,
    pub tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsData {
    pub rows: Vec<SessionItem>,
    pub total: i64,
    pub ingest: Ingest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunItem {
    pub id: String,
    pub session_id: String,
    pub name: String,
    pub started: String,
    pub started_ago: String,
    pub status: Status,
    pub duration_ms: Option<f64>,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub model: Option<String>,
    pub models: i64,
    pub tool_calls: i64,
    pub spans: i64,
    /// Milliseconds from the start of the session (or list) it is drawn against.
    pub offset_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsData {
    pub rows: Vec<RunItem>,
    pub total: i64,
    pub score_names: Vec<String>,
    pub ingest: Ingest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    pub session: SessionItem,
    pub metadata: String,
    pub runs: Vec<RunItem>,
    /// The span of the timeline, in milliseconds.
    pub span_ms: f64,
}

/// An error as recorded: `{type, message, …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorView {
    pub kind: Option<String>,
    pub message: String,
}

/// One row of the run tree: a span, or an event on a span (or on the run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    /// Index of the parent node; `None` for the run's direct children.
    pub parent: Option<u32>,
    pub children: Vec<u32>,
    pub depth: u16,
    /// The span's kind; `None` for an event.
    pub kind: Option<SpanKind>,
    /// For events: the event type.
    pub event_type: Option<String>,
    pub name: String,
    pub status: Status,
    pub start_ms: f64,
    pub duration_ms: Option<f64>,
    /// Own figures plus those of every model span below.
    pub tokens: i64,
    pub cost_usd: f64,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceData {
    pub run: RunItem,
    pub error: Option<ErrorView>,
    pub nodes: Vec<Node>,
    /// Indexes of the top-level nodes.
    pub roots: Vec<u32>,
    pub total_ms: f64,
}

/// One message of a conversation, or one recorded payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    /// `system`, `user`, `assistant`, `tool`, `tool-call`, `reasoning`, `final`, `custom`.
    pub role: String,
    pub label: String,
    pub text: Option<String>,
    /// Pretty JSON when the content is not plain text.
    pub json: Option<String>,
    pub at: String,
}

/// The selected node (a span, or the run itself) in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDetail {
    pub id: String,
    pub title: String,
    /// The span's kind; `None` for the run itself.
    pub kind: Option<SpanKind>,
    pub status: Status,
    pub duration_ms: Option<f64>,
    pub tokens: Option<(i64, i64)>,
    pub cost_usd: Option<f64>,
    pub model: Option<String>,
    pub error: Option<ErrorView>,
    /// Attributes (spans) or metadata (the run), pretty JSON.
    pub attributes: String,
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreItem {
    pub id: String,
    pub name: String,
    /// As a person reads it: the number, the category, or Pass/Fail.
    pub value: String,
    pub data_type: String,
    pub source: String,
    pub comment: Option<String>,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummaryItem {
    pub name: String,
    pub data_type: String,
    pub count: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub buckets: Vec<(String, i64)>,
    pub trend: Vec<(String, f64, i64)>,
}

impl Node {
    /// `agent`, `model`, … or `event`: the name its icon and style go by.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        self.kind.map_or("event", SpanKind::as_str)
    }

    #[must_use]
    pub fn is_event(&self) -> bool {
        self.kind.is_none()
    }
}

impl NodeDetail {
    /// `agent`, `model`, … or `run`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        self.kind.map_or("run", SpanKind::as_str)
    }
}
