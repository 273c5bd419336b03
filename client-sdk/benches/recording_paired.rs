//! NorthStar's recording cost as a ratio to OpenTelemetry's (issue 7, measure 1), measured in
//! alternating rounds: on a shared virtual machine the speed drifts by ±15 % within minutes, so
//! two criterion benchmarks a few seconds apart (`recording`) give ratios that move as much.
//! Here each round times both SDKs back to back (which goes first alternates), on the same
//! work, with the same timing as `recording` (the caller's CPU time, every record delivered
//! between chunks), and the ratio is taken per round: drift falls on both sides of each.
//!
//! `cargo bench -p northstar --bench recording_paired`: prints, per workload, the median time
//! per call of each SDK and the median and quartiles of the per-round ratio. Under `cargo test`
//! it runs a short smoke pass.

mod common;
mod workload;

use std::time::Duration;

use opentelemetry::trace::Tracer as _;
use workload::{
    CHUNK, northstar_delivered, northstar_run, northstar_run_handles, northstar_span, northstar_span_in, otel_run,
    otel_run_current, otel_run_handles, otel_span, otel_span_current, otel_span_in, timed,
};

/// Per-call times of one SDK and the other over the rounds, and the ratio per round.
struct Rounds {
    northstar: Vec<f64>,
    otel: Vec<f64>,
    ratio: Vec<f64>,
}

impl Rounds {
    fn measure(
        rounds: usize,
        calls: u64,
        mut northstar: impl FnMut() -> Duration,
        mut otel: impl FnMut() -> Duration,
    ) -> Self {
        let mut all = Self { northstar: Vec::new(), otel: Vec::new(), ratio: Vec::new() };
        #[expect(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
        let per_call = |d: Duration| d.as_nanos() as f64 / calls as f64;
        // Warm-up: both workers running, both allocators and caches filled.
        let _ = (northstar(), otel());
        for round in 0..rounds {
            let (n, o) = if round % 2 == 0 {
                let n = northstar();
                (n, otel())
            } else {
                let o = otel();
                (northstar(), o)
            };
            let (n, o) = (per_call(n), per_call(o));
            all.northstar.push(n);
            all.otel.push(o);
            all.ratio.push(n / o);
        }
        all
    }

    fn report(mut self, label: &str) {
        let quantile = |v: &mut Vec<f64>, q: f64| {
            v.sort_by(f64::total_cmp);
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index into a short list"
            )]
            v[((v.len() - 1) as f64 * q).round() as usize]
        };
        println!(
            "{label}: {} rounds  northstar {:.0} ns  opentelemetry {:.0} ns (medians per call)  ratio median {:.3}×  (quartiles {:.3}–{:.3})",
            self.ratio.len(),
            quantile(&mut self.northstar, 0.5),
            quantile(&mut self.otel, 0.5),
            quantile(&mut self.ratio, 0.5),
            quantile(&mut self.ratio, 0.25),
            quantile(&mut self.ratio, 0.75),
        );
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 200 } else { 3 };
    let guard = northstar::init(workload::northstar_options(common::endpoint(Duration::ZERO)));
    let provider = workload::otel_provider();
    let tracer = workload::otel_tracer(&provider);
    let flushed = || provider.force_flush().expect("flush");

    // Each workload three ways: as each SDK's users most often write it (`northstar::span`
    // makes its span current, `Tracer::start` does not); both spans made current; neither (the
    // parent given by a handle).
    // 10,000 spans a round: about 2.5 ms of northstar's time, 5 ms of OpenTelemetry's.
    let spans = 10 * CHUNK;
    let run = northstar::trace("bench");
    let per_span = tracer.in_span("bench", |trace| {
        let measure = |northstar: &dyn Fn(), otel: &dyn Fn()| {
            Rounds::measure(
                rounds,
                spans,
                || timed(spans, CHUNK, northstar, northstar_delivered),
                || timed(spans, CHUNK, otel, flushed),
            )
        };
        [
            ("", measure(&northstar_span, &|| otel_span(&tracer))),
            (", both made current", measure(&northstar_span, &|| otel_span_current(&tracer))),
            (", neither made current", measure(&|| northstar_span_in(&run), &|| otel_span_in(&tracer, &trace))),
        ]
    });
    drop(run);
    for (how, rounds) in per_span {
        rounds.report(&format!("span + 3 attributes + 1 event{how}"));
    }

    let runs = CHUNK;
    let measure = |northstar: &dyn Fn(), otel: &dyn Fn()| {
        Rounds::measure(
            rounds,
            runs,
            || timed(runs, CHUNK / 10, northstar, northstar_delivered),
            || timed(runs, CHUNK / 10, otel, flushed),
        )
    };
    measure(&northstar_run, &|| otel_run(&tracer)).report("run with 10 spans");
    measure(&northstar_run, &|| otel_run_current(&tracer)).report("run with 10 spans, all made current");
    measure(&northstar_run_handles, &|| otel_run_handles(&tracer)).report("run with 10 spans, none made current");

    let stats = northstar::stats();
    assert_eq!(stats.dropped(), 0, "every record must take the enqueue path: {stats:?}");
    let _ = provider.shutdown();
    drop(guard);
}
