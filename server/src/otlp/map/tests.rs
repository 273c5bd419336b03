use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtelSpan, Status as OtelStatus};

use super::*;

const TRACE: [u8; 16] = [7; 16];

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v) }), ..KeyValue::default() }
}

fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn span(id: u8, parent: Option<u8>, name: &str, attributes: Vec<KeyValue>) -> OtelSpan {
    OtelSpan {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1_000_000,
        end_time_unix_nano: 1_700_000_001_000_000_000,
        attributes,
        ..OtelSpan::default()
    }
}

fn request(spans: Vec<OtelSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![s("service.name", "agent-svc")], ..Resource::default() }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect()
}

#[test]
fn kinds_follow_the_written_priority_list() {
    assert_eq!(kind_of(&attrs(&[("langfuse.observation.type", "generation")])), SpanKind::Model);
    assert_eq!(
        kind_of(&attrs(&[("langfuse.observation.type", "tool"), ("openinference.span.kind", "LLM")])),
        SpanKind::Tool
    );
    assert_eq!(kind_of(&attrs(&[("openinference.span.kind", "CHAIN")])), SpanKind::Workflow);
    assert_eq!(kind_of(&attrs(&[("gen_ai.operation.name", "execute_tool")])), SpanKind::Tool);
    assert_eq!(kind_of(&attrs(&[("gen_ai.operation.name", "invoke_agent")])), SpanKind::Agent);
    assert_eq!(kind_of(&attrs(&[("gen_ai.operation.name", "chat")])), SpanKind::Model);
    assert_eq!(kind_of(&attrs(&[("gen_ai.request.model", "gpt-4o")])), SpanKind::Model);
    assert_eq!(kind_of(&attrs(&[("http.method", "GET")])), SpanKind::Custom);
}

#[test]
fn a_trace_becomes_one_run_whose_root_names_it_and_whose_spans_keep_their_parents() {
    let root = span(1, None, "agent run", vec![s("session.id", "conv-1")]);
    let child = span(
        2,
        Some(1),
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 100),
            i("gen_ai.usage.output_tokens", 20),
            i("gen_ai.usage.cache_read.input_tokens", 40),
            s("gen_ai.conversation.id", "inner"),
        ],
    );
    // Exporters send a span when it ends: the child comes first.
    let mapped = map(Uuid::nil(), request(vec![child, root]));
    assert_eq!(mapped.rejected, 0);
    let [trace] = mapped.batch.traces.as_slice() else { panic!("one trace") };
    assert_eq!(trace.run_id, Uuid::from_bytes(TRACE));
    let root = trace.root.as_ref().expect("the root is in the request");
    assert_eq!(root.name, "agent run");
    // The root's session wins over the conversation id of an inner span.
    assert_eq!(root.session, Some(derived(&[Uuid::nil().as_bytes(), b"session", b"conv-1"])));
    assert_eq!(root.metadata["service.name"], json!("agent-svc"));
    let model = trace.spans.iter().find(|s| s.name == "chat gpt-4o").expect("the model span");
    assert_eq!(model.kind, SpanKind::Model);
    assert_eq!(trace.parents.get(&model.id), Some(&trace.spans[1].id));
    assert_eq!(model.attributes["model"], json!("gpt-4o"));
    assert_eq!(model.attributes["input_tokens"], json!(100));
    assert_eq!(model.attributes["cached_input_tokens"], json!(40));
    assert_eq!(model.attributes["total_tokens"], json!(120));
    assert_eq!(model.attributes["otel.span_id"], json!("0202020202020202"));
}

#[test]
fn the_same_span_sent_twice_gets_the_same_ids() {
    let one = map(Uuid::nil(), request(vec![span(3, Some(1), "tool", vec![s("gen_ai.tool.call.arguments", "{}")])]));
    let two = map(Uuid::nil(), request(vec![span(3, Some(1), "tool", vec![s("gen_ai.tool.call.arguments", "{}")])]));
    assert_eq!(one.batch, two.batch);
    assert_eq!(one.batch.traces[0].events.len(), 1);
}

#[test]
fn broken_spans_are_rejected_one_by_one_beside_good_ones() {
    let mut bad_trace = span(4, None, "bad", vec![]);
    bad_trace.trace_id = vec![0; 16];
    let mut bad_id = span(5, None, "short id", vec![]);
    bad_id.span_id = vec![1, 2];
    let mut no_time = span(6, None, "no time", vec![]);
    no_time.start_time_unix_nano = 0;
    no_time.end_time_unix_nano = 0;
    let mapped = map(Uuid::nil(), request(vec![bad_trace, bad_id, no_time, span(1, None, "good", vec![])]));
    assert_eq!(mapped.rejected, 3);
    assert_eq!(mapped.batch.span_count(), 1);
    assert!(mapped.reasons[0].contains("trace_id"), "{:?}", mapped.reasons);
}

#[test]
fn an_error_status_and_its_exception_become_the_span_error() {
    let mut failed = span(1, None, "boom", vec![]);
    failed.status = Some(OtelStatus { code: status::StatusCode::Error as i32, message: "tool failed".into() });
    failed.events.push(span::Event {
        name: "exception".into(),
        time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![s("exception.type", "ValueError"), s("exception.stacktrace", "Traceback…")],
        ..span::Event::default()
    });
    let mapped = map(Uuid::nil(), request(vec![failed]));
    let span = &mapped.batch.traces[0].spans[0];
    assert_eq!(span.status, Status::Error);
    assert_eq!(span.error, Some(json!({"type": "ValueError", "message": "tool failed", "stacktrace": "Traceback…"})));
}

#[test]
fn nul_in_names_and_values_is_replaced() {
    let mapped = map(Uuid::nil(), request(vec![span(1, None, "a\0b", vec![s("k\0", "v\0")])]));
    let span = &mapped.batch.traces[0].spans[0];
    assert_eq!(span.name, "a\u{fffd}b");
    assert_eq!(span.attributes["k\u{fffd}"], json!("v\u{fffd}"));
}

#[test]
fn langfuse_usage_and_cost_details_are_figures() {
    let mapped = map(
        Uuid::nil(),
        request(vec![span(
            1,
            None,
            "generation",
            vec![
                s("langfuse.observation.type", "generation"),
                s("langfuse.observation.model.name", "claude-x"),
                s("langfuse.observation.usage_details", r#"{"input": 10, "output": 5}"#),
                s("langfuse.observation.cost_details", r#"{"input": 0.001, "output": 0.002}"#),
                s("langfuse.trace.name", "my trace"),
            ],
        )]),
    );
    let trace = &mapped.batch.traces[0];
    assert_eq!(trace.root.as_ref().map(|r| r.name.as_str()), Some("my trace"));
    let a = &trace.spans[0].attributes;
    assert_eq!((a["input_tokens"].clone(), a["output_tokens"].clone()), (json!(10), json!(5)));
    assert!((a["cost_usd"].as_f64().unwrap_or_default() - 0.003).abs() < 1e-12);
}

#[test]
fn messages_sharing_a_time_keep_their_order_a_microsecond_apart() {
    let messages = r#"[{"role":"system","parts":[{"type":"text","content":"a"}]},
                       {"role":"user","parts":[{"type":"text","content":"b"}]},
                       {"role":"user","parts":[{"type":"text","content":"c"}]}]"#;
    let mapped = map(Uuid::nil(), request(vec![span(1, None, "chat", vec![s("gen_ai.input.messages", messages)])]));
    let events = &mapped.batch.traces[0].events;
    let times: Vec<_> = events.iter().map(|e| e.created_at).collect();
    assert_eq!(events.iter().map(|e| e.content.clone()).collect::<Vec<_>>(), [json!("a"), json!("b"), json!("c")]);
    assert!(times.windows(2).all(|w| w[1] == w[0] + chrono::Duration::microseconds(1)), "{times:?}");
}
