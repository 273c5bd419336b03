//! LLM auto-instrumentation: the real async-openai client and real reqwest (through
//! reqwest-middleware) against a local mock of the OpenAI and Anthropic APIs, recorded into the
//! real server and store. Asserts the exact spans, attributes and events stored.
#![cfg(all(feature = "async-openai", feature = "reqwest-middleware"))]

use crate::llm_mock;

use std::time::Duration;

use crate::common::*;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures_util::StreamExt;
use northstar::SpanKind;
use northstar_store::Store;
use northstar_wire::{EventType, Span, Status};
use serde_json::{Value, json};

use crate::common::GLOBAL_SDK;

async fn flush() {
    assert!(tokio::task::spawn_blocking(|| northstar::flush(Duration::from_secs(20))).await.expect("join"));
}

fn events_of(events: &[northstar_wire::Event], span: &Span) -> Vec<(EventType, Value, Value)> {
    events
        .iter()
        .filter(|e| e.span_id == Some(span.id))
        .map(|e| (e.event_type, e.content.clone(), e.attributes.clone()))
        .collect()
}

fn chat_request(value: Value) -> CreateChatCompletionRequest {
    serde_json::from_value(value).expect("a valid chat request")
}

#[northstar::trace(skip(client))]
async fn tool_loop(client: &async_openai::Client<OpenAIConfig>, question: String) -> Result<String, String> {
    let tools = json!([{"type": "function", "function": {"name": "lookup_order", "description": "Look up an order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}}}}}]);
    let system = json!({"role": "system", "content": "You are a support agent."});
    let user = json!({"role": "user", "content": question});
    let first = northstar::in_span(
        "plan",
        SpanKind::Agent,
        client.chat().create(chat_request(
            json!({"model": "gpt-4o-mini", "messages": [system, user], "tools": tools, "tool_choice": "auto"}),
        )),
    )
    .await
    .map_err(|e| e.to_string())?;
    let call = first.choices[0].message.tool_calls.clone().expect("a tool call");
    let call = serde_json::to_value(&call[0]).expect("json");
    let second = client
        .chat()
        .create(chat_request(json!({"model": "gpt-4o-mini", "messages": [
            system, user,
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_Abc123", "content": "{\"status\":\"delivered\"}"}
        ]})))
        .await
        .map_err(|e| e.to_string())?;

    // A stream, read to the end: the caller sees exactly the provider's text.
    let mut stream = client
        .chat()
        .create_stream(chat_request(
            json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "How long do refunds take?"}]}),
        ))
        .await
        .map_err(|e| e.to_string())?;
    let mut streamed = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if let Some(text) = chunk.choices.first().and_then(|c| c.delta.content.clone()) {
            streamed.push_str(&text);
        }
    }
    assert_eq!(streamed, "Refunds take 30 days.");

    let limited = client
        .chat()
        .create(chat_request(json!({"model": "rate-limited", "messages": [{"role": "user", "content": "hi"}]})))
        .await;
    assert!(limited.is_err(), "the 429 reaches the caller");
    Ok(second.choices[0].message.content.clone().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_openai_calls_become_model_spans_of_the_current_run() {
    let _lock = GLOBAL_SDK.lock().await;
    let server = RealServer::sqlite().await;
    let mock = llm_mock::start().await;
    let _guard = northstar::init(fast_options(&server.endpoint, &server.key));
    let client = async_openai::Client::with_config(
        OpenAIConfig::new().with_api_base(format!("{mock}/v1")).with_api_key("sk-test"),
    )
    .with_http_service(northstar::instrument::openai_http_service(reqwest013::Client::new()));

    let answer = tool_loop(&client, "Where is order 42?".into()).await.expect("agent");
    assert_eq!(answer, "Order 42 was delivered; refunds take 30 days.");
    flush().await;

    let (store, p) = (&server.store, server.project);
    assert_eq!(store.count_records(p).await.expect("count").runs, 1, "calls inside a trace open no run of their own");
    let session = _guard.session().id().expect("session");
    let run = store.list_runs(p, session).await.expect("runs").remove(0);
    assert_eq!(run.name, "tool_loop");
    let spans = store.list_spans(p, run.id).await.expect("spans");
    let events = store.list_events(p, run.id).await.expect("events");
    let model_spans: Vec<&Span> = spans.iter().filter(|s| s.kind == northstar_wire::SpanKind::Model).collect();
    assert_eq!(model_spans.len(), 4, "{spans:?}");
    let plan = spans.iter().find(|s| s.name == "plan").expect("plan span");

    // 1. The tool-choosing call, nested under the span that was current.
    let first = model_spans[0];
    assert_eq!(
        (first.name.as_str(), first.parent_span_id, first.status),
        ("openai.chat.completions.create", Some(plan.id), Status::Ok)
    );
    let a = &first.attributes;
    for (key, expected) in [
        ("model", json!("gpt-4o-mini")),
        ("response_model", json!("gpt-4o-mini-2024-07-18")),
        ("provider", json!("openai")),
        ("method", json!("openai.chat.completions.create")),
        ("stream", json!(false)),
        ("tools", json!(["lookup_order"])),
        ("tool_choice", json!("auto")),
        ("finish_reason", json!("tool_calls")),
        ("request_id", json!("req_chat")),
        ("http_status", json!(200)),
        ("input_tokens", json!(1200)),
        ("output_tokens", json!(40)),
        ("cached_input_tokens", json!(1024)),
        ("pricing_source", json!("northstar")),
    ] {
        assert_eq!(a[key], expected, "{key}");
    }
    // 176 × $0.15 + 1024 cached × $0.075 + 40 × $0.60 per million tokens.
    let expected = (176.0 * 0.15 + 1024.0 * 0.075 + 40.0 * 0.60) / 1e6;
    assert!((a["cost_usd"].as_f64().expect("cost") - expected).abs() < 1e-12, "{a}");
    assert!(a["latency_ms"].is_number());
    assert_eq!(
        events_of(&events, first),
        [
            (EventType::SystemMessage, json!("You are a support agent."), json!({})),
            (EventType::UserInput, json!("Where is order 42?"), json!({})),
            (
                EventType::ToolArguments,
                json!({"id": "call_Abc123", "name": "lookup_order", "arguments": {"order_id": 42}}),
                json!({"tool_call_id": "call_Abc123", "name": "lookup_order"})
            ),
        ]
    );

    // 2. The answering call: the tool result in the request, the answer in the response.
    let second = model_spans[1];
    assert_eq!(second.parent_span_id, None, "top level of the run: no span was current");
    let second_events = events_of(&events, second);
    assert!(second_events.contains(&(
        EventType::ToolResult,
        json!("{\"status\":\"delivered\"}"),
        json!({"tool_call_id": "call_Abc123"})
    )));
    assert_eq!(
        second_events.last().map(|e| (e.0, e.1.clone())),
        Some((EventType::AssistantMessage, json!("Order 42 was delivered; refunds take 30 days.")))
    );
    assert_eq!(second.attributes["finish_reason"], "stop");

    // 3. The stream: assembled answer, usage from the last chunk, time to first token.
    let streamed = model_spans[2];
    let a = &streamed.attributes;
    assert_eq!(
        (a["stream"].clone(), a["stream_completed"].clone(), a["request_id"].clone()),
        (json!(true), json!(true), json!("req_stream"))
    );
    assert_eq!(
        (a["input_tokens"].clone(), a["output_tokens"].clone(), a["finish_reason"].clone()),
        (json!(20), json!(6), json!("stop"))
    );
    assert!(a["time_to_first_token_ms"].as_f64().is_some_and(|t| t >= 0.0), "{a}");
    assert_eq!(events_of(&events, streamed).last().map(|e| e.1.clone()), Some(json!("Refunds take 30 days.")));

    // 4. The rate-limited call: an error span with the provider's error.
    let limited = model_spans[3];
    assert_eq!(limited.status, Status::Error);
    let error = limited.error.clone().expect("error");
    assert_eq!((error["type"].clone(), error["status"].clone()), (json!("requests"), json!(429)));
    assert!(error["message"].as_str().is_some_and(|m| m.starts_with("Rate limit reached")));
    assert_eq!(error["body"]["error"]["code"], "rate_limit_exceeded");
    assert_eq!(limited.attributes["request_id"], "req_429");

    let run_cost = run.metadata["cost_usd"].as_f64().expect("run cost");
    let span_costs: f64 = model_spans.iter().filter_map(|s| s.attributes["cost_usd"].as_f64()).sum();
    assert!((run_cost - span_costs).abs() < 1e-12, "the run's cost is the sum of its model spans");
}

fn middleware_client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest013::Client::new()).with(northstar::instrument::LlmMiddleware).build()
}

fn anthropic(
    client: &reqwest_middleware::ClientWithMiddleware,
    mock: &str,
    body: Value,
) -> reqwest_middleware::RequestBuilder {
    client
        .post(format!("{mock}/v1/messages"))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_reqwest_calls_are_recorded_through_the_middleware() {
    let _lock = GLOBAL_SDK.lock().await;
    let server = RealServer::sqlite().await;
    let mock = llm_mock::start().await;
    let guard = northstar::init(fast_options(&server.endpoint, &server.key));
    let client = middleware_client();
    let tools =
        json!([{"name": "lookup_order", "description": "Look up an order", "input_schema": {"type": "object"}}]);

    // Outside any run: the call gets a run of its own.
    let response = anthropic(
        &client,
        &mock,
        json!({"model": "claude-sonnet-4-20250514", "max_tokens": 1024,
        "system": "You are a support agent.", "tools": tools,
        "messages": [{"role": "user", "content": "Where is order 42?"}]}),
    )
    .send()
    .await
    .expect("response");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], "msg_01", "the caller gets the provider's body unchanged");

    // Inside a run: a stream read in full (bytes unchanged), an error, a dropped stream,
    // a Responses API call, and a request that is not an LLM call.
    let run_id = {
        let run = northstar::trace("middleware-run");
        let bytes = anthropic(
            &client,
            &mock,
            json!({"model": "claude-sonnet-4-20250514", "max_tokens": 1024, "stream": true,
            "messages": [{"role": "user", "content": "And order 43?"}]}),
        )
        .send()
        .await
        .expect("response")
        .bytes()
        .await
        .expect("bytes");
        assert_eq!(std::str::from_utf8(&bytes).expect("utf-8"), llm_mock::ANTHROPIC_STREAM, "passed through unchanged");

        let overloaded = anthropic(&client, &mock, json!({"model": "overloaded", "max_tokens": 5, "messages": []}))
            .send()
            .await
            .expect("response");
        assert_eq!(overloaded.status().as_u16(), 529);
        assert_eq!(overloaded.json::<Value>().await.expect("json")["error"]["type"], "overloaded_error");

        let mut dropped = anthropic(
            &client,
            &mock,
            json!({"model": "claude-sonnet-4-20250514", "max_tokens": 1024, "stream": true,
            "messages": [{"role": "user", "content": "never mind"}]}),
        )
        .send()
        .await
        .expect("response");
        let _first = dropped.chunk().await.expect("a chunk");
        drop(dropped);

        let responses = client
            .post(format!("{mock}/v1/responses"))
            .header("content-type", "application/json")
            .body(json!({"model": "o3", "instructions": "Be brief.", "input": "Has it shipped?"}).to_string())
            .send()
            .await
            .expect("response");
        assert_eq!(responses.json::<Value>().await.expect("json")["status"], "completed");
        let not_llm = client.post(format!("{mock}/v1/embeddings")).body("{}").send().await.expect("response");
        assert_eq!(not_llm.status().as_u16(), 404);
        run.id().expect("enabled")
    };
    flush().await;

    let (store, p) = (&server.store, server.project);
    let runs = store.list_runs(p, guard.session().id().expect("session")).await.expect("runs");
    assert_eq!(runs.len(), 2);
    let own = runs.iter().find(|r| r.name == "anthropic.messages.create").expect("a run opened for the call");
    let own_spans = store.list_spans(p, own.id).await.expect("spans");
    assert_eq!(own_spans.len(), 1);
    let a = &own_spans[0].attributes;
    assert_eq!(
        (a["provider"].clone(), a["request_id"].clone(), a["finish_reason"].clone()),
        (json!("anthropic"), json!("req_anthropic"), json!("tool_use"))
    );
    // Anthropic reports cache reads and writes outside input_tokens: 500 + 10,000 + 2,000.
    assert_eq!(
        (a["input_tokens"].clone(), a["cached_input_tokens"].clone(), a["cache_write_tokens"].clone()),
        (json!(12_500), json!(10_000), json!(2_000))
    );
    let expected = (500.0 * 3.0 + 10_000.0 * 0.30 + 2_000.0 * 3.75 + 60.0 * 15.0) / 1e6;
    assert!((a["cost_usd"].as_f64().expect("cost") - expected).abs() < 1e-12, "{a}");
    let own_events = store.list_events(p, own.id).await.expect("events");
    assert_eq!(
        events_of(&own_events, &own_spans[0]).into_iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(),
        [
            (EventType::SystemMessage, json!("You are a support agent.")),
            (EventType::UserInput, json!("Where is order 42?")),
            (EventType::AssistantMessage, json!("Checking the order.")),
            (EventType::ToolArguments, json!({"id": "toolu_01", "name": "lookup_order", "arguments": {"order": 42}})),
        ]
    );

    let spans = store.list_spans(p, run_id).await.expect("spans");
    let events = store.list_events(p, run_id).await.expect("events");
    assert_eq!(spans.len(), 4, "three Anthropic calls and one Responses call; the embeddings request is not recorded");
    let stream = &spans[0];
    let a = &stream.attributes;
    assert_eq!(
        (a["stream"].clone(), a["stream_completed"].clone(), a["finish_reason"].clone()),
        (json!(true), json!(true), json!("tool_use"))
    );
    assert_eq!(
        (a["output_tokens"].clone(), a["cached_input_tokens"].clone(), a["input_tokens"].clone()),
        (json!(45), json!(1000), json!(1300))
    );
    assert!(a["time_to_first_token_ms"].is_number());
    let streamed_events: Vec<(EventType, Value)> = events_of(&events, stream).into_iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        streamed_events[1..],
        [
            (EventType::AssistantMessage, json!("Let me check that order.")),
            (EventType::ToolArguments, json!({"id": "toolu_02", "name": "lookup_order", "arguments": {"order": 42}})),
        ]
    );

    let overloaded = &spans[1];
    assert_eq!(overloaded.status, Status::Error);
    let error = overloaded.error.clone().expect("error");
    assert_eq!(
        (error["type"].clone(), error["message"].clone(), error["status"].clone()),
        (json!("overloaded_error"), json!("Overloaded"), json!(529))
    );

    let dropped = &spans[2];
    assert_eq!(
        (dropped.status, dropped.attributes["stream_completed"].clone()),
        (Status::Ok, json!(false)),
        "ended when dropped"
    );
    assert!(dropped.ended_at.is_some());

    let responses = &spans[3];
    let a = &responses.attributes;
    assert_eq!(
        (a["method"].clone(), a["response_model"].clone(), a["finish_reason"].clone()),
        (json!("openai.responses.create"), json!("o3-2025-04-16"), json!("completed"))
    );
    assert_eq!((a["reasoning_tokens"].clone(), a["output_tokens"].clone()), (json!(768), json!(900)));
    let r_events: Vec<(EventType, Value)> = events_of(&events, responses).into_iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        r_events,
        [
            (EventType::SystemMessage, json!("Be brief.")),
            (EventType::UserInput, json!("Has it shipped?")),
            (EventType::AssistantMessage, json!("It shipped yesterday.")),
        ]
    );
    tokio::task::spawn_blocking(move || drop(guard)).await.expect("join");
}
