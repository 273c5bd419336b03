//! A disabled SDK allocates nothing on the recording path: every call of the ambient API and
//! the handles it returns, counted by a wrapping global allocator. (`stats_alloc` holds the
//! allocator's `unsafe`; declaring it here is safe code.)

use std::alloc::System;

use northstar::{EventType, Message, Options, SpanKind, Usage};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tool failed")
    }
}

#[northstar::observe]
fn search(query: &str, limit: usize) -> Result<usize, Failed> {
    if limit == 0 { Err(Failed) } else { Ok(query.len().min(limit)) }
}

#[northstar::trace]
fn traced_agent(question: &str) -> Result<usize, Failed> {
    let _ = search(question, 0);
    search(question, 3)
}

fn record_everything(question: &str) {
    let _ = traced_agent(question);
    let run = northstar::trace("agent");
    run.set_input(question);
    run.set_metadata("user", "u-42");
    run.event(EventType::Custom, "note");
    {
        let span = northstar::span("search_docs", SpanKind::Tool);
        span.set_attribute("tool", "search");
        span.set_attribute("attempt", 1);
        span.event(EventType::ToolResult, "3 documents");
        let child = span.span("rerank", SpanKind::Custom);
        child.record_error_message("Timeout", "too slow");
    }
    {
        let llm = northstar::model_call("answer", "gpt-4o-mini");
        llm.record_usage(Usage::new(120, 30));
        llm.record_output_message(&Message {
            role: northstar::Role::Assistant,
            content: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        });
    }
    northstar::log_event("thought", "x");
    northstar::log_metric("confidence", 0.5);
    northstar::log_metadata("step", "final");
    let _ = northstar::current_trace_id();
    run.set_output("answer");
}

fn main() {
    // Disabled explicitly; outside any init the calls are no-ops the same way.
    let guard = northstar::init(Options::default().enabled(false));
    let question = String::from("How do refunds work?");
    record_everything(&question); // warm-up: thread-locals and lazy statics are not the path
    let region = Region::new(GLOBAL);
    for _ in 0..1_000 {
        record_everything(&question);
    }
    let stats = region.change();
    drop(guard);
    assert_eq!(stats.allocations, 0, "a disabled SDK allocated on the recording path: {stats:?}");
    println!("disabled_allocations: 1 passed, 0 failed (0 allocations in 1,000 recorded agent runs)");
}
