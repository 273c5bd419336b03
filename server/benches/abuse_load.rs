//! The server under abuse (issue 21), release binary on SQLite and on Postgres:
//!
//! 1. a login flood: 200 concurrent wrong logins for 20 s — peak RSS, how the logins were
//!    answered, and `/healthz` latency meanwhile against the same server at rest;
//! 2. 20 concurrent ingest bodies of close to 10 MiB — peak RSS;
//! 3. another project's small-batch ingest latency (p50/p99) while one key sends its worst legal
//!    batch (the most records a request may carry, just under the body limit) over and over,
//!    against the same small batches with nothing else.
//!
//! `cargo bench -p northstar-server --bench abuse_load`; under `cargo test` a short smoke pass.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const KEY: &str = "ns_abuse_bench_key_0123456789abcdefghij";
const T0: &str = "2026-12-07T10:00:00Z";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A worst legal batch: the most records a request may carry (one session, one run, spans with
/// ~250-byte attributes), just under the 10 MiB body limit.
fn worst_batch() -> Vec<u8> {
    let (s, r) = (id(), id());
    let spans: Vec<Value> = (0..northstar_wire::MAX_RECORDS - 2)
        .map(|i| {
            json!({"id": id(), "run_id": r, "kind": "tool", "name": "fetch_page", "started_at": T0, "ended_at": T0,
                   "status": "ok", "attributes": {"url": format!("https://example.com/{i}"),
                   "body": "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(4)}})
        })
        .collect();
    let body = json!({"schema_version": 2, "sessions": [{"id": s, "created_at": T0}],
                      "runs": [{"id": r, "session_id": s, "name": "crawl", "started_at": T0, "status": "running"}],
                      "spans": spans});
    body.to_string().into_bytes()
}

/// An SDK-sized batch: a session, a run, 48 spans.
fn small_batch() -> Vec<u8> {
    let (s, r) = (id(), id());
    let spans: Vec<Value> = (0..48)
        .map(|_| json!({"id": id(), "run_id": r, "kind": "model", "name": "llm", "started_at": T0, "ended_at": T0,
                        "status": "ok", "attributes": {"model": "gpt-4o-mini", "input_tokens": 100, "output_tokens": 20}}))
        .collect();
    json!({"schema_version": 2, "sessions": [{"id": s, "created_at": T0}],
           "runs": [{"id": r, "session_id": s, "name": "agent", "started_at": T0, "status": "ok", "ended_at": T0}],
           "spans": spans})
    .to_string()
    .into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

struct Run {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    fn peak_mib(&self) -> f64 {
        support::status_kib(self.child.id(), "VmHWM:") as f64 / 1024.0
    }

    async fn ingest(&self, key: &str, body: Vec<u8>) -> (u16, Duration) {
        let started = Instant::now();
        let status = match self
            .client
            .post(format!("{}/functions/v1/ingest-traces", self.base))
            .bearer_auth(key)
            .body(body)
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        (status, started.elapsed())
    }
}

async fn start(env: &[(&str, String)]) -> Run {
    let mut env = env.to_vec();
    env.push(("NORTHSTAR_ADMIN_EMAIL", "admin@example.com".into()));
    env.push(("NORTHSTAR_ADMIN_PASSWORD", "a long admin password".into()));
    let (child, port, _) = support::spawn_server(&env, KEY);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let run = Run { child, base: format!("http://127.0.0.1:{port}"), client };
    while !run.client.get(format!("{}/readyz", run.base)).send().await.is_ok_and(|r| r.status() == 200) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run
}

async fn healthz_latencies(run: &Run, until: Instant) -> Vec<Duration> {
    let mut all = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        let _ = run.client.get(format!("{}/healthz", run.base)).send().await;
        all.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    all.sort();
    all
}

async fn login_flood(run: &Run, seconds: u64) {
    let rest = healthz_latencies(run, Instant::now() + Duration::from_secs(2)).await;
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers = (0..200).map(|i| {
        let client = run.client.clone();
        let url = format!("{}/login", run.base);
        async move {
            let mut counts = [0u64; 4]; // 303, 429, 5xx, other
            while Instant::now() < until {
                let form = [("email", format!("user{}@example.com", i % 10)), ("password", format!("guess {i}"))];
                match client.post(&url).form(&form).send().await.map(|r| r.status().as_u16()) {
                    Ok(303) => counts[0] += 1,
                    Ok(429) => counts[1] += 1,
                    Ok(s) if s >= 500 => counts[2] += 1,
                    _ => counts[3] += 1,
                }
            }
            counts
        }
    });
    let (counts, during) = tokio::join!(futures_util::future::join_all(workers), healthz_latencies(run, until));
    let total = counts.iter().fold([0u64; 4], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2], a[3] + c[3]]);
    println!(
        "  login flood, 200 concurrent for {seconds} s: {} answered 303 (verified), {} 429, {} 5xx, {} other; \
         peak RSS {:.1} MiB; /healthz p50/p99 {} / {} (at rest {} / {})",
        total[0],
        total[1],
        total[2],
        total[3],
        run.peak_mib(),
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
        ms(percentile(&rest, 0.5)),
        ms(percentile(&rest, 0.99)),
    );
}

async fn big_bodies(run: &Run, concurrent: usize) {
    let body = worst_batch();
    let before = run.peak_mib();
    let started = Instant::now();
    let results = futures_util::future::join_all((0..concurrent).map(|_| run.ingest(KEY, body.clone()))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    statuses.sort_unstable();
    println!(
        "  {concurrent} concurrent bodies of {:.1} MiB: statuses {statuses:?} in {:.1} s; peak RSS {:.1} MiB (before {before:.1})",
        body.len() as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
        run.peak_mib(),
    );
}

async fn neighbour_latency(run: &Run, other_key: &str, seconds: u64) {
    let sample = |until: Instant| async move {
        let mut all = Vec::new();
        while Instant::now() < until {
            let (status, took) = run.ingest(other_key, small_batch()).await;
            assert_eq!(status, 200, "the neighbour's batch is stored");
            all.push(took);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        all.sort();
        all
    };
    let alone = sample(Instant::now() + Duration::from_secs(seconds)).await;
    let until = Instant::now() + Duration::from_secs(seconds);
    let worst = worst_batch();
    let heavy = async {
        let mut sent = 0;
        while Instant::now() < until {
            run.ingest(KEY, worst.clone()).await;
            sent += 1;
        }
        sent
    };
    let (during, sent) = tokio::join!(sample(until), heavy);
    println!(
        "  another project's 50-record batches: p50/p99 {} / {} alone, {} / {} while one key sent its worst legal batch \
         ({sent} batches of {} records in {seconds} s)",
        ms(percentile(&alone, 0.5)),
        ms(percentile(&alone, 0.99)),
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
        northstar_wire::MAX_RECORDS,
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seconds = if full { 20 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let admin = support::admin_url();
        for backend in ["SQLite", "Postgres"] {
            let dir = tempfile::tempdir().expect("temp dir");
            let name = format!("northstar_abuse_{}", uuid::Uuid::new_v4().simple());
            let env = if backend == "SQLite" {
                vec![("NORTHSTAR_DATA_DIR", dir.path().display().to_string())]
            } else {
                support::admin_sql(&admin, &format!("CREATE DATABASE {name}")).await;
                vec![("DATABASE_URL", support::database_url(&admin, &name))]
            };
            println!("{backend}:");
            {
                let run = start(&env).await;
                login_flood(&run, seconds).await;
            }
            {
                let run = start(&env).await;
                big_bodies(&run, if full { 20 } else { 2 }).await;
            }
            {
                let run = start(&env).await;
                let key = second_project(&env);
                neighbour_latency(&run, &key, seconds.max(2)).await;
            }
            if backend == "Postgres" {
                support::admin_sql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
            }
        }
    });
}

/// A second project's key, made with the CLI on the same store.
fn second_project(env: &[(&str, String)]) -> String {
    let out = std::process::Command::new(support::binary())
        .args(["project", "create", "--name", "neighbour"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NORTHSTAR_LOG", "error")
        .output()
        .expect("project create");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("API key:").map(|k| k.trim().to_owned()))
        .unwrap_or_else(|| panic!("no key in: {text}"))
}
