//! The batch the original Python SDK sends (reference §3.9, byte for byte in
//! `tests/data/original_sdk_batch.json`) is accepted, and every record is stored with its
//! nested metadata and attributes as the same JSON values; then its shutdown batch ends the
//! session. On both stores.

use crate::common::*;
use northstar_store::Store;
use northstar_wire::{EventType, SpanKind, Status, parse_timestamp};
use serde_json::{Value, json};

fn original_batch() -> Value {
    serde_json::from_str(include_str!("data/original_sdk_batch.json")).expect("fixture is JSON")
}

async fn the_original_sdk_batch_is_stored_exactly(s: &TestServer) {
    let body = original_batch();
    s.accepts(&body).await;

    for sent in body["sessions"].as_array().expect("sessions") {
        let stored = s
            .store
            .get_session(s.project, uuid(sent["id"].as_str().expect("id")))
            .await
            .expect("read")
            .expect("session");
        assert_eq!(Some(stored.created_at), parse_timestamp(sent["created_at"].as_str().expect("ts")));
        assert_eq!((stored.ended_at, &stored.metadata), (None, &sent["metadata"]));
    }
    for sent in body["runs"].as_array().expect("runs") {
        let stored =
            s.store.get_run(s.project, uuid(sent["id"].as_str().expect("id"))).await.expect("read").expect("run");
        assert_eq!(stored.name, sent["name"]);
        assert_eq!(stored.session_id, uuid(sent["session_id"].as_str().expect("session")));
        assert_eq!(stored.status, Status::Ok);
        assert_eq!(Some(stored.started_at), parse_timestamp(sent["started_at"].as_str().expect("ts")));
        assert_eq!(stored.ended_at, parse_timestamp(sent["ended_at"].as_str().expect("ts")));
        assert_eq!(stored.metadata, sent["metadata"], "run metadata, including the cost aggregates");
        assert_eq!(stored.error, None);
    }
    for sent in body["spans"].as_array().expect("spans") {
        let stored =
            s.store.get_span(s.project, uuid(sent["id"].as_str().expect("id"))).await.expect("read").expect("span");
        assert_eq!(stored.kind.as_str(), sent["kind"]);
        assert_eq!(
            (stored.name.as_str(), stored.status, stored.parent_span_id),
            (sent["name"].as_str().expect("name"), Status::Ok, None)
        );
        assert_eq!(stored.attributes, sent["attributes"], "span attributes, including model cost fields");
    }
    let model =
        s.store.get_span(s.project, uuid("44444444-0000-4000-8000-000000000004")).await.expect("read").expect("span");
    assert_eq!(model.kind, SpanKind::Model);
    assert_eq!(model.attributes["cost_usd"], json!(3.6e-05));
    for sent in body["events"].as_array().expect("events") {
        let stored =
            s.store.get_event(s.project, uuid(sent["id"].as_str().expect("id"))).await.expect("read").expect("event");
        assert_eq!(stored.event_type.as_str(), sent["type"]);
        assert_eq!(stored.span_id, sent.get("span_id").and_then(Value::as_str).map(uuid));
        assert_eq!((&stored.content, &stored.attributes), (&sent["content"], &sent["attributes"]));
    }
    let last =
        s.store.get_event(s.project, uuid("88888888-0000-4000-8000-000000000008")).await.expect("read").expect("event");
    assert_eq!((last.event_type, last.content), (EventType::FinalResponse, json!("answer")));

    let counts = s.store.count_records(s.project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events), (1, 1, 2, 4));

    // What the SDK sends at shutdown: the same session again, now with ended_at.
    let shutdown = json!({"schema_version": 2, "sessions": [{"id": "11111111-0000-4000-8000-000000000001",
        "created_at": "2025-05-01T10:00:00.000100Z", "ended_at": "2025-05-01T10:05:00Z", "metadata": {}}],
        "runs": [], "spans": [], "events": [], "scores": [], "prompt_links": []});
    s.accepts(&shutdown).await;
    let session = s
        .store
        .get_session(s.project, uuid("11111111-0000-4000-8000-000000000001"))
        .await
        .expect("read")
        .expect("session");
    assert_eq!(session.ended_at, parse_timestamp("2025-05-01T10:05:00Z"));

    // A retry of the first batch after shutdown changes nothing.
    s.accepts(&body).await;
    assert_eq!(s.store.count_records(s.project).await.expect("count"), counts);
    let session = s
        .store
        .get_session(s.project, uuid("11111111-0000-4000-8000-000000000001"))
        .await
        .expect("read")
        .expect("session");
    assert_eq!(session.ended_at, parse_timestamp("2025-05-01T10:05:00Z"), "ended_at is never cleared");
}

on_both_stores!(the_original_sdk_batch_is_stored_exactly);
