//! A simulated support agent, traced with NorthStar. Configured only from the environment:
//!
//! ```sh
//! cargo run --release -p northstar-server            # prints the API key on first start
//! NORTHSTAR_ENDPOINT=http://127.0.0.1:8080/functions/v1/ingest-traces \
//! NORTHSTAR_API_KEY=ns_… cargo run -p northstar --example agent
//! ```
//!
//! Each question becomes a run with nested spans (plan → retrieve → tools), costed model calls
//! with their messages and tool calls, and one failing tool call; the program flushes and exits.

use std::time::Duration;

use northstar::{Message, SpanKind, ToolCall, Usage};
use serde_json::json;

#[derive(Debug)]
struct ToolError(String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[northstar::observe]
async fn search_docs(query: String, limit: usize) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    (1..=limit).map(|i| format!("kb/refunds-{i}.md: {query}")).collect()
}

#[northstar::observe]
async fn lookup_order(order_id: u64) -> Result<serde_json::Value, ToolError> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    if order_id == 0 {
        return Err(ToolError("order 0 does not exist".into()));
    }
    Ok(json!({"order_id": order_id, "status": "delivered", "days_since_delivery": 12}))
}

/// One simulated LLM call: messages in, a reply out, token usage priced from the table.
fn llm_call(name: &'static str, messages: &[Message], reply: Message, usage: Usage) -> Message {
    let call = northstar::model_call(name, "gpt-4o-mini");
    call.record_input_messages(messages);
    call.record_output_message(&reply);
    call.record_usage(usage);
    reply
}

#[northstar::trace(name = "support-agent")]
async fn answer(question: String, order_id: u64) -> Result<String, ToolError> {
    let docs = northstar::in_span("plan", SpanKind::Workflow, search_docs(question.clone(), 2)).await;

    let system = Message::system("You are a support agent. Use tools when needed.");
    let user = Message::user(question.clone());
    let ask = llm_call(
        "llm.decide",
        &[system.clone(), user.clone()],
        Message::tool_calls(vec![ToolCall {
            id: "call_1".into(),
            name: "lookup_order".into(),
            arguments: json!({"order_id": order_id}),
        }]),
        Usage::new(412, 24),
    );
    let order = match lookup_order(order_id).await {
        Ok(order) => order,
        Err(err) => {
            northstar::log_event("tool_failed", json!({"tool": "lookup_order", "error": err.to_string()}));
            json!({"error": err.to_string()})
        }
    };
    let result = Message::tool("call_1", "lookup_order", order.clone());
    let reply = llm_call(
        "llm.answer",
        &[system, user, ask, result],
        Message::assistant(format!("Based on {} documents: refunds are accepted within 30 days.", docs.len())),
        Usage {
            input_tokens: 655,
            output_tokens: 41,
            cached_input_tokens: 412,
            reasoning_tokens: 0,
            cache_write_tokens: 0,
        },
    );
    northstar::log_metric("documents_used", docs.len() as f64);
    if order.get("error").is_some() {
        return Err(ToolError(format!("could not check order {order_id}")));
    }
    Ok(reply.content.and_then(|c| c.as_str().map(str::to_owned)).unwrap_or_default())
}

#[tokio::main]
async fn main() {
    let guard = northstar::init(northstar::Options::default());
    if !guard.client().is_enabled() {
        eprintln!("NorthStar is disabled: set NORTHSTAR_ENDPOINT and NORTHSTAR_API_KEY (see the README).");
    }
    for (question, order) in [("Can I return my headphones?", 1042), ("Where is order zero?", 0)] {
        match answer(question.into(), order).await {
            Ok(text) => println!("{question} -> {text}"),
            Err(err) => println!("{question} -> error: {err}"),
        }
    }
    let delivered = tokio::task::spawn_blocking(|| northstar::flush(Duration::from_secs(10))).await.unwrap_or(false);
    let stats = northstar::stats();
    println!("sent {} records ({} dropped); delivered: {delivered}", stats.sent, stats.dropped());
    drop(guard);
}
