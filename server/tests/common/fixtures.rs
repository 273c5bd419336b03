//! Valid records shaped like the SDK's, with fresh ids per call site.
#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

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
pub struct Trace {
    pub session: String,
    pub run: String,
    pub span: String,
    pub event: String,
}

impl Trace {
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
