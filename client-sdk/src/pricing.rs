//! Model prices, in USD per million tokens, and the cost of one call.
//!
//! Usage semantics (the SDK's, whatever the provider reports): `input_tokens` counts every
//! input token, `cached_input_tokens` is the part of them read from a prompt cache (priced at
//! the cached rate when the model has one), `reasoning_tokens` is the part of `output_tokens`
//! spent on reasoning (priced as output). The bundled table is small; add or override prices
//! with [`crate::Options::price`].

use std::collections::HashMap;

/// Prices of one model in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Rate for cached input tokens; `None` means they cost the normal input rate.
    pub cached_input_per_mtok: Option<f64>,
}

impl Price {
    /// A price with input and output rates only.
    #[must_use]
    pub const fn new(input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Self { input_per_mtok, output_per_mtok, cached_input_per_mtok: None }
    }

    /// The same price with a cached-input rate.
    #[must_use]
    pub const fn with_cached_input(mut self, per_mtok: f64) -> Self {
        self.cached_input_per_mtok = Some(per_mtok);
        self
    }
}

/// Token counts of one model call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Part of `input_tokens` served from a prompt cache.
    pub cached_input_tokens: u64,
    /// Part of `output_tokens` spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Input and output tokens.
    #[must_use]
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self { input_tokens, output_tokens, cached_input_tokens: 0, reasoning_tokens: 0 }
    }
}

/// Prices by model name.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

/// (model, input, output, cached input) in USD per million tokens.
const BUNDLED: &[(&str, f64, f64, Option<f64>)] = &[
    ("gpt-4o", 2.50, 10.00, Some(1.25)),
    ("gpt-4o-mini", 0.15, 0.60, Some(0.075)),
    ("gpt-4.1", 2.00, 8.00, Some(0.50)),
    ("gpt-4.1-mini", 0.40, 1.60, Some(0.10)),
    ("o3-mini", 1.10, 4.40, Some(0.55)),
    ("claude-3-5-sonnet", 3.00, 15.00, Some(0.30)),
    ("claude-3-5-haiku", 0.80, 4.00, Some(0.08)),
    ("claude-sonnet-4", 3.00, 15.00, Some(0.30)),
];

impl PriceTable {
    /// The prices that ship with the SDK.
    #[must_use]
    pub fn bundled() -> Self {
        let prices = BUNDLED
            .iter()
            .map(|&(model, input, output, cached)| {
                (
                    model.to_owned(),
                    Price { input_per_mtok: input, output_per_mtok: output, cached_input_per_mtok: cached },
                )
            })
            .collect();
        Self { prices }
    }

    /// Adds or replaces a model's price.
    pub fn set(&mut self, model: &str, price: Price) {
        self.prices.insert(normalize(model).to_owned(), price);
    }

    /// The price of `model`, matching provider prefixes (`openrouter/openai/gpt-4o`) and dated
    /// snapshots (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-20241022`) to the base name.
    #[must_use]
    pub fn get(&self, model: &str) -> Option<Price> {
        let model = normalize(model);
        self.prices.get(model).or_else(|| self.prices.get(strip_date(model))).copied()
    }

    /// USD cost of `usage` on `model`, or `None` for an unknown model.
    #[must_use]
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let price = self.get(model)?;
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let uncached = usage.input_tokens - cached;
        let cached_rate = price.cached_input_per_mtok.unwrap_or(price.input_per_mtok);
        #[expect(clippy::cast_precision_loss, reason = "token counts are far below 2^52")]
        let cost = (uncached as f64 * price.input_per_mtok
            + cached as f64 * cached_rate
            + usage.output_tokens as f64 * price.output_per_mtok)
            / 1_000_000.0;
        Some(cost)
    }
}

/// `openrouter/openai/gpt-4o` → `gpt-4o`; lower-cased comparison is left to the caller's names.
fn normalize(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model).trim()
}

/// Removes a trailing `-YYYY-MM-DD` or `-YYYYMMDD`.
fn strip_date(model: &str) -> &str {
    let bytes = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if bytes.len() > 11 && bytes[bytes.len() - 11] == b'-' {
        let tail = &bytes[bytes.len() - 10..];
        if digits(&tail[0..4]) && tail[4] == b'-' && digits(&tail[5..7]) && tail[7] == b'-' && digits(&tail[8..10]) {
            return &model[..model.len() - 11];
        }
    }
    if bytes.len() > 9 && bytes[bytes.len() - 9] == b'-' && digits(&bytes[bytes.len() - 8..]) {
        return &model[..model.len() - 9];
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_and_prefixed_names_match_the_base_model() {
        let t = PriceTable::bundled();
        assert_eq!(t.get("gpt-4o-2024-08-06"), t.get("gpt-4o"));
        assert_eq!(t.get("openrouter/openai/gpt-4o-mini"), t.get("gpt-4o-mini"));
        assert_eq!(t.get("claude-3-5-sonnet-20241022"), t.get("claude-3-5-sonnet"));
        assert!(t.get("gpt-4o").is_some());
        assert_eq!(t.get("my-local-llama"), None);
    }

    #[test]
    fn cost_prices_cached_input_at_the_cached_rate() {
        let t = PriceTable::bundled();
        let plain = t.cost("gpt-4o-mini", &Usage::new(120, 30)).expect("known");
        assert!((plain - 3.6e-05).abs() < 1e-12, "{plain}");
        let cached =
            Usage { input_tokens: 1_000_000, output_tokens: 0, cached_input_tokens: 400_000, reasoning_tokens: 0 };
        let cost = t.cost("gpt-4o", &cached).expect("known");
        assert!((cost - (0.6 * 2.50 + 0.4 * 1.25)).abs() < 1e-9, "{cost}");
        // Reasoning tokens are part of the output count: no extra charge.
        let reasoning =
            Usage { input_tokens: 0, output_tokens: 1_000_000, cached_input_tokens: 0, reasoning_tokens: 900_000 };
        assert!((t.cost("o3-mini", &reasoning).expect("known") - 4.40).abs() < 1e-9);
    }

    #[test]
    fn overrides_win() {
        let mut t = PriceTable::bundled();
        t.set("gpt-4o", Price::new(1.0, 1.0));
        t.set("in-house-model", Price::new(0.5, 0.5));
        assert_eq!(t.cost("gpt-4o-2024-11-20", &Usage::new(1_000_000, 0)), Some(1.0));
        assert_eq!(t.cost("in-house-model", &Usage::new(0, 2_000_000)), Some(1.0));
    }
}
