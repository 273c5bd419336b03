//! Costs for clients that send tokens but no price: a `model` span whose attributes carry a
//! `model` and token counts but no `cost_usd` gets `cost_usd` from the bundled table, at the
//! price in effect on the span's start date, and `pricing_source: "northstar-server"`. A cost
//! the client sent is never changed; an unknown model stays without one.

use northstar_pricing::{PriceTable, Usage};
use northstar_wire::attributes::{COST_USD, MODEL, PRICING_SOURCE};
use northstar_wire::{Batch, Span, SpanKind};
use serde_json::{Value, json};

pub(crate) fn fill_missing_costs(batch: &mut Batch, prices: &PriceTable) {
    fill_missing_costs_of(&mut batch.spans, prices);
}

/// [`fill_missing_costs`] of some spans.
pub(crate) fn fill_missing_costs_of(spans: &mut [Span], prices: &PriceTable) {
    for span in spans.iter_mut().filter(|s| s.kind == SpanKind::Model) {
        let Value::Object(attributes) = &mut span.attributes else { continue };
        if attributes.get(COST_USD).is_some_and(|c| !c.is_null()) {
            continue;
        }
        let Some(model) = attributes.get(MODEL).and_then(Value::as_str) else { continue };
        let Some(usage) = Usage::from_attributes(attributes) else { continue };
        if let Some(cost) = prices.cost(model, &usage, Some(span.started_at.date_naive())) {
            attributes.insert(COST_USD.into(), json!(cost));
            attributes.insert(PRICING_SOURCE.into(), json!("northstar-server"));
        }
    }
}
