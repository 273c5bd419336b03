//! The SDK's integration tests against the real server, in one binary (each test binary links
//! the server and store too): a module per subject. The tests that must own their process
//! (`environment`, `disabled_allocations`: process environment, a counting global allocator)
//! stay binaries of their own.

mod common;
#[cfg(all(feature = "async-openai", feature = "reqwest-middleware"))]
mod llm_mock;

mod agent_e2e;
mod context;
mod delivery;
mod llm_instrumentation;
mod prompts;
mod tracing_layer;
