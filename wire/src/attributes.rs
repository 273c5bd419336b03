//! The attribute names NorthStar itself reads and writes: on model spans (model, token counts,
//! cost) and in run metadata (the original SDK's run totals). One place for the SDK, ingest
//! (validation, cost filling, the OTLP mapping), the store's figures and the dashboard; the
//! mapping between a token usage and these attributes is `northstar_pricing::Usage`'s.

/// The model a model span called.
pub const MODEL: &str = "model";
/// Every prompt token, cached reads and cache writes included.
pub const INPUT_TOKENS: &str = "input_tokens";
/// Every generated token, reasoning included.
pub const OUTPUT_TOKENS: &str = "output_tokens";
/// Input plus output, for readers that want one number.
pub const TOTAL_TOKENS: &str = "total_tokens";
/// Part of the input read from a prompt cache.
pub const CACHED_INPUT_TOKENS: &str = "cached_input_tokens";
/// Part of the input written to a prompt cache.
pub const CACHE_WRITE_TOKENS: &str = "cache_write_tokens";
/// Part of the output spent on reasoning.
pub const REASONING_TOKENS: &str = "reasoning_tokens";
/// The call's cost in US dollars.
pub const COST_USD: &str = "cost_usd";
/// Who priced the call: `client`, `northstar` (the SDK's table), `northstar-server`, `unknown`.
pub const PRICING_SOURCE: &str = "pricing_source";

/// In a run's metadata: its input tokens, counted only when none of its model spans carries
/// [`INPUT_TOKENS`] (the original SDK sends totals there). Its cost is [`COST_USD`] likewise.
pub const TOTAL_INPUT_TOKENS: &str = "total_input_tokens";
/// In a run's metadata: its output tokens, under the same rule.
pub const TOTAL_OUTPUT_TOKENS: &str = "total_output_tokens";
