//! The OpenTelemetry Python SDK (its OTLP exporters: HTTP protobuf, HTTP JSON, gRPC) and real
//! instrumentations (OpenInference's and the official
//! `opentelemetry-instrumentation-openai-v2`, around the real `openai` client against a local
//! stand-in for the OpenAI API) export to the real server, configured only with the standard
//! variables `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_EXPORTER_OTLP_HEADERS`.
//!
//! OpenLLMetry (`traceloop-sdk`) around the same client sends the legacy indexed
//! `gen_ai.prompt.N` / `gen_ai.completion.N` shape.
//!
//! The Python comes from the venvs `scripts/test` creates (`tests/python/requirements*.txt`,
//! pinned) and names in `NORTHSTAR_TEST_PYTHON` and `NORTHSTAR_TEST_PYTHON_TRACELOOP`. Without
//! them these tests fail, saying so.

use std::path::PathBuf;
use std::process::Command;

use northstar_store::Store;
use northstar_test_support::{Backend, TestServer, on_both_stores};
use northstar_wire::{EventType, SpanKind, Status};
use serde_json::{Value, json};
use uuid::Uuid;

/// The python of a venv `scripts/test` made, named by the variable `var`.
fn python(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: run the tests through scripts/test, which creates the Python venvs")
    });
    assert!(path.exists(), "{var}={} does not exist", path.display());
    path
}

/// Runs `tests/python/otel_agent.py <which>` against `server`; the trace id it recorded.
async fn run_agent(server: &TestServer, which: &str, protocol: &str) -> Uuid {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/otel_agent.py");
    let venv = if which == "traceloop" { "NORTHSTAR_TEST_PYTHON_TRACELOOP" } else { "NORTHSTAR_TEST_PYTHON" };
    let mut command = Command::new(python(venv));
    command
        .arg(script)
        .arg(which)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &server.base)
        .env("OTEL_EXPORTER_OTLP_HEADERS", format!("Authorization=Bearer {}", server.key))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        // The official instrumentation records message content only when asked.
        .env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        .env("TRACELOOP_TELEMETRY", "false")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env("NO_PROXY", "127.0.0.1");
    let output = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "otel_agent.py {which} failed:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("Failed to export"), "the exporter reported a failure:\n{stderr}");
    let line: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line");
    let hex = line["trace_id"].as_str().expect("trace_id");
    Uuid::parse_str(hex).expect("a 16-byte trace id")
}

async fn python_sdk_delivers_an_agent_run(server: &TestServer, protocol: &str) {
    let run_id = run_agent(server, "sdk", protocol).await;
    let store = &server.store;
    let run = store.get_run(server.project, run_id).await.expect("read").expect("the trace is a run");
    assert_eq!((run.name.as_str(), run.status), ("invoke_agent weather", Status::Ok));
    assert_eq!(run.metadata["service.name"], json!("python-agent"));
    let spans = store.list_spans(server.project, run_id).await.expect("spans");
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("span {n} in {spans:?}"));
    let (root, chat, tool) = (by_name("invoke_agent weather"), by_name("chat gpt-4o"), by_name("execute_tool lookup"));
    assert_eq!((root.kind, chat.kind, tool.kind), (SpanKind::Agent, SpanKind::Model, SpanKind::Tool));
    assert_eq!((chat.parent_span_id, tool.parent_span_id), (Some(root.id), Some(root.id)));
    assert_eq!(tool.status, Status::Error);
    assert_eq!(tool.error.as_ref().map(|e| e["type"].clone()), Some(json!("ValueError")));
    assert_eq!(tool.error.as_ref().map(|e| e["message"].clone()), Some(json!("lookup failed")));
    assert_eq!(
        (chat.attributes["input_tokens"].clone(), chat.attributes["output_tokens"].clone()),
        (json!(500), json!(50))
    );
    let events = store.list_events(server.project, run_id).await.expect("events");
    let chat_events: Vec<_> = events.iter().filter(|e| e.span_id == Some(chat.id)).collect();
    assert_eq!(chat_events.len(), 2);
    assert_eq!(
        (chat_events[0].event_type, &chat_events[0].content),
        (EventType::UserInput, &json!("Weather in Paris?"))
    );
    assert_eq!((chat_events[1].event_type, &chat_events[1].content), (EventType::AssistantMessage, &json!("Rain.")));
    let row = store.run_row(server.project, run_id).await.expect("row").expect("row");
    assert_eq!((row.input_tokens, row.output_tokens, row.tool_calls), (500, 50, 1));
    assert!(row.cost_usd > 0.0);
}

async fn python_sdk_over_http_protobuf_delivers_an_agent_run(server: &TestServer) {
    python_sdk_delivers_an_agent_run(server, "http/protobuf").await;
}

async fn python_sdk_over_http_json_delivers_an_agent_run(server: &TestServer) {
    python_sdk_delivers_an_agent_run(server, "http/json").await;
}

async fn python_sdk_over_grpc_delivers_an_agent_run(server: &TestServer) {
    python_sdk_delivers_an_agent_run(server, "grpc").await;
}

/// The instrumented `openai` client: two model spans (one streamed) under the agent span,
/// with their messages, tokens (cached tokens inside the input count) and a price.
async fn openai_instrumentation_delivers_model_calls(server: &TestServer, which: &str) {
    let run_id = run_agent(server, which, "http/protobuf").await;
    let store = &server.store;
    let spans = store.list_spans(server.project, run_id).await.expect("spans");
    let root = spans.iter().find(|s| s.name == "agent").expect("the agent span");
    let models: Vec<_> = spans.iter().filter(|s| s.kind == SpanKind::Model).collect();
    assert_eq!(models.len(), 2, "{spans:?}");
    for model in &models {
        assert_eq!(model.parent_span_id, Some(root.id));
        assert_eq!(model.attributes["model"], json!("gpt-4o-mini"), "{:?}", model.attributes);
        assert_eq!(model.attributes["input_tokens"], json!(120), "{:?}", model.attributes);
        assert_eq!(model.attributes["output_tokens"], json!(30));
        assert!(model.attributes["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{:?}", model.attributes);
    }
    let events = store.list_events(server.project, run_id).await.expect("events");
    let of = |span: Uuid| {
        events.iter().filter(|e| e.span_id == Some(span)).map(|e| (e.event_type, e.content.clone())).collect::<Vec<_>>()
    };
    let mut models = models;
    models.sort_by_key(|s| s.started_at);
    // OpenInference puts the messages on the span; the official instrumentation sends them as
    // GenAI events in log records (`/v1/logs`), which find their span whenever it arrives.
    assert_eq!(
        of(models[0].id),
        [
            (EventType::SystemMessage, json!("Be brief.")),
            (EventType::UserInput, json!("Weather?")),
            (EventType::AssistantMessage, json!("Sunny")),
        ],
        "{which}"
    );
    assert_eq!(
        of(models[1].id),
        [(EventType::UserInput, json!("Again?")), (EventType::AssistantMessage, json!("Sunny"))],
        "{which}: the streamed call"
    );
    let row = store.run_row(server.project, run_id).await.expect("row").expect("row");
    assert_eq!((row.input_tokens, row.output_tokens), (240, 60));
}

async fn openinference_openai_instrumentation_delivers_model_calls(server: &TestServer) {
    openai_instrumentation_delivers_model_calls(server, "openinference").await;
}

async fn official_openai_v2_instrumentation_delivers_model_calls(server: &TestServer) {
    openai_instrumentation_delivers_model_calls(server, "openai-v2").await;
}

/// OpenLLMetry: a workflow span with its input and output, and the model call in the legacy
/// indexed shape, with the older token names and cached tokens.
async fn openllmetry_delivers_the_legacy_indexed_shape(server: &TestServer) {
    let run_id = run_agent(server, "traceloop", "http/protobuf").await;
    let store = &server.store;
    let run = store.get_run(server.project, run_id).await.expect("read").expect("run");
    assert_eq!((run.name.as_str(), run.status), ("support_flow.workflow", Status::Ok));
    let spans = store.list_spans(server.project, run_id).await.expect("spans");
    let root = spans.iter().find(|s| s.name == "support_flow.workflow").expect("the workflow span");
    let chat = spans.iter().find(|s| s.name == "openai.chat").expect("the model span");
    assert_eq!((root.kind, chat.kind), (SpanKind::Workflow, SpanKind::Model));
    assert_eq!(chat.parent_span_id, Some(root.id));
    let a = &chat.attributes;
    assert_eq!((a["input_tokens"].clone(), a["output_tokens"].clone()), (json!(120), json!(30)));
    assert_eq!(a["cached_input_tokens"], json!(20));
    assert!(a.get("gen_ai.prompt.0.content").is_none(), "message attributes became events");
    let events = store.list_events(server.project, run_id).await.expect("events");
    let of = |span: Uuid| {
        events.iter().filter(|e| e.span_id == Some(span)).map(|e| (e.event_type, e.content.clone())).collect::<Vec<_>>()
    };
    assert_eq!(
        of(chat.id),
        [
            (EventType::SystemMessage, json!("Be brief.")),
            (EventType::UserInput, json!("Weather?")),
            (EventType::AssistantMessage, json!("Sunny")),
        ]
    );
    let root_types: Vec<_> = of(root.id).into_iter().map(|(t, _)| t).collect();
    assert_eq!(root_types, [EventType::UserInput, EventType::FinalResponse]);
}

on_both_stores!(
    openllmetry_delivers_the_legacy_indexed_shape,
    python_sdk_over_http_protobuf_delivers_an_agent_run,
    python_sdk_over_http_json_delivers_an_agent_run,
    python_sdk_over_grpc_delivers_an_agent_run,
    openinference_openai_instrumentation_delivers_model_calls,
    official_openai_v2_instrumentation_delivers_model_calls,
);
