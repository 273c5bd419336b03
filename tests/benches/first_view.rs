//! The run page's first view at any size (issue 24): runs of about 100, 10,000 and 100,000
//! spans. For each, in Chromium, the time from navigation to a hydrated, interactive page (the
//! `northstar-hydrated` performance mark), first on a cold server (the run read and indexed
//! for this view) and then warm, and the page's JS heap; then the server's time to answer the
//! page and the bytes it sends.
//! The 10-span run is the reference: a big run should cost what a small one does.
//!
//! Then the latency from an ingest request to the `change` event on a run page's live stream
//! (`/api/live`), p50 and p99 over a series of spans sent one by one, beside the ingest
//! request's own time (the reference: a page cannot hear of a write before it commits).
//!
//! `cargo bench -p northstar-tests --bench first_view` (release server, the embedded SQLite
//! store; `FIRST_VIEW_STORE=postgres` for a fresh database on the test Postgres); under
//! `cargo test` a smoke pass with the 10-span run and a 1,000-span one.

#[allow(dead_code, reason = "the harness is shared with the browser tests, which use all of it")]
#[path = "../e2e/chromium.rs"]
mod chromium;

use std::time::{Duration, Instant};

use northstar_test_support::fixtures;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if full { &[10, 10_000, 100_000] } else { &[10, 1_000] };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(measure(sizes));
}

async fn measure(sizes: &[usize]) {
    // The database lives as long as the measurement.
    let postgres = match std::env::var("FIRST_VIEW_STORE").as_deref() {
        Ok("postgres") => Some(northstar_test_support::PgDatabase::create().await),
        _ => None,
    };
    println!("store: {}", if postgres.is_some() { "Postgres" } else { "SQLite (embedded)" });
    let browser = chromium::Browser::start_on(postgres.as_ref().map(|db| db.url.as_str())).await;
    let c = browser.client.clone();
    let base = browser.base.clone();
    let mut runs = Vec::new();
    for &size in sizes {
        let (run, batches) = fixtures::big_run(size);
        for batch in &batches {
            browser.ingest(batch).await;
        }
        runs.push(run);
    }
    // As a person opens a run: not in the very moment its last batch is written (the database
    // is still writing its log back then).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let project = chromium::login(&c, &base).await;
    let cookie = c.get_named_cookie("northstar_session").await.expect("login cookie");
    let cookie = format!("{}={}", cookie.name(), cookie.value());
    let http = reqwest::Client::new();
    println!("| spans | hydrated in Chromium, cold server | hydrated, warm | server, warm | bytes | JS heap |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for run in &runs {
        let url = format!("{base}{project}/runs/{}", run.run);
        let get = || async {
            let started = Instant::now();
            let response = http.get(&url).header("cookie", &cookie).send().await.expect("page");
            assert_eq!(response.status(), 200);
            let bytes = response.bytes().await.expect("body").len();
            (started.elapsed(), bytes)
        };
        // Chromium first, on a cold server (the run not yet read since it was ingested), then
        // twice more warm; then the page's HTML alone, warm.
        let mut hydrated = Vec::new();
        let mut heap = 0.0;
        for _ in 0..3 {
            c.goto(&url).await.expect("open run");
            chromium::wait_for(&c, "//span[@id='hydrated' and @data-state='hydrated']").await;
            let at = c
                .execute("return performance.getEntriesByName('northstar-hydrated')[0].startTime", vec![])
                .await
                .expect("mark");
            hydrated.push(at.as_f64().expect("ms"));
            heap = c
                .execute("return performance.memory.usedJSHeapSize", vec![])
                .await
                .expect("heap")
                .as_f64()
                .unwrap_or(0.0);
        }
        let cold_hydrated = hydrated.remove(0);
        let (_, bytes) = get().await;
        let mut warm: Vec<Duration> = Vec::new();
        for _ in 0..5 {
            warm.push(get().await.0);
        }
        warm.sort();
        hydrated.sort_by(f64::total_cmp);
        println!(
            "| {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} KiB | {:.1} MiB |",
            run.spans,
            cold_hydrated,
            hydrated[hydrated.len() / 2],
            warm[warm.len() / 2].as_secs_f64() * 1000.0,
            bytes as f64 / 1024.0,
            heap / 1_048_576.0,
        );
    }
    let n = if sizes.len() > 2 { 100 } else { 5 };
    for run in [runs.first(), runs.last()].into_iter().flatten() {
        live_latency(&http, &base, &project, &cookie, run, n).await;
    }
    let _ = c.close().await;
}

/// Sends `n` spans of `run`, one at a time, each once the page's stream has told of the last.
async fn live_latency(
    http: &reqwest::Client,
    base: &str,
    project: &str,
    cookie: &str,
    run: &fixtures::BigRun,
    n: usize,
) {
    let project_id = project.trim_start_matches("/p/");
    let mut stream = http
        .get(format!("{base}/api/live?project={project_id}&run={}", run.run))
        .header("cookie", cookie)
        .send()
        .await
        .expect("follow the run");
    assert_eq!(stream.status(), 200);
    let (mut heard, mut ingest) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let span = fixtures::span(&fixtures::id(), &run.run, None);
        let started = Instant::now();
        chromium::ingest(base, &fixtures::batch(serde_json::json!({"spans": [span]}))).await;
        ingest.push(started.elapsed());
        let mut text = String::new();
        while !text.contains("event: change") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the stream")
                .expect("a chunk");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        heard.push(started.elapsed());
        // Past the stream's merging window, so each span is its own event.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
    };
    println!(
        "\ningest → live event on the page of a run of {} spans, {n} spans sent: p50 {:.1} ms, p99 {:.1} ms (the ingest request alone: p50 {:.1} ms, p99 {:.1} ms)",
        run.spans,
        pct(&mut heard, 0.5),
        pct(&mut heard, 0.99),
        pct(&mut ingest, 0.5),
        pct(&mut ingest, 0.99),
    );
}
