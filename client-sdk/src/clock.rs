//! Time and ids for records: microsecond timestamps, strictly increasing across the process and
//! cheap to take (the CPU's counter once calibrated), and random ids from a thread-local
//! generator.

use std::sync::atomic::Ordering::Relaxed;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

/// The current time at microsecond precision (what both stores keep), strictly increasing
/// across the process: records made one after another never share a timestamp, so reads
/// ordered by time return a conversation's messages in the order they were recorded.
pub(crate) fn now() -> northstar_wire::Timestamp {
    timestamp(now_micros())
}

/// [`now`] as microseconds since the Unix epoch: what runs and spans keep until the worker
/// reads them (a `DateTime` costs a calendar computation; the worker pays it, not the caller).
///
/// Read from the CPU's time-stamp counter once the worker has calibrated it ([`anchor_clock`]),
/// which costs a fraction of the system call's path (three reads per span were the caller's
/// largest cost after its allocation); from the system clock before that.
pub(crate) fn now_micros() -> i64 {
    increasing(wall_micros())
}

/// The time a run or span ends, in microseconds since the Unix epoch: not a record's timestamp,
/// so it claims none. It is at least every timestamp [`now_micros`] gave before it (a parent
/// never ends before a child started, a latency is never negative) but may equal one; it costs
/// a load where [`now_micros`] pays an atomic compare-and-swap (BENCHMARKS.md §1).
pub(crate) fn end_micros() -> i64 {
    wall_micros().max(LAST_MICROS.load(Relaxed))
}

/// The clock before [`increasing`]: the counter once calibrated, else the system clock.
fn wall_micros() -> i64 {
    match COUNTER.get() {
        Some(counter) => counter.micros() + COUNTER_TO_WALL.load(Relaxed),
        None => system_micros(),
    }
}

fn system_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The time-stamp counter, scaled to microseconds since it was calibrated. On a machine
/// without a stable counter quanta reads the monotonic clock instead.
struct Counter {
    clock: quanta::Clock,
    origin: u64,
}

impl Counter {
    fn micros(&self) -> i64 {
        i64::try_from(self.clock.delta_as_nanos(self.origin, self.clock.raw()) / 1_000).unwrap_or(i64::MAX)
    }
}

static COUNTER: std::sync::OnceLock<Counter> = std::sync::OnceLock::new();
/// Wall-clock microseconds minus the counter's, as last measured.
static COUNTER_TO_WALL: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Calibrates the counter clock on first use (10–200 ms, on the worker's thread rather than a
/// caller's) and lines it up with the system clock again, so that the system clock's corrections
/// (NTP) reach the timestamps within a flush interval. Called by the worker at start and on
/// every tick. Timestamps stay strictly increasing across a correction ([`increasing`]).
pub(crate) fn anchor_clock() {
    let counter = COUNTER.get_or_init(|| {
        let clock = quanta::Clock::new();
        let counter = Counter { origin: clock.raw(), clock };
        // Before the counter is published: a caller that sees it sees the offset too.
        COUNTER_TO_WALL.store(system_micros() - counter.micros(), Relaxed);
        counter
    });
    COUNTER_TO_WALL.store(system_micros() - counter.micros(), Relaxed);
}

/// Microseconds since the Unix epoch as a timestamp.
pub(crate) fn timestamp(micros: i64) -> northstar_wire::Timestamp {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_else(Utc::now)
}

/// The last timestamp [`increasing`] gave.
static LAST_MICROS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn increasing(wall: i64) -> i64 {
    let mut last = LAST_MICROS.load(Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Relaxed, Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A new random (version 4) id, from a fast thread-local generator rather than a system call.
pub(crate) fn new_id() -> Uuid {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid()
}

/// `ended_at − started_at` in milliseconds (microsecond precision), so that the latency and the
/// two timestamps always agree. One clock read per end instead of a wall and a monotonic one:
/// timestamps never go backwards (see [`now`]), so neither does a latency.
pub(crate) fn latency_ms(started_at: i64, ended_at: i64) -> Value {
    let micros = ended_at.saturating_sub(started_at);
    #[expect(clippy::cast_precision_loss, reason = "a latency in microseconds is far below 2^52")]
    let ms = micros as f64 / 1000.0;
    json!(ms)
}

#[cfg(test)]
mod tests {
    use super::now;

    #[test]
    fn the_counter_clock_agrees_with_the_system_clock() {
        super::anchor_clock();
        for _ in 0..1_000 {
            let (before, counted, after) = (super::system_micros(), super::now_micros(), super::system_micros());
            // Generous: tests running beside this one take many timestamps within a microsecond,
            // and each must be later than the last. A wrong offset or scale is off by far more.
            assert!((before - 1_000_000..=after + 1_000_000).contains(&counted), "{before} {counted} {after}");
        }
    }

    #[test]
    fn an_end_is_never_before_a_timestamp_given_earlier() {
        for _ in 0..10_000 {
            let started = super::now_micros();
            let ended = super::end_micros();
            assert!(ended >= started, "{started} {ended}");
            // The next record still gets a timestamp of its own, later than the end.
            assert!(super::now_micros() > started);
        }
    }

    #[test]
    fn timestamps_strictly_increase_even_within_a_microsecond() {
        let stamps: Vec<_> = (0..10_000).map(|_| now()).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
        assert!(stamps.iter().all(|t| t.timestamp_subsec_nanos() % 1_000 == 0), "microsecond precision");
    }
}
