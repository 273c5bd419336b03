//! The work every SDK bench records, for northstar and for OpenTelemetry's SDK, and the timing
//! both are measured with.
#![allow(dead_code, reason = "each bench uses a different part of this module")]

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;
use northstar::{EventType, Options, SpanKind};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanId, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};

/// One span with three attributes and one event, under the current run.
pub fn northstar_span() {
    northstar_record(&northstar::span("search_docs", SpanKind::Tool));
}

/// What every measured span records: three attributes and one event.
fn northstar_record(span: &northstar::SpanHandle) {
    span.set_attribute("tool", "search");
    span.set_attribute("attempt", 1);
    span.set_attribute("cached", false);
    span.event(EventType::ToolResult, "3 documents");
}

/// [`northstar_span`] opened from a handle and not made current (`RunHandle::span`), as
/// [`otel_span_in`]'s is.
pub fn northstar_span_in(run: &northstar::RunHandle) {
    northstar_record(&run.span("search_docs", SpanKind::Tool));
}

/// [`northstar_run`] with its spans opened from the run's handle ([`northstar_span_in`]).
pub fn northstar_run_handles() {
    let run = northstar::trace("bench-run");
    for _ in 0..10 {
        northstar_span_in(&run);
    }
}

/// One run with ten such spans.
pub fn northstar_run() {
    let _run = northstar::trace("bench-run");
    for _ in 0..10 {
        northstar_span();
    }
}

/// NorthStar's options: a queue of 10,000 records and batches of 1,000, as [`otel_provider`]
/// gives OpenTelemetry's processor.
pub fn northstar_options(endpoint: String) -> Options {
    Options::default()
        .endpoint(endpoint)
        .api_key("ns_bench")
        .enabled(true)
        .batch_size(1_000)
        .max_queue_size(10_000)
        .flush_interval(Duration::from_millis(20))
}

/// Waits until the worker has delivered everything recorded.
pub fn northstar_delivered() {
    assert!(northstar::flush(Duration::from_secs(120)), "the local endpoint accepts everything");
}

/// OpenTelemetry's counterpart of [`northstar_span`], under the current context's span.
pub fn otel_span(tracer: &SdkTracer) {
    otel_record(tracer.start("search_docs"));
}

/// [`northstar_record`]'s counterpart, ending the span.
fn otel_record(mut span: impl opentelemetry::trace::Span) {
    span.set_attribute(KeyValue::new("tool", "search"));
    span.set_attribute(KeyValue::new("attempt", 1));
    span.set_attribute(KeyValue::new("cached", false));
    span.add_event("tool_result", vec![KeyValue::new("content", "3 documents")]);
    span.end();
}

/// [`otel_span`] made current while it records, as [`northstar_span`]'s is (`northstar::span`
/// enters the span it opens): `Tracer::in_span`, the attributes and event set through the
/// context's span, as OpenTelemetry's users write it.
pub fn otel_span_current(tracer: &SdkTracer) {
    tracer.in_span("search_docs", |cx| {
        let span = cx.span();
        span.set_attribute(KeyValue::new("tool", "search"));
        span.set_attribute(KeyValue::new("attempt", 1));
        span.set_attribute(KeyValue::new("cached", false));
        span.add_event("tool_result", vec![KeyValue::new("content", "3 documents")]);
    });
}

/// OpenTelemetry's counterpart of [`northstar_run`]: a root span made current, ten spans in it.
pub fn otel_run(tracer: &SdkTracer) {
    otel_ten(tracer, |tracer, _| otel_span(tracer));
}

/// A root span made current with ten spans in it, each made by `span` (given the root's context).
fn otel_ten(tracer: &SdkTracer, span: impl Fn(&SdkTracer, &opentelemetry::Context)) {
    tracer.in_span("bench-run", |run| {
        for _ in 0..10 {
            span(tracer, &run);
        }
    });
}

/// [`otel_span`] under a parent given explicitly rather than found in the current context, as
/// [`northstar_span_in`]'s is.
pub fn otel_span_in(tracer: &SdkTracer, parent: &opentelemetry::Context) {
    otel_record(tracer.start_with_context("search_docs", parent));
}

/// [`otel_run`] with its spans under the root given explicitly ([`otel_span_in`]).
pub fn otel_run_handles(tracer: &SdkTracer) {
    otel_ten(tracer, otel_span_in);
}

/// [`otel_run`] with each span made current ([`otel_span_current`]).
pub fn otel_run_current(tracer: &SdkTracer) {
    otel_ten(tracer, |tracer, _| otel_span_current(tracer));
}

/// A `BatchSpanProcessor` with [`northstar_options`]' queue and batch sizes and an exporter that
/// discards.
pub fn otel_provider() -> SdkTracerProvider {
    let config = BatchConfigBuilder::default().with_max_queue_size(10_000).with_max_export_batch_size(1_000).build();
    let processor = BatchSpanProcessor::builder(Discard).with_batch_config(config).build();
    SdkTracerProvider::builder().with_span_processor(processor).build()
}

pub fn otel_tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer("bench")
}

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // northstar's spans belong to a run; a span that starts a trace of its own does less.
        assert!(
            batch.iter().all(|s| s.parent_span_id != SpanId::INVALID || s.name.starts_with("bench")),
            "every measured span is inside a trace"
        );
        black_box(batch);
        Ok(())
    }
}

/// Calls between two drains: about 3,000 records, three of the worker's batches.
pub const CHUNK: u64 = 1_000;

/// The caller's CPU time for `iters` calls of `work`, made `chunk` at a time with `drain`
/// outside the timing after each chunk.
pub fn timed(iters: u64, chunk: u64, mut work: impl FnMut(), drain: impl Fn()) -> Duration {
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
