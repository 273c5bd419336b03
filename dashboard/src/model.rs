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
    /// The project key first, then the named keys, oldest first.
    pub keys: Vec<KeyItem>,
}

/// An API key as the settings page lists it: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyItem {
    pub id: String,
    pub name: String,
    /// `ingest` or `read`.
    pub scope: String,
    /// The project key (replaced by "Replace the key"), not a named one.
    pub project_key: bool,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
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
    /// Who the session was for, its first run's name and what that run was asked.
    pub user: Option<String>,
    pub first_run: Option<String>,
    pub input: Option<String>,
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
    /// What the run was asked (its first input, on one line) and who for.
    pub input: Option<String>,
    pub user: Option<String>,
    /// Its newest score of each name (a list's scores column).
    pub scores: Vec<ScoreChip>,
}

/// A score as a list shows it: `name value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreChip {
    pub name: String,
    pub value: String,
    /// It scores one of the run's spans, not the run.
    pub span: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsData {
    pub rows: Vec<RunItem>,
    pub total: i64,
    pub ingest: Ingest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    pub session: SessionItem,
    pub metadata: String,
    pub runs: Vec<RunItem>,
    /// The span of the timeline, in milliseconds.
    pub span_ms: f64,
    /// The session as one conversation: what each run was asked and answered.
    pub turns: Vec<TurnView>,
}

/// One run of a session as a turn of its conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnView {
    pub run: String,
    pub name: String,
    pub status: Status,
    pub input: Option<MessageView>,
    pub output: Option<MessageView>,
}

/// An error as recorded: `{type, message, …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorView {
    pub kind: Option<String>,
    pub message: String,
    /// The stack or traceback, when the error carries one (`stack`, `stacktrace`, `traceback`).
    pub stack: Option<String>,
}

/// The run page's first answer: the run, and the first window of its tree. The rest of the tree
/// comes a window at a time ([`TreeWindow`]), so this does not grow with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHead {
    pub summary: RunSummary,
    /// The tree's state: span ids whose open/closed state differs from the default (the deep
    /// link's path is opened this way).
    pub toggles: Vec<String>,
    pub window: TreeWindow,
    /// The row of the span the link selected, when there is one.
    pub selected_row: Option<u32>,
}

/// The run page's header: the run with its figures, as they are now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: RunItem,
    /// When the run started, in milliseconds since the Unix epoch (a running span's elapsed
    /// time is counted from it in the browser).
    pub started_unix_ms: f64,
    pub error: Option<ErrorView>,
    pub total_ms: f64,
    /// Spans and events in the tree.
    pub nodes: u32,
    /// Failed spans in the tree.
    pub errors: u32,
}

/// A toggle of the tree's state that filters it rather than opening a node: `only:model`
/// keeps model spans and the path to each (`error`: failed spans).
pub const ONLY: &str = "only:";

/// Consecutive visible rows of a run's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeWindow {
    /// Visible rows in all (the scroll height).
    pub total: u32,
    /// The first row's position among the visible rows.
    pub offset: u32,
    pub rows: Vec<TreeRow>,
}

/// One visible row of the run tree: a span, or an event on a span (or on the run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeRow {
    /// The node's number in depth-first order (a stable key while the run does not change).
    pub index: u32,
    pub id: String,
    /// The span a click selects (an event's own span; empty for the run).
    pub link: String,
    pub depth: u16,
    /// The span's kind; `None` for an event.
    pub kind: Option<SpanKind>,
    pub event_type: Option<String>,
    pub name: String,
    pub status: Status,
    pub start_ms: f64,
    pub duration_ms: Option<f64>,
    /// Own figures plus those of every model span below.
    pub tokens: i64,
    pub cost_usd: f64,
    /// Direct children (0: a leaf).
    pub children: u32,
    pub open: bool,
    /// A failed span is somewhere below.
    pub error_below: bool,
    /// Shown only as the path to a span the tree is filtered to.
    pub context: bool,
}

/// What a search inside a run found (the first [`SearchResult::LIMIT`], in tree order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub total: u32,
    pub hits: Vec<SearchHit>,
}

impl SearchResult {
    pub const LIMIT: usize = 200;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The span a click selects (an event's span).
    pub link: String,
    /// The node itself (span or event), revealed in the tree.
    pub id: String,
    pub kind: Option<SpanKind>,
    pub name: String,
    pub status: Status,
}

/// A run as who called whom: agents, tools and models as nodes (the run itself first), calls
/// as edges, each with how many, how long in all, what they cost and how many failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    /// `run`, `agent`, `tool` or `model`.
    pub kind: String,
    /// The agent's or tool's name, the model's name.
    pub name: String,
    /// Calls that lead from the run to it (0 for the run): its column in the picture.
    pub depth: u32,
    pub calls: u32,
    pub errors: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// Indexes into [`AgentGraph::nodes`].
    pub from: u32,
    pub to: u32,
    pub calls: u32,
    pub total_ms: f64,
    pub cost_usd: f64,
    pub errors: u32,
}

/// Where "next error" (or "previous") leads: the span, the tree state that shows it, its row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seek {
    pub id: String,
    pub toggles: Vec<String>,
    pub row: u32,
}

/// One message of a conversation, or one recorded payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    /// `system`, `user`, `assistant`, `tool`, `tool-call`, `reasoning`, `final`, `custom`.
    pub role: String,
    pub label: String,
    pub text: Option<String>,
    /// Pretty JSON when the content is not plain text (to copy), and the same as a tree (to read).
    pub json: Option<String>,
    pub tree: Option<JsonNode>,
    pub at: String,
}

/// A JSON value as the page draws it: every object and array can be folded. Below
/// [`JsonNode::MAX_DEPTH`] levels a value is its JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JsonNode {
    /// A string, number, boolean or null, as JSON writes it (a string in quotes).
    Scalar(String),
    List(Vec<JsonNode>),
    Map(Vec<(String, JsonNode)>),
}

impl JsonNode {
    pub const MAX_DEPTH: usize = 24;
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
    /// Which turn of an agent loop the span was (`iteration`), when recorded.
    pub iteration: Option<i32>,
    /// Attributes (spans) or metadata (the run), pretty JSON.
    pub attributes: String,
    pub attributes_tree: JsonNode,
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
    /// Who added it (a human score's dashboard user).
    pub by: Option<String>,
    /// The span it scores, when it scores one span rather than the run.
    pub span: Option<String>,
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

impl TreeRow {
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

/// A prompt of the registry, as its list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptItem {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    /// Label → the number of the version it points at.
    pub labels: Vec<(String, i32)>,
    pub versions: i64,
    pub latest: Option<i32>,
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptsData {
    pub project: ProjectItem,
    pub prompts: Vec<PromptItem>,
}

/// One version, with how the runs that used it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionItem {
    pub id: String,
    pub number: i32,
    pub content: String,
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    pub variables: Vec<String>,
    pub change_note: Option<String>,
    pub hash: String,
    pub parent: Option<i32>,
    pub created: String,
    pub created_by: Option<String>,
    pub labels: Vec<String>,
    pub runs: i64,
    /// Error rate, cost per run, p50 and p95 latency, formatted; "—" without runs.
    pub error_rate: String,
    pub cost_per_run: String,
    pub p50: String,
    pub p95: String,
    /// Mean of each numeric or pass/fail score: (name, mean, how many).
    pub scores: Vec<(String, String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMoveItem {
    pub label: String,
    pub version: i32,
    pub at: String,
    pub by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptData {
    pub project: ProjectItem,
    pub prompt: PromptItem,
    /// Newest first.
    pub versions: Vec<VersionItem>,
    pub history: Vec<LabelMoveItem>,
}

/// One line of a diff between two versions: `same`, `add` or `del`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub tag: String,
    pub text: String,
}

/// A version's page: the version and the runs that used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionData {
    pub prompt: PromptItem,
    pub version: VersionItem,
    pub runs: Vec<RunItem>,
    pub total: i64,
}

/// A span's use of a prompt version, as the run page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptUseItem {
    pub span_id: String,
    pub span_name: String,
    pub prompt_id: String,
    pub prompt_name: String,
    pub version: i32,
    pub labels: Vec<String>,
    pub variables: Vec<(String, String)>,
}
