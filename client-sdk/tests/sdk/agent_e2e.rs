//! A simulated agent, instrumented with the ambient API and both attribute macros, against the
//! real server and store (SQLite and Postgres): what is stored, parent links, events, errors,
//! cost aggregates, redaction, panics. These tests share the process-wide SDK state, so they
//! take a lock.

use std::time::Duration;

use crate::common::*;
use northstar::{Message, SpanKind, ToolCall, Usage};
use northstar_store::Store;
use northstar_wire::{EventType, Status};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::GLOBAL_SDK;

#[derive(Debug)]
struct FetchError(String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot fetch {}", self.0)
    }
}

#[derive(Serialize)]
struct Answer {
    text: String,
    trace_id: Option<Uuid>,
}

#[northstar::observe]
fn search_docs(query: &str, limit: usize) -> Vec<String> {
    (0..limit).map(|i| format!("{query} doc {i}")).collect()
}

#[northstar::observe(name = "fetch_page", kind = "tool")]
async fn fetch(url: String) -> Result<String, FetchError> {
    tokio::task::yield_now().await;
    Err(FetchError(url))
}

#[northstar::trace(name = "support-agent", skip(verbose))]
async fn agent(question: String, api_key: String, verbose: bool) -> Result<Answer, FetchError> {
    let _ = (api_key, verbose);
    let docs = search_docs(&question, 2);
    assert!(fetch("https://unreachable.example".into()).await.is_err());
    {
        let llm = northstar::model_call("llm.answer", "gpt-4o-mini-2024-07-18");
        llm.record_input_messages(&[Message::system("Answer briefly."), Message::user(question.clone())]);
        let call = ToolCall { id: "call_1".into(), name: "lookup_order".into(), arguments: json!({"order": 42}) };
        llm.record_output_message(&Message::tool_calls(vec![call]));
        llm.record_usage(Usage::new(120, 30));
    }
    {
        // A reasoning model with a warm prompt cache: 1M input tokens of which 400k cached.
        let reasoning = northstar::model_call("llm.reason", "openrouter/openai/o3-mini");
        reasoning.record_usage(Usage {
            input_tokens: 1_000_000,
            output_tokens: 10_000,
            cached_input_tokens: 400_000,
            cache_write_tokens: 0,
            reasoning_tokens: 8_000,
        });
    }
    {
        let _plan = northstar::span("plan", SpanKind::Workflow);
        let _think = northstar::span("think", SpanKind::Agent);
        northstar::log_event("thought", json!({"docs": docs.len()}));
        northstar::log_metric("confidence", 0.75);
        northstar::log_metadata("step", "final");
    }
    Ok(Answer { text: "Refunds take 30 days.".into(), trace_id: northstar::current_trace_id() })
}

#[northstar::trace]
fn failing_agent(order: u32) -> Result<u32, FetchError> {
    Err(FetchError(format!("order {order}")))
}

#[northstar::trace]
fn panicking_agent() -> u32 {
    panic!("boom")
}

fn flush() {
    assert!(northstar::flush(Duration::from_secs(20)), "flush: {:?}", northstar::stats());
}

fn by_name<'a>(spans: &'a [northstar_wire::Span], name: &str) -> &'a northstar_wire::Span {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}"))
}

async fn simulated_agent(server: RealServer) {
    let options = fast_options(&server.endpoint, &server.key).project("support-bot").environment("test");
    let guard = northstar::init(options);

    let answer = agent("How do refunds work?".into(), "sk-secret".into(), true).await.expect("agent");
    let run_id = answer.trace_id.expect("inside the trace");
    assert_eq!(northstar::current_trace_id(), None, "the trace ended with the function");
    let numeric = northstar::score(run_id, "helpfulness", 0.9).expect("valid").expect("enabled");
    let boolean = northstar::score(run_id, "resolved", true).expect("valid").expect("enabled");
    let category = northstar::score(run_id, " tone ", "polite").expect("valid").expect("enabled");
    assert!(northstar::score(run_id, "  ", 1.0).is_err());
    assert!(northstar::score(run_id, "x", f64::NAN).is_err());
    let tagged = {
        let run = northstar::trace("tagged");
        run.tags(["rag", "beta"]);
        run.set_metadata("user_id", "u-42");
        run.id().expect("enabled")
    };
    tokio::task::spawn_blocking(flush).await.expect("join");

    let (store, p) = (&server.store, server.project);
    let run = store.get_run(p, run_id).await.expect("read").expect("the run");
    assert_eq!((run.name.as_str(), run.status, run.error.clone()), ("support-agent", Status::Ok, None));
    assert_eq!(run.session_id, guard.session().id().expect("session"));
    let m = &run.metadata;
    assert_eq!((m["project"].clone(), m["environment"].clone()), (json!("support-bot"), json!("test")));
    // o3-mini: 600k × $1.10 + 400k cached × $0.55 + 10k × $4.40 per million = $0.924.
    let expected = 3.6e-05 + 0.924;
    assert!((m["cost_usd"].as_f64().expect("cost") - expected).abs() < 1e-9, "{m}");
    assert_eq!(
        (m["total_input_tokens"].clone(), m["total_output_tokens"].clone()),
        (json!(1_000_120), json!(10_030)),
        "summed over the model spans"
    );
    assert!(m["latency_ms"].as_f64().is_some());

    let spans = store.list_spans(p, run_id).await.expect("spans");
    assert_eq!(spans.len(), 6, "{spans:?}");
    let search = by_name(&spans, "search_docs");
    assert_eq!((search.kind, search.status, search.parent_span_id), (northstar_wire::SpanKind::Tool, Status::Ok, None));
    let fetch = by_name(&spans, "fetch_page");
    assert_eq!(fetch.status, Status::Error);
    assert_eq!(fetch.error, Some(json!({"type": "FetchError", "message": "cannot fetch https://unreachable.example"})));
    let llm = by_name(&spans, "llm.answer");
    assert_eq!(llm.kind, northstar_wire::SpanKind::Model);
    let a = &llm.attributes;
    assert_eq!(a["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(
        (a["input_tokens"].clone(), a["output_tokens"].clone(), a["total_tokens"].clone()),
        (json!(120), json!(30), json!(150))
    );
    assert_eq!(a["pricing_source"], "northstar");
    let r = &by_name(&spans, "llm.reason").attributes;
    assert_eq!((r["cached_input_tokens"].clone(), r["reasoning_tokens"].clone()), (json!(400_000), json!(8_000)));
    assert!((r["cost_usd"].as_f64().expect("priced") - 0.924).abs() < 1e-9, "{r:?}");
    let plan = by_name(&spans, "plan");
    let think = by_name(&spans, "think");
    assert_eq!(think.parent_span_id, Some(plan.id), "nested guards nest");
    assert_eq!(think.attributes["step"], "final", "log_metadata goes to the current span");
    assert!(spans.iter().all(|s| s.ended_at.is_some() && s.attributes["latency_ms"].is_number()));
    for s in &spans {
        // The latency is exactly the stored end minus the stored start.
        let micros = s.ended_at.map(|end| (end - s.started_at).num_microseconds().expect("micros"));
        assert_eq!(s.attributes["latency_ms"].as_f64(), micros.map(|m| m as f64 / 1000.0), "{}", s.name);
    }

    let events = store.list_events(p, run_id).await.expect("events");
    let on = |span: Option<Uuid>, t: EventType| -> Vec<Value> {
        events.iter().filter(|e| e.span_id == span && e.event_type == t).map(|e| e.content.clone()).collect()
    };
    assert_eq!(
        on(None, EventType::UserInput),
        [json!({"question": "How do refunds work?", "api_key": "[REDACTED]"})],
        "arguments are captured (skip(verbose) respected) and secrets redacted"
    );
    assert_eq!(on(None, EventType::FinalResponse)[0]["text"], "Refunds take 30 days.");
    assert_eq!(on(Some(search.id), EventType::ToolArguments), [json!({"query": "How do refunds work?", "limit": 2})]);
    assert_eq!(
        on(Some(search.id), EventType::ToolResult),
        [json!(["How do refunds work? doc 0", "How do refunds work? doc 1"])]
    );
    assert_eq!(on(Some(fetch.id), EventType::ToolArguments), [json!({"url": "https://unreachable.example"})]);
    assert!(on(Some(fetch.id), EventType::ToolResult).is_empty(), "an Err is an error, not a result");
    assert_eq!(on(Some(llm.id), EventType::SystemMessage), [json!("Answer briefly.")]);
    assert_eq!(on(Some(llm.id), EventType::UserInput), [json!("How do refunds work?")]);
    assert_eq!(
        on(Some(llm.id), EventType::ToolArguments),
        [json!({"id": "call_1", "name": "lookup_order", "arguments": {"order": 42}})]
    );
    let custom = on(Some(think.id), EventType::Custom);
    assert_eq!(custom, [json!({"name": "thought", "data": {"docs": 2}}), json!({"name": "confidence", "value": 0.75})]);

    use northstar_wire::ScoreDataType;
    let score = |id| async move { store.get_score(p, id).await.expect("read").expect("score") };
    let n = score(numeric).await;
    assert_eq!(
        (n.trace_id, n.name.as_str(), n.value, n.data_type),
        (run_id, "helpfulness", 0.9, ScoreDataType::Numeric)
    );
    let b = score(boolean).await;
    assert_eq!((b.value, b.data_type), (1.0, ScoreDataType::Boolean));
    let c = score(category).await;
    assert_eq!(
        (c.name.as_str(), c.data_type, c.string_value.as_deref()),
        ("tone", ScoreDataType::Categorical, Some("polite"))
    );
    let tagged = store.get_run(p, tagged).await.expect("read").expect("run");
    assert_eq!(
        (tagged.metadata["tags"].clone(), tagged.metadata["user_id"].clone()),
        (json!(["rag", "beta"]), json!("u-42"))
    );

    // The error path and a panic.
    assert!(failing_agent(7).is_err());
    assert!(std::panic::catch_unwind(panicking_agent).is_err());
    tokio::task::spawn_blocking(flush).await.expect("join");
    let runs = store.list_runs(p, run.session_id).await.expect("runs");
    let failed = runs.iter().find(|r| r.name == "failing_agent").expect("failing run");
    assert_eq!(
        (failed.status, failed.error.clone()),
        (Status::Error, Some(json!({"type": "FetchError", "message": "cannot fetch order 7"})))
    );
    let panicked = runs.iter().find(|r| r.name == "panicking_agent").expect("panicked run");
    assert_eq!(panicked.status, Status::Error);
    assert_eq!(panicked.error.as_ref().map(|e| e["type"].clone()), Some(json!("panic")));

    let stats = northstar::stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    drop(guard);
    let session = store.get_session(p, run.session_id).await.expect("read").expect("session");
    assert!(session.ended_at.is_some(), "dropping the guard ends the session and flushes it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_agent_is_stored_as_it_ran_sqlite() {
    let _lock = GLOBAL_SDK.lock().await;
    simulated_agent(RealServer::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_agent_is_stored_as_it_ran_postgres() {
    let _lock = GLOBAL_SDK.lock().await;
    simulated_agent(RealServer::postgres().await).await;
}
