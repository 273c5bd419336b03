//! The server prices model spans that arrive with tokens and a known model but no cost, on both
//! stores; it never touches a cost the client sent, nor spans of other kinds or unknown models.

use crate::common::fixtures::*;
use crate::common::*;
use northstar_store::Store;
use serde_json::json;

async fn model_spans_without_a_cost_are_priced(s: &TestServer) {
    let t = Trace::new();
    let (priced, given, unknown, tool) = (id(), id(), id(), id());
    let model_span = |id: &str, attributes: serde_json::Value| {
        let mut sp = span(id, &t.run, None);
        sp["kind"] = json!("model");
        sp["started_at"] = json!("2025-05-01T10:00:00Z");
        sp["attributes"] = attributes;
        sp
    };
    let mut body = t.body();
    let mut tool_span = span(&tool, &t.run, None);
    tool_span["kind"] = json!("tool");
    tool_span["attributes"] = json!({"model": "gpt-4o", "input_tokens": 10});
    body["spans"] = json!([
        model_span(&priced, json!({"model": "openai/o3-2025-04-16", "input_tokens": 1_000_000, "output_tokens": 0})),
        model_span(
            &given,
            json!({"model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 0, "cost_usd": 0.01, "pricing_source": "litellm"})
        ),
        model_span(&unknown, json!({"model": "in-house-llm", "input_tokens": 10, "output_tokens": 10})),
        tool_span,
    ]);
    body["events"] = json!([]);
    s.accepts(&body).await;

    let get = |id: String| async move {
        s.store.get_span(s.project, uuid(&id)).await.expect("read").expect("span").attributes
    };
    let a = get(priced).await;
    // o3 cost $10 per million input tokens on 2025-05-01 (before the June price cut).
    assert_eq!((a["cost_usd"].clone(), a["pricing_source"].clone()), (json!(10.0), json!("northstar-server")));
    let a = get(given).await;
    assert_eq!(
        (a["cost_usd"].clone(), a["pricing_source"].clone()),
        (json!(0.01), json!("litellm")),
        "a sent cost is kept"
    );
    assert!(get(unknown).await.get("cost_usd").is_none());
    assert!(get(tool).await.get("cost_usd").is_none(), "only model spans are priced");
}

on_both_stores!(model_spans_without_a_cost_are_priced);
