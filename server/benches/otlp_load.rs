//! OTLP ingest throughput (issue 23): a load generator exporting realistic agent traces over
//! OTLP/HTTP protobuf to the real server binary (one trace per export: an `invoke_agent` root,
//! four `chat` model calls with their messages and usage, four `execute_tool` calls with their
//! arguments and results: 9 spans, which the mapping stores as 9 spans and 16 events) for a
//! fixed time, reporting spans persisted per second (a 200 means committed), request latency
//! p50/p99, server CPU and peak RSS. Beside it, in the same run: native ingest of the same
//! records (the batch the mapping makes of one export, posted to `/functions/v1/ingest-traces`),
//! and on Postgres raw `COPY` of those rows. With `PHOENIX_PYTHON` (the python of a venv with
//! `arize-phoenix`), Arize Phoenix gets the same exports at the same concurrency, and its spans
//! persisted per second (counted in its database until the count stops growing) and peak RSS
//! are printed beside ours.
//!
//! `cargo bench -p northstar-server --bench otlp_load`. Environment: `LOAD_SECONDS` (default
//! 10), `LOAD_CONCURRENCY` (default 4), `LOAD_TRACES_PER_EXPORT` (default 1; exports of several
//! traces, as a batch span processor sends), `LOAD_STORES` (default `postgres,sqlite`),
//! `PHOENIX_PYTHON`. Under `cargo test`: a 1-second smoke pass of our server only.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use prost::Message;
use serde_json::{Value, json};
use uuid::Uuid;

const KEY: &str = "ns_otlp_load_generator";
const SPANS_PER_TRACE: u64 = 9;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..KeyValue::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// Agent traces per export: `LOAD_TRACES_PER_EXPORT`, default 1 (the small, per-request-bound
/// end of what exporters send; a batch span processor sends up to 512 spans per export).
fn traces_per_export() -> u64 {
    std::env::var("LOAD_TRACES_PER_EXPORT").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(1)
}

/// `traces` agent traces as one export, with fresh ids.
fn export(traces: u64) -> ExportTraceServiceRequest {
    let spans = (0..traces).flat_map(|_| trace_spans()).collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "support-agent")], ..Resource::default() }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

/// One agent trace's spans, root last, with fresh ids.
fn trace_spans() -> Vec<Span> {
    let trace = *Uuid::new_v4().as_bytes();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as u64;
    let span_id =
        |i: u64| (u64::from_le_bytes(trace[..8].try_into().expect("8 bytes")) ^ (i + 1)).to_le_bytes().to_vec();
    let ok = Some(Status { code: status::StatusCode::Ok as i32, message: String::new() });
    let mut spans = Vec::new();
    for i in 1..=8u64 {
        let (name, attributes) = if i % 2 == 1 {
            (
                "chat gpt-4o-mini",
                vec![
                    text("gen_ai.operation.name", "chat"),
                    text("gen_ai.request.model", "gpt-4o-mini"),
                    int("gen_ai.usage.input_tokens", 812),
                    int("gen_ai.usage.output_tokens", 64),
                    text(
                        "gen_ai.input.messages",
                        r#"[{"role":"system","parts":[{"type":"text","content":"You are a support agent. Answer from the knowledge base."}]},{"role":"user","parts":[{"type":"text","content":"How do refunds work for annual plans?"}]}]"#,
                    ),
                    text(
                        "gen_ai.output.messages",
                        r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"search_docs","arguments":{"query":"refunds annual plan"}}],"finish_reason":"tool_calls"}]"#,
                    ),
                ],
            )
        } else {
            (
                "execute_tool search_docs",
                vec![
                    text("gen_ai.operation.name", "execute_tool"),
                    text("gen_ai.tool.name", "search_docs"),
                    text("gen_ai.tool.call.id", "call_1"),
                    text("gen_ai.tool.call.arguments", r#"{"query":"refunds annual plan"}"#),
                    text("gen_ai.tool.call.result", r#"{"hits":[{"doc":"kb/refunds.md","score":0.92}]}"#),
                ],
            )
        };
        spans.push(Span {
            trace_id: trace.to_vec(),
            span_id: span_id(i),
            parent_span_id: span_id(0),
            name: name.into(),
            kind: 3,
            start_time_unix_nano: now + i * 1_000_000,
            end_time_unix_nano: now + i * 1_000_000 + 500_000,
            attributes,
            status: ok.clone(),
            ..Span::default()
        });
    }
    // The root ends last, so exporters send it last.
    spans.push(Span {
        trace_id: trace.to_vec(),
        span_id: span_id(0),
        name: "invoke_agent support".into(),
        kind: 1,
        start_time_unix_nano: now,
        end_time_unix_nano: now + 10_000_000,
        attributes: vec![
            text("gen_ai.operation.name", "invoke_agent"),
            text("session.id", &Uuid::new_v4().to_string()),
        ],
        status: ok,
        ..Span::default()
    });
    spans
}

/// What the mapping stores of one export, as a native batch: a session, the run, 9 spans, 16
/// events (2 per model call, 2 per tool call).
fn native(session: Uuid) -> Value {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let run = Uuid::new_v4();
    let root = Uuid::new_v4();
    let mut spans = vec![json!({"id": root, "run_id": run, "kind": "agent", "name": "invoke_agent support",
        "started_at": now, "ended_at": now, "status": "ok", "attributes": {"gen_ai.operation.name": "invoke_agent"}})];
    let mut events = Vec::new();
    for i in 1..=8 {
        let id = Uuid::new_v4();
        let model = i % 2 == 1;
        spans.push(json!({"id": id, "run_id": run, "parent_span_id": root, "kind": if model { "model" } else { "tool" },
            "name": if model { "chat gpt-4o-mini" } else { "execute_tool search_docs" }, "started_at": now, "ended_at": now,
            "status": "ok", "attributes": if model {
                json!({"gen_ai.operation.name": "chat", "model": "gpt-4o-mini", "input_tokens": 812, "output_tokens": 64})
            } else { json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search_docs"}) }}));
        let pair = if model {
            [
                ("user_input", json!("How do refunds work for annual plans?")),
                (
                    "tool_arguments",
                    json!({"id": "call_1", "name": "search_docs", "arguments": {"query": "refunds annual plan"}}),
                ),
            ]
        } else {
            [
                (
                    "tool_arguments",
                    json!({"id": "call_1", "name": "search_docs", "arguments": {"query": "refunds annual plan"}}),
                ),
                ("tool_result", json!({"hits": [{"doc": "kb/refunds.md", "score": 0.92}]})),
            ]
        };
        for (kind, content) in pair {
            events.push(json!({"id": Uuid::new_v4(), "run_id": run, "span_id": id, "type": kind, "created_at": now,
                               "content": content, "attributes": {}}));
        }
    }
    json!({"schema_version": 2, "sessions": [{"id": session, "created_at": now}], "prompt_links": [], "scores": [],
           "runs": [{"id": run, "session_id": session, "name": "invoke_agent support", "started_at": now, "ended_at": now,
                     "status": "ok", "metadata": {"source": "otlp"}}],
           "spans": spans, "events": events})
}

/// `traces` native batches (each with a session of its own) as one request.
fn native_export(traces: u64) -> Value {
    let mut batch = native(Uuid::new_v4());
    for _ in 1..traces {
        let more = native(Uuid::new_v4());
        for table in ["sessions", "runs", "spans", "events"] {
            let rows = more[table].as_array().cloned().unwrap_or_default();
            batch[table].as_array_mut().expect("a table").extend(rows);
        }
    }
    batch
}

/// Figures of one load.
struct Load {
    spans_per_s: f64,
    p50: Duration,
    p99: Duration,
    cpu_cores: f64,
    rss_mib: f64,
    spans: u64,
}

fn load_of(
    requests: u64,
    spans_per_request: u64,
    elapsed: f64,
    mut latencies: Vec<Duration>,
    pid: u32,
    cpu: f64,
) -> Load {
    latencies.sort_unstable();
    Load {
        spans_per_s: (requests * spans_per_request) as f64 / elapsed,
        p50: support::quantile(&latencies, 0.5),
        p99: support::quantile(&latencies, 0.99),
        cpu_cores: cpu / elapsed,
        rss_mib: support::status_kib(pid, "VmHWM:") as f64 / 1024.0,
        spans: requests * spans_per_request,
    }
}

fn print(label: &str, load: &Load) {
    println!(
        "{label}: {:.0} spans/s (p50 {:.1} ms, p99 {:.1} ms, server CPU {:.2} cores, peak RSS {:.0} MiB, {} spans)",
        load.spans_per_s,
        load.p50.as_secs_f64() * 1e3,
        load.p99.as_secs_f64() * 1e3,
        load.cpu_cores,
        load.rss_mib,
        load.spans
    );
}

/// OTLP, then native ingest of the same records, against one fresh server each.
fn ours(
    runtime: &tokio::runtime::Runtime,
    store: &str,
    env: &dyn Fn() -> Vec<(&'static str, String)>,
    seconds: u64,
    concurrency: usize,
) -> (Load, Load) {
    let traces = traces_per_export();
    let budget = (seconds as usize * 1_500 / traces as usize).max(300);
    let spans_per_export = SPANS_PER_TRACE * traces;
    let exports: Vec<bytes::Bytes> = (0..budget).map(|_| bytes::Bytes::from(export(traces).encode_to_vec())).collect();
    let (mut child, port, _) = support::spawn_server(&env(), KEY);
    let cpu = support::cpu_seconds(child.id());
    let (requests, elapsed, latencies) = runtime.block_on(support::drive(
        format!("http://127.0.0.1:{port}/v1/traces"),
        "application/x-protobuf",
        exports,
        seconds,
        concurrency,
        Some(KEY),
    ));
    let otlp =
        load_of(requests, spans_per_export, elapsed, latencies, child.id(), support::cpu_seconds(child.id()) - cpu);
    let _ = child.kill();
    let _ = child.wait();
    print(&format!("{store} OTLP/HTTP protobuf"), &otlp);

    let batches: Vec<bytes::Bytes> =
        (0..budget).map(|_| bytes::Bytes::from(native_export(traces).to_string())).collect();
    let (mut child, port, _) = support::spawn_server(&env(), KEY);
    let cpu = support::cpu_seconds(child.id());
    let (requests, elapsed, latencies) = runtime.block_on(support::drive(
        format!("http://127.0.0.1:{port}/functions/v1/ingest-traces"),
        "application/json",
        batches,
        seconds,
        concurrency,
        Some(KEY),
    ));
    let native_load =
        load_of(requests, spans_per_export, elapsed, latencies, child.id(), support::cpu_seconds(child.id()) - cpu);
    let _ = child.kill();
    let _ = child.wait();
    print(&format!("{store} native ingest, same records"), &native_load);
    (otlp, native_load)
}

/// Arize Phoenix from `python`, fed the same exports: its spans persisted per second (counted in
/// its database until the count stops growing) and its peak RSS.
fn phoenix(runtime: &tokio::runtime::Runtime, python: &str, seconds: u64, concurrency: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut child: Child = Command::new(python)
        .args(["-m", "phoenix.server.main", "serve"])
        .env("PHOENIX_WORKING_DIR", dir.path())
        .env("PHOENIX_PORT", port.to_string())
        .env("PHOENIX_GRPC_PORT", (port + 1).to_string())
        .env("PHOENIX_HOST", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("phoenix starts");
    let ready = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(ready.elapsed() < Duration::from_secs(120), "Phoenix did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let traces = traces_per_export();
    let budget = (seconds as usize * 200 / traces as usize).max(100);
    let exports: Vec<bytes::Bytes> = (0..budget).map(|_| bytes::Bytes::from(export(traces).encode_to_vec())).collect();
    let started = Instant::now();
    let (requests, _, latencies) = runtime.block_on(support::drive(
        format!("http://127.0.0.1:{port}/v1/traces"),
        "application/x-protobuf",
        exports,
        seconds,
        concurrency,
        None,
    ));
    let sent = requests * SPANS_PER_TRACE * traces;
    // Phoenix answers before it writes: count what its database holds until it stops growing.
    let db = format!("sqlite://{}/phoenix.db?mode=ro", dir.path().display());
    let (mut count, mut last_growth) = (0_i64, started.elapsed());
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_secs(5) && started.elapsed() < Duration::from_secs(seconds + 300) {
        std::thread::sleep(Duration::from_millis(250));
        let now: i64 = runtime.block_on(async {
            use sqlx::Connection;
            let Ok(mut conn) = sqlx::SqliteConnection::connect(&db).await else { return 0 };
            sqlx::query_scalar("SELECT COUNT(*) FROM spans").fetch_one(&mut conn).await.unwrap_or(0)
        });
        if now > count {
            count = now;
            last_growth = started.elapsed();
            stable_since = Instant::now();
        }
        if count as u64 >= sent {
            break;
        }
    }
    let rss = support::status_kib(child.id(), "VmHWM:") as f64 / 1024.0;
    let _ = child.kill();
    let _ = child.wait();
    let mut latencies = latencies;
    latencies.sort_unstable();
    let p50 = support::quantile(&latencies, 0.5);
    println!(
        "Phoenix OTLP/HTTP protobuf: {:.0} spans persisted/s ({count} of {sent} sent spans stored in {:.1} s; request p50 {:.1} ms; peak RSS {rss:.0} MiB)",
        count as f64 / last_growth.as_secs_f64(),
        last_growth.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let env_num = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let seconds = if full { env_num("LOAD_SECONDS", 10) } else { 1 };
    let concurrency = if full { env_num("LOAD_CONCURRENCY", 4) as usize } else { 2 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let admin = support::admin_url();
    let admin_sql = |sql: String| runtime.block_on(support::admin_sql(&admin, &sql));
    println!(
        "OTLP load: {seconds} s, concurrency {concurrency}, {} spans per export ({} traces)",
        SPANS_PER_TRACE * traces_per_export(),
        traces_per_export()
    );
    if support::load_store("postgres") {
        let databases: Vec<String> = (0..3).map(|_| format!("ns_otlp_{}", Uuid::new_v4().simple())).collect();
        for db in &databases {
            admin_sql(format!("CREATE DATABASE {db}"));
        }
        let next = std::cell::Cell::new(0);
        let env = || {
            let db = &databases[next.get()];
            next.set(next.get() + 1);
            vec![("DATABASE_URL", support::database_url(&admin, db))]
        };
        let (otlp, _) = ours(&runtime, "Postgres", &env, seconds, concurrency);
        let copy = runtime.block_on(async {
            let url = support::database_url(&admin, &databases[2]);
            let (project, session) = support::reference_store(&url).await;
            let traces = otlp.spans / SPANS_PER_TRACE;
            let batches: Vec<Value> = (0..traces).map(|_| native(session)).collect();
            let took = support::copy_postgres(&url, project, session, &batches).await;
            (traces * SPANS_PER_TRACE) as f64 / took.as_secs_f64()
        });
        println!(
            "Postgres COPY of the same rows: {copy:.0} spans/s (with their run and events) | OTLP / COPY {:.2}",
            otlp.spans_per_s / copy
        );
        for db in &databases {
            admin_sql(format!("DROP DATABASE {db} WITH (FORCE)"));
        }
    }
    if support::load_store("sqlite") {
        let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let next = std::cell::Cell::new(0);
        let env = || {
            let dir = &dirs[next.get()];
            next.set(next.get() + 1);
            vec![("NORTHSTAR_DATA_DIR", dir.path().display().to_string())]
        };
        ours(&runtime, "SQLite", &env, seconds, concurrency);
    }
    if full && let Ok(python) = std::env::var("PHOENIX_PYTHON") {
        phoenix(&runtime, &python, seconds, concurrency);
    }
}
