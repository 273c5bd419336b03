//! Tail latency of a record call while the backend is down or slow (issue 7, measure 1): the
//! caller must not notice. Times each call of "span + 3 attributes + 1 event" and prints
//! p50/p99/p99.9/max, with the drop counts. `cargo bench -p northstar --bench recording_tail`;
//! under `cargo test` it runs a short smoke pass.

mod common;
mod workload;

use std::time::{Duration, Instant};

use northstar::Options;

fn measure(label: &str, endpoint: String, calls: usize) {
    let options = Options::default()
        .endpoint(endpoint)
        .api_key("ns_bench")
        .enabled(true)
        .request_timeout(Duration::from_secs(30))
        .shutdown_timeout(Duration::from_millis(100));
    let guard = northstar::init(options);
    let run = northstar::trace("tail");
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        workload::northstar_span();
        samples.push(start.elapsed());
    }
    drop(run);
    let stats = northstar::stats();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label}: {calls} calls  p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}  (enqueued {}, dropped queue-full {})",
        at(0.5),
        at(0.99),
        at(0.999),
        samples[samples.len() - 1],
        stats.enqueued,
        stats.dropped_queue_full
    );
    drop(guard);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let calls = if full { 200_000 } else { 2_000 };
    measure("backend down (connection refused)", common::down_endpoint(), calls);
    measure("backend slow (answers after 5 s)", common::endpoint(Duration::from_secs(5)), calls);
    measure("backend fast", common::endpoint(Duration::ZERO), calls);
}
