//! Ambient context: which run and span new records belong to, without passing handles.
//!
//! Each thread keeps a stack of entered contexts. Guards remove *their own* entry when they
//! drop, wherever it sits, so guards dropped out of order cannot corrupt the parenting of what
//! comes after. Futures carry a context with them ([`FutureExt::in_current_trace`]) and enter it
//! on every poll, like `tracing::Instrument`, so a task keeps its trace on any thread.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use uuid::Uuid;

use crate::run::RunState;
use crate::span::SpanRef;

/// Where new records go: a run and, inside it, the current span. Cheap to clone and `Send`:
/// take it with [`crate::current_context`] and [`Context::enter`] it on another thread.
#[derive(Clone, Default)]
pub struct Context {
    pub(crate) run: Option<Arc<RunState>>,
    pub(crate) span: Option<SpanRef>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("run", &self.trace_id()).field("span", &self.span_id()).finish()
    }
}

/// A thread's entered contexts, each with the token of the guard that leaves it. Tokens need
/// only be unique within the thread (guards are not `Send`), so they come from a plain counter.
struct Stack {
    entries: Vec<(u64, Entry)>,
    next_token: u64,
}

/// An entered context as the stack keeps it: a span knows its run, so entering one takes a
/// single reference (one atomic increment, and one decrement on leaving, per span).
pub(crate) enum Entry {
    Run(Arc<RunState>),
    Span(SpanRef),
}

impl Entry {
    pub(crate) fn run(&self) -> &Arc<RunState> {
        match self {
            Self::Run(run) => run,
            Self::Span(span) => span.run(),
        }
    }

    pub(crate) fn span(&self) -> Option<&SpanRef> {
        match self {
            Self::Run(_) => None,
            Self::Span(span) => Some(span),
        }
    }

    /// Makes this current on this thread until the returned guard drops.
    pub(crate) fn enter(self) -> Entered {
        let token = STACK.with(|s| {
            let mut stack = s.borrow_mut();
            let token = stack.next_token;
            stack.next_token += 1;
            stack.entries.push((token, self));
            token
        });
        Entered { token, _not_send: PhantomData }
    }
}

thread_local! {
    static STACK: RefCell<Stack> = const { RefCell::new(Stack { entries: Vec::new(), next_token: 1 }) };
}

impl Context {
    /// The innermost context entered on this thread (empty outside any trace).
    #[must_use]
    pub fn current() -> Self {
        Self::with_current(|entry| match entry {
            Some(e) => Self { run: Some(e.run().clone()), span: e.span().cloned() },
            None => Self::default(),
        })
    }

    /// Calls `f` with the innermost context, borrowed (nothing is cloned).
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Entry>) -> R) -> R {
        STACK.with(|s| f(s.borrow().entries.last().map(|(_, e)| e)))
    }

    /// The run id, if inside a trace.
    #[must_use]
    pub fn trace_id(&self) -> Option<Uuid> {
        self.run.as_ref().map(|r| r.id)
    }

    /// The current span id, if inside a span.
    #[must_use]
    pub fn span_id(&self) -> Option<Uuid> {
        self.span.as_ref().map(|s| s.id)
    }

    /// Makes this context current on this thread until the returned guard drops.
    #[must_use = "the context is left when the guard drops"]
    pub fn enter(&self) -> Entered {
        if self.run.is_none() {
            return Entered { token: 0, _not_send: PhantomData };
        }
        self.clone().enter_owned()
    }

    /// [`Context::enter`] without the clone.
    pub(crate) fn enter_owned(self) -> Entered {
        match (self.span, self.run) {
            (Some(span), _) => Entry::Span(span).enter(),
            (None, Some(run)) => Entry::Run(run).enter(),
            (None, None) => Entered { token: 0, _not_send: PhantomData },
        }
    }
}

/// Keeps a context current; leaving happens on drop. Not `Send`: it belongs to its thread.
#[derive(Debug)]
pub struct Entered {
    token: u64,
    _not_send: PhantomData<*const ()>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.token == 0 {
            return;
        }
        let token = self.token;
        // `try_with`: the thread-local may already be gone during thread teardown.
        let _ = STACK.try_with(|s| {
            let mut stack = s.borrow_mut();
            // Guards almost always drop innermost first.
            if stack.entries.last().is_some_and(|(t, _)| *t == token) {
                stack.entries.pop();
            } else if let Some(i) = stack.entries.iter().rposition(|(t, _)| *t == token) {
                stack.entries.remove(i);
            }
        });
    }
}

pin_project_lite::pin_project! {
    /// A future that enters its context on every poll. Made by [`FutureExt::in_current_trace`].
    #[derive(Debug)]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        context: Context,
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.context.enter();
        this.inner.poll(cx)
    }
}

/// Carrying the current trace into futures.
pub trait FutureExt: Future + Sized {
    /// Runs this future inside the context current now, wherever it is polled.
    fn in_current_trace(self) -> Instrumented<Self> {
        self.in_context(Context::current())
    }

    /// Runs this future inside `context`.
    fn in_context(self, context: Context) -> Instrumented<Self> {
        Instrumented { inner: self, context }
    }
}

impl<F: Future> FutureExt for F {}

/// `tokio::spawn` that keeps the current trace: spans and events of the task nest under the
/// span that was current when it was spawned.
///
/// # Panics
///
/// Outside a Tokio runtime, as `tokio::spawn` does.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_trace())
}
