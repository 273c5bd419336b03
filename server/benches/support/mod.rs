//! What the server benchmarks share: the release server as a child process, its /proc figures,
//! the Postgres admin connection and the load driver.
#![allow(dead_code, reason = "each bench uses a different part of this module")]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_northstar-server");

/// The Postgres admin URL the benchmarks create their databases with (as the tests do).
pub fn admin_url() -> String {
    std::env::var("NORTHSTAR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the admin URL's server.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, _) = admin.rsplit_once('/').expect("admin URL");
    format!("{base}/{name}")
}

/// Runs `sql` (`CREATE DATABASE …`) on the admin connection.
pub async fn admin_sql(admin: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("Postgres (run through scripts/test)");
    conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.expect("admin SQL");
}

/// Whether `LOAD_STORES` (default `postgres,sqlite`) names the store `name`.
pub fn load_store(name: &str) -> bool {
    std::env::var("LOAD_STORES").unwrap_or_else(|_| "postgres,sqlite".into()).split(',').any(|s| s.trim() == name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Starts `northstar-server serve` with `env` and the bootstrap `key`; returns the child, its
/// port, and the time from spawn until it accepted a connection.
pub fn spawn_server(env: &[(&str, String)], key: &str) -> (Child, u16, Duration) {
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("NORTHSTAR_BOOTSTRAP_API_KEY", key)
        .env("NORTHSTAR_LOG", "error")
        // Measured/stressed at full speed: no per-key rate limit.
        .env("NORTHSTAR_RATE_LIMIT_PER_SECOND", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().expect("wait").is_none(), "server exited");
        std::thread::sleep(Duration::from_millis(1));
    }
    (child, port, started.elapsed())
}

/// The binary under test, for its size.
pub fn binary() -> &'static str {
    BIN
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Writes the runs, spans and events of native `batches` with Postgres `COPY` in one
/// transaction (the write path's physical limit); the time it took.
pub async fn copy_postgres(url: &str, project: Uuid, session: Uuid, batches: &[Value]) -> Duration {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let text = |v: &Value| v.to_string().replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n");
    let mut runs = String::new();
    let mut spans = String::new();
    let mut events = String::new();
    for b in batches {
        for r in b["runs"].as_array().into_iter().flatten() {
            runs.push_str(&format!(
                "{}\t{session}\t{project}\t{}\t{}\t{}\tok\t{}\n",
                r["id"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
                r["started_at"].as_str().unwrap_or_default(),
                r["ended_at"].as_str().unwrap_or_default(),
                text(&r["metadata"])
            ));
        }
        for s in b["spans"].as_array().into_iter().flatten() {
            spans.push_str(&format!(
                "{}\t{}\t{project}\t{}\t{}\t{}\t{}\t{}\tok\t{}\n",
                s["id"].as_str().unwrap_or_default(),
                s["run_id"].as_str().unwrap_or_default(),
                s["parent_span_id"].as_str().unwrap_or("\\N"),
                s["kind"].as_str().unwrap_or_default(),
                s["name"].as_str().unwrap_or_default(),
                s["started_at"].as_str().unwrap_or_default(),
                s["ended_at"].as_str().unwrap_or_default(),
                text(&s["attributes"])
            ));
        }
        for e in b["events"].as_array().into_iter().flatten() {
            events.push_str(&format!(
                "{}\t{}\t{}\t{project}\t{}\t{}\t{}\t{}\n",
                e["id"].as_str().unwrap_or_default(),
                e["run_id"].as_str().unwrap_or_default(),
                e["span_id"].as_str().unwrap_or_default(),
                e["type"].as_str().unwrap_or_default(),
                e["created_at"].as_str().unwrap_or_default(),
                text(&e["content"]),
                text(&e["attributes"])
            ));
        }
    }
    let started = Instant::now();
    let mut tx = sqlx::Connection::begin(&mut conn).await.expect("begin");
    for (sql, data) in [
        (
            "COPY private.runs (id, session_id, project_id, name, started_at, ended_at, status, metadata) FROM STDIN",
            runs,
        ),
        (
            "COPY private.spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at, status, attributes) FROM STDIN",
            spans,
        ),
        (
            "COPY private.events (id, run_id, span_id, project_id, type, created_at, content, attributes) FROM STDIN",
            events,
        ),
    ] {
        let mut copy = tx.copy_in_raw(sql).await.expect("copy");
        copy.send(data.into_bytes()).await.expect("copy data");
        copy.finish().await.expect("copy finish");
    }
    tx.commit().await.expect("commit");
    started.elapsed()
}

/// A migrated store with one project and one session, for the direct-write reference.
pub async fn reference_store(url: &str) -> (Uuid, Uuid) {
    use northstar_store::{AnyStore, Store};
    let store = AnyStore::connect(url).await.expect("store");
    store.migrate().await.expect("migrate");
    let project = store.create_project("reference", "0000").await.expect("project").id;
    let session = Uuid::new_v4();
    let batch = northstar_wire::Batch::from_value(&json!({"schema_version": 2,
        "sessions": [{"id": session, "created_at": Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}]}))
    .expect("valid");
    store.ingest(project, &batch).await.expect("session");
    (project, session)
}

/// CPU seconds (user + system) of a process so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // utime, stime in USER_HZ (100 on Linux)
}

/// The `q` quantile of sorted `latencies` (zero when there are none).
pub fn quantile(latencies: &[Duration], q: f64) -> Duration {
    let last = latencies.len().saturating_sub(1);
    latencies.get(((latencies.len() as f64 * q) as usize).min(last)).copied().unwrap_or_default()
}

/// Posts the prepared `bodies` to `url` from `concurrency` clients for `seconds`.
pub async fn drive(
    url: String,
    content_type: &'static str,
    bodies: Vec<bytes::Bytes>,
    seconds: u64,
    concurrency: usize,
    key: Option<&'static str>,
) -> (u64, f64, Vec<Duration>) {
    let bodies = Arc::new(bodies);
    drive_with(url, content_type, Arc::new(move |i| bodies.get(i).cloned()), seconds, concurrency, key).await
}

/// [`drive`] with the `i`-th body made when it is sent (`None`: no more), for runs too long for
/// every body to be built first (a soak).
pub async fn drive_with(
    url: String,
    content_type: &'static str,
    bodies: Arc<dyn Fn(usize) -> Option<bytes::Bytes> + Send + Sync>,
    seconds: u64,
    concurrency: usize,
    key: Option<&'static str>,
) -> (u64, f64, Vec<Duration>) {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bodies, next, sent) =
            (client.clone(), url.clone(), bodies.clone(), next.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Relaxed) as usize;
                let Some(body) = bodies(i) else { break };
                let at = Instant::now();
                let mut request = client.post(&url).header("content-type", content_type).body(body);
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
                let response = request.send().await.expect("request");
                assert_eq!(response.status().as_u16(), 200, "{:?}", response.text().await);
                latencies.push(at.elapsed());
                sent.fetch_add(1, Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("task"));
    }
    (sent.load(Relaxed), started.elapsed().as_secs_f64(), latencies)
}
