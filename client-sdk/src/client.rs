//! The explicit API: [`Client`] → [`SessionHandle`] → [`RunHandle`] → [`SpanHandle`].
//!
//! Handles carry their ids and end on drop. Recording builds a small owned record and puts it
//! on a bounded queue with `try_send`: no I/O, no serialization, no lock shared with the worker.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use northstar_wire::{
    Event, EventType, Run, Score, ScoreDataType, ScoreSource, Session, Span, SpanKind, Status, Timestamp,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::llm::{Message, message_events};
use crate::options::{ConfigError, Options};
use crate::pricing::{PriceTable, Usage};
use crate::stats::{Counters, Stats};
use crate::worker::{Control, Record, Worker};

pub(crate) struct Inner {
    pub(crate) options: Options,
    tx: mpsc::Sender<Record>,
    control: mpsc::UnboundedSender<Control>,
    stop: Arc<tokio::sync::Notify>,
    pub(crate) counters: Arc<Counters>,
    prices: PriceTable,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn latency_ms(started: Instant) -> Value {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    json!((ms * 1000.0).round() / 1000.0)
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
        let (tx, data) = mpsc::channel(options.max_queue_size);
        let (control, control_rx) = mpsc::unbounded_channel();
        let stop = Arc::new(tokio::sync::Notify::new());
        let worker = Worker::new(data, control_rx, stop.clone(), counters.clone(), active, options.clone());
        if let Err(err) = worker.spawn() {
            eprintln!("[NorthStar] disabled: cannot start the northstar-flush thread: {err}");
            return Ok(Self::noop());
        }
        let prices = options.price_table();
        Ok(Self {
            inner: Some(Arc::new(Inner {
                options,
                tx,
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
        let Some(inner) = &self.inner else { return SessionHandle { state: None } };
        let state = Arc::new(SessionState {
            client: inner.clone(),
            id: new_id(),
            created_at: Utc::now(),
            metadata: Value::Object(metadata),
            ended: AtomicBool::new(false),
        });
        state.send(None);
        SessionHandle { state: Some(state) }
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
        inner.send(Record::Score(Score {
            id,
            trace_id: run_id,
            span_id,
            name: name.to_owned(),
            value,
            data_type,
            string_value,
            source: ScoreSource::Api,
            comment,
            created_at: Utc::now(),
        }));
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
    pub(crate) fn send(&self, record: Record) {
        match self.tx.try_send(record) {
            Ok(()) => {
                self.counters.enqueued.fetch_add(1, Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.drop_records(&self.counters.dropped_queue_full, 1, "the queue is full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counters.drop_records(&self.counters.dropped_shutdown, 1, "recorded after shutdown");
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

// ---------------------------------------------------------------------------------------------

pub(crate) struct SessionState {
    client: Arc<Inner>,
    id: Uuid,
    created_at: Timestamp,
    metadata: Value,
    ended: AtomicBool,
}

impl SessionState {
    fn send(&self, ended_at: Option<Timestamp>) {
        self.client.send(Record::Session(Session {
            id: self.id,
            created_at: self.created_at,
            ended_at,
            metadata: self.metadata.clone(),
        }));
    }
}

/// A session: runs started from it share its id. Ending it records `ended_at`.
#[derive(Clone)]
pub struct SessionHandle {
    pub(crate) state: Option<Arc<SessionState>>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle").field("id", &self.id()).finish()
    }
}

impl SessionHandle {
    /// The session id (`None` when disabled).
    #[must_use]
    pub fn id(&self) -> Option<Uuid> {
        self.state.as_ref().map(|s| s.id)
    }

    /// Starts a run in this session.
    #[must_use]
    pub fn run(&self, name: impl Into<String>) -> RunHandle {
        self.run_with_metadata(name, Map::new())
    }

    /// Starts a run with initial metadata (the project and environment from the options are added).
    #[must_use]
    pub fn run_with_metadata(&self, name: impl Into<String>, mut metadata: Map<String, Value>) -> RunHandle {
        let Some(session) = &self.state else { return RunHandle { state: None, cancel_on_drop: false } };
        let options = &session.client.options;
        if let Some(p) = &options.project {
            metadata.entry("project").or_insert_with(|| Value::String(p.clone()));
        }
        if let Some(e) = &options.environment {
            metadata.entry("environment").or_insert_with(|| Value::String(e.clone()));
        }
        let state = Arc::new(RunState {
            client: session.client.clone(),
            id: new_id(),
            session_id: session.id,
            name: name.into(),
            started_at: Utc::now(),
            started: Instant::now(),
            data: Mutex::new(RunData { metadata, ..RunData::default() }),
        });
        state.send(Status::Running, None);
        RunHandle { state: Some(state), cancel_on_drop: false }
    }

    /// Records the session's end. Idempotent.
    pub fn end(&self) {
        if let Some(s) = &self.state
            && !s.ended.swap(true, Relaxed)
        {
            s.send(Some(Utc::now()));
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct RunData {
    metadata: Map<String, Value>,
    error: Option<Value>,
    cost_usd: Option<f64>,
    input_tokens: u64,
    output_tokens: u64,
    ended: bool,
}

pub(crate) struct RunState {
    pub(crate) client: Arc<Inner>,
    pub(crate) id: Uuid,
    session_id: Uuid,
    name: String,
    started_at: Timestamp,
    started: Instant,
    data: Mutex<RunData>,
}

impl RunState {
    fn send(&self, status: Status, ended_at: Option<Timestamp>) {
        let data = lock(&self.data);
        self.client.send(Record::Run(Run {
            id: self.id,
            session_id: self.session_id,
            name: self.name.clone(),
            started_at: self.started_at,
            ended_at,
            status,
            error: data.error.clone(),
            metadata: Value::Object(data.metadata.clone()),
        }));
    }

    pub(crate) fn event(
        &self,
        span_id: Option<Uuid>,
        event_type: EventType,
        content: Value,
        attributes: Map<String, Value>,
    ) {
        self.client.send(Record::Event(Event {
            id: new_id(),
            run_id: self.id,
            span_id,
            event_type,
            created_at: Utc::now(),
            content,
            attributes: Value::Object(attributes),
        }));
    }

    fn end(&self, error: Option<Value>) {
        {
            let mut data = lock(&self.data);
            if data.ended {
                return;
            }
            data.ended = true;
            if error.is_some() {
                data.error = error;
            }
            if let Some(cost) = data.cost_usd {
                data.metadata.insert("cost_usd".into(), json!(cost));
            }
            let (input, output) = (data.input_tokens, data.output_tokens);
            if input > 0 {
                data.metadata.insert("total_input_tokens".into(), json!(input));
            }
            if output > 0 {
                data.metadata.insert("total_output_tokens".into(), json!(output));
            }
            data.metadata.insert("latency_ms".into(), latency_ms(self.started));
        }
        let status = if lock(&self.data).error.is_some() { Status::Error } else { Status::Ok };
        self.send(status, Some(Utc::now()));
    }

    pub(crate) fn set_metadata(&self, key: String, value: Value) {
        lock(&self.data).metadata.insert(key, value);
    }

    pub(crate) fn capture(&self, inputs: bool) -> bool {
        if inputs { self.client.options.capture_inputs } else { self.client.options.capture_outputs }
    }
}

/// The error object of a run or span: `{"type", "message"}`.
pub(crate) fn error_value(kind: &str, message: &str) -> Value {
    json!({"type": kind, "message": message})
}

fn panic_error() -> Option<Value> {
    std::thread::panicking().then(|| error_value("panic", "the traced code panicked"))
}

/// A run (what the dashboard calls a trace). Ends on drop: `ok`, or `error` if an error was
/// recorded or the thread is panicking.
pub struct RunHandle {
    pub(crate) state: Option<Arc<RunState>>,
    /// Set by the attribute macros: dropped before they finish it means the future was cancelled.
    pub(crate) cancel_on_drop: bool,
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle").field("id", &self.id()).finish()
    }
}

impl RunHandle {
    /// The run id, which scores refer to as `trace_id` (`None` when disabled).
    #[must_use]
    pub fn id(&self) -> Option<Uuid> {
        self.state.as_ref().map(|s| s.id)
    }

    /// Opens a top-level span of this run.
    #[must_use]
    pub fn span(&self, name: impl Into<String>, kind: SpanKind) -> SpanHandle {
        SpanHandle::start(self.state.as_ref(), None, name, kind, None)
    }

    /// Records an event on the run itself.
    pub fn event(&self, event_type: EventType, content: impl Serialize) {
        if let Some(s) = &self.state {
            s.event(None, event_type, to_value(&content), Map::new());
        }
    }

    /// Sets one metadata key (tags, user ids, anything serializable).
    pub fn set_metadata(&self, key: impl Into<String>, value: impl Serialize) {
        if let Some(s) = &self.state {
            s.set_metadata(key.into(), to_value(&value));
        }
    }

    /// Adds tags (`metadata.tags`).
    pub fn tags<I, T>(&self, tags: I)
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        if let Some(s) = &self.state {
            let mut data = lock(&s.data);
            let entry = data.metadata.entry("tags").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.extend(tags.into_iter().map(|t| Value::String(t.into())));
            }
        }
    }

    /// Records the run's input as a `user_input` event (if inputs are captured).
    pub fn set_input(&self, input: impl Serialize) {
        if let Some(s) = self.state.as_ref().filter(|s| s.capture(true)) {
            s.event(None, EventType::UserInput, to_value(&input), Map::new());
        }
    }

    /// Records the run's output as a `final_response` event (if outputs are captured).
    pub fn set_output(&self, output: impl Serialize) {
        if let Some(s) = self.state.as_ref().filter(|s| s.capture(false)) {
            s.event(None, EventType::FinalResponse, to_value(&output), Map::new());
        }
    }

    /// Marks the run as failed with this error: `{"type": <the error's type name>, "message"}`.
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        self.record_error_message(type_name_of::<E>(), &error.to_string());
    }

    /// Marks the run as failed with an error type and message.
    pub fn record_error_message(&self, kind: &str, message: &str) {
        if let Some(s) = &self.state {
            lock(&s.data).error = Some(error_value(kind, message));
        }
    }

    /// Ends the run now (also happens on drop).
    pub fn end(&mut self) {
        self.cancel_on_drop = false;
        if let Some(s) = &self.state {
            s.end(panic_error());
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        if let Some(s) = &self.state {
            let error = panic_error().or_else(|| {
                self.cancel_on_drop
                    .then(|| error_value("cancelled", "the traced future was dropped before it finished"))
            });
            s.end(error);
        }
    }
}

/// A type's name without its module path or generics: `std::io::error::Error` → `Error`.
pub(crate) fn type_name_of<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct SpanData {
    attributes: Map<String, Value>,
    error: Option<Value>,
    usage: Option<Usage>,
    ended: bool,
}

pub(crate) struct SpanState {
    pub(crate) run: Arc<RunState>,
    pub(crate) id: Uuid,
    parent: Option<Uuid>,
    kind: SpanKind,
    name: String,
    started_at: Timestamp,
    started: Instant,
    iteration: Option<i32>,
    data: Mutex<SpanData>,
}

impl SpanState {
    fn send(&self, status: Status, ended_at: Option<Timestamp>, data: &SpanData) {
        self.run.client.send(Record::Span(Span {
            id: self.id,
            run_id: self.run.id,
            parent_span_id: self.parent,
            kind: self.kind,
            name: self.name.clone(),
            started_at: self.started_at,
            ended_at,
            status,
            error: data.error.clone(),
            iteration: self.iteration,
            attributes: Value::Object(data.attributes.clone()),
        }));
    }

    fn end(&self, error: Option<Value>) {
        let mut data = lock(&self.data);
        if data.ended {
            return;
        }
        data.ended = true;
        if error.is_some() {
            data.error = error;
        }
        if let Some(usage) = data.usage {
            self.price(&mut data, usage);
        }
        data.attributes.insert("latency_ms".into(), latency_ms(self.started));
        let status = if data.error.is_some() { Status::Error } else { Status::Ok };
        self.send(status, Some(Utc::now()), &data);
    }

    pub(crate) fn set_attribute(&self, key: String, value: Value) {
        lock(&self.data).attributes.insert(key, value);
    }

    /// Token attributes and cost of a model span, and the run's aggregates.
    fn price(&self, data: &mut SpanData, usage: Usage) {
        let a = &mut data.attributes;
        a.insert("input_tokens".into(), json!(usage.input_tokens));
        a.insert("output_tokens".into(), json!(usage.output_tokens));
        a.insert("total_tokens".into(), json!(usage.input_tokens + usage.output_tokens));
        if usage.cached_input_tokens > 0 {
            a.insert("cached_input_tokens".into(), json!(usage.cached_input_tokens));
        }
        if usage.reasoning_tokens > 0 {
            a.insert("reasoning_tokens".into(), json!(usage.reasoning_tokens));
        }
        let given = a.get("cost_usd").and_then(Value::as_f64);
        let computed = a.get("model").and_then(Value::as_str).and_then(|m| self.run.client.prices.cost(m, &usage));
        let cost = match (given, computed) {
            (Some(c), _) => Some(c),
            (None, Some(c)) => {
                a.insert("cost_usd".into(), json!(c));
                a.insert("pricing_source".into(), json!("northstar"));
                Some(c)
            }
            (None, None) => {
                a.insert("pricing_source".into(), json!("unknown"));
                None
            }
        };
        let mut run = lock(&self.run.data);
        run.input_tokens += usage.input_tokens;
        run.output_tokens += usage.output_tokens;
        if let Some(c) = cost {
            run.cost_usd = Some(run.cost_usd.unwrap_or(0.0) + c);
        }
    }
}

/// A span: one step of a run. Ends on drop (`error` if an error was recorded or panicking).
pub struct SpanHandle {
    pub(crate) state: Option<Arc<SpanState>>,
    pub(crate) cancel_on_drop: bool,
}

impl std::fmt::Debug for SpanHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanHandle").field("id", &self.id()).finish()
    }
}

impl SpanHandle {
    pub(crate) fn start(
        run: Option<&Arc<RunState>>,
        parent: Option<Uuid>,
        name: impl Into<String>,
        kind: SpanKind,
        attributes: Option<Map<String, Value>>,
    ) -> Self {
        let Some(run) = run else { return Self { state: None, cancel_on_drop: false } };
        let name = name.into();
        let state = Arc::new(SpanState {
            run: run.clone(),
            id: new_id(),
            parent,
            kind,
            name,
            started_at: Utc::now(),
            started: Instant::now(),
            iteration: None,
            data: Mutex::new(SpanData { attributes: attributes.unwrap_or_default(), ..SpanData::default() }),
        });
        state.send(Status::Running, None, &lock(&state.data));
        Self { state: Some(state), cancel_on_drop: false }
    }

    /// The span id (`None` when disabled).
    #[must_use]
    pub fn id(&self) -> Option<Uuid> {
        self.state.as_ref().map(|s| s.id)
    }

    /// The id of the run this span belongs to.
    #[must_use]
    pub fn run_id(&self) -> Option<Uuid> {
        self.state.as_ref().map(|s| s.run.id)
    }

    /// Opens a child span.
    #[must_use]
    pub fn span(&self, name: impl Into<String>, kind: SpanKind) -> SpanHandle {
        SpanHandle::start(self.state.as_ref().map(|s| &s.run), self.id(), name, kind, None)
    }

    /// Records an event on this span.
    pub fn event(&self, event_type: EventType, content: impl Serialize) {
        self.event_with(event_type, to_value(&content), Map::new());
    }

    pub(crate) fn event_with(&self, event_type: EventType, content: Value, attributes: Map<String, Value>) {
        if let Some(s) = &self.state {
            s.run.event(Some(s.id), event_type, content, attributes);
        }
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, key: impl Into<String>, value: impl Serialize) {
        if let Some(s) = &self.state {
            s.set_attribute(key.into(), to_value(&value));
        }
    }

    /// Marks the span as failed with this error: `{"type": <the error's type name>, "message"}`.
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        self.record_error_message(type_name_of::<E>(), &error.to_string());
    }

    /// Marks the span as failed with an error type and message.
    pub fn record_error_message(&self, kind: &str, message: &str) {
        if let Some(s) = &self.state {
            lock(&s.data).error = Some(error_value(kind, message));
        }
    }

    /// Token usage of a model call. At the end of the span it is written as attributes
    /// (`input_tokens`, `output_tokens`, `total_tokens`, cached/reasoning counts), priced from the
    /// table when the span has a `model` attribute (`cost_usd`, `pricing_source`), and added to
    /// the run's `cost_usd` / `total_input_tokens` / `total_output_tokens`.
    pub fn record_usage(&self, usage: Usage) {
        if let Some(s) = &self.state {
            let mut data = lock(&s.data);
            let total = data.usage.get_or_insert_with(Usage::default);
            total.input_tokens += usage.input_tokens;
            total.output_tokens += usage.output_tokens;
            total.cached_input_tokens += usage.cached_input_tokens;
            total.reasoning_tokens += usage.reasoning_tokens;
        }
    }

    /// Records request messages as events (system → `system_message`, user → `user_input`,
    /// tool → `tool_result`, assistant → `assistant_message` + `tool_arguments` per tool call),
    /// if inputs are captured.
    pub fn record_input_messages(&self, messages: &[Message]) {
        if let Some(s) = self.state.as_ref().filter(|s| s.run.capture(true)) {
            for m in messages {
                for (t, content, attributes) in message_events(m) {
                    s.run.event(Some(s.id), t, content, attributes);
                }
            }
        }
    }

    /// Records the model's answer as events, if outputs are captured.
    pub fn record_output_message(&self, message: &Message) {
        if let Some(s) = self.state.as_ref().filter(|s| s.run.capture(false)) {
            for (t, content, attributes) in message_events(message) {
                s.run.event(Some(s.id), t, content, attributes);
            }
        }
    }

    /// Ends the span now (also happens on drop).
    pub fn end(&mut self) {
        self.cancel_on_drop = false;
        if let Some(s) = &self.state {
            s.end(panic_error());
        }
    }
}

impl Drop for SpanHandle {
    fn drop(&mut self) {
        if let Some(s) = &self.state {
            let error = panic_error().or_else(|| {
                self.cancel_on_drop
                    .then(|| error_value("cancelled", "the observed future was dropped before it finished"))
            });
            s.end(error);
        }
    }
}
