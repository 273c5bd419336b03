//! Query latency (issue 7, measure 3): a Postgres database seeded with 1M runs (a span and a
//! model span with two events each, in sessions of ten, over 90 days), one run of 10k spans and
//! one of 100k, served by the real (release) server; each page is fetched over HTTP, logged in,
//! as a browser would, and timed end to end on loopback (server-side rendering included).
//! Beside each, in the same run, the reference: the bare SQL that any implementation of that
//! page must at least run (the page of session ids by index; all spans of the run).
//!
//! `cargo bench -p northstar-server --bench query_latency`. Environment: `QUERY_RUNS` (default
//! 1,000,000), `QUERY_ITERATIONS` (default 30), `NORTHSTAR_TEST_DATABASE_URL` (an admin URL, as
//! for the tests), `QUERY_KEEP=1` (keep the database and print its URL, to look at plans). Under
//! `cargo test`: a smoke pass with 2,000 runs.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

const KEY: &str = "ns_query_bench";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "query bench password";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs, sessions, spans and events, generated inside Postgres (fast, and no client round trip).
fn seed_sql(project: &str, runs: u64) -> String {
    format!(
        "INSERT INTO private.sessions (id, project_id, created_at, ended_at, metadata)
           SELECT md5('s' || i)::uuid, '{project}'::uuid, now() - (i * interval '90 days') / {sessions},
                  CASE WHEN i % 7 = 0 THEN NULL ELSE now() - (i * interval '90 days') / {sessions} + interval '1 hour' END,
                  jsonb_build_object('user', 'user-' || (i % 1000))
           FROM generate_series(0, {sessions} - 1) AS i;
         INSERT INTO private.runs (id, session_id, project_id, name, started_at, ended_at, status, error, metadata)
           SELECT md5('r' || i)::uuid, md5('s' || (i / 10))::uuid, '{project}'::uuid, 'agent-' || (i % 50),
                  now() - (i * interval '90 days') / {runs}, now() - (i * interval '90 days') / {runs} + (i % 5000) * interval '1 ms',
                  CASE WHEN i % 20 = 0 THEN 'error' ELSE 'ok' END,
                  CASE WHEN i % 20 = 0 THEN '{{\"type\": \"Timeout\", \"message\": \"tool timed out\"}}'::jsonb END,
                  jsonb_build_object('ticket', 'T-' || i, 'cost_usd', 0.002)
           FROM generate_series(0, {runs} - 1) AS i;
         INSERT INTO private.spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at, status, attributes)
           SELECT md5('m' || i)::uuid, md5('r' || i)::uuid, '{project}'::uuid, NULL::uuid, 'model', 'llm.answer',
                  now() - (i * interval '90 days') / {runs}, now() - (i * interval '90 days') / {runs} + interval '800 ms', 'ok',
                  jsonb_build_object('model', CASE WHEN i % 3 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
                                     'input_tokens', 800, 'output_tokens', 60, 'cost_usd', 0.0002)
           FROM generate_series(0, {runs} - 1) AS i
           UNION ALL
           SELECT md5('t' || i)::uuid, md5('r' || i)::uuid, '{project}'::uuid, NULL::uuid, 'tool', 'search_docs',
                  now() - (i * interval '90 days') / {runs}, now() - (i * interval '90 days') / {runs} + interval '20 ms', 'ok', '{{}}'::jsonb
           FROM generate_series(0, {runs} - 1) AS i;
         INSERT INTO private.events (id, run_id, span_id, project_id, type, created_at, content, attributes)
           SELECT md5('e' || i || k)::uuid, md5('r' || i)::uuid, md5('m' || i)::uuid, '{project}'::uuid,
                  CASE WHEN k = 0 THEN 'user_input' ELSE 'assistant_message' END,
                  now() - (i * interval '90 days') / {runs}, to_jsonb('message ' || i), '{{}}'
           FROM generate_series(0, {runs} - 1) AS i, generate_series(0, 1) AS k;",
        sessions = runs.div_ceil(10),
    )
}

/// One run of `spans` spans: a root agent span, 100 workflow spans under it, model spans under those.
fn big_run_sql(project: &str, name: &str, spans: u64) -> String {
    let per = (spans - 101) / 100;
    format!(
        "INSERT INTO private.sessions (id, project_id, created_at) VALUES (md5('bs{name}')::uuid, '{project}'::uuid, now());
         INSERT INTO private.runs (id, session_id, project_id, name, started_at, ended_at, status, metadata)
           VALUES (md5('br{name}')::uuid, md5('bs{name}')::uuid, '{project}'::uuid, '{name}', now(), now() + interval '60 s', 'ok', '{{}}');
         INSERT INTO private.spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at, status, attributes)
           VALUES (md5('broot{name}')::uuid, md5('br{name}')::uuid, '{project}'::uuid, NULL, 'agent', 'root', now(), now() + interval '60 s', 'ok', '{{}}');
         INSERT INTO private.spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at, status, attributes)
           SELECT md5('bw{name}' || w)::uuid, md5('br{name}')::uuid, '{project}'::uuid, md5('broot{name}')::uuid, 'workflow', 'step-' || w,
                  now() + w * interval '10 ms', now() + w * interval '10 ms' + interval '500 ms', 'ok', '{{}}'
           FROM generate_series(0, 99) AS w;
         INSERT INTO private.spans (id, run_id, project_id, parent_span_id, kind, name, started_at, ended_at, status, attributes)
           SELECT md5('bm{name}' || w || '-' || j)::uuid, md5('br{name}')::uuid, '{project}'::uuid, md5('bw{name}' || w)::uuid, 'model',
                  'call-' || w || '-' || j, now() + w * interval '10 ms', now() + w * interval '10 ms' + interval '5 ms', 'ok',
                  '{{\"model\": \"gpt-4o-mini\", \"input_tokens\": 10, \"output_tokens\": 1, \"cost_usd\": 0.00001}}'
           FROM generate_series(0, 99) AS w, generate_series(1, {per}) AS j;"
    )
}

/// A session of `runs` runs (ended, one model span each).
fn crowded_session_sql(project: &str, runs: u64) -> String {
    format!(
        "INSERT INTO private.sessions (id, project_id, created_at) VALUES (md5('crowd')::uuid, '{project}'::uuid, now() - interval '1 day');
         INSERT INTO private.runs (id, session_id, project_id, name, started_at, ended_at, status, metadata)
           SELECT md5('cr' || i)::uuid, md5('crowd')::uuid, '{project}'::uuid, 'chat-turn',
                  now() - interval '1 day' + i * interval '1 ms', now() - interval '1 day' + i * interval '1 ms' + interval '500 ms', 'ok', '{{}}'
           FROM generate_series(0, {runs} - 1) AS i;
         INSERT INTO private.spans (id, run_id, project_id, kind, name, started_at, ended_at, status, attributes)
           SELECT md5('cm' || i)::uuid, md5('cr' || i)::uuid, '{project}'::uuid, 'model', 'llm',
                  now() - interval '1 day' + i * interval '1 ms', now() - interval '1 day' + i * interval '1 ms' + interval '400 ms', 'ok',
                  '{{\"model\": \"gpt-4o-mini\", \"input_tokens\": 100, \"output_tokens\": 10, \"cost_usd\": 0.0001}}'
           FROM generate_series(0, {runs} - 1) AS i;"
    )
}

/// Batches of one new run each (a model span, a tool span, two events) in session `session`.
fn turn_batches(session: uuid::Uuid, n: usize) -> Vec<bytes::Bytes> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let at = (now + chrono::Duration::milliseconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let (run, model, tool) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            let body = serde_json::json!({
                "schema_version": 2,
                "sessions": [{"id": session, "created_at": at}],
                "runs": [{"id": run, "session_id": session, "name": "chat-turn", "started_at": at, "ended_at": at, "status": "ok"}],
                "spans": [
                    {"id": model, "run_id": run, "kind": "model", "name": "llm", "started_at": at, "ended_at": at, "status": "ok",
                     "attributes": {"model": "gpt-4o-mini", "input_tokens": 100, "output_tokens": 10, "cost_usd": 0.0001}},
                    {"id": tool, "run_id": run, "kind": "tool", "name": "search", "started_at": at, "ended_at": at, "status": "ok"}
                ],
                "events": [
                    {"id": uuid::Uuid::new_v4(), "run_id": run, "type": "user_input", "created_at": at, "content": "hello"},
                    {"id": uuid::Uuid::new_v4(), "run_id": run, "span_id": model, "type": "assistant_message", "created_at": at, "content": "hi"}
                ]
            });
            bytes::Bytes::from(serde_json::to_vec(&body).expect("json"))
        })
        .collect()
}

async fn time_get(http: &reqwest::Client, url: &str, cookie: &str, iterations: usize) -> (Duration, Duration, usize) {
    time_get_with(http, url, ("cookie", cookie), iterations).await
}

/// [`time_get`] with any header (`authorization` for the public API).
async fn time_get_with(
    http: &reqwest::Client,
    url: &str,
    (header, value): (&str, &str),
    iterations: usize,
) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(iterations);
    let mut size = 0;
    for i in 0..=iterations {
        let started = Instant::now();
        let response = http.get(url).header(header, value).send().await.expect("request");
        assert_eq!(response.status(), 200, "{url}");
        size = response.bytes().await.expect("body").len();
        if i > 0 {
            times.push(started.elapsed()); // the first request warms caches and is not counted
        }
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95), size)
}

/// One row of a latency table: the request's p50, p95 and body beside the reference's.
fn print_row(label: &str, (p50, p95, size): (Duration, Duration, usize), (r50, r95): (Duration, Duration)) {
    println!(
        "| {label} | {} | {} | {:.0} KiB | {} / {} | {:.1}× |",
        ms(p50),
        ms(p95),
        size as f64 / 1024.0,
        ms(r50),
        ms(r95),
        p95.as_secs_f64() / r95.as_secs_f64().max(1e-6)
    );
}

async fn time_sql(conn: &mut PgConnection, sql: &str, iterations: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..=iterations {
        let started = Instant::now();
        conn.fetch_all(sqlx::AssertSqlSafe(sql.to_owned())).await.expect("reference query");
        times.push(started.elapsed());
    }
    times.remove(0);
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let env_num = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let runs = env_num("QUERY_RUNS", if smoke { 2_000 } else { 1_000_000 });
    let iterations = env_num("QUERY_ITERATIONS", if smoke { 2 } else { 30 }) as usize;
    let big = if smoke { [1_001, 2_001] } else { [10_001, 100_001] };

    let admin = support::admin_url();
    let name = format!("northstar_query_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.expect("Postgres (see NORTHSTAR_TEST_DATABASE_URL)");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create database");
    let url = format!("{}/{name}", admin.rsplit_once('/').expect("URL with a database").0);

    let env = [("DATABASE_URL", url.clone())];
    let (mut server, port, _) = support::spawn_server(&env, KEY);
    let mut db = PgConnection::connect(&url).await.expect("bench database");
    let project: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM private.projects").fetch_one(&mut db).await.expect("project");
    let project = project.to_string();

    let seeded = Instant::now();
    db.execute(sqlx::AssertSqlSafe(seed_sql(&project, runs))).await.expect("seed");
    for (label, spans) in [("big-10k", big[0]), ("big-100k", big[1]), ("big-100k-b", big[1])] {
        db.execute(sqlx::AssertSqlSafe(big_run_sql(&project, label, spans))).await.expect("seed big run");
    }
    // One session that already has `crowd` runs, for the ingest rate into it.
    let crowd = if smoke { 2_000 } else { 100_000 };
    db.execute(sqlx::AssertSqlSafe(crowded_session_sql(&project, crowd))).await.expect("seed the crowded session");
    let seed_time = seeded.elapsed();
    // Rows written around the server: their figures, as ingest would have kept them.
    let rebuilt = Instant::now();
    let rebuild = Command::new(support::binary())
        .arg("rebuild-figures")
        .env("DATABASE_URL", &url)
        .env("NORTHSTAR_LOG", "error")
        .output()
        .expect("rebuild-figures");
    assert!(rebuild.status.success(), "{}", String::from_utf8_lossy(&rebuild.stderr));
    let rebuild_time = rebuilt.elapsed();
    // What autovacuum does to a table whose every row was just rewritten (the figures): without
    // it, every count reads the heap for rows the visibility map does not yet vouch for.
    db.execute("VACUUM ANALYZE").await.expect("vacuum");

    let created = Command::new(support::binary())
        .args(["user", "create", "--email", EMAIL, "--admin"])
        .env("DATABASE_URL", &url)
        .env("NORTHSTAR_USER_PASSWORD", PASSWORD)
        .env("NORTHSTAR_LOG", "error")
        .output()
        .expect("user create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let base = format!("http://127.0.0.1:{port}");
    let login = http
        .post(format!("{base}/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();

    let mut big_ids = Vec::new();
    for label in ["big-10k", "big-100k"] {
        let sql = format!("SELECT md5('br{label}')::uuid");
        let id: uuid::Uuid = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut db).await.expect("id");
        big_ids.push(id);
    }
    let crowd_id: uuid::Uuid = sqlx::query_scalar("SELECT md5('crowd')::uuid").fetch_one(&mut db).await.expect("id");
    let p = &project;
    let pages = [
        (
            "sessions list, newest first (page 1)",
            format!("/p/{p}/sessions"),
            format!(
                "SELECT id FROM private.sessions WHERE project_id = '{p}' ORDER BY created_at DESC, id DESC LIMIT 50"
            ),
        ),
        (
            "sessions list, page 100",
            format!("/p/{p}/sessions?page=100"),
            format!(
                "SELECT id FROM private.sessions WHERE project_id = '{p}' ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 4950"
            ),
        ),
        (
            "sessions list, last 24 h",
            format!("/p/{p}/sessions?range=24h"),
            format!(
                "SELECT id FROM private.sessions WHERE project_id = '{p}' AND created_at >= now() - interval '24 hours' ORDER BY created_at DESC LIMIT 50"
            ),
        ),
        (
            "sessions list, status errored",
            format!("/p/{p}/sessions?status=errored"),
            format!(
                "SELECT DISTINCT session_id FROM private.runs WHERE project_id = '{p}' AND status = 'error' LIMIT 50"
            ),
        ),
        (
            "sessions list, sorted by cost",
            format!("/p/{p}/sessions?sort=cost"),
            format!(
                "SELECT session_id, sum((metadata->>'cost_usd')::float8) c FROM private.runs WHERE project_id = '{p}' GROUP BY session_id ORDER BY c DESC LIMIT 50"
            ),
        ),
        (
            "sessions list, text search (run metadata value)",
            format!("/p/{p}/sessions?q=T-4242"),
            format!(
                "SELECT id FROM private.runs WHERE project_id = '{p}' AND metadata->>'ticket' ILIKE '%T-4242%' LIMIT 50"
            ),
        ),
        (
            "runs list, errors",
            format!("/p/{p}/runs?status=error"),
            format!(
                "SELECT id FROM private.runs WHERE project_id = '{p}' AND status = 'error' ORDER BY started_at DESC LIMIT 50"
            ),
        ),
        (
            "runs list, newest first",
            format!("/p/{p}/runs"),
            format!("SELECT id FROM private.runs WHERE project_id = '{p}' ORDER BY started_at DESC LIMIT 50"),
        ),
        (
            "runs list, by cost",
            format!("/p/{p}/runs?sort=cost"),
            format!(
                "SELECT id FROM private.runs WHERE project_id = '{p}' ORDER BY COALESCE((metadata->>'cost_usd')::float8, 0) DESC LIMIT 50"
            ),
        ),
        (
            "runs list, by duration",
            format!("/p/{p}/runs?sort=duration&dir=asc"),
            format!("SELECT id FROM private.runs WHERE project_id = '{p}' ORDER BY ended_at - started_at LIMIT 50"),
        ),
        (
            "runs list, by tokens, errors",
            format!("/p/{p}/runs?sort=tokens&status=error"),
            format!(
                "SELECT id FROM private.runs WHERE project_id = '{p}' AND status = 'error' ORDER BY span_input + span_output DESC LIMIT 50"
            ),
        ),
        (
            "runs list, last 24 h",
            format!("/p/{p}/runs?range=24h"),
            format!(
                "SELECT id FROM private.runs WHERE project_id = '{p}' AND started_at >= now() - interval '24 hours' ORDER BY started_at DESC LIMIT 50"
            ),
        ),
        (
            "session page, 100k runs",
            format!("/p/{p}/sessions/{}", crowd_id),
            format!("SELECT id FROM private.runs WHERE session_id = '{}' ORDER BY started_at LIMIT 1000", crowd_id),
        ),
        (
            "run page, 10k spans",
            format!("/p/{p}/runs/{}", big_ids[0]),
            format!("SELECT * FROM private.spans WHERE run_id = '{}'", big_ids[0]),
        ),
        (
            "run page, 100k spans",
            format!("/p/{p}/runs/{}", big_ids[1]),
            format!("SELECT * FROM private.spans WHERE run_id = '{}'", big_ids[1]),
        ),
    ];

    println!(
        "query latency: {runs} runs (+ spans, events), seeded in {:.1} s, figures rebuilt in {:.1} s; {iterations} requests each",
        seed_time.as_secs_f64(),
        rebuild_time.as_secs_f64()
    );
    println!("| page | p50 | p95 | body | reference (bare SQL) p50 / p95 | ratio p95 |");
    println!("|---|---|---|---|---|---|");
    for (label, path, reference) in pages {
        let (p50, p95, size) = time_get(&http, &format!("{base}{path}"), &cookie, iterations).await;
        let (r50, r95) = time_sql(&mut db, &reference, iterations).await;
        print_row(label, (p50, p95, size), (r50, r95));
    }

    // The public API (issue 25): its runs list with each filter, a page by cursor, one run's
    // LLM-sized context, each beside the bare SQL; then every run exported as JSON Lines.
    let created = Command::new(support::binary())
        .args(["key", "create", "--project", p, "--name", "bench", "--scope", "read"])
        .env("DATABASE_URL", &url)
        .env("NORTHSTAR_LOG", "error")
        .output()
        .expect("key create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let out = String::from_utf8_lossy(&created.stdout);
    let read_key = out.lines().find_map(|l| l.strip_prefix("API key:")).expect("the key").trim().to_owned();
    let bearer = format!("Bearer {read_key}");
    let first: serde_json::Value = http
        .get(format!("{base}/api/v1/runs?fields=core"))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("runs")
        .json()
        .await
        .expect("json");
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let newest = format!("SELECT id FROM private.runs WHERE project_id = '{p}'");
    let api = [
        ("newest first", "/api/v1/runs".to_owned(), format!("{newest} ORDER BY started_at DESC LIMIT 50")),
        (
            "page 2 by cursor",
            format!("/api/v1/runs?cursor={cursor}"),
            format!("{newest} ORDER BY started_at DESC LIMIT 50 OFFSET 50"),
        ),
        (
            "light rows (fields=core), 1000",
            "/api/v1/runs?fields=core&limit=1000".to_owned(),
            format!("{newest} ORDER BY started_at DESC LIMIT 1000"),
        ),
        (
            "status=error",
            "/api/v1/runs?status=error".to_owned(),
            format!("{newest} AND status = 'error' ORDER BY started_at DESC LIMIT 50"),
        ),
        (
            "name (1 in 50 runs)",
            "/api/v1/runs?name=agent-7".to_owned(),
            format!("{newest} AND name = 'agent-7' ORDER BY started_at DESC LIMIT 50"),
        ),
        (
            "model (1 in 3 runs)",
            "/api/v1/runs?model=gpt-4o".to_owned(),
            format!("{newest} ORDER BY started_at DESC LIMIT 150"),
        ),
        (
            "model nobody used (every run probed)",
            "/api/v1/runs?model=claude-3-opus".to_owned(),
            format!(
                "SELECT run_id FROM private.spans WHERE project_id = '{p}' AND kind = 'model' AND attributes->>'model' = 'claude-3-opus' LIMIT 50"
            ),
        ),
        ("min_cost", "/api/v1/runs?min_cost=0.0001".to_owned(), format!("{newest} ORDER BY started_at DESC LIMIT 50")),
        (
            "min_latency_ms (1 in 5 runs)",
            "/api/v1/runs?min_latency_ms=4000".to_owned(),
            format!("{newest} AND ended_at - started_at >= interval '4 s' ORDER BY started_at DESC LIMIT 50"),
        ),
        (
            "metadata key:value (one run)",
            "/api/v1/runs?metadata=ticket:T-4242".to_owned(),
            format!("{newest} AND metadata->>'ticket' = 'T-4242' LIMIT 50"),
        ),
        (
            "text",
            "/api/v1/runs?text=T-4242".to_owned(),
            format!("{newest} AND metadata->>'ticket' ILIKE '%T-4242%' LIMIT 50"),
        ),
        (
            "last 24 h, errors",
            "/api/v1/runs?status=error&from=2000-01-01T00:00:00Z".to_owned(),
            format!("{newest} AND status = 'error' ORDER BY started_at DESC LIMIT 50"),
        ),
        (
            "score (none has one)",
            "/api/v1/runs?score_name=helpfulness&score_min=0.5".to_owned(),
            format!("SELECT id FROM private.scores WHERE project_id = '{p}' AND name = 'helpfulness' LIMIT 50"),
        ),
        (
            "run context, 10k spans",
            format!("/api/v1/runs/{}/context", big_ids[0]),
            format!("SELECT * FROM private.spans WHERE run_id = '{}'", big_ids[0]),
        ),
        (
            "run context, 10k spans, 1 MB",
            format!("/api/v1/runs/{}/context?max_bytes=1000000", big_ids[0]),
            format!("SELECT * FROM private.spans WHERE run_id = '{}'", big_ids[0]),
        ),
    ];
    println!("\n| GET (public API, read key) | p50 | p95 | body | reference (bare SQL) p50 / p95 | ratio p95 |");
    println!("|---|---|---|---|---|---|");
    for (label, path, reference) in api {
        let (p50, p95, size) =
            time_get_with(&http, &format!("{base}{path}"), ("authorization", &bearer), iterations).await;
        let (r50, r95) = time_sql(&mut db, &reference, iterations).await;
        print_row(label, (p50, p95, size), (r50, r95));
    }
    // Every run exported, read as a client reads a stream; the server's memory sampled meanwhile.
    let rss_before = support::status_kib(server.id(), "VmRSS:");
    let pid = server.id();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push(support::status_kib(pid, "VmRSS:"));
                std::thread::sleep(Duration::from_millis(50));
            }
            samples
        })
    };
    let started = Instant::now();
    let mut export =
        http.get(format!("{base}/api/v1/export")).header("authorization", &bearer).send().await.expect("export");
    assert_eq!(export.status(), 200);
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = export.chunk().await.expect("export stream") {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
    }
    let export_time = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.join().expect("sampler");
    let peak = samples.iter().copied().max().unwrap_or(0);
    // The peak of each quarter of the export: flat if memory does not grow with the range.
    let quarters: Vec<String> = samples
        .chunks(samples.len().div_ceil(4).max(1))
        .map(|q| format!("{}", q.iter().copied().max().unwrap_or(0) / 1024))
        .collect();
    let reference = Instant::now();
    db.execute(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT sum(length(r::text)) FROM private.runs r WHERE project_id = '{p}'),
                (SELECT sum(length(s::text)) FROM private.spans s WHERE project_id = '{p}'),
                (SELECT sum(length(e::text)) FROM private.events e WHERE project_id = '{p}')"
    )))
    .await
    .expect("reference");
    let reference = reference.elapsed();
    println!(
        "\nexport of every run (JSON Lines): {lines} runs, {:.0} MiB in {:.1} s = {:.0} runs/s; server memory {} MiB before, peak {} MiB during (peak of each quarter: {} MiB); reference (bare SQL reading every run, span and event as text): {:.1} s",
        bytes as f64 / 1024.0 / 1024.0,
        export_time.as_secs_f64(),
        lines as f64 / export_time.as_secs_f64(),
        rss_before / 1024,
        peak / 1024,
        quarters.join(" / "),
        reference.as_secs_f64(),
    );

    // Four people open a 100k-span run nobody has opened yet, at once, while a fifth pages
    // the sessions list: each one's wait, the list's, and the server's memory after.
    let cold: uuid::Uuid = sqlx::query_scalar("SELECT md5('brbig-100k-b')::uuid").fetch_one(&mut db).await.expect("id");
    let rss_before = support::status_kib(server.id(), "VmRSS:");
    let viewers = (0..4).map(|_| {
        let (http, url, cookie) = (http.clone(), format!("{base}/p/{p}/runs/{cold}"), cookie.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let response = http.get(&url).header("cookie", cookie).send().await.expect("run page");
            assert_eq!(response.status(), 200);
            let size = response.bytes().await.expect("body").len();
            (started.elapsed(), size)
        })
    });
    let viewers: Vec<_> = viewers.collect();
    let mut list_times = Vec::new();
    let list_url = format!("{base}/p/{p}/sessions");
    while !viewers.iter().all(|v| v.is_finished()) {
        let started = Instant::now();
        let response = http.get(&list_url).header("cookie", &cookie).send().await.expect("sessions");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
        list_times.push(started.elapsed());
    }
    let mut waits = Vec::new();
    for v in viewers {
        waits.push(v.await.expect("viewer"));
    }
    list_times.sort();
    println!(
        "\nfour viewers open a cold 100k-span run at once: {} each ({} KiB each); sessions list meanwhile: {} requests, p50 {} / max {}; server memory {} → {} MiB (peak {} MiB)",
        waits.iter().map(|(d, _)| ms(*d)).collect::<Vec<_>>().join(", "),
        waits.first().map_or(0, |w| w.1) / 1024,
        list_times.len(),
        list_times.get(list_times.len() / 2).map_or("-".into(), |d| ms(*d)),
        list_times.last().map_or("-".into(), |d| ms(*d)),
        rss_before / 1024,
        support::status_kib(server.id(), "VmRSS:") / 1024,
        support::status_kib(server.id(), "VmHWM:") / 1024,
    );

    // Ingest: a batch per new run into the session that has `crowd` runs, and into a fresh
    // one, each from four clients; the session figures must not cost more as it grows. Four
    // rounds, the two sessions taking turns, so the machine's drift falls on both alike.
    let ingest = format!("{base}/functions/v1/ingest-traces");
    let turns = if smoke { 50 } else { 6_000 };
    let seconds = if smoke { 2 } else { 15 };
    let fresh = uuid::Uuid::new_v4();
    println!("\n| ingest, one run per batch, 4 clients | batches/s | p50 | p99 |\n|---|---|---|---|");
    for round in 0..4 {
        let (label, session) = if round % 2 == 0 {
            (format!("into a session of {crowd} runs"), crowd_id)
        } else {
            ("into a fresh session".to_owned(), fresh)
        };
        let bodies = turn_batches(session, turns);
        let (sent, elapsed, mut latencies) =
            support::drive(ingest.clone(), "application/json", bodies, seconds, 4, Some(KEY)).await;
        latencies.sort();
        println!(
            "| {label} | {:.0} | {} | {} |",
            sent as f64 / elapsed,
            ms(support::quantile(&latencies, 0.5)),
            ms(support::quantile(&latencies, 0.99))
        );
    }
    let counted: (i64, f64) = sqlx::query_as("SELECT run_count, cost_usd FROM private.sessions WHERE id = $1")
        .bind(crowd_id)
        .fetch_one(&mut db)
        .await
        .expect("crowded session");
    let actual: (i64, f64) =
        sqlx::query_as("SELECT count(*), COALESCE(sum(span_cost), 0) FROM private.runs WHERE session_id = $1")
            .bind(crowd_id)
            .fetch_one(&mut db)
            .await
            .expect("its runs");
    assert_eq!(counted.0, actual.0, "the session's run count is exact");
    assert!((counted.1 - actual.1).abs() < 1e-6, "the session's cost is exact: {counted:?} vs {actual:?}");

    let _ = server.kill();
    let _ = server.wait();
    drop(db);
    if std::env::var_os("QUERY_KEEP").is_some() {
        println!("kept: {url}");
        return;
    }
    let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
}
