//! The run page's first view at any size (issue 24): runs of 10, 10,000 and 100,000 spans, each
//! opened cold (the run read and indexed) and warm. For each: the server's time to answer the
//! page and the bytes it sends, then in Chromium the time from navigation to a hydrated,
//! interactive page (the `northstar-hydrated` performance mark) and the page's JS heap.
//! The 10-span run is the reference: a big run should cost what a small one does.
//!
//! `cargo bench -p northstar-tests --bench first_view` (release server); under `cargo test` a
//! smoke pass with the 10-span run and a 1,000-span one.

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
    let browser = chromium::Browser::start().await;
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
    let project = chromium::login(&c, &base).await;
    let cookie = c.get_named_cookie("northstar_session").await.expect("login cookie");
    let cookie = format!("{}={}", cookie.name(), cookie.value());
    let http = reqwest::Client::new();
    println!("| spans | server, cold | server, warm | bytes | hydrated (Chromium) | JS heap |");
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
        let (cold, bytes) = get().await;
        let mut warm: Vec<Duration> = Vec::new();
        for _ in 0..5 {
            warm.push(get().await.0);
        }
        warm.sort();
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
        hydrated.sort_by(f64::total_cmp);
        println!(
            "| {} | {:.0} ms | {:.0} ms | {:.0} KiB | {:.0} ms | {:.1} MiB |",
            run.spans,
            cold.as_secs_f64() * 1000.0,
            warm[warm.len() / 2].as_secs_f64() * 1000.0,
            bytes as f64 / 1024.0,
            hydrated[hydrated.len() / 2],
            heap / 1_048_576.0,
        );
    }
    let _ = c.close().await;
}
