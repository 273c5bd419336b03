//! # NorthStar: tracing for AI agents
//!
//! Record every step of an agent run (LLM calls with tokens and cost, tool calls with their
//! arguments and results, errors) without changing its control flow. Records are queued in
//! memory and shipped in batches to a NorthStar server by a background thread,
//! `northstar-flush`; the calling thread never waits on the network.
//!
//! ```no_run
//! use northstar::{Message, SpanKind, Usage};
//!
//! // NORTHSTAR_ENDPOINT=http://127.0.0.1:8080/functions/v1/ingest-traces NORTHSTAR_API_KEY=ns_…
//! let _northstar = northstar::init(northstar::Options::default());
//!
//! let run = northstar::trace("support-agent");
//! run.set_input("How do refunds work?");
//! {
//!     let _search = northstar::span("search_docs", SpanKind::Tool);
//!     northstar::log_metadata("hits", 2);
//! }
//! {
//!     let llm = northstar::model_call("answer", "gpt-4o-mini");
//!     llm.record_input_messages(&[Message::user("How do refunds work?")]);
//!     llm.record_output_message(&Message::assistant("Within 30 days."));
//!     llm.record_usage(Usage::new(120, 30));
//! }
//! run.set_output("Within 30 days.");
//! ```
//!
//! Or with attribute macros:
//!
//! ```no_run
//! #[northstar::trace]
//! async fn agent(question: String) -> Result<String, std::io::Error> {
//!     let hits = search_docs(question.clone()).await;
//!     Ok(format!("{hits} documents"))
//! }
//!
//! #[northstar::observe] // a `tool` span: arguments and result become events
//! async fn search_docs(query: String) -> usize {
//!     query.len()
//! }
//! ```
//!
//! **Context.** Guards and macros nest: a span opens under the current span of the current
//! run. A future keeps its trace with [`FutureExt::in_current_trace`] (or spawn it with
//! [`spawn`]); a thread takes it with [`current_context`] and [`Context::enter`]. The guards of
//! [`trace()`] and [`span()`] belong to their thread (they are not `Send`) and must not be held
//! across `.await`; in async code use the attribute macros or [`in_span`].
//!
//! **Delivery.** At most `batch_size` records per request; up to `max_attempts` (3) attempts for
//! 408, 429, 500, 502–504 and transport errors, with exponential backoff and jitter, honouring
//! `Retry-After`, after which the batch stays queued and is retried at the next flush (ids never
//! change, so the server stores each record once). A batch the server rejects otherwise is
//! dropped and counted, never blocking later data; a full queue drops the new record and counts
//! it. [`stats`] tells what was sent and what was dropped, by reason.
//!
//! **Prompts.** [`prompt()`] fetches a version from the server's registry (cached for a TTL,
//! served stale while the server is away, or a fallback); [`Prompt::compile`] inside a
//! [`model_call`] links that span to the version.
//!
//! **Disabled** (or no API key or endpoint): every call is a no-op; no thread, no queue.

extern crate self as northstar;

mod api;
mod capture;
mod client;
mod clock;
mod context;
mod failure;
#[cfg(feature = "llm-http")]
pub mod instrument;
mod llm;
mod options;
mod prompt;
mod redact;
mod run;
mod span;
mod stats;
#[cfg(feature = "tracing")]
mod tracing_layer;
mod worker;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use api::{
    Guard, SpanGuard, TraceGuard, current_context, current_trace_id, flush, in_span, init, log_event, log_metadata,
    log_metric, model_call, prompt, score, span, stats, trace, try_init,
};
pub use client::{Client, ScoreError, ScoreValue};
pub use context::{Context, Entered, FutureExt, Instrumented, spawn};
pub use llm::{Message, Role, ToolCall};
pub use northstar_macros::{observe, trace};
pub use northstar_pricing::{Price, PriceTable, Usage};
pub use northstar_wire::{EventType, SpanKind};
pub use options::{ConfigError, DEFAULT_REDACT_KEYS, Mask, Options};
pub use prompt::{CompiledPrompt, DEFAULT_PROMPT_TTL, Prompt, PromptError, PromptRequest};
pub use run::{RunHandle, SessionHandle};
pub use span::{Key, Name, SpanHandle};
pub use stats::Stats;
#[cfg(feature = "tracing")]
pub use tracing_layer::{NorthstarLayer, tracing_layer};
#[cfg(feature = "test-util")]
pub use worker::transport::MemoryTransport;
pub use worker::transport::{Attempt, Delivery, HttpTransport, Transport};
