//! What an accepted batch does to real state (reference §1.6–1.9, §2.5, §5.1), and the
//! deliberate fixes of docs/CONTRACT.md, on both stores.

use crate::common::fixtures::*;
use crate::common::*;
use northstar_store::Store;
use northstar_wire::{EventType, ScoreDataType, ScoreSource, SpanKind, Status, parse_timestamp};
use serde_json::{Value, json};

const INVALID_REFS: &str = "Payload contains invalid project references";

async fn a_minimal_v1_trace_is_stored_under_the_keys_project(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    body["schema_version"] = json!(1);
    // A client-supplied project id is replaced by the authenticated project.
    let (other, _) = s.other_project().await;
    body["runs"][0]["project_id"] = json!(other.to_string());
    s.accepts(&body).await;

    let session = s.store.get_session(s.project, uuid(&t.session)).await.expect("read").expect("stored");
    assert_eq!(session.created_at, parse_timestamp(T0).expect("ts"));
    assert_eq!(session.metadata, json!({}));
    let run = s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("stored in the key's project");
    assert_eq!((run.name.as_str(), run.status, run.session_id), ("support-agent", Status::Running, uuid(&t.session)));
    assert!(s.store.get_run(other, uuid(&t.run)).await.expect("read").is_none());
    let span = s.store.get_span(s.project, uuid(&t.span)).await.expect("read").expect("stored");
    assert_eq!((span.kind, span.run_id, span.parent_span_id), (SpanKind::Agent, uuid(&t.run), None));
    let event = s.store.get_event(s.project, uuid(&t.event)).await.expect("read").expect("stored");
    assert_eq!((event.event_type, event.span_id), (EventType::UserInput, Some(uuid(&t.span))));
    assert_eq!(event.content, json!({"question": "How do refunds work?"}));
}

async fn nested_cost_fields_reach_the_store_unchanged(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    let metadata = json!({"cost_usd": 3.6e-05, "total_input_tokens": 120, "total_output_tokens": 30,
                          "nested": {"list": [1, "two", null, {"deep": true}], "unicode": "héllo ✓", "big": 12345678901234_i64}});
    let attributes = json!({"model": "gpt-4o-mini", "cost_usd": 3.6e-05, "input_tokens": 120,
                            "output_tokens": 30, "pricing_source": "litellm"});
    body["runs"][0]["metadata"] = metadata.clone();
    body["spans"][0]["kind"] = json!("model");
    body["spans"][0]["attributes"] = attributes.clone();
    s.accepts(&body).await;
    assert_eq!(s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run").metadata, metadata);
    assert_eq!(s.store.get_span(s.project, uuid(&t.span)).await.expect("read").expect("span").attributes, attributes);
}

async fn a_score_in_the_same_batch_as_its_run_is_stored(s: &TestServer) {
    let t = Trace::new();
    let (numeric, categorical, boolean) = (id(), id(), id());
    let mut body = t.body();
    body["scores"] = json!([
        score(&numeric, &t.run),
        {"id": categorical, "trace_id": t.run, "span_id": t.span, "name": " tone ", "value": 0,
         "data_type": "categorical", "string_value": " polite ", "source": "api", "comment": "fine", "created_at": T1},
        {"id": boolean, "trace_id": t.run, "name": "resolved", "value": 1, "data_type": "boolean",
         "source": "api", "created_at": T1},
    ]);
    s.accepts(&body).await;
    let n = s.store.get_score(s.project, uuid(&numeric)).await.expect("read").expect("numeric");
    assert_eq!(
        (n.name.as_str(), n.value, n.data_type, n.source),
        ("helpfulness", 0.8, ScoreDataType::Numeric, ScoreSource::Api)
    );
    let c = s.store.get_score(s.project, uuid(&categorical)).await.expect("read").expect("categorical");
    assert_eq!((c.name.as_str(), c.string_value.as_deref(), c.span_id), ("tone", Some("polite"), Some(uuid(&t.span))));
    assert_eq!(c.comment.as_deref(), Some("fine"));
    let b = s.store.get_score(s.project, uuid(&boolean)).await.expect("read").expect("boolean");
    assert_eq!((b.value, b.data_type), (1.0, ScoreDataType::Boolean));
}

async fn a_child_listed_before_its_parent_is_stored(s: &TestServer) {
    let t = Trace::new();
    let (parent, child, grandchild) = (id(), id(), id());
    s.accepts(&batch(json!({
        "sessions": [session(&t.session)],
        "runs": [run(&t.run, &t.session)],
        "spans": [span(&grandchild, &t.run, Some(&child)), span(&child, &t.run, Some(&parent)), span(&parent, &t.run, None)],
    })))
    .await;
    let g = s.store.get_span(s.project, uuid(&grandchild)).await.expect("read").expect("stored");
    assert_eq!(g.parent_span_id, Some(uuid(&child)));
    let c = s.store.get_span(s.project, uuid(&child)).await.expect("read").expect("stored");
    assert_eq!(c.parent_span_id, Some(uuid(&parent)));
}

async fn records_may_point_at_earlier_batches(s: &TestServer) {
    let t = Trace::new();
    s.accepts(&t.body()).await;
    let (child, ev, sc) = (id(), id(), id());
    s.accepts(&batch(json!({
        "spans": [span(&child, &t.run, Some(&t.span))],
        "events": [event(&ev, &t.run, Some(&child))],
        "scores": [{"id": sc, "trace_id": t.run, "span_id": child, "name": "n", "value": 2, "data_type": "numeric",
                    "source": "api", "created_at": T1}],
    })))
    .await;
    assert_eq!(s.store.count_records(s.project).await.expect("count").spans, 2);
}

async fn references_that_do_not_exist_are_400_and_store_nothing(s: &TestServer) {
    let t = Trace::new();
    let unknown = id();
    let cases = [
        (
            "run with unknown session",
            batch(json!({"sessions": [session(&t.session)], "runs": [run(&t.run, &unknown)]})),
        ),
        ("span whose parent is neither in the batch nor stored", {
            let mut b = t.body();
            b["spans"] = json!([span(&t.span, &t.run, Some(&unknown))]);
            b
        }),
        ("span with unknown run", {
            let mut b = t.body();
            b["spans"][0]["run_id"] = json!(unknown);
            b
        }),
        ("event with unknown span", {
            let mut b = t.body();
            b["events"][0]["span_id"] = json!(unknown);
            b
        }),
        ("event with unknown run", {
            let mut b = t.body();
            b["events"][0]["run_id"] = json!(unknown);
            b
        }),
        ("score with unknown trace", {
            let mut b = t.body();
            b["scores"] = json!([score(&id(), &unknown)]);
            b
        }),
        ("score whose span is in another run", {
            let other_run = id();
            let mut b = t.body();
            b["runs"].as_array_mut().expect("runs").push(run(&other_run, &t.session));
            let mut sc = score(&id(), &other_run);
            sc["span_id"] = json!(t.span);
            b["scores"] = json!([sc]);
            b
        }),
        ("parent cycle with no stored anchor", {
            let (a, b2) = (id(), id());
            let mut b = t.body();
            b["spans"] = json!([span(&a, &t.run, Some(&b2)), span(&b2, &t.run, Some(&a))]);
            b["events"] = json!([]);
            b
        }),
    ];
    for (what, body) in cases {
        let (status, json) = s.post(&body).await;
        assert_eq!((status, json), (400, json!({"error": INVALID_REFS})), "{what}");
        // One transaction: the session and run that preceded the bad record are not stored.
        let counts = s.store.count_records(s.project).await.expect("count");
        assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events), (0, 0, 0, 0), "{what}");
    }
}

async fn ids_owned_by_another_project_are_400(s: &TestServer) {
    let (other, other_key) = s.other_project().await;
    let theirs = Trace::new();
    assert_eq!(s.post_with_key(&other_key, &theirs.body()).await.0, 200);

    // Reusing their session id, run id, span id or event id, or pointing at their records.
    let mine = Trace::new();
    let mut reuse_session = mine.body();
    reuse_session["sessions"][0]["id"] = json!(theirs.session);
    reuse_session["runs"][0]["session_id"] = json!(theirs.session);
    let mut reuse_run = mine.body();
    reuse_run["runs"][0]["id"] = json!(theirs.run);
    let mut point_at_their_session = mine.body();
    point_at_their_session["runs"][0]["session_id"] = json!(theirs.session);
    let mut reuse_span = mine.body();
    reuse_span["spans"][0]["id"] = json!(theirs.span);
    reuse_span["events"] = json!([]);
    let mut parent_in_their_project = mine.body();
    parent_in_their_project["spans"][0]["parent_span_id"] = json!(theirs.span);
    let mut reuse_event = mine.body();
    reuse_event["events"][0]["id"] = json!(theirs.event);
    let mut score_their_run = mine.body();
    score_their_run["scores"] = json!([score(&id(), &theirs.run)]);
    for body in [
        reuse_session,
        reuse_run,
        point_at_their_session,
        reuse_span,
        parent_in_their_project,
        reuse_event,
        score_their_run,
    ] {
        assert_eq!(s.post(&body).await, (400, json!({"error": INVALID_REFS})), "{body}");
    }
    // Nothing of theirs changed, nothing of ours was stored.
    let run = s.store.get_run(other, uuid(&theirs.run)).await.expect("read").expect("theirs");
    assert_eq!(run.status, Status::Running);
    assert_eq!(s.store.count_records(s.project).await.expect("count").sessions, 0);

    let sc = id();
    let mut reuse_score = mine.body();
    reuse_score["scores"] = json!([score(&sc, &mine.run)]);
    s.accepts(&reuse_score).await;
    let mut steal = theirs.body();
    steal["sessions"] = json!([]);
    steal["runs"] = json!([]);
    steal["spans"] = json!([]);
    steal["events"] = json!([]);
    steal["scores"] = json!([score(&sc, &theirs.run)]);
    assert_eq!(s.post_with_key(&other_key, &steal).await, (400, json!({"error": INVALID_REFS})));
}

async fn prompt_links_are_validated_and_an_unknown_version_is_refused(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    body["prompt_links"] =
        json!([{"trace_id": t.run, "span_id": t.span, "prompt_version_id": id(), "variable_values": "not-an-object"}]);
    s.rejects(&body, "prompt_links[0].variable_values must be an object").await;
    body["prompt_links"][0]["variable_values"] = json!({"name": "Ada"});
    s.rejects(&body, INVALID_REFS).await;
    assert_eq!(s.store.count_records(s.project).await.expect("count").runs, 0);
}

async fn an_event_without_content_is_stored_as_null(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    body["events"][0].as_object_mut().expect("event").remove("content");
    body["events"][0]["type"] = json!("final_response");
    s.accepts(&body).await;
    let event = s.store.get_event(s.project, uuid(&t.event)).await.expect("read").expect("stored");
    assert_eq!(event.content, Value::Null);
}

async fn impossible_values_are_400_not_500(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    body["spans"][0]["started_at"] = json!("2024-02-30T00:00:00Z");
    s.rejects(&body, "spans[0].started_at is not a valid ISO timestamp").await;
    let mut body = t.body();
    body["spans"][0]["iteration"] = json!(4_294_967_296_i64);
    s.rejects(&body, "spans[0].iteration must be an integer").await;
    let mut body = t.body();
    body["sessions"][0]["created_at"] = json!("2025-05-01T10:00:00+25:00");
    s.rejects(&body, "sessions[0].created_at is not a valid ISO timestamp").await;
}

async fn listing_reads_return_records_in_time_order_within_the_project(s: &TestServer) {
    let t = Trace::new();
    let (second_run, late_span, early_span, ev2) = (id(), id(), id(), id());
    let mut later_run = run(&second_run, &t.session);
    later_run["started_at"] = json!(T1);
    let mut late = span(&late_span, &t.run, None);
    late["started_at"] = json!(T1);
    let mut early = span(&early_span, &t.run, None);
    early["started_at"] = json!("2025-05-01T09:00:00Z");
    let mut e2 = event(&ev2, &t.run, None);
    e2["created_at"] = json!("2025-05-01T09:00:00Z");
    let mut body = t.body();
    body["runs"] = json!([later_run, run(&t.run, &t.session)]);
    body["spans"].as_array_mut().expect("spans").extend([late, early]);
    body["events"].as_array_mut().expect("events").push(e2);
    s.accepts(&body).await;

    let runs: Vec<_> =
        s.store.list_runs(s.project, uuid(&t.session)).await.expect("runs").into_iter().map(|r| r.id).collect();
    assert_eq!(runs, [uuid(&t.run), uuid(&second_run)]);
    let spans: Vec<_> =
        s.store.list_spans(s.project, uuid(&t.run)).await.expect("spans").into_iter().map(|r| r.id).collect();
    assert_eq!(spans, [uuid(&early_span), uuid(&t.span), uuid(&late_span)]);
    let events: Vec<_> =
        s.store.list_events(s.project, uuid(&t.run)).await.expect("events").into_iter().map(|r| r.id).collect();
    assert_eq!(events, [uuid(&ev2), uuid(&t.event)]);
    // Another project sees nothing of it.
    let (other, _) = s.other_project().await;
    assert!(s.store.list_spans(other, uuid(&t.run)).await.expect("spans").is_empty());
}

on_both_stores!(
    listing_reads_return_records_in_time_order_within_the_project,
    a_minimal_v1_trace_is_stored_under_the_keys_project,
    nested_cost_fields_reach_the_store_unchanged,
    a_score_in_the_same_batch_as_its_run_is_stored,
    a_child_listed_before_its_parent_is_stored,
    records_may_point_at_earlier_batches,
    references_that_do_not_exist_are_400_and_store_nothing,
    ids_owned_by_another_project_are_400,
    prompt_links_are_validated_and_an_unknown_version_is_refused,
    an_event_without_content_is_stored_as_null,
    impossible_values_are_400_not_500,
);
