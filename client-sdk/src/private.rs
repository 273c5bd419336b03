//! What the attribute macros expand to. Not a public API: names may change in any release.

use std::fmt::Display;

use northstar_wire::{EventType, SpanKind};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::{SpanGuard, TraceGuard};
use crate::context::Context;
use crate::failure::type_name_of;
use crate::run::RunHandle;
use crate::span::SpanHandle;

pub use crate::capture::to_value;
pub use crate::context::FutureExt;
pub use northstar_wire::SpanKind as Kind;

/// What a traced function produced.
#[derive(Debug)]
pub enum Outcome {
    Output(Value),
    Error { kind: &'static str, message: String },
    Nothing,
}

/// `Result<T, E>`: `Ok` is the output, `Err` marks the run or span as failed. Chosen over
/// [`ViaValue`] by method resolution (autoref specialisation) when it applies.
pub trait ViaResult {
    fn __northstar_outcome(&self, capture: bool) -> Outcome;
}

impl<T: Serialize, E: Display> ViaResult for Result<T, E> {
    fn __northstar_outcome(&self, capture: bool) -> Outcome {
        match self {
            Ok(v) if capture => Outcome::Output(to_value(v)),
            Ok(_) => Outcome::Nothing,
            Err(e) => Outcome::Error { kind: type_name_of::<E>(), message: e.to_string() },
        }
    }
}

/// Any other serializable return value is the output.
pub trait ViaValue {
    fn __northstar_outcome(&self, capture: bool) -> Outcome;
}

impl<T: Serialize> ViaValue for &T {
    fn __northstar_outcome(&self, capture: bool) -> Outcome {
        if capture { Outcome::Output(to_value(*self)) } else { Outcome::Nothing }
    }
}

/// With `skip_output`: only an `Err` matters, and the value need not be serializable.
pub trait ViaResultError {
    fn __northstar_error(&self) -> Outcome;
}

impl<T, E: Display> ViaResultError for Result<T, E> {
    fn __northstar_error(&self) -> Outcome {
        match self {
            Ok(_) => Outcome::Nothing,
            Err(e) => Outcome::Error { kind: type_name_of::<E>(), message: e.to_string() },
        }
    }
}

pub trait ViaAnything {
    fn __northstar_error(&self) -> Outcome;
}

impl<T> ViaAnything for &T {
    fn __northstar_error(&self) -> Outcome {
        Outcome::Nothing
    }
}

/// The captured arguments as one object, built only when inputs are captured.
pub fn args(pairs: Vec<(&'static str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
}

fn captures(run: Option<&RunHandle>, inputs: bool) -> bool {
    run.and_then(|r| r.state.as_ref()).is_some_and(|s| s.capture(inputs))
}

/// `#[trace]` on a sync function: a current run, with the arguments as `user_input`.
pub fn sync_trace(name: &'static str, args: impl FnOnce() -> Value) -> TraceGuard {
    let guard = crate::trace(name);
    if captures(Some(&guard), true) {
        guard.event(EventType::UserInput, args());
    }
    guard
}

/// `#[trace]` on an async function: the run (ended by [`finish_run`], or marked cancelled if
/// the future is dropped first) and the context its body is polled in.
pub fn async_trace(name: &'static str, args: impl FnOnce() -> Value) -> (RunHandle, Context) {
    let mut run = crate::api::start_run(name);
    run.cancel_on_drop = true;
    if captures(Some(&run), true) {
        run.event(EventType::UserInput, args());
    }
    let context = Context { run: run.state.clone(), span: None };
    (run, context)
}

fn apply_run(run: &RunHandle, outcome: Outcome) {
    match outcome {
        Outcome::Output(v) => run.set_output(v),
        Outcome::Error { kind, message } => run.record_error_message(kind, &message),
        Outcome::Nothing => {}
    }
}

/// Records the outcome of a sync traced function; the run ends when the guard drops.
pub fn finish_trace(guard: &TraceGuard, outcome: Outcome) {
    apply_run(guard, outcome);
}

/// Records the outcome of an async traced function and ends the run.
pub fn finish_run(mut run: RunHandle, outcome: Outcome) {
    apply_run(&run, outcome);
    run.end();
}

fn observe_kind(kind: &str) -> SpanKind {
    SpanKind::parse(kind).unwrap_or(SpanKind::Tool)
}

/// `#[observe]` on a sync function: a current span, with the arguments as `tool_arguments`.
pub fn sync_observe(name: &'static str, kind: &str, args: impl FnOnce() -> Value) -> SpanGuard {
    let guard = crate::span(name, observe_kind(kind));
    if guard.state.as_ref().is_some_and(|s| s.run().capture(true)) {
        guard.event(EventType::ToolArguments, args());
    }
    guard
}

/// `#[observe]` on an async function.
pub fn async_observe(name: &'static str, kind: &str, args: impl FnOnce() -> Value) -> (SpanHandle, Context) {
    let mut span = crate::api::start_span(name, observe_kind(kind), None);
    span.cancel_on_drop = true;
    if span.state.as_ref().is_some_and(|s| s.run().capture(true)) {
        span.event(EventType::ToolArguments, args());
    }
    let context = span.context();
    (span, context)
}

fn apply_span(span: &SpanHandle, outcome: Outcome) {
    match outcome {
        Outcome::Output(v) => {
            if span.state.as_ref().is_some_and(|s| s.run().capture(false)) {
                span.event(EventType::ToolResult, v);
            }
        }
        Outcome::Error { kind, message } => span.record_error_message(kind, &message),
        Outcome::Nothing => {}
    }
}

/// Records the outcome of a sync observed function; the span ends when the guard drops.
pub fn finish_observe(guard: &SpanGuard, outcome: Outcome) {
    apply_span(guard, outcome);
}

/// Records the outcome of an async observed function and ends the span.
pub fn finish_span(mut span: SpanHandle, outcome: Outcome) {
    apply_span(&span, outcome);
    span.end();
}

/// Whether the run records anything (the macros look at the result only then).
#[must_use]
pub fn run_records(run: &RunHandle) -> bool {
    run.state.is_some()
}

/// Whether the span records anything.
#[must_use]
pub fn span_records(span: &SpanHandle) -> bool {
    span.state.is_some()
}

/// Whether the run records outputs (the macros skip serializing the value otherwise).
#[must_use]
pub fn run_captures_output(run: &RunHandle) -> bool {
    captures(Some(run), false)
}

/// Whether the span's run records outputs.
#[must_use]
pub fn span_captures_output(span: &SpanHandle) -> bool {
    span.state.as_ref().is_some_and(|s| s.run().capture(false))
}
