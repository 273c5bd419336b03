//! The table parses, names match, and each provider's token report is priced correctly.

use chrono::NaiveDate;

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn date(s: &str) -> Option<NaiveDate> {
    Some(s.parse().expect("date"))
}

#[test]
fn the_bundled_table_parses_and_covers_the_main_providers() {
    let t = PriceTable::bundled();
    assert!(!t.version().is_empty());
    for model in ["gpt-4o", "o3-mini", "claude-sonnet-4", "gemini-2.5-pro", "mistral-large", "deepseek-chat"] {
        assert!(t.price(model, None).is_some(), "{model}");
    }
}

#[test]
fn snapshots_prefixes_and_aliases_match_the_base_model() {
    let t = PriceTable::bundled();
    let base = |m: &str| t.price(m, None);
    assert_eq!(base("gpt-4o-2024-08-06"), base("gpt-4o"));
    assert_eq!(base("gpt-4o-mini-2024-07-18"), base("gpt-4o-mini"));
    assert_eq!(base("openrouter/openai/gpt-4o-mini"), base("gpt-4o-mini"));
    assert_eq!(base("claude-3-5-sonnet-20241022"), base("claude-3-5-sonnet"));
    assert_eq!(base("anthropic/claude-3.5-sonnet"), base("claude-3-5-sonnet"));
    assert_eq!(base("claude-3-5-sonnet-latest"), base("claude-3-5-sonnet"));
    assert_eq!(base("models/gemini-2.5-flash-preview-05-20"), base("gemini-2.5-flash"));
    assert_eq!(base("GPT-4o"), base("gpt-4o"));
    assert!(base("gpt-4o-mini").is_some() && base("gpt-4o-mini") != base("gpt-4o"), "no prefix confusion");
    assert_eq!(base("my-finetune"), None);
}

#[test]
fn the_price_in_effect_on_the_call_date_applies() {
    let t = PriceTable::bundled();
    let usage = Usage::new(1_000_000, 0);
    assert_eq!(t.cost("o3", &usage, date("2025-05-01")), Some(10.0), "before the June 2025 price cut");
    assert_eq!(t.cost("o3", &usage, date("2025-07-01")), Some(2.0), "after it");
    assert_eq!(t.cost("o3", &usage, date("2024-01-01")), None, "before the model existed");
}

#[test]
fn openai_cached_and_reasoning_tokens() {
    // Chat Completions: prompt_tokens 10,000 with 6,000 cached; completion_tokens 2,000 with
    // 1,500 reasoning. Cached tokens are inside the prompt count; reasoning inside completion.
    let usage = Usage::from_openai(10_000, 2_000, Some(6_000), Some(1_500));
    let cost = PriceTable::bundled().cost("o4-mini", &usage, None).expect("known");
    assert!(close(cost, (4_000.0 * 1.10 + 6_000.0 * 0.275 + 2_000.0 * 4.40) / 1e6), "{cost}");
}

#[test]
fn anthropic_cache_reads_and_writes_are_outside_input_tokens() {
    // input_tokens 1,000 (uncached), cache_read 20,000, cache_creation 5,000, output 500.
    let usage = Usage::from_anthropic(1_000, 500, Some(20_000), Some(5_000));
    assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens), (26_000, 20_000, 5_000));
    let cost = PriceTable::bundled().cost("claude-sonnet-4-20250514", &usage, None).expect("known");
    assert!(close(cost, (1_000.0 * 3.0 + 20_000.0 * 0.30 + 5_000.0 * 3.75 + 500.0 * 15.0) / 1e6), "{cost}");
}

#[test]
fn gemini_thinking_tokens_are_outside_candidates() {
    // promptTokenCount 8,000 with 2,000 cached; candidatesTokenCount 300; thoughtsTokenCount 1,200.
    let usage = Usage::from_gemini(8_000, 300, Some(2_000), Some(1_200));
    assert_eq!((usage.output_tokens, usage.reasoning_tokens), (1_500, 1_200));
    let cost = PriceTable::bundled().cost("gemini-2.5-flash", &usage, None).expect("known");
    assert!(close(cost, (6_000.0 * 0.30 + 2_000.0 * 0.03 + 1_500.0 * 2.50) / 1e6), "{cost}");
}

#[test]
fn models_without_a_cache_rate_charge_the_input_rate() {
    let usage = Usage::from_openai(1_000_000, 0, Some(500_000), None);
    assert_eq!(PriceTable::bundled().cost("mistral-large", &usage, None), Some(2.0));
}

#[test]
fn a_separate_reasoning_rate_applies_where_given() {
    let price = Price { reasoning: Some(1.0), ..Price::new(1.0, 10.0) };
    let usage = Usage { output_tokens: 1_000_000, reasoning_tokens: 400_000, ..Usage::default() };
    assert!(close(price.cost(&usage), 0.6 * 10.0 + 0.4 * 1.0));
}

#[test]
fn overrides_win_over_every_dated_entry() {
    let mut t = PriceTable::bundled();
    t.set("o3", Price::new(1.0, 1.0));
    t.set("in-house-llm", Price::new(0.5, 0.5).with_cached_input(0.1));
    assert_eq!(t.cost("o3-2025-04-16", &Usage::new(1_000_000, 0), date("2025-05-01")), Some(1.0));
    assert_eq!(t.cost("in-house-llm", &Usage::new(0, 2_000_000), None), Some(1.0));
}

#[test]
fn inconsistent_counts_never_go_negative() {
    let usage = Usage {
        input_tokens: 10,
        output_tokens: 5,
        cached_input_tokens: 50,
        cache_write_tokens: 50,
        reasoning_tokens: 50,
    };
    let cost = Price::new(1.0, 1.0).with_cached_input(0.5).cost(&usage);
    assert!(cost >= 0.0 && close(cost, (10.0 * 0.5 + 5.0) / 1e6), "{cost}");
}
