//! The `tracing` integration against the real server: `tracing` spans inside a run become
//! NorthStar spans (fields and later-recorded fields as attributes), `tracing` events become
//! `custom` events on the right span, both nest with NorthStar's own spans, and nothing outside
//! a run is recorded.

use std::time::Duration;

use crate::common::GLOBAL_SDK;
use crate::common::*;
use northstar::SpanKind;
use northstar_store::Store;
use northstar_wire::EventType;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_spans_and_events_inside_a_run_are_recorded() {
    let _lock = GLOBAL_SDK.lock().await;
    let server = RealServer::sqlite().await;
    let guard = northstar::init(fast_options(&server.endpoint, &server.key));
    let subscriber = tracing_subscriber::registry().with(northstar::tracing_layer());

    let run_id = tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("before any run").in_scope(|| tracing::info!("not recorded"));
        let run = northstar::trace("uses-tracing");
        tracing::info_span!("retrieve", k = 3, query = "refunds").in_scope(|| {
            tracing::info!(hits = 2, "found documents");
            let _rerank = northstar::span("rerank", SpanKind::Custom);
            let score = tracing::debug_span!("score", model = tracing::field::Empty);
            score.record("model", "bge-small");
            let _entered = score.enter();
            tracing::warn!("low confidence");
        });
        run.id().expect("enabled")
    });
    assert!(tokio::task::spawn_blocking(|| northstar::flush(Duration::from_secs(20))).await.expect("join"));

    let spans = server.store.list_spans(server.project, run_id).await.expect("spans");
    let find =
        |name: &str| spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}: {spans:?}"));
    assert_eq!(spans.len(), 3, "{spans:?}");
    let retrieve = find("retrieve");
    assert_eq!(retrieve.kind, northstar_wire::SpanKind::Custom);
    assert_eq!(retrieve.parent_span_id, None);
    assert_eq!((retrieve.attributes["k"].clone(), retrieve.attributes["query"].clone()), (json!(3), json!("refunds")));
    assert_eq!(retrieve.attributes["tracing.level"], "INFO");
    assert_eq!(retrieve.attributes["tracing.target"], module_path!(), "the target is the module that made the span");
    let rerank = find("rerank");
    assert_eq!(rerank.parent_span_id, Some(retrieve.id), "a NorthStar span inside a tracing span");
    let score = find("score");
    assert_eq!(score.parent_span_id, Some(rerank.id), "a tracing span inside a NorthStar span");
    assert_eq!(score.attributes["model"], "bge-small", "fields recorded later are kept");

    let events = server.store.list_events(server.project, run_id).await.expect("events");
    assert_eq!(events.len(), 2, "{events:?}");
    let found = events.iter().find(|e| e.span_id == Some(retrieve.id)).expect("event on retrieve");
    assert_eq!(found.event_type, EventType::Custom);
    assert_eq!(found.content, json!({"name": "found documents", "fields": {"hits": 2}}));
    assert_eq!(found.attributes, json!({"northstar_type": "tracing", "level": "INFO", "target": module_path!()}));
    let warned = events.iter().find(|e| e.span_id == Some(score.id)).expect("event on score");
    assert_eq!(warned.content["name"], "low confidence");
    assert_eq!(warned.attributes["level"], "WARN");

    let counts = server.store.count_records(server.project).await.expect("count");
    assert_eq!((counts.runs, counts.spans, counts.events), (1, 3, 2), "nothing outside the run");
    tokio::task::spawn_blocking(move || drop(guard)).await.expect("join");
}
