//! Caller-thread cost of recording (issue 7, measure 1): one span with three attributes and one
//! event, and one run with ten spans, against OpenTelemetry's SDK doing the same work (a
//! `BatchSpanProcessor` with an exporter that discards; its spans inside a trace, as northstar's
//! are inside a run), and the disabled SDK.
//!
//! Each workload comes in three forms, because `northstar::span` makes its span current and
//! `Tracer::start` does not: as each SDK's users most often write it; both spans made current
//! (`Tracer::in_span`); neither (northstar's `RunHandle::span`, OpenTelemetry's
//! `Tracer::start_with_context` under the parent's context).
//!
//! Every record is accepted: each criterion sample times its calls, then (untimed) waits until
//! the worker has delivered them, so the queue never fills and no record takes the cheaper drop
//! path. The worker encodes and sends while the calls run, as it does in an application.
//! OpenTelemetry's processor is flushed the same way.
//!
//! The time is the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), the cost the issue
//! asks for: on two cores the caller shares a core with the worker and the local endpoint, and
//! wall-clock time would add however long the scheduler ran them instead (it varied 2× between
//! runs). Wall-clock time per call, preemption included, is `recording_tail`'s measure; the
//! ratio to OpenTelemetry measured in alternating rounds is `recording_paired`'s.
//!
//! `cargo bench -p northstar --bench recording`. Figures go in BENCHMARKS.md.

mod common;
mod workload;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use northstar::Options;
use opentelemetry::trace::Tracer as _;
use workload::{
    CHUNK, northstar_delivered, northstar_run, northstar_run_handles, northstar_span, northstar_span_in, otel_run,
    otel_run_current, otel_run_handles, otel_span, otel_span_current, otel_span_in, timed,
};

fn northstar_enabled(c: &mut Criterion) {
    let guard = northstar::init(workload::northstar_options(common::endpoint(Duration::ZERO)));
    {
        let run = northstar::trace("bench");
        c.bench_function("northstar/span+3 attributes+1 event", |b| {
            b.iter_custom(|iters| timed(iters, CHUNK, northstar_span, northstar_delivered));
        });
        c.bench_function("northstar/span from a handle+3 attributes+1 event", |b| {
            b.iter_custom(|iters| timed(iters, CHUNK, || northstar_span_in(&run), northstar_delivered));
        });
    }
    c.bench_function("northstar/run with 10 spans", |b| {
        b.iter_custom(|iters| timed(iters, CHUNK / 10, northstar_run, northstar_delivered));
    });
    c.bench_function("northstar/run with 10 spans from handles", |b| {
        b.iter_custom(|iters| timed(iters, CHUNK / 10, northstar_run_handles, northstar_delivered));
    });
    let stats = northstar::stats();
    eprintln!("northstar stats after the benches: {stats:?}");
    assert_eq!(stats.dropped(), 0, "every record must take the enqueue path: {stats:?}");
    drop(guard);
}

fn northstar_disabled(c: &mut Criterion) {
    let _guard = northstar::init(Options::default().enabled(false));
    let _run = northstar::trace("disabled");
    c.bench_function("northstar disabled/span+3 attributes+1 event", |b| b.iter(northstar_span));
}

fn opentelemetry(c: &mut Criterion) {
    let provider = workload::otel_provider();
    let tracer = workload::otel_tracer(&provider);
    let flushed = || provider.force_flush().expect("flush");
    tracer.in_span("bench", |trace| {
        c.bench_function("opentelemetry/span+3 attributes+1 event", |b| {
            b.iter_custom(|iters| timed(iters, CHUNK, || otel_span(&tracer), flushed));
        });
        c.bench_function("opentelemetry/span made current+3 attributes+1 event", |b| {
            b.iter_custom(|iters| timed(iters, CHUNK, || otel_span_current(&tracer), flushed));
        });
        c.bench_function("opentelemetry/span under a given parent+3 attributes+1 event", |b| {
            b.iter_custom(|iters| timed(iters, CHUNK, || otel_span_in(&tracer, &trace), flushed));
        });
    });
    c.bench_function("opentelemetry/run with 10 spans", |b| {
        b.iter_custom(|iters| timed(iters, CHUNK / 10, || otel_run(&tracer), flushed));
    });
    c.bench_function("opentelemetry/run with 10 spans made current", |b| {
        b.iter_custom(|iters| timed(iters, CHUNK / 10, || otel_run_current(&tracer), flushed));
    });
    c.bench_function("opentelemetry/run with 10 spans under a given parent", |b| {
        b.iter_custom(|iters| timed(iters, CHUNK / 10, || otel_run_handles(&tracer), flushed));
    });
    let _ = provider.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = northstar_disabled, northstar_enabled, opentelemetry
}
criterion_main!(benches);
