//! Spans: the handle, usage pricing, and message events.

use northstar_wire::attributes as attr;
use std::borrow::Cow;
use std::sync::Arc;

use northstar_wire::{Event, EventType, Span, SpanKind, Status};
use serde::Serialize;
use serde_json::{Map, Value, json};
use smallvec::SmallVec;
use spin::mutex::SpinMutex;
use spin::relax::Yield;
use uuid::Uuid;

use crate::capture::Captured;
use crate::clock::{end_micros, latency_ms, new_id, now_micros, timestamp};
use crate::context::Context;
use crate::failure::{drop_error, error_value, lock, panic_error, type_name_of};
use crate::llm::{Message, message_events};
use crate::run::RunState;
use crate::worker::Record;
use northstar_pricing::Usage;

/// An attribute key: a `&'static str` is kept without copying (as OpenTelemetry's `Key`), a
/// `String` is moved in.
pub type Key = Cow<'static, str>;

/// A shared reference to a span's state. triomphe's `Arc` has no weak count, so a span taken
/// from the spares is filled without the atomic compare-and-swap that `std::sync::Arc::get_mut`
/// pays (no `Weak` to a span ever exists).
pub(crate) type SpanRef = triomphe::Arc<SpanState>;

/// A span's state held by one owner alone: a spare, or a new span being filled. Filling it
/// needs no check, and [`UniqueArc::shareable`](triomphe::UniqueArc::shareable) makes it a
/// [`SpanRef`] without an atomic operation.
pub(crate) type SpareSpan = triomphe::UniqueArc<SpanState>;

/// A span name: as with [`Key`], a `&'static str` is kept without copying and a `String` is
/// moved in (OpenTelemetry's `Tracer::start` takes the same).
pub type Name = Cow<'static, str>;

/// A span's attributes. Spans carry a handful, set one at a time on the caller's thread: a
/// short list searched by key costs a fraction of hashing each key into a map (the map insert
/// was a third of the caller's time per span, measured with callgrind). Past [`Attributes::SHORT`]
/// entries they move into a map, so a span with very many attributes stays linear. The first
/// [`Attributes::INLINE`] live inside the span's own allocation and cost no allocation of their
/// own.
///
/// Keys and values are kept in two lists side by side rather than one list of pairs: pushing a
/// pair made the compiler assemble it on the stack and copy it over in 16-byte pieces that
/// straddled the stores it had just made, and each such load waited for those stores to reach
/// the cache (a store-forwarding stall: a tenth of the caller's time per span; BENCHMARKS.md).
enum Attributes {
    /// `keys[i]` is the key of `values[i]`; both always have the same length.
    List {
        keys: SmallVec<[Key; Attributes::INLINE]>,
        values: SmallVec<[Captured; Attributes::INLINE]>,
    },
    Map(Map<String, Value>),
}

impl Default for Attributes {
    fn default() -> Self {
        Self::List { keys: SmallVec::new(), values: SmallVec::new() }
    }
}

impl Attributes {
    const SHORT: usize = 16;
    const INLINE: usize = 4;

    fn from_map(map: Map<String, Value>) -> Self {
        if map.len() <= Self::SHORT {
            let (keys, values) = map.into_iter().map(|(k, v)| (Key::Owned(k), Captured::from(v))).unzip();
            Self::List { keys, values }
        } else {
            Self::Map(map)
        }
    }

    fn insert(&mut self, key: impl Into<Key>, value: impl Into<Captured>) {
        let value = value.into();
        let key = key.into();
        match self {
            Self::List { keys, values } => {
                if let Some(i) = keys.iter().position(|k| *k == key) {
                    values[i] = value;
                } else if keys.len() < Self::SHORT {
                    keys.push(key);
                    values.push(value);
                } else {
                    let mut map: Map<String, Value> =
                        keys.drain(..).zip(values.drain(..)).map(|(k, v)| (k.into_owned(), v.into_value())).collect();
                    map.insert(key.into_owned(), value.into_value());
                    *self = Self::Map(map);
                }
            }
            Self::Map(map) => {
                map.insert(key.into_owned(), value.into_value());
            }
        }
    }

    fn get_f64(&self, key: &str) -> Option<f64> {
        match self {
            Self::List { keys, values } => keys.iter().position(|k| k == key).and_then(|i| values[i].as_f64()),
            Self::Map(map) => map.get(key).and_then(Value::as_f64),
        }
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        match self {
            Self::List { keys, values } => keys.iter().position(|k| k == key).and_then(|i| values[i].as_str()),
            Self::Map(map) => map.get(key).and_then(Value::as_str),
        }
    }

    /// The attributes as a JSON object's map, in the order they were first set.
    fn to_map(&self) -> Map<String, Value> {
        match self {
            Self::List { keys, values } => {
                keys.iter().zip(values).map(|(k, v)| (k.to_string(), v.to_value())).collect()
            }
            Self::Map(map) => map.clone(),
        }
    }
}

struct SpanData {
    attributes: Attributes,
    /// Boxed, as [`Captured::Json`]: most spans have none, and every span carries the field.
    error: Option<Box<Value>>,
    usage: Option<Usage>,
    ended: bool,
    /// Microseconds since the epoch, as `started_at`.
    ended_at: Option<i64>,
    /// A reference to the span waits in the queue and the worker has not taken it into a batch
    /// yet, so a change made now travels with it: ending the span need not queue it again, and
    /// an event can wait here instead of in the queue.
    queued: bool,
    /// Events recorded while the span was queued: the worker takes them with the span, each as
    /// its own record (see [`SpanState::take_events`]).
    events: SmallVec<[SpanEvent; 1]>,
}

/// An event waiting inside its span. What the event record needs beyond this (run and span ids)
/// the span has; the timestamp is made into a date by the worker.
struct SpanEvent {
    id: Uuid,
    event_type: EventType,
    /// Microseconds since the epoch.
    created_at: i64,
    content: Captured,
    /// `None` for none (most events).
    attributes: Option<Box<Map<String, Value>>>,
}

pub(crate) struct SpanState {
    /// `None` only while the span waits as a spare (see [`SpanState::clear`]).
    run: Option<Arc<RunState>>,
    pub(crate) id: Uuid,
    parent: Option<Uuid>,
    kind: SpanKind,
    name: Name,
    /// Microseconds since the epoch ([`crate::clock::now_micros`]).
    started_at: i64,
    iteration: Option<i32>,
    /// A spin lock that yields while it waits: a span's lock is taken by its own caller and,
    /// for the moment it reads the span, by the worker, so it is all but never contended, and
    /// releasing it is a plain store where `std::sync::Mutex` pays a second atomic exchange
    /// (five locks per span; measured in BENCHMARKS.md).
    data: SpinMutex<SpanData, Yield>,
}

impl SpanState {
    /// The run the span belongs to.
    pub(crate) fn run(&self) -> &Arc<RunState> {
        self.run.as_ref().expect("a span in use has its run; only spares have none")
    }

    /// The span's kind.
    pub(crate) fn kind(&self) -> SpanKind {
        self.kind
    }

    /// Events that may wait inside a queued span; more go to the queue, which is bounded.
    const WAITING_EVENTS: usize = 8;

    /// A new, running span, queued as far as its fields go (the caller queues it): in a spare
    /// the worker handed back if there is one, else in a new allocation, filled field by field
    /// where it lies.
    fn create(
        run: &Arc<RunState>,
        parent: Option<Uuid>,
        kind: SpanKind,
        name: Name,
        attributes: Option<Map<String, Value>>,
    ) -> SpanRef {
        let mut span = run.client().queue.spare_span().unwrap_or_else(Self::empty);
        let s = &mut *span;
        s.run = Some(run.clone());
        s.id = new_id();
        s.parent = parent;
        s.kind = kind;
        s.name = name;
        s.started_at = now_micros();
        s.iteration = None;
        let data = s.data.get_mut();
        // Empty until here: most spans start without attributes and write nothing.
        if let Some(map) = attributes {
            data.attributes = Attributes::from_map(map);
        }
        data.ended = false;
        data.ended_at = None;
        data.queued = true;
        span.shareable()
    }

    /// A span holding nothing, for [`SpanState::create`] to fill.
    fn empty() -> SpareSpan {
        SpareSpan::new(Self {
            run: None,
            id: Uuid::nil(),
            parent: None,
            kind: SpanKind::Custom,
            name: Name::Borrowed(""),
            started_at: 0,
            iteration: None,
            data: SpinMutex::new(SpanData {
                attributes: Attributes::default(),
                error: None,
                usage: None,
                ended: false,
                ended_at: None,
                queued: false,
                events: SmallVec::new(),
            }),
        })
    }

    /// Empties a delivered span for [`SpanState::create`] to fill again, as [`SpanState::empty`]
    /// makes one but keeping the event list's capacity (called by the worker, so that the
    /// caller does not pay for dropping what the span held). What `create` sets anyway stays.
    pub(crate) fn clear(&mut self) -> Option<Arc<RunState>> {
        // A spare holding its run would hold the client, which holds the spares: a cycle that
        // would keep a client dropped without `shutdown` (and its worker) alive. The run goes
        // back to the caller, who may have held it last.
        let run = self.run.take();
        self.name = Name::Borrowed("");
        let data = self.data.get_mut();
        data.attributes = Attributes::default();
        data.error = None;
        data.usage = None;
        data.events.clear();
        run
    }

    /// Queues the span by reference; see `RunState::send`.
    fn send(this: &SpanRef) -> bool {
        this.run().client().send(Record::Span(this.clone()))
    }

    /// The span as it is now, as a wire record (called by the worker).
    pub(crate) fn snapshot(&self) -> Span {
        let data = self.data.lock();
        let status = match (data.ended, data.error.is_some()) {
            (false, _) => Status::Running,
            (true, true) => Status::Error,
            (true, false) => Status::Ok,
        };
        let mut attributes = data.attributes.to_map();
        // An ended span's latency is added here, by the worker, rather than by the caller's end.
        if let Some(ended_at) = data.ended_at {
            attributes.insert("latency_ms".into(), latency_ms(self.started_at, ended_at));
        }
        Span {
            id: self.id,
            run_id: self.run().id,
            parent_span_id: self.parent,
            kind: self.kind,
            name: self.name.to_string(),
            started_at: timestamp(self.started_at),
            ended_at: data.ended_at.map(timestamp),
            status,
            error: data.error.as_deref().cloned(),
            iteration: self.iteration,
            attributes: Value::Object(attributes),
        }
    }

    /// Called by the worker as it takes the span into a batch with `room` records left: the
    /// events that waited in it, as records, if they fit beside it (always, in an empty batch:
    /// no more wait than a batch holds). From here on a change to the span must queue it again.
    pub(crate) fn take_events(&self, room: usize, empty_batch: bool) -> Option<SmallVec<[Event; 1]>> {
        let mut data = self.data.lock();
        if !empty_batch && 1 + data.events.len() > room {
            return None;
        }
        data.queued = false;
        let events = std::mem::take(&mut data.events);
        drop(data);
        let events = events
            .into_iter()
            .map(|e| {
                let attributes = unboxed(e.attributes);
                let content = e.content.into_value();
                self.run().event_record(e.id, e.created_at, Some(self.id), e.event_type, content, attributes)
            })
            .collect();
        Some(events)
    }

    /// Records an event on the span: inside it while it is queued (one lock, no queue push),
    /// else as its own record. `attributes` as [`boxed`] makes them: most events have none.
    pub(crate) fn event(&self, event_type: EventType, content: Captured, attributes: Option<Box<Map<String, Value>>>) {
        let id = new_id();
        let created_at = now_micros();
        let mut data = self.data.lock();
        // A span and its waiting events travel in one batch, so fewer may wait than it holds.
        let room = Self::WAITING_EVENTS.min(self.run().client().options.batch_size - 1);
        if data.queued && data.events.len() < room {
            data.events.push(SpanEvent { id, event_type, created_at, content, attributes });
            drop(data);
            self.run().client().counters.enqueued.add(1);
            return;
        }
        drop(data);
        let attributes = unboxed(attributes);
        self.run().event_at(id, created_at, Some(self.id), event_type, content.into_value(), attributes);
    }

    fn end(this: &SpanRef, error: Option<Value>) {
        let mut data = this.data.lock();
        if data.ended {
            return;
        }
        data.ended = true;
        data.ended_at = Some(end_micros());
        if error.is_some() {
            data.error = error.map(Box::new);
        }
        if let Some(usage) = data.usage {
            this.price(&mut data, usage);
        }
        let queued = std::mem::replace(&mut data.queued, true);
        drop(data);
        if !queued {
            Self::send(this);
        }
    }

    pub(crate) fn set_attribute(&self, key: Key, value: Captured) {
        self.data.lock().attributes.insert(key, value);
    }

    /// Token attributes and cost of a model span, and the run's aggregates.
    fn price(&self, data: &mut SpanData, usage: Usage) {
        let a = &mut data.attributes;
        for (name, n) in usage.attributes() {
            a.insert(name, json!(n));
        }
        let given = a.get_f64(attr::COST_USD);
        let computed = a.get_str(attr::MODEL).and_then(|m| self.run().client().prices.cost(m, &usage, None));
        let cost = match (given, computed) {
            (Some(c), _) => Some(c),
            (None, Some(c)) => {
                a.insert(attr::COST_USD, json!(c));
                a.insert(attr::PRICING_SOURCE, json!("northstar"));
                Some(c)
            }
            (None, None) => {
                a.insert(attr::PRICING_SOURCE, json!("unknown"));
                None
            }
        };
        let mut run = lock(&self.run().data);
        run.input_tokens += usage.input_tokens;
        run.output_tokens += usage.output_tokens;
        if let Some(c) = cost {
            run.cost_usd = Some(run.cost_usd.unwrap_or(0.0) + c);
        }
    }
}

/// Event attributes as a span keeps them while the event waits in it: `None` when empty.
fn boxed(attributes: Map<String, Value>) -> Option<Box<Map<String, Value>>> {
    (!attributes.is_empty()).then(|| Box::new(attributes))
}

/// [`boxed`]'s inverse, for the event record.
fn unboxed(attributes: Option<Box<Map<String, Value>>>) -> Map<String, Value> {
    attributes.map_or_else(Map::new, |map| *map)
}

/// A span: one step of a run. Ends on drop (`error` if an error was recorded or panicking).
pub struct SpanHandle {
    pub(crate) state: Option<SpanRef>,
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
        name: impl Into<Name>,
        kind: SpanKind,
        attributes: Option<Map<String, Value>>,
    ) -> Self {
        let Some(run) = run else { return Self { state: None, cancel_on_drop: false } };
        let state = SpanState::create(run, parent, kind, name.into(), attributes);
        if !SpanState::send(&state) {
            state.data.lock().queued = false;
        }
        Self { state: Some(state), cancel_on_drop: false }
    }

    /// The context in which records belong to this span.
    pub(crate) fn context(&self) -> Context {
        Context { run: self.state.as_ref().map(|s| s.run().clone()), span: self.state.clone() }
    }

    /// The span id (`None` when disabled).
    #[must_use]
    pub fn id(&self) -> Option<Uuid> {
        self.state.as_ref().map(|s| s.id)
    }

    /// The id of the run this span belongs to.
    #[must_use]
    pub fn run_id(&self) -> Option<Uuid> {
        self.state.as_ref().map(|s| s.run().id)
    }

    /// Opens a child span.
    #[must_use]
    pub fn span(&self, name: impl Into<Name>, kind: SpanKind) -> SpanHandle {
        SpanHandle::start(self.state.as_ref().map(|s| s.run()), self.id(), name, kind, None)
    }

    /// Records an event on this span.
    pub fn event(&self, event_type: EventType, content: impl Serialize) {
        // Serialize only when recording: disabled, this must not allocate.
        if let Some(s) = &self.state {
            s.event(event_type, Captured::of(&content), None);
        }
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, key: impl Into<Key>, value: impl Serialize) {
        if let Some(s) = &self.state {
            s.set_attribute(key.into(), Captured::of(&value));
        }
    }

    /// Marks the span as failed with this error: `{"type": <the error's type name>, "message"}`.
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        self.record_error_message(type_name_of::<E>(), &error.to_string());
    }

    /// Marks the span as failed with a structured error object.
    #[cfg_attr(not(feature = "llm-http"), expect(dead_code, reason = "used by the LLM instrumentation"))]
    pub(crate) fn record_error_json(&self, error: Value) {
        if let Some(s) = &self.state {
            s.data.lock().error = Some(Box::new(error));
        }
    }

    /// Marks the span as failed with an error type and message.
    pub fn record_error_message(&self, kind: &str, message: &str) {
        if let Some(s) = &self.state {
            s.data.lock().error = Some(Box::new(error_value(kind, message)));
        }
    }

    /// Token usage of a model call (see [`Usage`] for what each count includes). At the end of
    /// the span it is written as attributes (`input_tokens`, `output_tokens`, `total_tokens`,
    /// `cached_input_tokens`, `cache_write_tokens`, `reasoning_tokens`), priced from the table
    /// when the span has a `model` attribute and no `cost_usd` yet (`cost_usd`, `pricing_source`
    /// `northstar`, or `unknown`), and added to the run's `cost_usd` / `total_input_tokens` /
    /// `total_output_tokens`.
    pub fn record_usage(&self, usage: Usage) {
        if let Some(s) = &self.state {
            let mut data = s.data.lock();
            let total = data.usage.get_or_insert_with(Usage::default);
            total.input_tokens += usage.input_tokens;
            total.output_tokens += usage.output_tokens;
            total.cached_input_tokens += usage.cached_input_tokens;
            total.cache_write_tokens += usage.cache_write_tokens;
            total.reasoning_tokens += usage.reasoning_tokens;
        }
    }

    /// Records request messages as events (system → `system_message`, user → `user_input`,
    /// tool → `tool_result`, assistant → `assistant_message` + `tool_arguments` per tool call),
    /// if inputs are captured.
    pub fn record_input_messages(&self, messages: &[Message]) {
        if let Some(s) = self.state.as_ref().filter(|s| s.run().capture(true)) {
            for m in messages {
                for (t, content, attributes) in message_events(m) {
                    s.event(t, content.into(), boxed(attributes));
                }
            }
        }
    }

    /// Records the model's answer as events, if outputs are captured.
    pub fn record_output_message(&self, message: &Message) {
        if let Some(s) = self.state.as_ref().filter(|s| s.run().capture(false)) {
            for (t, content, attributes) in message_events(message) {
                s.event(t, content.into(), boxed(attributes));
            }
        }
    }

    /// Ends the span now (also happens on drop).
    pub fn end(&mut self) {
        self.cancel_on_drop = false;
        if let Some(s) = &self.state {
            SpanState::end(s, panic_error());
        }
    }
}

impl Drop for SpanHandle {
    fn drop(&mut self) {
        if let Some(s) = &self.state {
            SpanState::end(s, drop_error(self.cancel_on_drop, "observed"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Attributes;
    use serde_json::{Value, json};

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().expect("object").keys().cloned().collect()
    }

    #[test]
    fn a_key_set_again_keeps_its_place_and_takes_the_new_value() {
        let mut a = Attributes::default();
        a.insert("b", json!(1));
        a.insert(String::from("a"), json!(2));
        a.insert("b", json!(3));
        assert_eq!(a.get_f64("b"), Some(3.0));
        assert_eq!(Value::Object(a.to_map()), json!({"b": 3, "a": 2}));
        assert_eq!(keys(&Value::Object(a.to_map())), ["b", "a"]);
    }

    #[test]
    fn many_attributes_move_to_a_map_in_the_same_order() {
        let mut a = Attributes::default();
        for i in 0..40 {
            a.insert(format!("k{i:02}"), json!(i));
        }
        a.insert("k03", json!("again"));
        assert!(matches!(a, Attributes::Map(_)));
        let v = Value::Object(a.to_map());
        assert_eq!(keys(&v), (0..40).map(|i| format!("k{i:02}")).collect::<Vec<_>>());
        assert_eq!(v["k03"], json!("again"));
        assert_eq!(a.get_f64("k39"), Some(39.0));
    }
}
