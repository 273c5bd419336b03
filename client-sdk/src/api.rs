//! The ambient API: one [`init`], then [`trace`], [`span`], [`model_call`] and the `log_*`
//! functions find their run and span from the current context.

use std::cell::RefCell;
use std::ops::Deref;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use northstar_wire::{EventType, SpanKind};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::capture::Captured;
use crate::capture::to_value;
use crate::client::{Client, ScoreError, ScoreValue};
use crate::context::{Context, Entered, Entry};
use crate::options::{ConfigError, Options};
use crate::run::{RunHandle, SessionHandle};
use crate::span::{Key, Name, SpanHandle};
use crate::stats::Stats;

#[derive(Clone)]
struct Global {
    client: Client,
    session: SessionHandle,
}

static GLOBAL: RwLock<Option<Global>> = RwLock::new(None);

/// Counts the changes of [`GLOBAL`], so that a thread's copy of it knows when it is stale.
static GLOBAL_VERSION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's copy of [`GLOBAL`] and the version it was taken at. Starting a run reads
    /// it without taking the lock or cloning (six atomic read-modify-writes per run otherwise,
    /// on a lock word every recording thread shares). A copy outliving its client (after the
    /// guard dropped) keeps that client's memory until the thread next starts a run or ends.
    static GLOBAL_COPY: RefCell<(u64, Option<Global>)> = const { RefCell::new((u64::MAX, None)) };
}

fn global() -> Option<Global> {
    GLOBAL.read().ok().and_then(|g| g.clone())
}

/// Changes [`GLOBAL`] under its lock, and tells every thread's copy.
fn update_global(change: impl FnOnce(&mut Option<Global>)) {
    if let Ok(mut g) = GLOBAL.write() {
        change(&mut g);
    }
    GLOBAL_VERSION.fetch_add(1, Ordering::Release);
}

/// Calls `f` with the global client and session, from this thread's copy when it is current.
fn with_global<R>(f: impl FnOnce(Option<&Global>) -> R) -> R {
    let version = GLOBAL_VERSION.load(Ordering::Acquire);
    let mut f = Some(f);
    let done = GLOBAL_COPY
        .try_with(|copy| {
            let mut copy = copy.try_borrow_mut().ok()?;
            if copy.0 != version {
                *copy = (version, global());
            }
            f.take().map(|f| f(copy.1.as_ref()))
        })
        .ok()
        .flatten();
    // Without a usable copy (the thread is ending, or a call from inside `f`), from the lock.
    done.unwrap_or_else(|| f.take().expect("not called yet")(global().as_ref()))
}

/// Returned by [`init`]: dropping it ends the session and sends what is queued, blocking the
/// dropping thread for at most the shutdown timeout (5 s by default). Keep it alive for as long
/// as the program records; in async code, drop it where blocking is acceptable (at the end of
/// `main`, or in `spawn_blocking`).
#[must_use = "dropping the guard shuts the SDK down; bind it: `let _northstar = northstar::init(…);`"]
#[derive(Debug)]
pub struct Guard {
    client: Client,
    session: SessionHandle,
}

impl Guard {
    /// The client behind the ambient API.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The session all traces of this `init` share.
    #[must_use]
    pub fn session(&self) -> &SessionHandle {
        &self.session
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        update_global(|g| {
            if g.as_ref().is_some_and(|g| g.session.id() == self.session.id()) {
                *g = None;
            }
        });
        self.session.end();
        if let Some(inner) = &self.client.inner {
            self.client.shutdown(inner.options.shutdown_timeout);
        }
    }
}

/// Starts the SDK: reads unset options from the environment, starts the `northstar-flush`
/// thread and a session shared by every trace until the guard drops or `init` is called again.
/// Without an API key and endpoint, or when disabled, everything is a no-op.
///
/// A configuration error (for example `NORTHSTAR_ENABLED=maybe`) is printed to stderr and
/// leaves the SDK disabled; use [`try_init`] to handle it.
pub fn init(options: Options) -> Guard {
    try_init(options).unwrap_or_else(|err| {
        eprintln!("[NorthStar] disabled: {err}");
        Guard { client: Client::noop(), session: Client::noop().session() }
    })
}

/// [`init`], returning configuration errors.
///
/// # Errors
///
/// An invalid environment boolean or a zero size/interval.
pub fn try_init(options: Options) -> Result<Guard, ConfigError> {
    let client = Client::new(options)?;
    let session = client.session();
    update_global(|g| *g = client.is_enabled().then(|| Global { client: client.clone(), session: session.clone() }));
    Ok(Guard { client, session })
}

/// A run that is current on this thread until the guard drops; then it ends (`ok`, or `error`
/// if an error was recorded or the thread is panicking). Dereferences to [`RunHandle`].
#[must_use = "the run ends when the guard drops"]
#[derive(Debug)]
pub struct TraceGuard {
    // Field order matters: leave the context before the run ends.
    _entered: Entered,
    run: RunHandle,
}

impl Deref for TraceGuard {
    type Target = RunHandle;
    fn deref(&self) -> &RunHandle {
        &self.run
    }
}

/// A span that is current on this thread until the guard drops. Dereferences to [`SpanHandle`].
#[must_use = "the span ends when the guard drops"]
#[derive(Debug)]
pub struct SpanGuard {
    _entered: Entered,
    span: SpanHandle,
}

impl Deref for SpanGuard {
    type Target = SpanHandle;
    fn deref(&self) -> &SpanHandle {
        &self.span
    }
}

/// Opens a run in the session of the last [`init`] and makes it current. Each call starts a new
/// run, also inside another trace (runs do not nest; spans do).
///
/// The name, as a span's ([`Name`]): a `&'static str` is kept without copying; a name made at
/// run time is passed as a `String`.
pub fn trace(name: impl Into<Name>) -> TraceGuard {
    let run = start_run(name);
    let context = Context { run: run.state.clone(), span: None };
    TraceGuard { _entered: context.enter_owned(), run }
}

/// Disabled, this allocates nothing: the name is converted only once a run is certain.
pub(crate) fn start_run(name: impl Into<Name>) -> RunHandle {
    with_global(|g| match g {
        Some(g) => g.session.run(name),
        None => RunHandle { state: None, cancel_on_drop: false },
    })
}

/// Opens a span under the current span (or at the top of the current run) and makes it
/// current. Outside a trace it records nothing.
pub fn span(name: impl Into<Name>, kind: SpanKind) -> SpanGuard {
    enter_span(start_span(name, kind, None))
}

/// Runs `future` inside a new span under the current one, ending the span when the future
/// completes (or is dropped: then the span is marked cancelled). The async counterpart of
/// [`span`], whose guard belongs to its thread and must not be held across `.await`.
pub async fn in_span<F: std::future::Future>(name: impl Into<Name>, kind: SpanKind, future: F) -> F::Output {
    let mut span = start_span(name, kind, None);
    span.cancel_on_drop = true;
    let context = span.context();
    let output = crate::context::FutureExt::in_context(future, context).await;
    span.end();
    output
}

/// Opens a `model` span for one LLM call, with the `model` attribute set. Record messages with
/// [`SpanHandle::record_input_messages`] / [`SpanHandle::record_output_message`] and tokens
/// with [`SpanHandle::record_usage`]; the cost is computed when the span ends.
pub fn model_call(name: impl Into<Name>, model: impl Into<String>) -> SpanGuard {
    if Context::current().run.is_none() {
        return enter_span(SpanHandle { state: None, cancel_on_drop: false });
    }
    let mut attributes = Map::new();
    attributes.insert("model".into(), Value::String(model.into()));
    enter_span(start_span(name, SpanKind::Model, Some(attributes)))
}

pub(crate) fn start_span(name: impl Into<Name>, kind: SpanKind, attributes: Option<Map<String, Value>>) -> SpanHandle {
    Context::with_current(|current| {
        let parent = current.and_then(Entry::span).map(|s| s.id);
        SpanHandle::start(current.map(Entry::run), parent, name, kind, attributes)
    })
}

fn enter_span(span: SpanHandle) -> SpanGuard {
    let entered = match &span.state {
        Some(state) => Entry::Span(state.clone()).enter(),
        None => Context::default().enter_owned(),
    };
    SpanGuard { _entered: entered, span }
}

fn in_current(f: impl FnOnce(&Context)) {
    let current = Context::current();
    if current.run.is_some() {
        f(&current);
    }
}

/// Records a `custom` event `{"name", "data"}` (attributes `{"northstar_type": "event"}`) on the
/// current span, or on the run when no span is open.
pub fn log_event(name: &str, data: impl Serialize) {
    in_current(|c| {
        let mut attributes = Map::new();
        attributes.insert("northstar_type".into(), json!("event"));
        let content = json!({"name": name, "data": to_value(&data)});
        if let Some(run) = &c.run {
            run.event(c.span_id(), EventType::Custom, content, attributes);
        }
    });
}

/// Records a `custom` event `{"name", "value"}` (attributes `{"northstar_type": "metric"}`).
/// Metrics are numbers by type; a non-finite value is recorded as `null`.
pub fn log_metric(name: &str, value: f64) {
    in_current(|c| {
        let mut attributes = Map::new();
        attributes.insert("northstar_type".into(), json!("metric"));
        let content = json!({"name": name, "value": value});
        if let Some(run) = &c.run {
            run.event(c.span_id(), EventType::Custom, content, attributes);
        }
    });
}

/// Sets a key on the current span's attributes, or on the run's metadata when no span is open.
pub fn log_metadata(key: &str, value: impl Serialize) {
    in_current(|c| match (&c.span, &c.run) {
        (Some(span), _) => span.set_attribute(Key::Owned(key.to_owned()), Captured::of(&value)),
        (None, Some(run)) => run.set_metadata(key.to_owned(), to_value(&value)),
        (None, None) => {}
    });
}

/// The id of the current run, if inside a trace.
#[must_use]
pub fn current_trace_id() -> Option<Uuid> {
    Context::current().trace_id()
}

/// The current context, to carry into another thread ([`Context::enter`]) or future.
#[must_use]
pub fn current_context() -> Context {
    Context::current()
}

/// Sends everything recorded so far, waiting up to `timeout`; false if something is still
/// unsent. True when the SDK is not initialised.
#[must_use]
pub fn flush(timeout: Duration) -> bool {
    global().is_none_or(|g| g.client.flush(timeout))
}

/// Scores a run: `f64` (numeric), `bool` (boolean) or a string (categorical).
///
/// # Errors
///
/// A blank name, a non-finite number or a blank category.
pub fn score(run_id: Uuid, name: &str, value: impl Into<ScoreValue>) -> Result<Option<Uuid>, ScoreError> {
    match global() {
        Some(g) => g.client.score(run_id, name, value),
        None => Client::noop().score(run_id, name, value),
    }
}

/// Delivery counters of the current client (zeros when not initialised).
#[must_use]
pub fn stats() -> Stats {
    global().map(|g| g.client.stats()).unwrap_or_default()
}

/// A prompt of the server's registry by slug, through the global client: `.label(…)`,
/// `.version(…)`, `.fallback(…)`, then `.await` (see [`crate::Prompt`]). Without [`init`] it
/// gives the fallback, or [`crate::PromptError::Disabled`].
pub fn prompt(slug: &str) -> crate::PromptRequest {
    crate::PromptRequest::new(global().map(|g| g.client).unwrap_or_default(), slug)
}
