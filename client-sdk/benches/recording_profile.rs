//! One SDK workload alone, for a profiler or for comparing two builds back to back (issue 7:
//! profile the hot paths). The other benches run both SDKs in one process, which a profile of
//! either would mix up.
//!
//! `cargo bench -p northstar --bench recording_profile -- WORKLOAD [CALLS]` records CALLS calls
//! (default 1,000,000) of one workload with the timing of `recording_paired` (the caller's CPU
//! time, everything delivered between chunks) and prints the time per call. WORKLOAD is
//! `span` / `span-current` / `run` (northstar: opened from a handle, made current, a run of ten
//! spans from handles) or `otel-span` / `otel-run` (OpenTelemetry's counterparts of `span` and
//! `run`). Run the binary cargo prints under `perf record` or `valgrind --tool=callgrind`.
//! Without a workload (as under `cargo test`) it runs each one 1,000 times as a smoke pass.

mod common;
mod workload;

use std::time::Duration;

use opentelemetry::trace::Tracer as _;
use workload::{
    CHUNK, northstar_delivered, northstar_run_handles, northstar_span, northstar_span_in, otel_run_handles,
    otel_span_in, timed,
};

const WORKLOADS: [&str; 5] = ["span", "span-current", "run", "otel-span", "otel-run"];

fn main() {
    // `cargo bench` passes `--bench` first; the workload and count follow.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (chosen, calls): (Vec<&str>, u64) = match args.first() {
        Some(w) => {
            assert!(WORKLOADS.contains(&w.as_str()), "workload must be one of {WORKLOADS:?}, not {w}");
            (vec![w.as_str()], args.get(1).map_or(1_000_000, |n| n.parse().expect("CALLS is a number")))
        }
        None => (WORKLOADS.to_vec(), 1_000),
    };
    let guard = northstar::init(workload::northstar_options(common::endpoint(Duration::ZERO)));
    let provider = workload::otel_provider();
    let tracer = workload::otel_tracer(&provider);
    let flushed = || provider.force_flush().expect("flush");
    let run = northstar::trace("bench");
    tracer.in_span("bench", |trace| {
        for name in chosen {
            let elapsed = match name {
                "span" => timed(calls, CHUNK, || northstar_span_in(&run), northstar_delivered),
                "span-current" => timed(calls, CHUNK, northstar_span, northstar_delivered),
                "run" => timed(calls, CHUNK / 10, northstar_run_handles, northstar_delivered),
                "otel-span" => timed(calls, CHUNK, || otel_span_in(&tracer, &trace), flushed),
                _ => timed(calls, CHUNK / 10, || otel_run_handles(&tracer), flushed),
            };
            #[expect(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
            let per_call = elapsed.as_nanos() as f64 / calls as f64;
            println!("{name}: {calls} calls, {per_call:.1} ns per call (caller's CPU time)");
        }
    });
    drop(run);
    let stats = northstar::stats();
    assert_eq!(stats.dropped(), 0, "every record must take the enqueue path: {stats:?}");
    let _ = provider.shutdown();
    drop(guard);
}
