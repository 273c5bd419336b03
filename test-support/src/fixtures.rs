//! Valid records shaped like the SDK's, with fresh ids per call site.

use serde_json::{Value, json};
use uuid::Uuid;

pub const T0: &str = "2025-05-01T10:00:00.000100Z";
pub const T1: &str = "2025-05-01T10:00:01.520600Z";

pub fn id() -> String {
    Uuid::new_v4().to_string()
}

pub fn batch(parts: Value) -> Value {
    let mut body = json!({"schema_version": 2, "sessions": [], "runs": [], "spans": [], "events": [],
                          "scores": [], "prompt_links": []});
    for (k, v) in parts.as_object().expect("object").clone() {
        body[k] = v;
    }
    body
}

pub fn session(id: &str) -> Value {
    json!({"id": id, "created_at": T0, "metadata": {}})
}

pub fn run(id: &str, session: &str) -> Value {
    json!({"id": id, "session_id": session, "name": "support-agent", "started_at": T0, "status": "running",
           "metadata": {"project": "demo"}})
}

pub fn span(id: &str, run: &str, parent: Option<&str>) -> Value {
    let mut s = json!({"id": id, "run_id": run, "kind": "agent", "name": "step", "started_at": T0,
                       "status": "running", "attributes": {}});
    if let Some(p) = parent {
        s["parent_span_id"] = json!(p);
    }
    s
}

pub fn event(id: &str, run: &str, span: Option<&str>) -> Value {
    let mut e = json!({"id": id, "run_id": run, "type": "user_input", "created_at": T0,
                       "content": {"question": "How do refunds work?"}, "attributes": {}});
    if let Some(s) = span {
        e["span_id"] = json!(s);
    }
    e
}

pub fn score(id: &str, run: &str) -> Value {
    json!({"id": id, "trace_id": run, "name": "helpfulness", "value": 0.8, "data_type": "numeric",
           "source": "api", "created_at": T1})
}

/// A session, a run in it, a root span and an event on the span: the smallest real trace.
#[derive(Debug, Clone)]
pub struct Trace {
    pub session: String,
    pub run: String,
    pub span: String,
    pub event: String,
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

impl Trace {
    /// Fresh ids for each record.
    pub fn new() -> Self {
        Self { session: id(), run: id(), span: id(), event: id() }
    }

    pub fn body(&self) -> Value {
        batch(json!({
            "sessions": [session(&self.session)],
            "runs": [run(&self.run, &self.session)],
            "spans": [span(&self.span, &self.run, None)],
            "events": [event(&self.event, &self.run, Some(&self.span))],
        }))
    }
}

/// Ids of [`agent_trace`]'s records.
#[derive(Debug, Clone)]
pub struct AgentTrace {
    pub session: String,
    pub run: String,
    pub agent: String,
    pub model: String,
    pub tool: String,
    pub step: String,
    pub deep: String,
}

/// A realistic agent run: an agent span with a priced model call (a chat whose user message
/// carries markup that must stay text), a tool call, and a three-level step (so that one
/// node starts collapsed).
pub fn agent_trace() -> (AgentTrace, Value) {
    let t = AgentTrace { session: id(), run: id(), agent: id(), model: id(), tool: id(), step: id(), deep: id() };
    let (s, r) = (&t.session, &t.run);
    let span = |id: &str, parent: Option<&str>, kind: &str, name: &str, from: &str, to: &str, attributes: Value| {
        let mut v = json!({"id": id, "run_id": r, "kind": kind, "name": name, "started_at": from, "ended_at": to,
                           "status": "ok", "attributes": attributes});
        if let Some(p) = parent {
            v["parent_span_id"] = json!(p);
        }
        v
    };
    let event = |span: &str, kind: &str, at: &str, content: Value| json!({"id": id(), "run_id": r, "span_id": span, "type": kind, "created_at": at, "content": content, "attributes": {}});
    let body = batch(json!({
        "sessions": [{"id": s, "created_at": "2025-05-01T10:00:00Z", "metadata": {"user": "dana"}}],
        "runs": [{"id": r, "session_id": s, "name": "support-agent", "started_at": "2025-05-01T10:00:00Z",
                  "ended_at": "2025-05-01T10:00:02.500Z", "status": "ok", "metadata": {"environment": "test"}}],
        "spans": [
            span(&t.agent, None, "agent", "plan-and-answer", "2025-05-01T10:00:00.010Z", "2025-05-01T10:00:02.400Z", json!({})),
            span(&t.model, Some(&t.agent), "model", "llm.answer", "2025-05-01T10:00:00.100Z", "2025-05-01T10:00:01.300Z",
                 json!({"model": "gpt-4o-mini", "input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.0123})),
            span(&t.tool, Some(&t.agent), "tool", "search_docs", "2025-05-01T10:00:01.400Z", "2025-05-01T10:00:01.900Z", json!({})),
            span(&t.step, Some(&t.tool), "workflow", "rank-results", "2025-05-01T10:00:01.500Z", "2025-05-01T10:00:01.800Z", json!({})),
            span(&t.deep, Some(&t.step), "custom", "score-snippet", "2025-05-01T10:00:01.600Z", "2025-05-01T10:00:01.700Z", json!({"snippet": 3})),
        ],
        "events": [
            event(&t.model, "system_message", "2025-05-01T10:00:00.110Z", json!("You are a support agent.")),
            event(&t.model, "user_input", "2025-05-01T10:00:00.120Z",
                  json!("How do refunds work? <script>window.__pwned = true</script><img src=x onerror=\"window.__pwned = true\">")),
            event(&t.model, "assistant_message", "2025-05-01T10:00:01.290Z", json!("Refunds take 5 days.")),
            event(&t.tool, "tool_arguments", "2025-05-01T10:00:01.410Z", json!({"query": "refund policy", "limit": 2})),
            event(&t.tool, "tool_result", "2025-05-01T10:00:01.890Z", json!({"hits": 2})),
        ],
    }));
    (t, body)
}

/// Ids and marks of [`big_run`]'s records.
#[derive(Debug, Clone)]
pub struct BigRun {
    pub session: String,
    pub run: String,
    /// The span at depth 10 of the run's one deep path (named `deep-target`).
    pub deep: String,
    /// A failed tool span in the middle of the run (named `broken-tool`).
    pub failed: String,
    /// Words found only in the message of one model span, `needle-model` (searchable text).
    pub needle: &'static str,
    pub needle_span: String,
    pub spans: usize,
}

/// A run of about `spans` spans, as an agent loop leaves it: an agent with `spans / 100` steps,
/// each a model call and 98 tool calls, plus a path ten levels deep; one tool call failed, one
/// model call carries a message with [`BigRun::needle`] in it. Batches of at most 5,000 records,
/// parents before children.
pub fn big_run(spans: usize) -> (BigRun, Vec<Value>) {
    let needle = "aubergine lighthouse";
    let t = BigRun { session: id(), run: id(), deep: id(), failed: id(), needle, needle_span: id(), spans: 0 };
    let r = t.run.clone();
    let at = |ms: usize| format!("2025-05-01T10:{:02}:{:02}.{:03}Z", ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let span = |id: &str, parent: Option<&str>, kind: &str, name: &str, ms: usize, status: &str| {
        let mut v = json!({"id": id, "run_id": r, "kind": kind, "name": name, "started_at": at(ms),
                           "ended_at": at(ms + 1), "status": status, "attributes": {}});
        if let Some(p) = parent {
            v["parent_span_id"] = json!(p);
        }
        v
    };
    let root = id();
    let mut records = vec![span(&root, None, "agent", "agent-loop", 0, "ok")];
    let mut parent = root.clone();
    for level in 1..10 {
        let next = id();
        records.push(span(&next, Some(&parent), "workflow", &format!("level-{level}"), level, "ok"));
        parent = next;
    }
    records.push(span(&t.deep, Some(&parent), "custom", "deep-target", 10, "ok"));
    let mut events = Vec::new();
    let steps = (spans / 100).max(1);
    for step in 0..steps {
        let step_id = id();
        let ms = 20 + step * 100;
        records.push(span(&step_id, Some(&root), "workflow", &format!("step-{step}"), ms, "ok"));
        let model = if step == steps / 3 { t.needle_span.clone() } else { id() };
        let name = if step == steps / 3 { "needle-model" } else { "llm.call" };
        records.push(span(&model, Some(&step_id), "model", name, ms + 1, "ok"));
        if step == steps / 3 {
            events.push(
                json!({"id": id(), "run_id": r, "span_id": model, "type": "user_input", "created_at": at(ms + 1),
                               "content": format!("Where is the {needle}?"), "attributes": {}}),
            );
        }
        for call in 0..98 {
            let failed = step == steps / 2 && call == 50;
            let tool = if failed { t.failed.clone() } else { id() };
            let (name, status) = if failed { ("broken-tool", "error") } else { ("fetch_page", "ok") };
            records.push(span(&tool, Some(&step_id), "tool", name, ms + 2 + call, status));
        }
    }
    let mut t = t;
    t.spans = records.len();
    let mut batches: Vec<Value> = Vec::new();
    let head = json!({
        "sessions": [{"id": t.session, "created_at": at(0), "metadata": {}}],
        "runs": [{"id": r, "session_id": t.session, "name": "big-agent", "started_at": at(0),
                  "ended_at": at(20 + steps * 100), "status": "error", "metadata": {}}],
    });
    for (i, chunk) in records.chunks(5000).enumerate() {
        let mut parts = if i == 0 { head.clone() } else { json!({}) };
        parts["spans"] = json!(chunk);
        batches.push(batch(parts));
    }
    batches.push(batch(json!({"events": events})));
    (t, batches)
}
