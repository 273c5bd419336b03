//! Caller-thread cost of recording (issue 7, measure 1): one span with three attributes and one
//! event, and one run with ten spans, against OpenTelemetry's SDK doing the same work (a
//! `BatchSpanProcessor` with an exporter that discards), and the disabled SDK.
//!
//! `cargo bench -p northstar --bench recording`. Figures go in BENCHMARKS.md.

mod common;

use std::hint::black_box;
use std::time::Duration;

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

fn northstar_enabled(c: &mut Criterion) {
    let options = Options::default()
        .endpoint(common::endpoint(Duration::ZERO))
        .api_key("ns_bench")
        .enabled(true)
        .batch_size(1_000)
        .max_queue_size(1_000_000)
        .flush_interval(Duration::from_millis(20));
    let guard = northstar::init(options);
    {
        let _run = northstar::trace("bench");
        c.bench_function("northstar/span+3 attributes+1 event", |b| b.iter(span_with_three_attributes_and_an_event));
    }
    c.bench_function("northstar/run with 10 spans", |b| {
        b.iter(|| {
            let _run = northstar::trace("bench-run");
            for _ in 0..10 {
                span_with_three_attributes_and_an_event();
            }
        });
    });
    let stats = northstar::stats();
    eprintln!("northstar stats after the benches: {stats:?}");
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
    let config = BatchConfigBuilder::default().with_max_queue_size(1_000_000).with_max_export_batch_size(1_000).build();
    let processor = BatchSpanProcessor::builder(Discard).with_batch_config(config).build();
    let provider = SdkTracerProvider::builder().with_span_processor(processor).build();
    let tracer = provider.tracer("bench");
    c.bench_function("opentelemetry/span+3 attributes+1 event", |b| {
        b.iter(|| otel_span(&tracer));
    });
    c.bench_function("opentelemetry/run with 10 spans", |b| {
        b.iter(|| {
            let mut root = tracer.start("bench-run");
            for _ in 0..10 {
                otel_span(&tracer);
            }
            root.end();
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
