//! Sessions and runs: the handles, and the state a run aggregates from its model spans.

use northstar_wire::attributes as attr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use northstar_wire::{Event, EventType, Run, Session, SpanKind, Status, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::capture::to_value;
use crate::client::Inner;
use crate::clock::{end_micros, latency_ms, new_id, now, now_micros, timestamp};
use crate::failure::{drop_error, error_value, lock, panic_error, type_name_of};
use crate::span::{Name, SpanHandle};
use crate::worker::Record;

pub(crate) struct SessionState {
    client: Arc<Inner>,
    id: Uuid,
    created_at: Timestamp,
    metadata: Value,
    ended: AtomicBool,
}

impl SessionHandle {
    pub(crate) fn start(client: &Arc<Inner>, metadata: Map<String, Value>) -> Self {
        let state = Arc::new(SessionState {
            client: client.clone(),
            id: new_id(),
            created_at: now(),
            metadata: Value::Object(metadata),
            ended: AtomicBool::new(false),
        });
        state.send(None);
        SessionHandle { state: Some(state) }
    }
}

impl SessionState {
    fn send(&self, ended_at: Option<Timestamp>) {
        self.client.send(Record::Session(Box::new(Session {
            id: self.id,
            created_at: self.created_at,
            ended_at,
            metadata: self.metadata.clone(),
        })));
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
    pub fn run(&self, name: impl Into<Name>) -> RunHandle {
        self.run_with_metadata(name, Map::new())
    }

    /// Starts a run with initial metadata (the project and environment from the options are added).
    #[must_use]
    pub fn run_with_metadata(&self, name: impl Into<Name>, mut metadata: Map<String, Value>) -> RunHandle {
        let Some(session) = &self.state else { return RunHandle { state: None, cancel_on_drop: false } };
        let options = &session.client.options;
        if let Some(p) = &options.project {
            metadata.entry("project").or_insert_with(|| Value::String(p.clone()));
        }
        if let Some(e) = &options.environment {
            metadata.entry("environment").or_insert_with(|| Value::String(e.clone()));
        }
        let started_at = now_micros();
        // In a spare the worker handed back if there is one (see `Queue::spare_run`), filled
        // where it lies; the worker emptied it, and nothing else holds it.
        let mut spare = session.client.queue.spare_run();
        let state = match spare.as_mut().and_then(Arc::get_mut) {
            Some(s) => {
                s.client = Some(session.client.clone());
                s.id = new_id();
                s.session_id = session.id;
                s.name = name.into();
                s.started_at = started_at;
                let data = s.data.get_mut().unwrap_or_else(PoisonError::into_inner);
                data.metadata = metadata;
                data.queued = true;
                spare.expect("filled above")
            }
            None => Arc::new(RunState {
                client: Some(session.client.clone()),
                id: new_id(),
                session_id: session.id,
                name: name.into(),
                started_at,
                data: Mutex::new(RunData { metadata, queued: true, ..RunData::default() }),
            }),
        };
        if !state.send() {
            lock(&state.data).queued = false;
        }
        RunHandle { state: Some(state), cancel_on_drop: false }
    }

    /// Records the session's end. Idempotent.
    pub fn end(&self) {
        if let Some(s) = &self.state
            && !s.ended.swap(true, Relaxed)
        {
            s.send(Some(now()));
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
pub(crate) struct RunData {
    pub(crate) metadata: Map<String, Value>,
    pub(crate) error: Option<Value>,
    pub(crate) cost_usd: Option<f64>,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) ended: bool,
    /// Microseconds since the epoch, as `started_at`.
    pub(crate) ended_at: Option<i64>,
    /// As for spans: the worker has yet to read the queued run, so ending it need not queue it again.
    queued: bool,
}

pub(crate) struct RunState {
    /// `None` only while the run waits as a spare ([`RunState::clear`]).
    client: Option<Arc<Inner>>,
    pub(crate) id: Uuid,
    session_id: Uuid,
    /// As a span's: a `&'static str` is kept without copying.
    name: Name,
    /// Microseconds since the epoch ([`crate::clock::now_micros`]).
    started_at: i64,
    pub(crate) data: Mutex<RunData>,
}

impl RunState {
    /// The client the run records to.
    pub(crate) fn client(&self) -> &Arc<Inner> {
        self.client.as_ref().expect("a run in use has its client; only spares have none")
    }

    /// Empties a run nothing holds any more, for `run_with_metadata` to fill again (called by
    /// the worker, so that the caller pays neither for dropping what the run held nor for a new
    /// allocation: the worker frees what it receives on its own thread, and each run's state
    /// took the caller's allocator slow path, about half of what a run costs beyond its spans;
    /// BENCHMARKS.md). Its client goes too: a spare holding it would hold the client, which
    /// holds the spares (see `SpanState::clear`).
    pub(crate) fn clear(&mut self) {
        self.client = None;
        self.name = Name::Borrowed("");
        let data = self.data.get_mut().unwrap_or_else(PoisonError::into_inner);
        data.metadata.clear();
        data.error = None;
        data.cost_usd = None;
        data.input_tokens = 0;
        data.output_tokens = 0;
        data.ended = false;
        data.ended_at = None;
        data.queued = false;
    }

    /// Queues the run; the worker reads its state when it builds the batch, so the caller
    /// copies nothing, and a run that ended before it was sent travels once, finished.
    fn send(self: &Arc<Self>) -> bool {
        self.client().send(Record::Run(self.clone()))
    }

    /// The run as it is now, as a wire record (called by the worker).
    pub(crate) fn snapshot(&self) -> Run {
        let mut data = lock(&self.data);
        data.queued = false;
        let status = match (data.ended, data.error.is_some()) {
            (false, _) => Status::Running,
            (true, true) => Status::Error,
            (true, false) => Status::Ok,
        };
        let mut metadata = data.metadata.clone();
        // The end's aggregates are added here, by the worker, rather than by the caller's end.
        if let Some(ended_at) = data.ended_at {
            if let Some(cost) = data.cost_usd {
                metadata.insert(attr::COST_USD.into(), json!(cost));
            }
            if data.input_tokens > 0 {
                metadata.insert(attr::TOTAL_INPUT_TOKENS.into(), json!(data.input_tokens));
            }
            if data.output_tokens > 0 {
                metadata.insert(attr::TOTAL_OUTPUT_TOKENS.into(), json!(data.output_tokens));
            }
            metadata.insert("latency_ms".into(), latency_ms(self.started_at, ended_at));
        }
        Run {
            id: self.id,
            session_id: self.session_id,
            name: self.name.to_string(),
            started_at: timestamp(self.started_at),
            ended_at: data.ended_at.map(timestamp),
            status,
            error: data.error.clone(),
            metadata: Value::Object(metadata),
        }
    }

    pub(crate) fn event(
        &self,
        span_id: Option<Uuid>,
        event_type: EventType,
        content: Value,
        attributes: Map<String, Value>,
    ) {
        self.event_at(new_id(), now_micros(), span_id, event_type, content, attributes);
    }

    /// [`RunState::event`] with its id and time (microseconds since the epoch) already made.
    pub(crate) fn event_at(
        &self,
        id: Uuid,
        created_at: i64,
        span_id: Option<Uuid>,
        event_type: EventType,
        content: Value,
        attributes: Map<String, Value>,
    ) {
        self.client()
            .send(Record::Event(Box::new(self.event_record(id, created_at, span_id, event_type, content, attributes))));
    }

    /// An event of this run as a wire record.
    pub(crate) fn event_record(
        &self,
        id: Uuid,
        created_at: i64,
        span_id: Option<Uuid>,
        event_type: EventType,
        content: Value,
        attributes: Map<String, Value>,
    ) -> Event {
        Event {
            id,
            run_id: self.id,
            span_id,
            event_type,
            created_at: timestamp(created_at),
            content,
            attributes: Value::Object(attributes),
        }
    }

    fn end(self: &Arc<Self>, error: Option<Value>) {
        {
            let mut data = lock(&self.data);
            if data.ended {
                return;
            }
            data.ended = true;
            data.ended_at = Some(end_micros());
            if error.is_some() {
                data.error = error;
            }
            if std::mem::replace(&mut data.queued, true) {
                return;
            }
        }
        self.send();
    }

    pub(crate) fn set_metadata(&self, key: String, value: Value) {
        lock(&self.data).metadata.insert(key, value);
    }

    pub(crate) fn capture(&self, inputs: bool) -> bool {
        let options = &self.client().options;
        if inputs { options.capture_inputs } else { options.capture_outputs }
    }
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
    pub fn span(&self, name: impl Into<Name>, kind: SpanKind) -> SpanHandle {
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
            s.end(drop_error(self.cancel_on_drop, "traced"));
        }
    }
}
