//! Re-sent records (reference §1.9): what a second write may change and what it may not, and
//! deliberate fix (e): a final status never goes back to `running`. On both stores.

use crate::common::fixtures::*;
use crate::common::*;
use northstar_store::Store;
use northstar_wire::{ScoreDataType, Status, parse_timestamp};
use serde_json::{Value, json};

fn ts(s: &str) -> northstar_wire::Timestamp {
    parse_timestamp(s).expect("timestamp")
}

async fn a_resent_run_finishes_but_keeps_name_and_start(s: &TestServer) {
    let t = Trace::new();
    s.accepts(&t.body()).await;
    let mut finished = run(&t.run, &t.session);
    finished["name"] = json!("renamed");
    finished["started_at"] = json!("2030-01-01T00:00:00Z");
    finished["status"] = json!("ok");
    finished["ended_at"] = json!(T1);
    finished["metadata"] = json!({"cost_usd": 0.5, "latency_ms": 1520.4});
    s.accepts(&batch(json!({"runs": [finished]}))).await;

    let r = s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run");
    assert_eq!((r.name.as_str(), r.started_at), ("support-agent", ts(T0)), "kept from the first write");
    assert_eq!((r.status, r.ended_at), (Status::Ok, Some(ts(T1))));
    assert_eq!(r.metadata, json!({"cost_usd": 0.5, "latency_ms": 1520.4}));
}

async fn absent_fields_follow_the_original_rules(s: &TestServer) {
    let t = Trace::new();
    let mut first = t.body();
    first["runs"][0]["status"] = json!("error");
    first["runs"][0]["ended_at"] = json!(T1);
    first["runs"][0]["error"] = json!({"type": "RuntimeError", "message": "boom", "module": "builtins"});
    first["sessions"][0]["ended_at"] = json!(T1);
    first["sessions"][0]["metadata"] = json!({"host": "a"});
    s.accepts(&first).await;

    // Re-send without ended_at, error or metadata.
    let mut again = run(&t.run, &t.session);
    again["status"] = json!("ok");
    again.as_object_mut().expect("run").remove("metadata");
    s.accepts(&batch(json!({"sessions": [{"id": t.session, "created_at": T1}], "runs": [again]}))).await;

    let r = s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run");
    assert_eq!(r.ended_at, Some(ts(T1)), "ended_at is never cleared");
    assert_eq!(r.error, None, "an absent error clears it");
    assert_eq!(r.metadata, json!({}), "absent metadata becomes {{}}");
    assert_eq!(r.status, Status::Ok);
    let session = s.store.get_session(s.project, uuid(&t.session)).await.expect("read").expect("session");
    assert_eq!((session.created_at, session.ended_at), (ts(T0), Some(ts(T1))), "created_at kept, ended_at kept");
    assert_eq!(session.metadata, json!({}));

    // An explicit null is stored as JSON null.
    let mut nulls = run(&t.run, &t.session);
    nulls["status"] = json!("ok");
    nulls["metadata"] = Value::Null;
    nulls["error"] = Value::Null;
    s.accepts(&batch(json!({"runs": [nulls]}))).await;
    let r = s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run");
    assert_eq!((r.metadata, r.error), (Value::Null, Some(Value::Null)));
}

async fn a_late_running_copy_cannot_undo_a_finished_record(s: &TestServer) {
    let t = Trace::new();
    let mut done = t.body();
    done["runs"][0]["status"] = json!("ok");
    done["runs"][0]["ended_at"] = json!(T1);
    done["runs"][0]["metadata"] = json!({"cost_usd": 0.25});
    done["spans"][0]["status"] = json!("error");
    done["spans"][0]["ended_at"] = json!(T1);
    done["spans"][0]["error"] = json!({"type": "Timeout"});
    done["spans"][0]["attributes"] = json!({"latency_ms": 12.5});
    s.accepts(&done).await;

    // A retry of an older flush arrives last.
    s.accepts(&t.body()).await;

    let r = s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run");
    assert_eq!((r.status, r.ended_at, r.metadata), (Status::Ok, Some(ts(T1)), json!({"cost_usd": 0.25})));
    let sp = s.store.get_span(s.project, uuid(&t.span)).await.expect("read").expect("span");
    assert_eq!(
        (sp.status, sp.error, sp.attributes),
        (Status::Error, Some(json!({"type": "Timeout"})), json!({"latency_ms": 12.5}))
    );

    // A final status may still replace another final status (last write wins).
    let mut corrected = run(&t.run, &t.session);
    corrected["status"] = json!("error");
    corrected["error"] = json!({"message": "late failure"});
    s.accepts(&batch(json!({"runs": [corrected]}))).await;
    let r = s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run");
    assert_eq!((r.status, r.error), (Status::Error, Some(json!({"message": "late failure"}))));
}

async fn a_resent_span_keeps_its_shape(s: &TestServer) {
    let t = Trace::new();
    let mut first = t.body();
    first["spans"][0]["iteration"] = json!(1);
    s.accepts(&first).await;
    let other_parent = id();
    let mut again = span(&t.span, &t.run, None);
    again["kind"] = json!("tool");
    again["name"] = json!("renamed");
    again["iteration"] = json!(7);
    again["status"] = json!("ok");
    again["attributes"] = json!({"description": "lookup"});
    let mut body = batch(json!({"spans": [span(&other_parent, &t.run, None), again]}));
    body["spans"][1]["parent_span_id"] = json!(other_parent);
    s.accepts(&body).await;
    let sp = s.store.get_span(s.project, uuid(&t.span)).await.expect("read").expect("span");
    assert_eq!((sp.name.as_str(), sp.iteration, sp.parent_span_id), ("step", Some(1), None));
    assert_eq!(sp.kind, northstar_wire::SpanKind::Agent);
    assert_eq!((sp.status, sp.attributes), (Status::Ok, json!({"description": "lookup"})));
}

async fn a_resent_event_changes_content_and_attributes_only(s: &TestServer) {
    let t = Trace::new();
    s.accepts(&t.body()).await;
    let mut again = event(&t.event, &t.run, None);
    again["type"] = json!("custom");
    again["content"] = json!({"name": "x", "data": [1, 2]});
    again["attributes"] = json!({"northstar_type": "event"});
    s.accepts(&batch(json!({"events": [again]}))).await;
    let e = s.store.get_event(s.project, uuid(&t.event)).await.expect("read").expect("event");
    assert_eq!(e.event_type, northstar_wire::EventType::UserInput);
    assert_eq!(e.span_id, Some(uuid(&t.span)));
    assert_eq!((e.content, e.attributes), (json!({"name": "x", "data": [1, 2]}), json!({"northstar_type": "event"})));
}

async fn a_resent_score_replaces_everything(s: &TestServer) {
    let t = Trace::new();
    let sc = id();
    let mut body = t.body();
    body["scores"] = json!([score(&sc, &t.run)]);
    s.accepts(&body).await;
    let replacement = json!({"id": sc, "trace_id": t.run, "span_id": t.span, "name": "tone", "value": 0,
        "data_type": "categorical", "string_value": "rude", "source": "api", "comment": "re-graded", "created_at": T0});
    s.accepts(&batch(json!({"scores": [replacement]}))).await;
    let stored = s.store.get_score(s.project, uuid(&sc)).await.expect("read").expect("score");
    assert_eq!(
        (stored.name.as_str(), stored.data_type, stored.string_value.as_deref()),
        ("tone", ScoreDataType::Categorical, Some("rude"))
    );
    assert_eq!(
        (stored.span_id, stored.comment.as_deref(), stored.created_at),
        (Some(uuid(&t.span)), Some("re-graded"), ts(T0))
    );
}

async fn the_same_id_twice_in_one_batch_is_two_writes(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    let mut finished = span(&t.span, &t.run, None);
    finished["status"] = json!("ok");
    finished["ended_at"] = json!(T1);
    body["spans"].as_array_mut().expect("spans").push(finished);
    let mut finished_run = run(&t.run, &t.session);
    finished_run["status"] = json!("ok");
    body["runs"].as_array_mut().expect("runs").push(finished_run);
    body["sessions"].as_array_mut().expect("sessions").push(session(&t.session));
    s.accepts(&body).await;
    let counts = s.store.count_records(s.project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events), (1, 1, 1, 1));
    let sp = s.store.get_span(s.project, uuid(&t.span)).await.expect("read").expect("span");
    assert_eq!((sp.status, sp.ended_at), (Status::Ok, Some(ts(T1))), "the later copy is applied, not dropped");
    assert_eq!(s.store.get_run(s.project, uuid(&t.run)).await.expect("read").expect("run").status, Status::Ok);
}

async fn resending_a_whole_batch_is_idempotent(s: &TestServer) {
    let t = Trace::new();
    let mut body = t.body();
    body["scores"] = json!([score(&id(), &t.run)]);
    for _ in 0..3 {
        s.accepts(&body).await;
    }
    let counts = s.store.count_records(s.project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events, counts.scores), (1, 1, 1, 1, 1));
}

on_both_stores!(
    a_resent_run_finishes_but_keeps_name_and_start,
    absent_fields_follow_the_original_rules,
    a_late_running_copy_cannot_undo_a_finished_record,
    a_resent_span_keeps_its_shape,
    a_resent_event_changes_content_and_attributes_only,
    a_resent_score_replaces_everything,
    the_same_id_twice_in_one_batch_is_two_writes,
    resending_a_whole_batch_is_idempotent,
);
