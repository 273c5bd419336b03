//! Caller-thread cost of recording (issue 7, measure 1): one span with three attributes and one
//! event, and one run with ten spans, against OpenTelemetry's SDK doing the same work (a
//! `BatchSpanProcessor` with an exporter that discards), and the disabled SDK.
//!
//! Every record is accepted: each criterion sample times its calls, then (untimed) waits until
//! the worker has delivered them, so the queue never fills and no record takes the cheaper drop
//! path. The worker encodes and sends while the calls run, as it does in an application.
//! OpenTelemetry's processor is flushed the same way.
//!
//! The time is the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), the cost the issue
//! asks for: on two cores the caller shares a core with the worker and the local endpoint, and
//! wall-clock time would add however long the scheduler ran them instead (it varied 2× between
//! runs). Wall-clock time per call, preemption included, is `recording_tail`'s measure.
//!
//! `cargo bench -p northstar --bench recording`. Figures go in BENCHMARKS.md.

mod common;

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;

use criterion::{Criterion, criterion_group, criterion_main};
use northstar::{EventType, Options, SpanKind};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};

fn span_with_three_attributes_and_an_event() {
    let span = northstar::span("search_docs", SpanKind::Tool);
    span.set_attribute("tool", "search");
    span.set_attribute("attempt", 1);
    span.set_attribute("cached", false);
    span.event(EventType::ToolResult, "3 documents");
}

/// Calls between two drains: about 3,000 records, three of the worker's batches.
const CHUNK: u64 = 1_000;

/// The caller's CPU time for `iters` calls of `work`, made `chunk` at a time with `drain`
/// outside the timing after each chunk.
fn timed(iters: u64, chunk: u64, mut work: impl FnMut(), drain: impl Fn()) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = chunk.min(iters - done);
        let started = ThreadTime::now();
        for _ in 0..n {
            work();
        }
        elapsed += started.elapsed();
        drain();
        done += n;
    }
    elapsed
}

fn delivered() {
    assert!(northstar::flush(Duration::from_secs(120)), "the local endpoint accepts everything");
}

fn northstar_enabled(c: &mut Criterion) {
    let options = Options::default()
        .endpoint(common::endpoint(Duration::ZERO))
        .api_key("ns_bench")
        .enabled(true)
        .batch_size(1_000)
        .max_queue_size(10_000)
        .flush_interval(Duration::from_millis(20));
    let guard = northstar::init(options);
    {
        let _run = northstar::trace("bench");
        c.bench_function("northstar/span+3 attributes+1 event", |b| {
            b.iter_custom(|iters| timed(iters, CHUNK, span_with_three_attributes_and_an_event, delivered));
        });
    }
    c.bench_function("northstar/run with 10 spans", |b| {
        b.iter_custom(|iters| {
            let run = || {
                let _run = northstar::trace("bench-run");
                for _ in 0..10 {
                    span_with_three_attributes_and_an_event();
                }
            };
            timed(iters, CHUNK / 10, run, delivered)
        });
    });
    let stats = northstar::stats();
    eprintln!("northstar stats after the benches: {stats:?}");
    assert_eq!(stats.dropped(), 0, "every record must take the enqueue path: {stats:?}");
    drop(guard);
}

fn northstar_disabled(c: &mut Criterion) {
    let _guard = northstar::init(Options::default().enabled(false));
    let _run = northstar::trace("disabled");
    c.bench_function("northstar disabled/span+3 attributes+1 event", |b| {
        b.iter(span_with_three_attributes_and_an_event)
    });
}

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn otel_span(tracer: &impl opentelemetry::trace::Tracer) {
    let mut span = tracer.start("search_docs");
    span.set_attribute(KeyValue::new("tool", "search"));
    span.set_attribute(KeyValue::new("attempt", 1));
    span.set_attribute(KeyValue::new("cached", false));
    span.add_event("tool_result", vec![KeyValue::new("content", "3 documents")]);
    span.end();
}

fn opentelemetry(c: &mut Criterion) {
    let config = BatchConfigBuilder::default().with_max_queue_size(10_000).with_max_export_batch_size(1_000).build();
    let processor = BatchSpanProcessor::builder(Discard).with_batch_config(config).build();
    let provider = SdkTracerProvider::builder().with_span_processor(processor).build();
    let tracer = provider.tracer("bench");
    let flushed = || provider.force_flush().expect("flush");
    c.bench_function("opentelemetry/span+3 attributes+1 event", |b| {
        b.iter_custom(|iters| timed(iters, CHUNK, || otel_span(&tracer), flushed));
    });
    c.bench_function("opentelemetry/run with 10 spans", |b| {
        b.iter_custom(|iters| {
            let run = || {
                let mut root = tracer.start("bench-run");
                for _ in 0..10 {
                    otel_span(&tracer);
                }
                root.end();
            };
            timed(iters, CHUNK / 10, run, flushed)
        });
    });
    let _ = provider.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = northstar_disabled, northstar_enabled, opentelemetry
}
criterion_main!(benches);
