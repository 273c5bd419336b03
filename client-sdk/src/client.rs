//! The explicit API: [`Client`] → [`SessionHandle`] → [`RunHandle`] → [`SpanHandle`].
//!
//! Handles carry their ids and end on drop. Recording pushes onto a lock-free bounded queue (a
//! run or span as a reference to its state, an event as a small owned record unless it can wait
//! inside its queued span): no I/O, no serialization, and no lock the worker holds during I/O.
//! Sessions and runs are in `run.rs`, spans in `span.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use northstar_wire::{Score, ScoreDataType, ScoreSource};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::clock::{new_id, now};

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
    pub(crate) prompts: crate::prompt::Prompts,
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

impl Client {
    /// A client for `options`; unset fields are read from the environment first.
    ///
    /// # Errors
    ///
    /// An invalid environment boolean or a zero size/interval.
    pub fn new(options: Options) -> Result<Self, ConfigError> {
        let options = options.with_env()?;
        options.validate()?;
        let Some(transport) = options.delivery() else {
            if options.debug == Some(true) && options.enabled != Some(false) {
                eprintln!("[NorthStar] disabled because NORTHSTAR_API_KEY and NORTHSTAR_ENDPOINT are required");
            }
            return Ok(Self::noop());
        };
        let counters = Arc::new(Counters::new(options.debug == Some(true)));
        let queue = Arc::new(Queue::new(options.max_queue_size, options.batch_size));
        let (control, control_rx) = mpsc::unbounded_channel();
        let stop = Arc::new(tokio::sync::Notify::new());
        let worker = Worker::new(queue.clone(), control_rx, stop.clone(), counters.clone(), transport, options.clone());
        if let Err(err) = worker.spawn() {
            eprintln!("[NorthStar] disabled: cannot start the northstar-flush thread: {err}");
            return Ok(Self::noop());
        }
        let prices = options.price_table();
        let prompts = crate::prompt::Prompts::new(&options);
        Ok(Self {
            inner: Some(Arc::new(Inner {
                options,
                queue,
                control,
                stop,
                counters,
                prices,
                prompts,
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
