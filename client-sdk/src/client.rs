//! The explicit API: [`Client`] → [`SessionHandle`] → [`RunHandle`] → [`SpanHandle`].
//!
//! Handles carry their ids and end on drop. Recording pushes onto a lock-free bounded queue (a
//! run or span as a reference to its state, an event as a small owned record unless it can wait
//! inside its queued span): no I/O, no serialization, and no lock the worker holds during I/O.
//! Sessions and runs are in `run.rs`, spans in `span.rs`.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use northstar_wire::{Score, ScoreDataType, ScoreSource};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::options::{ConfigError, Options};
use crate::run::SessionHandle;
use crate::stats::{Counters, Stats};
use crate::worker::PushError::{Closed, Full};
use crate::worker::{Control, Queue, Record, Worker};
use northstar_pricing::PriceTable;

pub(crate) struct Inner {
    pub(crate) options: Options,
    pub(crate) queue: Arc<Queue>,
    control: mpsc::UnboundedSender<Control>,
    stop: Arc<tokio::sync::Notify>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) prices: PriceTable,
    shut_down: AtomicBool,
}

/// A connection to a NorthStar server: the queue and the `northstar-flush` worker thread.
/// Cheap to clone. A client built from inactive options (disabled, or no key or endpoint) is a
/// no-op: no thread, no queue, and every handle it gives out records nothing.
#[derive(Clone, Default)]
pub struct Client {
    pub(crate) inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("enabled", &self.is_enabled()).finish()
    }
}

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
/// a load where [`now_micros`] pays an atomic compare-and-swap (about 4.5 ns; BENCHMARKS.md).
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

#[doc(hidden)]
/// Serializes a user value for capture; a value serde cannot encode becomes a description of
/// the failure instead of an error in the caller's code.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|err| json!({"northstar_capture_error": err.to_string()}))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

impl Client {
    /// A client for `options`; unset fields are read from the environment first.
    ///
    /// # Errors
    ///
    /// An invalid environment boolean or a zero size/interval.
    pub fn new(options: Options) -> Result<Self, ConfigError> {
        let options = options.with_env()?;
        options.validate()?;
        let Some(active) = options.active() else {
            if options.debug == Some(true) && options.enabled != Some(false) {
                eprintln!("[NorthStar] disabled because NORTHSTAR_API_KEY and NORTHSTAR_ENDPOINT are required");
            }
            return Ok(Self::noop());
        };
        let counters = Arc::new(Counters::new(options.debug == Some(true)));
        let queue = Arc::new(Queue::new(options.max_queue_size, options.batch_size));
        let (control, control_rx) = mpsc::unbounded_channel();
        let stop = Arc::new(tokio::sync::Notify::new());
        let worker = Worker::new(queue.clone(), control_rx, stop.clone(), counters.clone(), active, options.clone());
        if let Err(err) = worker.spawn() {
            eprintln!("[NorthStar] disabled: cannot start the northstar-flush thread: {err}");
            return Ok(Self::noop());
        }
        let prices = options.price_table();
        Ok(Self {
            inner: Some(Arc::new(Inner {
                options,
                queue,
                control,
                stop,
                counters,
                prices,
                shut_down: AtomicBool::new(false),
            })),
        })
    }

    /// A client that records nothing.
    #[must_use]
    pub fn noop() -> Self {
        Self { inner: None }
    }

    /// False for a no-op client.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Starts a session (one process's lifetime of runs) with empty metadata.
    #[must_use]
    pub fn session(&self) -> SessionHandle {
        self.session_with_metadata(Map::new())
    }

    /// Starts a session with metadata.
    #[must_use]
    pub fn session_with_metadata(&self, metadata: Map<String, Value>) -> SessionHandle {
        match &self.inner {
            Some(inner) => SessionHandle::start(inner, metadata),
            None => SessionHandle { state: None },
        }
    }

    /// Records a score for a run (numeric, categorical or boolean). Returns the score's id.
    ///
    /// # Errors
    ///
    /// A blank name, a non-finite number or a blank category.
    pub fn score(&self, run_id: Uuid, name: &str, value: impl Into<ScoreValue>) -> Result<Option<Uuid>, ScoreError> {
        self.score_with(run_id, None, name, value.into(), None)
    }

    /// Records a score with an optional span and comment.
    ///
    /// # Errors
    ///
    /// As [`Client::score`].
    pub fn score_with(
        &self,
        run_id: Uuid,
        span_id: Option<Uuid>,
        name: &str,
        value: ScoreValue,
        comment: Option<String>,
    ) -> Result<Option<Uuid>, ScoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ScoreError("score name must not be blank".into()));
        }
        let (value, data_type, string_value) = match value {
            ScoreValue::Numeric(v) if v.is_finite() => (v, ScoreDataType::Numeric, None),
            ScoreValue::Numeric(_) => return Err(ScoreError("score value must be a finite number".into())),
            ScoreValue::Boolean(b) => (if b { 1.0 } else { 0.0 }, ScoreDataType::Boolean, None),
            ScoreValue::Categorical(c) if !c.trim().is_empty() => {
                (0.0, ScoreDataType::Categorical, Some(c.trim().to_owned()))
            }
            ScoreValue::Categorical(_) => return Err(ScoreError("a categorical score needs a non-blank value".into())),
        };
        let Some(inner) = &self.inner else { return Ok(None) };
        let id = new_id();
        inner.send(Record::Score(Box::new(Score {
            id,
            trace_id: run_id,
            span_id,
            name: name.to_owned(),
            value,
            data_type,
            string_value,
            source: ScoreSource::Api,
            comment,
            created_at: now(),
        })));
        Ok(Some(id))
    }

    /// Sends everything recorded so far and waits up to `timeout` for the server to accept it.
    /// Returns true only if all of it was accepted. False if something is still unsent (the
    /// backend is down, or the time ran out: it stays queued and is retried) or was rejected
    /// (dropped and counted in [`Client::stats`]). Blocks the calling thread.
    #[must_use]
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(inner) = &self.inner else { return true };
        let (reply, done) = std::sync::mpsc::channel();
        if inner.control.send(Control::Flush(reply)).is_err() {
            return false;
        }
        done.recv_timeout(timeout).unwrap_or(false)
    }

    /// Delivery counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.inner.as_ref().map(|i| i.counters.snapshot()).unwrap_or_default()
    }

    /// Sends what is queued (waiting up to `timeout`) and stops the worker; later records are
    /// dropped and counted. Idempotent.
    pub fn shutdown(&self, timeout: Duration) {
        let Some(inner) = &self.inner else { return };
        if inner.shut_down.swap(true, Relaxed) {
            return;
        }
        let (reply, done) = std::sync::mpsc::channel();
        if inner.control.send(Control::Shutdown(timeout, reply)).is_ok() {
            // Interrupt a delivery in progress; the worker then sends under the deadline.
            inner.stop.notify_one();
            // The worker gives up at `timeout`; allow it a moment to count what it dropped.
            let _ = done.recv_timeout(timeout + Duration::from_millis(500));
        }
    }
}

impl Inner {
    /// The recording path's only contact with the worker: a lock-free push, and a wake-up only
    /// when a batch's worth is waiting (the worker also wakes on its flush interval). False if
    /// the record was dropped (and counted).
    pub(crate) fn send(&self, record: Record) -> bool {
        match self.queue.push(record) {
            Ok(()) => {
                self.counters.enqueued.add(1);
                true
            }
            Err(Closed) => {
                self.counters.drop_records(&self.counters.dropped_shutdown, 1, "recorded after shutdown");
                false
            }
            Err(Full) => {
                self.counters.drop_records(&self.counters.dropped_queue_full, 1, "the queue is full");
                false
            }
        }
    }
}

/// A score's value; `From` converts `f64`, `bool`, `&str` and `String`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreValue {
    Numeric(f64),
    Categorical(String),
    Boolean(bool),
}

impl From<f64> for ScoreValue {
    fn from(v: f64) -> Self {
        Self::Numeric(v)
    }
}
impl From<bool> for ScoreValue {
    fn from(v: bool) -> Self {
        Self::Boolean(v)
    }
}
impl From<&str> for ScoreValue {
    fn from(v: &str) -> Self {
        Self::Categorical(v.to_owned())
    }
}
impl From<String> for ScoreValue {
    fn from(v: String) -> Self {
        Self::Categorical(v)
    }
}

/// A score the contract would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreError(pub String);

impl std::fmt::Display for ScoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScoreError {}

/// The error object of a run or span: `{"type", "message"}`.
pub(crate) fn error_value(kind: &str, message: &str) -> Value {
    json!({"type": kind, "message": message})
}

pub(crate) fn panic_error() -> Option<Value> {
    std::thread::panicking().then(|| error_value("panic", "the traced code panicked"))
}

/// The error to record when a handle drops: a panic, or (for handles the attribute macros
/// finish explicitly) a future dropped before it finished.
pub(crate) fn drop_error(cancel_on_drop: bool, what: &str) -> Option<Value> {
    panic_error().or_else(|| {
        cancel_on_drop.then(|| error_value("cancelled", &format!("the {what} future was dropped before it finished")))
    })
}

/// A type's name without its module path or generics: `std::io::error::Error` → `Error`.
pub(crate) fn type_name_of<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
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
