//! Ingest throughput (issue 7, measure 2): a load generator posting SDK-shaped batches (one
//! run, nine nested spans, forty events: 50 records, the SDK's default batch size) to the real
//! server binary for a fixed time, reporting records/s, request latency p50/p99, server CPU and
//! peak RSS; beside it, in the same run, the same number of rows written directly (Postgres
//! `COPY`; SQLite multi-row inserts in one transaction), the write path's physical limit.
//!
//! `cargo bench -p northstar-server --bench ingest_load` (release binary). Environment:
//! `LOAD_SECONDS` (default 10), `LOAD_CONCURRENCY` (default 4), `LOAD_RUNS_PER_SESSION` (default
//! 10, each connection writing its own sessions; 0: every run in one session), `LOAD_STORES`
//! (default `postgres,sqlite`). Over 150 s it is a soak: bodies are made as they are sent and no
//! reference is run (its rates print as NaN); sample the server's `VmRSS` beside it. Under
//! `cargo test`: a 1-second smoke pass.

mod support;

use std::process::Child;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

const KEY: &str = "ns_load_generator";
const RECORDS_PER_BATCH: u64 = 50;

fn start(env: &[(&str, String)]) -> (Child, u16) {
    let (child, port, _) = support::spawn_server(env, KEY);
    (child, port)
}

/// One SDK-shaped batch: a finished run, a root agent span with eight children, forty events.
fn batch(session: Uuid) -> Value {
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let run = Uuid::new_v4();
    let root = Uuid::new_v4();
    let mut spans = vec![json!({"id": root, "run_id": run, "kind": "agent", "name": "agent", "started_at": now,
        "ended_at": now, "status": "ok", "attributes": {"latency_ms": 1520.4}})];
    let children: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
    for (i, id) in children.iter().enumerate() {
        let model = i % 2 == 0;
        spans.push(json!({"id": id, "run_id": run, "parent_span_id": root, "kind": if model { "model" } else { "tool" },
            "name": if model { "llm.answer" } else { "search_docs" }, "started_at": now, "ended_at": now, "status": "ok",
            "attributes": if model { json!({"model": "gpt-4o-mini", "input_tokens": 812, "output_tokens": 64, "cost_usd": 0.00016, "latency_ms": 840.2}) }
                          else { json!({"latency_ms": 12.5}) }}));
    }
    let events: Vec<Value> = (0..40)
        .map(|i| {
            json!({"id": Uuid::new_v4(), "run_id": run, "span_id": children[i % 8],
                   "type": if i % 2 == 0 { "tool_arguments" } else { "tool_result" }, "created_at": now,
                   "content": {"query": "How do refunds work?", "hits": [{"doc": "kb/refunds.md", "score": 0.92}]}, "attributes": {}})
        })
        .collect();
    json!({"schema_version": 2, "sessions": [], "prompt_links": [], "scores": [],
           "runs": [{"id": run, "session_id": session, "name": "support-agent", "started_at": now, "ended_at": now,
                     "status": "ok", "metadata": {"project": "load", "cost_usd": 0.00064, "latency_ms": 1520.4}}],
           "spans": spans, "events": events})
}

struct Load {
    records_per_s: f64,
    p50: Duration,
    p99: Duration,
    cpu_cores: f64,
    rss_mib: f64,
    records: u64,
}

async fn generate(port: u16, pid: u32, seconds: u64, concurrency: usize) -> Load {
    let url = format!("http://127.0.0.1:{port}/functions/v1/ingest-traces");
    let client = reqwest::Client::new();
    let budget = (seconds as usize * 1_000).max(200);
    // Sessions of LOAD_RUNS_PER_SESSION runs (default 10), as `concurrency` independent
    // clients would write them: requests in flight at once belong to different sessions (one
    // SDK process posts its batches one after another). LOAD_RUNS_PER_SESSION=0: every run in
    // one session, written by every connection at once (the worst case for session figures).
    let per_session: usize = std::env::var("LOAD_RUNS_PER_SESSION").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let session_of = move |i: usize| match per_session {
        0 => 0,
        n => (i / (n * concurrency)) * concurrency + i % concurrency,
    };
    let sessions: Vec<Uuid> = (0..=session_of(budget - 1)).map(|_| Uuid::new_v4()).collect();
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    // The sessions first, in batches under the server's record limit.
    for some in sessions.chunks(northstar_wire::MAX_RECORDS) {
        let first = json!({"schema_version": 2,
                           "sessions": some.iter().map(|id| json!({"id": id, "created_at": now})).collect::<Vec<_>>()});
        let ok = client.post(&url).bearer_auth(KEY).body(first.to_string()).send().await.expect("session").status();
        assert_eq!(ok.as_u16(), 200);
    }
    // Up to 150 s the bodies are built before the clock starts, so the generator spends its CPU
    // on sending; a longer run (a soak) makes each when it is sent, since a thousand a second
    // of ~13 KiB each would not fit in memory.
    let made = |i: usize| bytes::Bytes::from(batch(sessions[session_of(i)]).to_string());
    let cpu_before;
    let (requests, elapsed, mut latencies) = if seconds <= 150 {
        let bodies: Vec<bytes::Bytes> = (0..budget).map(made).collect();
        cpu_before = support::cpu_seconds(pid);
        support::drive(url, "application/json", bodies, seconds, concurrency, Some(KEY)).await
    } else {
        let sessions = std::sync::Arc::new(sessions.clone());
        let make = move |i: usize| (i < budget).then(|| bytes::Bytes::from(batch(sessions[session_of(i)]).to_string()));
        cpu_before = support::cpu_seconds(pid);
        support::drive_with(url, "application/json", std::sync::Arc::new(make), seconds, concurrency, Some(KEY)).await
    };
    let cpu = support::cpu_seconds(pid) - cpu_before;
    latencies.sort_unstable();
    let records = requests * RECORDS_PER_BATCH;
    Load {
        records_per_s: records as f64 / elapsed,
        p50: support::quantile(&latencies, 0.5),
        p99: support::quantile(&latencies, 0.99),
        cpu_cores: cpu / elapsed,
        rss_mib: support::status_kib(pid, "VmHWM:") as f64 / 1024.0,
        records,
    }
}

/// The same rows as `batches` SDK batches, as (runs, spans, events) tuples for a direct write.
fn rows(batches: u64, session: Uuid) -> Vec<Value> {
    (0..batches).map(|_| batch(session)).collect()
}

async fn insert_sqlite(url: &str, project: Uuid, session: Uuid, batches: &[Value]) -> f64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
    let started = Instant::now();
    let mut tx = sqlx::Connection::begin(&mut conn).await.expect("begin");
    for b in batches {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO runs (id, session_id, project_id, name, started_at, ended_at, status, metadata) ",
        );
        qb.push_values(b["runs"].as_array().into_iter().flatten(), |mut q, r| {
            q.push_bind(r["id"].as_str().unwrap_or_default().to_owned())
                .push_bind(session.to_string())
                .push_bind(project.to_string())
                .push_bind(r["name"].as_str().unwrap_or_default().to_owned())
                .push_bind(r["started_at"].as_str().unwrap_or_default().to_owned())
                .push_bind(r["ended_at"].as_str().unwrap_or_default().to_owned())
                .push_bind("ok")
                .push_bind(r["metadata"].to_string());
        });
        qb.build().execute(&mut *tx).await.expect("runs");
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at, status, attributes) ",
        );
        qb.push_values(b["spans"].as_array().into_iter().flatten(), |mut q, s| {
            q.push_bind(s["id"].as_str().unwrap_or_default().to_owned())
                .push_bind(s["run_id"].as_str().unwrap_or_default().to_owned())
                .push_bind(project.to_string())
                .push_bind(s["parent_span_id"].as_str().map(str::to_owned))
                .push_bind(s["kind"].as_str().unwrap_or_default().to_owned())
                .push_bind(s["name"].as_str().unwrap_or_default().to_owned())
                .push_bind(s["started_at"].as_str().unwrap_or_default().to_owned())
                .push_bind(s["ended_at"].as_str().unwrap_or_default().to_owned())
                .push_bind("ok")
                .push_bind(s["attributes"].to_string());
        });
        qb.build().execute(&mut *tx).await.expect("spans");
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO events (id, run_id, span_id, project_id, type, created_at, content, attributes) ",
        );
        qb.push_values(b["events"].as_array().into_iter().flatten(), |mut q, e| {
            q.push_bind(e["id"].as_str().unwrap_or_default().to_owned())
                .push_bind(e["run_id"].as_str().unwrap_or_default().to_owned())
                .push_bind(e["span_id"].as_str().map(str::to_owned))
                .push_bind(project.to_string())
                .push_bind(e["type"].as_str().unwrap_or_default().to_owned())
                .push_bind(e["created_at"].as_str().unwrap_or_default().to_owned())
                .push_bind(e["content"].to_string())
                .push_bind(e["attributes"].to_string());
        });
        qb.build().execute(&mut *tx).await.expect("events");
    }
    tx.commit().await.expect("commit");
    (batches.len() as u64 * RECORDS_PER_BATCH) as f64 / started.elapsed().as_secs_f64()
}

fn print(label: &str, load: &Load, reference: f64, what: &str) {
    println!(
        "{label}: {:.0} records/s (p50 {:.1} ms, p99 {:.1} ms, server CPU {:.2} cores, peak RSS {:.0} MiB, {} records) | {what}: {:.0} rows/s | ratio {:.2}",
        load.records_per_s,
        load.p50.as_secs_f64() * 1e3,
        load.p99.as_secs_f64() * 1e3,
        load.cpu_cores,
        load.rss_mib,
        load.records,
        reference,
        load.records_per_s / reference
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
    println!("ingest load: {seconds} s, concurrency {concurrency}, {RECORDS_PER_BATCH} records per batch");
    if support::load_store("postgres") {
        load_postgres(&runtime, &admin_sql, &admin, seconds, concurrency);
    }
    if support::load_store("sqlite") {
        load_sqlite(&runtime, seconds, concurrency);
    }
}

fn load_postgres(
    runtime: &tokio::runtime::Runtime,
    admin_sql: &dyn Fn(String),
    admin: &str,
    seconds: u64,
    concurrency: usize,
) {
    let (served, direct) =
        (format!("ns_load_{}", Uuid::new_v4().simple()), format!("ns_copy_{}", Uuid::new_v4().simple()));
    admin_sql(format!("CREATE DATABASE {served}"));
    admin_sql(format!("CREATE DATABASE {direct}"));
    let (mut child, port) = start(&[("DATABASE_URL", support::database_url(admin, &served))]);
    let load = runtime.block_on(generate(port, child.id(), seconds, concurrency));
    let _ = child.kill();
    let _ = child.wait();
    // A soak (over 150 s) has no reference: it would hold every batch sent in memory.
    let copy = if seconds > 150 {
        f64::NAN
    } else {
        runtime.block_on(async {
            let url = support::database_url(admin, &direct);
            let (project, session) = support::reference_store(&url).await;
            let batches = load.records / RECORDS_PER_BATCH;
            let took = support::copy_postgres(&url, project, session, &rows(batches, session)).await;
            (batches * RECORDS_PER_BATCH) as f64 / took.as_secs_f64()
        })
    };
    print("Postgres", &load, copy, "COPY");
    admin_sql(format!("DROP DATABASE {served} WITH (FORCE)"));
    admin_sql(format!("DROP DATABASE {direct} WITH (FORCE)"));
}

fn load_sqlite(runtime: &tokio::runtime::Runtime, seconds: u64, concurrency: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, port) = start(&[("NORTHSTAR_DATA_DIR", dir.path().display().to_string())]);
    let load = runtime.block_on(generate(port, child.id(), seconds, concurrency));
    let _ = child.kill();
    let _ = child.wait();
    let reference_dir = tempfile::tempdir().expect("temp dir");
    let insert = if seconds > 150 {
        f64::NAN
    } else {
        runtime.block_on(async {
            let url = format!("sqlite://{}/reference.db", reference_dir.path().display());
            let (project, session) = support::reference_store(&url).await;
            insert_sqlite(&url, project, session, &rows(load.records / RECORDS_PER_BATCH, session)).await
        })
    };
    print("SQLite", &load, insert, "multi-row INSERT, one transaction");
}
