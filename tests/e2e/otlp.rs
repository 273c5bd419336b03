//! OTLP ingest against the real server on both stores: the Rust OpenTelemetry SDK's own
//! exporters (HTTP protobuf, HTTP JSON, gRPC) and `tracing-opentelemetry`, then the order and
//! retry cases an exporter produces (requests built from the generated OTLP types, sent over
//! HTTP as an exporter sends them), then the transport's answers.

use std::io::Write;
use std::time::Duration;

use northstar_store::{SessionStatus, Store};
use northstar_test_support::{Backend, TestServer, on_both_stores};
use northstar_wire::{EventType, SpanKind, Status};
use opentelemetry::KeyValue as OtelKv;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status as OtlpStatus, status,
};
use prost::Message;
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// The Rust SDK's exporters.

#[derive(Debug, Clone, Copy)]
enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

/// A tracer provider exporting to `server` over `transport`, with the project's key.
fn provider(server: &TestServer, transport: Transport) -> opentelemetry_sdk::trace::SdkTracerProvider {
    let auth = format!("Bearer {}", server.key);
    let exporter = match transport {
        Transport::HttpProtobuf | Transport::HttpJson => {
            let protocol =
                if matches!(transport, Transport::HttpJson) { Protocol::HttpJson } else { Protocol::HttpBinary };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(format!("{}/v1/traces", server.base))
                .with_headers([("authorization".to_owned(), auth)].into())
                .with_timeout(Duration::from_secs(10))
                .build()
                .expect("http exporter")
        }
        Transport::Grpc => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            metadata.insert("authorization", auth.parse().expect("metadata value"));
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(server.base.clone())
                .with_metadata(metadata)
                .with_compression(opentelemetry_otlp::Compression::Gzip)
                .with_timeout(Duration::from_secs(10))
                .build()
                .expect("grpc exporter")
        }
    };
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name("rust-agent").build())
        .build()
}

/// An agent run as a GenAI-instrumented Rust program records it: an agent span, a model call
/// with its messages and usage, a tool call. Returns the trace id.
fn record_agent_run(provider: &opentelemetry_sdk::trace::SdkTracerProvider, session: &str) -> [u8; 16] {
    let tracer = provider.tracer("agent");
    let root = tracer
        .span_builder("invoke_agent planner")
        .with_attributes([
            OtelKv::new("gen_ai.operation.name", "invoke_agent"),
            OtelKv::new("session.id", session.to_owned()),
            OtelKv::new("user.id", "u-42"),
        ])
        .start(&tracer);
    let trace_id = root.span_context().trace_id().to_bytes();
    let cx = opentelemetry::Context::current_with_span(root);
    {
        let mut chat = tracer
            .span_builder("chat gpt-4o")
            .with_attributes([
                OtelKv::new("gen_ai.operation.name", "chat"),
                OtelKv::new("gen_ai.request.model", "gpt-4o"),
                OtelKv::new("gen_ai.usage.input_tokens", 1000_i64),
                OtelKv::new("gen_ai.usage.output_tokens", 200_i64),
                OtelKv::new(
                    "gen_ai.input.messages",
                    json!([{"role": "user", "parts": [{"type": "text", "content": "Plan my trip"}]}]).to_string(),
                ),
                OtelKv::new(
                    "gen_ai.output.messages",
                    json!([{"role": "assistant", "parts": [
                        {"type": "tool_call", "id": "call_1", "name": "search", "arguments": {"q": "flights"}}
                    ]}])
                    .to_string(),
                ),
            ])
            .start_with_context(&tracer, &cx);
        chat.end();
        let mut tool = tracer
            .span_builder("execute_tool search")
            .with_attributes([
                OtelKv::new("gen_ai.operation.name", "execute_tool"),
                OtelKv::new("gen_ai.tool.name", "search"),
                OtelKv::new("gen_ai.tool.call.id", "call_1"),
                OtelKv::new("gen_ai.tool.call.arguments", r#"{"q": "flights"}"#),
                OtelKv::new("gen_ai.tool.call.result", r#"{"hits": 3}"#),
            ])
            .start_with_context(&tracer, &cx);
        tool.end();
    }
    cx.span().end();
    trace_id
}

/// Flushes `provider` off the async runtime (its batch processor exports from its own thread).
async fn flush(provider: opentelemetry_sdk::trace::SdkTracerProvider) {
    tokio::task::spawn_blocking(move || {
        provider.force_flush().expect("flush");
        provider.shutdown().expect("shutdown");
    })
    .await
    .expect("flush thread");
}

async fn rust_sdk_delivers_a_whole_agent_run(server: &TestServer, transport: Transport) {
    let provider = provider(server, transport);
    let trace_id = record_agent_run(&provider, "conversation-7");
    flush(provider).await;

    let run_id = Uuid::from_bytes(trace_id);
    let store = &server.store;
    let run = store.get_run(server.project, run_id).await.expect("read").expect("the trace is a run");
    assert_eq!((run.name.as_str(), run.status), ("invoke_agent planner", Status::Ok));
    assert_eq!(run.metadata["service.name"], json!("rust-agent"));
    assert_eq!(run.metadata["user.id"], json!("u-42"));
    let spans = store.list_spans(server.project, run_id).await.expect("spans");
    assert_eq!(spans.len(), 3, "{spans:?}");
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("span {n}"));
    let root = by_name("invoke_agent planner");
    let chat = by_name("chat gpt-4o");
    let tool = by_name("execute_tool search");
    assert_eq!((root.kind, chat.kind, tool.kind), (SpanKind::Agent, SpanKind::Model, SpanKind::Tool));
    assert_eq!(root.parent_span_id, None);
    assert_eq!((chat.parent_span_id, tool.parent_span_id), (Some(root.id), Some(root.id)));
    assert_eq!(chat.attributes["input_tokens"], json!(1000));
    assert_eq!(chat.attributes["model"], json!("gpt-4o"));
    // Priced from the bundled table, as a native span without a cost.
    assert_eq!(chat.attributes["pricing_source"], json!("northstar-server"));

    let events = store.list_events(server.project, run_id).await.expect("events");
    let of = |span: Uuid| events.iter().filter(|e| e.span_id == Some(span)).map(|e| e.event_type).collect::<Vec<_>>();
    assert_eq!(of(chat.id), [EventType::UserInput, EventType::ToolArguments]);
    assert_eq!(of(tool.id), [EventType::ToolArguments, EventType::ToolResult]);
    let result = events.iter().find(|e| e.event_type == EventType::ToolResult).expect("tool result");
    assert_eq!(result.content, json!({"hits": 3}));

    let row = store.run_row(server.project, run_id).await.expect("row").expect("run row");
    assert_eq!((row.input_tokens, row.output_tokens, row.spans, row.tool_calls), (1000, 200, 3, 1));
    assert!(row.cost_usd > 0.0, "gpt-4o is priced: {}", row.cost_usd);
    let session = store.session_row(server.project, run.session_id).await.expect("session").expect("session row");
    assert_eq!((session.runs, session.input_tokens), (1, 1000));
    assert!(session.ended_at.is_some(), "a session of finished runs has ended");
    assert_eq!(session.status, SessionStatus::Completed);
}

async fn rust_sdk_over_http_protobuf_delivers_a_whole_agent_run(server: &TestServer) {
    rust_sdk_delivers_a_whole_agent_run(server, Transport::HttpProtobuf).await;
}

async fn rust_sdk_over_http_json_delivers_a_whole_agent_run(server: &TestServer) {
    rust_sdk_delivers_a_whole_agent_run(server, Transport::HttpJson).await;
}

async fn rust_sdk_over_grpc_delivers_a_whole_agent_run(server: &TestServer) {
    rust_sdk_delivers_a_whole_agent_run(server, Transport::Grpc).await;
}

/// `tracing` spans through `tracing-opentelemetry`, as a Rust agent using `tracing` sends them.
async fn tracing_opentelemetry_spans_arrive_with_their_tree(server: &TestServer) {
    use tracing_subscriber::layer::SubscriberExt;
    let provider = provider(server, Transport::HttpProtobuf);
    let tracer = provider.tracer("tracing");
    let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let root = tracing::info_span!("handle_request", "gen_ai.operation.name" = "invoke_agent");
        let id = root.context().span().span_context().trace_id().to_bytes();
        root.in_scope(|| {
            let _model = tracing::info_span!(
                "llm",
                "gen_ai.request.model" = "gpt-4o-mini",
                "gen_ai.usage.input_tokens" = 12_i64
            )
            .entered();
        });
        id
    });
    flush(provider).await;
    let run_id = Uuid::from_bytes(trace_id);
    let spans = server.store.list_spans(server.project, run_id).await.expect("spans");
    let root = spans.iter().find(|s| s.name == "handle_request").expect("root");
    let model = spans.iter().find(|s| s.name == "llm").expect("model span");
    assert_eq!((root.kind, model.kind), (SpanKind::Agent, SpanKind::Model));
    assert_eq!(model.parent_span_id, Some(root.id));
    assert_eq!(model.attributes["input_tokens"], json!(12));
}

/// The dashboard shows an OTLP run as it shows a native one: in the runs list with its figures,
/// and on the run page with its tree and messages.
async fn an_otlp_run_renders_in_the_dashboard_like_a_native_one(server: &TestServer) {
    let provider = provider(server, Transport::HttpProtobuf);
    let run_id = Uuid::from_bytes(record_agent_run(&provider, "dashboard-conv"));
    flush(provider).await;
    let cookie = server.admin_cookie().await;
    let (status, list) = server.get_as(&cookie, &format!("/p/{}/runs", server.project)).await;
    assert_eq!(status, 200);
    assert!(list.contains("invoke_agent planner"), "the run is listed");
    let (status, html) = server.get_as(&cookie, &format!("/p/{}/runs/{run_id}", server.project)).await;
    assert_eq!(status, 200);
    for text in ["invoke_agent planner", "chat gpt-4o", "execute_tool search", "Plan my trip", "gpt-4o"] {
        assert!(html.contains(text), "the run page shows {text:?}");
    }
}

on_both_stores!(
    an_otlp_run_renders_in_the_dashboard_like_a_native_one,
    rust_sdk_over_http_protobuf_delivers_a_whole_agent_run,
    rust_sdk_over_http_json_delivers_a_whole_agent_run,
    rust_sdk_over_grpc_delivers_a_whole_agent_run,
    tracing_opentelemetry_spans_arrive_with_their_tree,
);

// ---------------------------------------------------------------------------------------------
// Order and retry, as exporters produce them.

const TRACE: [u8; 16] = [0x5a; 16];
const T0: u64 = 1_760_000_000_000_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..KeyValue::default()
    }
}

fn otlp_span(trace: [u8; 16], id: u8, parent: Option<u8>, name: &str, attributes: Vec<KeyValue>) -> OtlpSpan {
    OtlpSpan {
        trace_id: trace.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: T0 + u64::from(id) * 1_000_000,
        end_time_unix_nano: T0 + 5_000_000_000,
        attributes,
        status: Some(OtlpStatus { code: status::StatusCode::Ok as i32, message: String::new() }),
        ..OtlpSpan::default()
    }
}

fn export(spans: Vec<OtlpSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", "py-agent")], ..Resource::default() }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

/// `request` posted to `/v1/traces` as an OTLP/HTTP protobuf exporter posts it, with `key`.
async fn post_traces(server: &TestServer, key: &str, request: &ExportTraceServiceRequest) -> reqwest::Response {
    server
        .client
        .post(format!("{}/v1/traces", server.base))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .expect("request")
}

async fn send_with_key(
    server: &TestServer,
    key: &str,
    request: &ExportTraceServiceRequest,
) -> (u16, ExportTraceServiceResponse) {
    let response = post_traces(server, key, request).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = response.bytes().await.expect("body");
    let decoded = if status == 200 {
        ExportTraceServiceResponse::decode(body.as_ref()).expect("an ExportTraceServiceResponse")
    } else {
        ExportTraceServiceResponse::default()
    };
    (status, decoded)
}

async fn send(server: &TestServer, request: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let (status, response) = send_with_key(server, &server.key, request).await;
    assert_eq!(status, 200);
    response
}

fn run_id() -> Uuid {
    Uuid::from_bytes(TRACE)
}

async fn children_first_then_the_root_in_a_later_request_give_the_whole_tree(server: &TestServer) {
    // Request 1: a grandchild and its parent (the root's child); the root is still running.
    let response = send(
        server,
        &export(vec![
            otlp_span(TRACE, 3, Some(2), "chat", vec![kv("gen_ai.operation.name", "chat")]),
            otlp_span(TRACE, 2, Some(1), "step", vec![kv("gen_ai.conversation.id", "inner-conv")]),
        ]),
    )
    .await;
    assert_eq!(response.partial_success, None);
    let run = server.store.get_run(server.project, run_id()).await.expect("read").expect("a run before its root");
    assert_eq!((run.status, run.name.as_str()), (Status::Running, "step"));
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    let step = spans.iter().find(|s| s.name == "step").expect("step");
    let chat = spans.iter().find(|s| s.name == "chat").expect("chat");
    assert_eq!((step.parent_span_id, chat.parent_span_id), (None, Some(step.id)));
    let first_session = run.session_id;

    // Request 2: the root, naming its own session.
    send(server, &export(vec![otlp_span(TRACE, 1, None, "agent", vec![kv("session.id", "root-conv")])])).await;
    let run = server.store.get_run(server.project, run_id()).await.expect("read").expect("run");
    assert_eq!((run.status, run.name.as_str()), (Status::Ok, "agent"));
    assert_ne!(run.session_id, first_session, "the root's session wins over an inner span's");
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    let root = spans.iter().find(|s| s.name == "agent").expect("root");
    let step = spans.iter().find(|s| s.name == "step").expect("step");
    assert_eq!(step.parent_span_id, Some(root.id), "the waiting child got its parent");
    // The session the run left has no run; the one it joined has it, with its figures.
    let old = server.store.session_row(server.project, first_session).await.expect("read").expect("old session");
    let new = server.store.session_row(server.project, run.session_id).await.expect("read").expect("new session");
    assert_eq!((old.runs, new.runs), (0, 1));
}

async fn a_root_that_never_arrives_leaves_a_running_run_with_its_spans_visible(server: &TestServer) {
    send(server, &export(vec![otlp_span(TRACE, 2, Some(1), "orphan", vec![])])).await;
    let run = server.store.get_run(server.project, run_id()).await.expect("read").expect("run");
    assert_eq!(run.status, Status::Running);
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].parent_span_id, None, "shown at the top until its parent arrives");
    let row = server.store.run_row(server.project, run_id()).await.expect("row").expect("row");
    assert_eq!(row.spans, 1);
    let session = server.store.session_row(server.project, run.session_id).await.expect("read").expect("session");
    assert_eq!((session.status, session.ended_at), (SessionStatus::Active, None), "a running run keeps it open");
}

async fn an_export_sent_twice_is_stored_once(server: &TestServer) {
    let request = export(vec![
        otlp_span(
            TRACE,
            2,
            Some(1),
            "chat",
            vec![
                kv("gen_ai.operation.name", "chat"),
                kv("gen_ai.input.messages", r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#),
            ],
        ),
        otlp_span(TRACE, 1, None, "agent", vec![]),
    ]);
    send(server, &request).await;
    let once = server.store.count_records(server.project).await.expect("counts");
    send(server, &request).await;
    let twice = server.store.count_records(server.project).await.expect("counts");
    assert_eq!(once, twice);
    assert_eq!((once.runs, once.spans, once.events), (1, 2, 1));
    let row = server.store.run_row(server.project, run_id()).await.expect("row").expect("row");
    assert_eq!(row.spans, 2, "figures are not counted twice");
}

async fn a_broken_span_is_rejected_beside_good_ones(server: &TestServer) {
    let mut broken = otlp_span(TRACE, 9, Some(1), "broken", vec![]);
    broken.span_id = vec![1, 2, 3];
    let response = send(server, &export(vec![broken, otlp_span(TRACE, 1, None, "agent", vec![])])).await;
    let partial = response.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("span_id"), "{}", partial.error_message);
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    assert_eq!(spans.len(), 1);
}

async fn a_trace_of_another_project_is_rejected_and_the_rest_stored(server: &TestServer) {
    let (_, other_key) = server.other_project().await;
    let (status, _) =
        send_with_key(server, &other_key, &export(vec![otlp_span(TRACE, 1, None, "theirs", vec![])])).await;
    assert_eq!(status, 200);
    let mine = [0x11; 16];
    let response = send(
        server,
        &export(vec![otlp_span(TRACE, 2, None, "not mine", vec![]), otlp_span(mine, 1, None, "mine", vec![])]),
    )
    .await;
    assert_eq!(response.partial_success.map(|p| p.rejected_spans), Some(1));
    assert!(server.store.get_run(server.project, run_id()).await.expect("read").is_none());
    assert!(server.store.get_run(server.project, Uuid::from_bytes(mine)).await.expect("read").is_some());
}

async fn an_error_span_with_an_exception_marks_the_run_failed(server: &TestServer) {
    let mut root = otlp_span(TRACE, 1, None, "agent", vec![]);
    root.status = Some(OtlpStatus { code: status::StatusCode::Error as i32, message: "tool crashed".into() });
    root.events.push(opentelemetry_proto::tonic::trace::v1::span::Event {
        name: "exception".into(),
        time_unix_nano: T0 + 1,
        attributes: vec![kv("exception.type", "RuntimeError"), kv("exception.message", "boom")],
        ..Default::default()
    });
    send(server, &export(vec![root])).await;
    let run = server.store.get_run(server.project, run_id()).await.expect("read").expect("run");
    assert_eq!(run.status, Status::Error);
    assert_eq!(run.error, Some(json!({"type": "RuntimeError", "message": "tool crashed"})));
    let session = server.store.session_row(server.project, run.session_id).await.expect("read").expect("session");
    assert_eq!(session.errored_runs, 1);
}

async fn evaluation_events_become_scores(server: &TestServer) {
    let mut root = otlp_span(TRACE, 1, None, "agent", vec![]);
    root.events.push(opentelemetry_proto::tonic::trace::v1::span::Event {
        name: "gen_ai.evaluation.result".into(),
        time_unix_nano: T0 + 2,
        attributes: vec![
            kv("gen_ai.evaluation.name", "relevance"),
            KeyValue {
                key: "gen_ai.evaluation.score.value".into(),
                value: Some(AnyValue { value: Some(any_value::Value::DoubleValue(0.75)) }),
                ..KeyValue::default()
            },
        ],
        ..Default::default()
    });
    send(server, &export(vec![root])).await;
    let scores = server.store.list_scores(server.project, run_id()).await.expect("scores");
    assert_eq!(scores.len(), 1);
    assert_eq!((scores[0].name.as_str(), scores[0].value), ("relevance", 0.75));
}

/// GenAI events sent as log records (as the official instrumentations send chat messages)
/// before the span they belong to: they wait for it; a record that is not such an event is
/// rejected on its own.
async fn genai_log_events_before_their_span_wait_for_it(server: &TestServer) {
    let record = |event: &str, body: AnyValue, at: u64| LogRecord {
        time_unix_nano: at,
        event_name: event.into(),
        body: Some(body),
        trace_id: TRACE.to_vec(),
        span_id: vec![2; 8],
        ..LogRecord::default()
    };
    let kvlist = |pairs: Vec<KeyValue>| AnyValue {
        value: Some(any_value::Value::KvlistValue(opentelemetry_proto::tonic::common::v1::KeyValueList {
            values: pairs,
        })),
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record("gen_ai.user.message", kvlist(vec![kv("content", "Weather?")]), T0 + 10),
                    record("app.started", kvlist(vec![kv("msg", "hello")]), T0 + 11),
                ],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    let response = server
        .client
        .post(format!("{}/v1/logs", server.base))
        .bearer_auth(&server.key)
        .header("content-type", "application/x-protobuf")
        .body(logs.encode_to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let response = ExportLogsServiceResponse::decode(response.bytes().await.expect("body").as_ref()).expect("decode");
    let partial = response.partial_success.expect("the application log is rejected");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("app.started"), "{}", partial.error_message);
    let events = server.store.list_events(server.project, run_id()).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].event_type, events[0].span_id), (EventType::UserInput, None), "waiting for its span");

    send(server, &export(vec![otlp_span(TRACE, 2, Some(1), "chat", vec![kv("gen_ai.operation.name", "chat")])])).await;
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    let events = server.store.list_events(server.project, run_id()).await.expect("events");
    assert_eq!(events[0].span_id, Some(spans[0].id), "the event got its span");
    assert_eq!(events[0].content, json!("Weather?"));
}

/// `request` posted as OTLP/HTTP protobuf, as a task can own it: the status and any partial
/// success.
fn post_export(
    server: &TestServer,
    request: &ExportTraceServiceRequest,
) -> impl std::future::Future<Output = (u16, Option<ExportTracePartialSuccess>)> + Send + 'static {
    let (client, url, key) = (server.client.clone(), format!("{}/v1/traces", server.base), server.key.clone());
    let body = request.encode_to_vec();
    async move {
        let response = client
            .post(url)
            .bearer_auth(key)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("body");
        (status, ExportTraceServiceResponse::decode(body.as_ref()).ok().and_then(|r| r.partial_success))
    }
}

/// Many exporters sending spans of one trace at once (a distributed agent: every process
/// exports its own spans), the root among them: every span is stored once, under its parent,
/// and the run's figures count each once.
async fn concurrent_exports_of_one_trace_build_one_tree(server: &TestServer) {
    let mut requests = tokio::task::JoinSet::new();
    for id in 2..=31u8 {
        let attributes = vec![kv("gen_ai.operation.name", "execute_tool"), kv("gen_ai.tool.name", "search")];
        let request = export(vec![otlp_span(TRACE, id, Some(1), &format!("tool {id}"), attributes)]);
        requests.spawn(post_export(server, &request));
        if id == 16 {
            send(server, &export(vec![otlp_span(TRACE, 1, None, "agent", vec![kv("session.id", "shared")])])).await;
        }
    }
    while let Some(answer) = requests.join_next().await {
        assert_eq!(answer.expect("request task").0, 200);
    }
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    assert_eq!(spans.len(), 31);
    let root = spans.iter().find(|s| s.name == "agent").expect("root");
    assert!(
        spans.iter().filter(|s| s.id != root.id).all(|s| s.parent_span_id == Some(root.id)),
        "every tool under the root"
    );
    let row = server.store.run_row(server.project, run_id()).await.expect("row").expect("row");
    assert_eq!((row.spans, row.tool_calls, row.status), (31, 30, Status::Ok));
    let session = server.store.session_row(server.project, row.session_id).await.expect("read").expect("session");
    assert_eq!((session.runs, session.tool_calls), (1, 30));
}

/// A fleet of agents exporting at once, their traces spread over a few conversations: requests
/// that queue are written together (group commit), several transactions at once on Postgres,
/// each touching several of the same sessions. Every export is answered 200, every trace is
/// whole, and each conversation's figures count each of its runs once.
async fn many_exporters_sharing_conversations_are_all_stored_with_exact_figures(server: &TestServer) {
    const CONVERSATIONS: usize = 3;
    const TRACES: usize = 48;
    let traces: Vec<[u8; 16]> = (0..TRACES).map(|_| *Uuid::new_v4().as_bytes()).collect();
    let mut requests = tokio::task::JoinSet::new();
    for (i, trace) in traces.iter().enumerate() {
        let tool = |id: u8| {
            let attributes = vec![kv("gen_ai.operation.name", "execute_tool"), kv("gen_ai.tool.name", "search")];
            otlp_span(*trace, id, Some(1), "tool", attributes)
        };
        let root = otlp_span(*trace, 1, None, "agent", vec![kv("session.id", &format!("conv-{}", i % CONVERSATIONS))]);
        let request = export(vec![tool(2), tool(3), root]);
        requests.spawn(post_export(server, &request));
    }
    while let Some(answer) = requests.join_next().await {
        assert_eq!(answer.expect("request task"), (200, None));
    }
    let mut sessions = std::collections::BTreeMap::new();
    for (i, trace) in traces.iter().enumerate() {
        let run = Uuid::from_bytes(*trace);
        let row = server.store.run_row(server.project, run).await.expect("read").expect("every trace stored");
        assert_eq!((row.status, row.spans, row.tool_calls), (Status::Ok, 3, 2), "trace {i}");
        sessions.entry(i % CONVERSATIONS).or_insert(row.session_id);
        assert_eq!(sessions[&(i % CONVERSATIONS)], row.session_id, "one session per conversation");
    }
    for session in sessions.values() {
        let row = server.store.session_row(server.project, *session).await.expect("read").expect("session");
        assert_eq!((row.runs, row.tool_calls), ((TRACES / CONVERSATIONS) as i64, 2 * (TRACES / CONVERSATIONS) as i64));
        assert_eq!(row.status, SessionStatus::Completed, "every run of it has ended");
    }
}

/// Hostile values: NUL in names, keys and values (Postgres stores no NUL), token counts and
/// costs far out of range, an end before the start, a deep value: stored, never a 5xx.
async fn hostile_values_are_stored_safely(server: &TestServer) {
    let int = |key: &str, v: i64| KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }),
        ..KeyValue::default()
    };
    let mut deep = AnyValue { value: Some(any_value::Value::StringValue("bottom".into())) };
    for _ in 0..30 {
        deep = AnyValue {
            value: Some(any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![deep],
            })),
        };
    }
    let mut span = otlp_span(
        TRACE,
        1,
        None,
        "agent\0run",
        vec![
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", "gpt-4o\0"),
            kv("key\0", "value\0"),
            int("gen_ai.usage.input_tokens", i64::MAX),
            int("gen_ai.usage.output_tokens", -5),
            kv("llm.cost.total", "-1"),
            KeyValue { key: "deep".into(), value: Some(deep), ..KeyValue::default() },
        ],
    );
    span.end_time_unix_nano = span.start_time_unix_nano - 1_000_000;
    let response = send(server, &export(vec![span])).await;
    assert_eq!(response.partial_success, None);
    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    let stored = &spans[0];
    assert_eq!(stored.name, "agent\u{fffd}run");
    assert_eq!(stored.attributes["key\u{fffd}"], json!("value\u{fffd}"));
    assert!(stored.attributes.get("input_tokens").is_none() && stored.attributes.get("output_tokens").is_none());
    assert!(stored.attributes.get("cost_usd").is_none(), "an out-of-range figure is left out");
    assert_eq!(stored.ended_at, Some(stored.started_at), "an end before the start is the start");
    let row = server.store.run_row(server.project, run_id()).await.expect("row").expect("row");
    assert_eq!((row.input_tokens, row.cost_usd), (0, 0.0));

    // Deeper than protobuf decoding allows (100 levels): a 400, nothing stored.
    let mut deeper = AnyValue { value: Some(any_value::Value::StringValue("bottom".into())) };
    for _ in 0..80 {
        deeper = AnyValue {
            value: Some(any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![deeper],
            })),
        };
    }
    let too_deep = KeyValue { key: "deep".into(), value: Some(deeper), ..KeyValue::default() };
    let (status, _) =
        send_with_key(server, &server.key, &export(vec![otlp_span([0x33; 16], 1, None, "deep", vec![too_deep])])).await;
    assert_eq!(status, 400);
    assert!(server.store.get_run(server.project, Uuid::from_bytes([0x33; 16])).await.expect("read").is_none());
}

on_both_stores!(
    many_exporters_sharing_conversations_are_all_stored_with_exact_figures,
    hostile_values_are_stored_safely,
    concurrent_exports_of_one_trace_build_one_tree,
    genai_log_events_before_their_span_wait_for_it,
    children_first_then_the_root_in_a_later_request_give_the_whole_tree,
    a_root_that_never_arrives_leaves_a_running_run_with_its_spans_visible,
    an_export_sent_twice_is_stored_once,
    a_broken_span_is_rejected_beside_good_ones,
    a_trace_of_another_project_is_rejected_and_the_rest_stored,
    an_error_span_with_an_exception_marks_the_run_failed,
    evaluation_events_become_scores,
);

// ---------------------------------------------------------------------------------------------
// The transport's answers.

async fn the_transport_answers_as_the_otlp_spec_says(server: &TestServer) {
    let url = format!("{}/v1/traces", server.base);
    let body = export(vec![otlp_span(TRACE, 1, None, "agent", vec![])]).encode_to_vec();
    let post = |headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let mut request = server.client.post(&url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let bearer = ("authorization", format!("Bearer {}", server.key));
    let protobuf = ("content-type", "application/x-protobuf".to_owned());

    // No key, a wrong key: 401.
    let r = post(vec![protobuf.clone()], body.clone()).await.expect("send");
    assert_eq!(r.status(), 401);
    let r =
        post(vec![protobuf.clone(), ("authorization", "Bearer ns_wrong".into())], body.clone()).await.expect("send");
    assert_eq!(r.status(), 401);
    // Undecodable: 400 with a google.rpc.Status.
    let r = post(vec![protobuf.clone(), bearer.clone()], vec![0xff, 0xff, 0xff]).await.expect("send");
    assert_eq!(r.status(), 400);
    // Another content type: 415.
    let r = post(vec![("content-type", "text/plain".into()), bearer.clone()], body.clone()).await.expect("send");
    assert_eq!(r.status(), 415);
    // gzip, with the key as x-api-key.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).expect("gzip");
    let r = post(
        vec![protobuf.clone(), ("content-encoding", "gzip".into()), ("x-api-key", server.key.clone())],
        gz.finish().expect("gzip"),
    )
    .await
    .expect("send");
    assert_eq!(r.status(), 200);
    // OTLP JSON: hex ids, enum numbers, intValue as a string; answered in JSON.
    let json_body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "spanId": "0202020202020202",
        "parentSpanId": "0101010101010101", "name": "json child", "kind": 3,
        "startTimeUnixNano": "1760000000000000000", "endTimeUnixNano": "1760000001000000000",
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}},
                       {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}],
        "status": {"code": 1}
    }]}]}]});
    let r = post(vec![("content-type", "application/json".into()), bearer.clone()], json_body.to_string().into_bytes())
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    // Metrics are answered, every point refused with the reason, nothing stored.
    let metrics_body = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "agent.requests", "gauge": {"dataPoints": [{"asInt": "3", "timeUnixNano": "1760000000000000000"}]}
    }]}]}]});
    let r = server
        .client
        .post(format!("{}/v1/metrics", server.base))
        .bearer_auth(&server.key)
        .header("content-type", "application/json")
        .body(metrics_body.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.expect("JSON");
    let rejected = &answer["partialSuccess"]["rejectedDataPoints"];
    assert!(rejected == &json!(1) || rejected == &json!("1"), "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"].as_str().is_some_and(|m| m.contains("not metrics")), "{answer}");
    // Langfuse's path and its Basic authorization (public key : secret key).
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("pk-lf-anything:{}", server.key))
    };
    let r = server
        .client
        .post(format!("{}/api/public/otel/v1/traces", server.base))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-protobuf")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);

    // Above the body limit: 413. Last, on a client of its own: the server answers before the
    // body is read and closes that connection.
    let r = reqwest::Client::new()
        .post(&url)
        .header("authorization", format!("Bearer {}", server.key))
        .header("content-type", "application/x-protobuf")
        .body(vec![0; 11 * 1024 * 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);

    let spans = server.store.list_spans(server.project, run_id()).await.expect("spans");
    let child = spans.iter().find(|s| s.name == "json child").expect("the JSON span");
    assert_eq!(child.attributes["input_tokens"], json!(42));
    assert_eq!(child.attributes["otel.span_kind"], json!("client"));
    let root = spans.iter().find(|s| s.name == "agent").expect("root");
    assert_eq!(child.parent_span_id, Some(root.id));
}

on_both_stores!(the_transport_answers_as_the_otlp_spec_says);

// ---------------------------------------------------------------------------------------------
// The key's rate limit.

async fn limited(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |state| northstar_server::AppState {
        rate_limit: northstar_server::RateLimit::per_second(1),
        ..state
    })
    .await
}

/// `NORTHSTAR_RATE_LIMIT_PER_SECOND` caps a key's OTLP exports as it caps its native batches:
/// over HTTP a 429 with `Retry-After`, over gRPC `UNAVAILABLE` with a `RetryInfo`, which the
/// Rust SDK's exporter waits out before it delivers.
async fn the_keys_rate_limit_holds_for_otlp_over_http_and_grpc(server: &TestServer) {
    let request = export(vec![otlp_span(TRACE, 1, None, "agent", vec![])]);
    assert_eq!(send_with_key(server, &server.key, &request).await.0, 200);
    let response = post_traces(server, &server.key, &request).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    // Another project's key has its own budget.
    let (_, other) = server.other_project().await;
    assert_eq!(send_with_key(server, &other, &export(vec![otlp_span([0x44; 16], 1, None, "a", vec![])])).await.0, 200);

    // gRPC in a later second, right after the key's request of that second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let provider = provider(server, Transport::Grpc);
    let trace = record_agent_run(&provider, "limited");
    let started = std::time::Instant::now();
    assert_eq!(send_with_key(server, &server.key, &request).await.0, 200, "the budget of a new second");
    flush(provider).await;
    // Not sooner than the key's next second: the export was refused first, and the exporter
    // waited as told (had gRPC no limit, this would be a matter of milliseconds).
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    let spans = server.store.list_spans(server.project, Uuid::from_bytes(trace)).await.expect("spans");
    assert_eq!(spans.len(), 3, "the whole run, once: {spans:?}");
}

mod rate_limit {
    use super::*;
    on_both_stores!(start = limited; the_keys_rate_limit_holds_for_otlp_over_http_and_grpc);
}
