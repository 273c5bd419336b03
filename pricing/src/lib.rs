//! Dated LLM prices and the cost of one call.
//!
//! The bundled table (`prices.json`, embedded at build time) lists each model's price in USD per
//! million tokens with the date it took effect; a model may have several entries, and a call is
//! priced with the latest one in effect on its date. Names match through provider prefixes
//! (`openrouter/openai/gpt-4o`), dated snapshots (`gpt-4o-2024-08-06`,
//! `claude-3-5-sonnet-20241022`, `gemini-2.5-flash-preview-05-20`), `-latest` and aliases.
//!
//! **Token classes** ([`Usage`]): `input_tokens` counts every prompt token, *including* the
//! `cached_input_tokens` read from a prompt cache and the `cache_write_tokens` written to one;
//! `output_tokens` counts every generated token, *including* `reasoning_tokens`. Providers report
//! differently (OpenAI's cached tokens are inside `prompt_tokens`; Anthropic's cache reads and
//! writes are outside `input_tokens`; Gemini's thinking tokens are outside
//! `candidates_token_count`): the `from_*` constructors convert each report to this one meaning.
//!
//! ```
//! use northstar_pricing::{PriceTable, Usage};
//!
//! let table = PriceTable::bundled();
//! let usage = Usage::from_openai(1_000, 200, Some(400), Some(150));
//! let cost = table.cost("gpt-4o-2024-08-06", &usage, None).expect("a known model");
//! // 600 × $2.50 + 400 cached × $1.25 + 200 × $10 per million tokens
//! assert!((cost - 0.004).abs() < 1e-12);
//! ```

use northstar_wire::attributes as attr;
use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use serde::Deserialize;

/// The prices of one model from one date, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Prompt-cache reads; `None` means the input rate.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Prompt-cache writes; `None` means the input rate.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Reasoning tokens, where a model prices them apart; `None` means the output rate.
    #[serde(default)]
    pub reasoning: Option<f64>,
}

impl Price {
    /// Input and output rates only.
    #[must_use]
    pub const fn new(input: f64, output: f64) -> Self {
        Self { input, output, cached_input: None, cache_write: None, reasoning: None }
    }

    /// With a prompt-cache read rate.
    #[must_use]
    pub const fn with_cached_input(mut self, rate: f64) -> Self {
        self.cached_input = Some(rate);
        self
    }

    /// With a prompt-cache write rate.
    #[must_use]
    pub const fn with_cache_write(mut self, rate: f64) -> Self {
        self.cache_write = Some(rate);
        self
    }

    /// USD cost of `usage` at these rates.
    #[must_use]
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
        let plain_input = usage.input_tokens - cached - written;
        let reasoning = usage.reasoning_tokens.min(usage.output_tokens);
        let plain_output = usage.output_tokens - reasoning;
        #[expect(clippy::cast_precision_loss, reason = "token counts are far below 2^52")]
        let micro = plain_input as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + written as f64 * self.cache_write.unwrap_or(self.input)
            + plain_output as f64 * self.output
            + reasoning as f64 * self.reasoning.unwrap_or(self.output);
        micro / 1_000_000.0
    }
}

/// Token counts of one call, in NorthStar's meaning (see the crate docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every prompt token, cached reads and cache writes included.
    pub input_tokens: u64,
    /// Every generated token, reasoning included.
    pub output_tokens: u64,
    /// Part of `input_tokens` read from a prompt cache.
    pub cached_input_tokens: u64,
    /// Part of `input_tokens` written to a prompt cache.
    pub cache_write_tokens: u64,
    /// Part of `output_tokens` spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// The usage a model span's attributes record (`input_tokens`, `output_tokens` and the
    /// optional classes, as [`Usage::attributes`] writes them); `None` when they carry neither
    /// input nor output tokens. Counts that are not whole non-negative numbers count as absent.
    #[must_use]
    pub fn from_attributes(attributes: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        let count = |key: &str| attributes.get(key).and_then(serde_json::Value::as_u64);
        let (input, output) = (count(attr::INPUT_TOKENS), count(attr::OUTPUT_TOKENS));
        if input.is_none() && output.is_none() {
            return None;
        }
        Some(Self {
            input_tokens: input.unwrap_or(0),
            output_tokens: output.unwrap_or(0),
            cached_input_tokens: count(attr::CACHED_INPUT_TOKENS).unwrap_or(0),
            cache_write_tokens: count(attr::CACHE_WRITE_TOKENS).unwrap_or(0),
            reasoning_tokens: count(attr::REASONING_TOKENS).unwrap_or(0),
        })
    }

    /// The attributes that record this usage on a model span: input, output and total tokens
    /// always, each optional class when it is not zero. No allocation (the SDK calls it on the
    /// recording path).
    pub fn attributes(&self) -> impl Iterator<Item = (&'static str, u64)> {
        let always = [
            (attr::INPUT_TOKENS, self.input_tokens),
            (attr::OUTPUT_TOKENS, self.output_tokens),
            (attr::TOTAL_TOKENS, self.input_tokens + self.output_tokens),
        ];
        let optional = [
            (attr::CACHED_INPUT_TOKENS, self.cached_input_tokens),
            (attr::CACHE_WRITE_TOKENS, self.cache_write_tokens),
            (attr::REASONING_TOKENS, self.reasoning_tokens),
        ];
        always.into_iter().chain(optional.into_iter().filter(|(_, n)| *n > 0))
    }

    /// Plain input and output counts.
    #[must_use]
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self { input_tokens, output_tokens, cached_input_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 }
    }

    /// OpenAI (Chat Completions `prompt_tokens` / `completion_tokens` with `cached_tokens` and
    /// `reasoning_tokens` details; the Responses API's `input_tokens` / `output_tokens` likewise):
    /// cached tokens are part of the prompt count, reasoning tokens part of the completion count.
    #[must_use]
    pub fn from_openai(prompt: u64, completion: u64, cached: Option<u64>, reasoning: Option<u64>) -> Self {
        Self {
            input_tokens: prompt,
            output_tokens: completion,
            cached_input_tokens: cached.unwrap_or(0),
            cache_write_tokens: 0,
            reasoning_tokens: reasoning.unwrap_or(0),
        }
    }

    /// Anthropic Messages: `input_tokens` excludes `cache_read_input_tokens` and
    /// `cache_creation_input_tokens`, which are added here.
    #[must_use]
    pub fn from_anthropic(input: u64, output: u64, cache_read: Option<u64>, cache_creation: Option<u64>) -> Self {
        let (read, write) = (cache_read.unwrap_or(0), cache_creation.unwrap_or(0));
        Self {
            input_tokens: input + read + write,
            output_tokens: output,
            cached_input_tokens: read,
            cache_write_tokens: write,
            reasoning_tokens: 0,
        }
    }

    /// Google Gemini `usageMetadata`: `cachedContentTokenCount` is part of `promptTokenCount`;
    /// `thoughtsTokenCount` is not part of `candidatesTokenCount` and is added here.
    #[must_use]
    pub fn from_gemini(prompt: u64, candidates: u64, cached: Option<u64>, thoughts: Option<u64>) -> Self {
        let thoughts = thoughts.unwrap_or(0);
        Self {
            input_tokens: prompt,
            output_tokens: candidates + thoughts,
            cached_input_tokens: cached.unwrap_or(0),
            cache_write_tokens: 0,
            reasoning_tokens: thoughts,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Entry {
    model: String,
    #[serde(default)]
    aliases: Vec<String>,
    effective_from: NaiveDate,
    #[serde(flatten)]
    price: Price,
}

#[derive(Debug, Deserialize)]
struct TableFile {
    version: String,
    models: Vec<Entry>,
}

/// The bundled table as shipped: `pricing/prices.json`.
pub const BUNDLED_JSON: &str = include_str!("../prices.json");

/// Prices by model, each with its effective dates.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    version: String,
    /// Normalised name → (effective from, price), sorted by date.
    prices: HashMap<String, Vec<(NaiveDate, Price)>>,
}

impl PriceTable {
    /// The table that ships with this crate.
    ///
    /// # Panics
    ///
    /// Never for the shipped file: its parse is checked by this crate's tests.
    #[must_use]
    pub fn bundled() -> Self {
        Self::from_json(BUNDLED_JSON).expect("the bundled price table parses")
    }

    /// A table from JSON in the bundled file's format.
    ///
    /// # Errors
    ///
    /// Malformed JSON or a missing field.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let file: TableFile = serde_json::from_str(json)?;
        let mut table = Self { version: file.version, prices: HashMap::new() };
        for entry in file.models {
            for name in std::iter::once(&entry.model).chain(&entry.aliases) {
                table.insert(name, entry.effective_from, entry.price);
            }
        }
        Ok(table)
    }

    fn insert(&mut self, model: &str, from: NaiveDate, price: Price) {
        let dated = self.prices.entry(normalize(model)).or_default();
        dated.retain(|(d, _)| *d != from);
        dated.push((from, price));
        dated.sort_by_key(|(d, _)| *d);
    }

    /// The table's version (the date its prices were last reviewed).
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Adds or overrides a model's price, in effect from the beginning of time (so it wins
    /// over every bundled entry for that model).
    pub fn set(&mut self, model: &str, price: Price) {
        self.prices.insert(normalize(model), vec![(NaiveDate::MIN, price)]);
    }

    /// The price of `model` on `date` (today when `None`).
    #[must_use]
    pub fn price(&self, model: &str, date: Option<NaiveDate>) -> Option<Price> {
        let date = date.unwrap_or_else(|| Utc::now().date_naive());
        candidates(model).find_map(|name| {
            self.prices.get(&name).and_then(|dated| dated.iter().rev().find(|(from, _)| *from <= date).map(|(_, p)| *p))
        })
    }

    /// USD cost of `usage` on `model` on `date` (today when `None`); `None` for an unknown model.
    #[must_use]
    pub fn cost(&self, model: &str, usage: &Usage, date: Option<NaiveDate>) -> Option<f64> {
        self.price(model, date).map(|p| p.cost(usage))
    }
}

/// Lower case, last path segment (`openrouter/openai/gpt-4o` → `gpt-4o`, `models/gemini-…`).
fn normalize(model: &str) -> String {
    model.trim().rsplit('/').next().unwrap_or(model).trim().to_ascii_lowercase()
}

/// The name, then the name without a snapshot suffix.
fn candidates(model: &str) -> impl Iterator<Item = String> {
    let name = normalize(model);
    let base = strip_snapshot(&name).to_owned();
    std::iter::once(name.clone()).chain((base != name).then_some(base))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Removes `-latest`, `-YYYY-MM-DD`, `-YYYYMMDD`, `-MMDD`-style and `-preview[-MM-DD]` /
/// `-exp[-MMDD]` suffixes, repeatedly.
fn strip_snapshot(name: &str) -> &str {
    let mut current = name;
    loop {
        let before = current;
        if let Some(s) = current.strip_suffix("-latest") {
            current = s;
        }
        let parts: Vec<&str> = current.rsplitn(4, '-').collect();
        // -YYYY-MM-DD
        if parts.len() == 4
            && parts[2].len() == 4
            && is_digits(parts[2])
            && parts[1].len() == 2
            && is_digits(parts[1])
            && parts[0].len() == 2
            && is_digits(parts[0])
        {
            current = parts[3];
        } else if let Some((head, tail)) = current.rsplit_once('-')
            && is_digits(tail)
            && (tail.len() == 8 || tail.len() == 4)
        {
            // -YYYYMMDD, -MMDD
            current = head;
        } else if let Some((head, tail)) = current.rsplit_once('-')
            && (tail == "preview" || tail == "exp")
        {
            current = head;
        } else if let Some((head, tail)) = current.rsplit_once('-')
            && tail.len() == 2
            && is_digits(tail)
            && let Some((head2, mid)) = head.rsplit_once('-')
            && mid.len() == 2
            && is_digits(mid)
        {
            // -MM-DD (as in gemini-2.5-flash-preview-05-20)
            current = head2;
        }
        if current == before {
            return current;
        }
    }
}

#[cfg(test)]
mod tests;
