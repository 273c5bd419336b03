//! The original's validator tests (reference §5.1), each with its exact message, plus the
//! deliberate fixes and the ordering/folding rules.

use serde_json::{Value, json};

use super::*;
use crate::{EventType, ScoreDataType, Status};

const S1: &str = "11111111-0000-4000-8000-000000000001";
const R1: &str = "22222222-0000-4000-8000-000000000002";
const P1: &str = "33333333-0000-4000-8000-000000000003";
const P2: &str = "44444444-0000-4000-8000-000000000004";
const P3: &str = "55555555-0000-4000-8000-000000000005";
const TS: &str = "2025-05-01T10:00:00.000100Z";

fn batch_with(array: &str, record: Value) -> Value {
    json!({"schema_version": 2, array: [record]})
}

fn error_of(body: Value) -> String {
    Batch::from_value(&body).expect_err("should be rejected").message()
}

fn session() -> Value {
    json!({"id": S1, "project_id": P1, "created_at": TS, "metadata": {}})
}
fn run() -> Value {
    json!({"id": R1, "session_id": S1, "name": "agent", "started_at": TS, "status": "running"})
}
fn span(id: &str, parent: Option<&str>) -> Value {
    let mut s = json!({"id": id, "run_id": R1, "kind": "agent", "name": "step", "started_at": TS, "status": "running"});
    if let Some(p) = parent {
        s["parent_span_id"] = json!(p);
    }
    s
}
fn event() -> Value {
    json!({"id": P2, "run_id": R1, "type": "user_input", "created_at": TS, "content": {"q": "hi"}})
}
fn link() -> Value {
    json!({"trace_id": R1, "span_id": P1, "prompt_version_id": P2, "variable_values": {"name": "Ada"}})
}
fn score() -> Value {
    json!({"id": P3, "trace_id": R1, "name": "quality", "value": 0.8, "data_type": "numeric",
           "source": "api", "created_at": TS})
}

#[test]
fn sessions() {
    assert!(Batch::from_value(&batch_with("sessions", session())).is_ok());
    let mut s = session();
    s["id"] = json!("not-a-uuid");
    assert_eq!(error_of(batch_with("sessions", s)), "sessions[0].id is not a valid UUID");
    let mut s = session();
    s["created_at"] = json!("not-a-date");
    assert_eq!(error_of(batch_with("sessions", s)), "sessions[0].created_at is not a valid ISO timestamp");
    let mut s = session();
    s["unexpected"] = json!(1);
    assert_eq!(error_of(batch_with("sessions", s)), "sessions[0].unexpected is not allowed");
    let mut s = session();
    s["metadata"] = json!([]);
    assert_eq!(error_of(batch_with("sessions", s)), "sessions[0].metadata must be an object");
    let mut s = session();
    s["project_id"] = json!("proj_123");
    assert_eq!(error_of(batch_with("sessions", s)), "sessions[0].project_id is not a valid UUID");
    assert_eq!(error_of(json!({"schema_version": 1, "sessions": [1]})), "sessions[0] is not an object");
}

#[test]
fn unknown_key_is_checked_before_fields_in_document_order() {
    let body = br#"{"schema_version":1,"runs":[{"id":"bad","zeta":1,"alpha":2}]}"#;
    assert_eq!(Batch::from_json_slice(body).expect_err("should be rejected").message(), "runs[0].zeta is not allowed");
}

#[test]
fn runs() {
    assert!(Batch::from_value(&batch_with("runs", run())).is_ok());
    let mut r = run();
    r["status"] = json!("invalid");
    assert_eq!(error_of(batch_with("runs", r)), "runs[0].status must be one of: running, ok, error");
    let mut r = run();
    r.as_object_mut().map(|o| o.remove("name"));
    assert_eq!(error_of(batch_with("runs", r)), "runs[0].name is required");
    let mut r = run();
    r["name"] = json!("   ");
    assert!(Batch::from_value(&batch_with("runs", r)).is_ok(), "whitespace-only names pass");
    let mut r = run();
    r["error"] = json!("boom");
    assert_eq!(error_of(batch_with("runs", r)), "runs[0].error must be an object");
    let mut r = run();
    r["session_id"] = json!(null);
    assert_eq!(error_of(batch_with("runs", r)), "runs[0].session_id is not a valid UUID");
}

#[test]
fn spans() {
    assert!(Batch::from_value(&batch_with("spans", span(P1, None))).is_ok());
    let mut s = span(P1, None);
    s["kind"] = json!("llm");
    assert_eq!(error_of(batch_with("spans", s)), "spans[0].kind must be one of: agent, workflow, model, tool, custom");
    for kind in ["agent", "workflow", "model", "tool", "custom"] {
        let mut s = span(P1, Some(P2));
        s["kind"] = json!(kind);
        assert!(Batch::from_value(&batch_with("spans", s)).is_ok(), "{kind}");
    }
    let mut s = span(P1, None);
    s["iteration"] = json!(1.5);
    assert_eq!(error_of(batch_with("spans", s)), "spans[0].iteration must be an integer");
    let mut s = span(P1, None);
    s["iteration"] = json!(3.0);
    assert_eq!(Batch::from_value(&batch_with("spans", s)).map(|b| b.spans[0].iteration), Ok(Some(3)));
}

#[test]
fn out_of_range_iteration_is_a_400_not_a_500() {
    for n in [json!(2_147_483_648_i64), json!(-2_147_483_649_i64), json!(1e20)] {
        let mut s = span(P1, None);
        s["iteration"] = n;
        assert_eq!(error_of(batch_with("spans", s)), "spans[0].iteration must be an integer");
    }
}

#[test]
fn impossible_dates_are_a_400_with_the_field_message() {
    let mut s = span(P1, None);
    s["started_at"] = json!("2024-02-30T00:00:00Z");
    assert_eq!(error_of(batch_with("spans", s)), "spans[0].started_at is not a valid ISO timestamp");
}

#[test]
fn events() {
    assert!(Batch::from_value(&batch_with("events", event())).is_ok());
    let mut e = event();
    e["type"] = json!("message");
    assert_eq!(
        error_of(batch_with("events", e)),
        "events[0].type must be one of: user_input, system_message, assistant_message, reasoning, tool_arguments, tool_result, final_response, custom"
    );
    for t in EventType::ALL {
        let mut e = event();
        e["type"] = json!(t.as_str());
        assert!(Batch::from_value(&batch_with("events", e)).is_ok());
    }
    let mut e = event();
    e["content"] = json!(null);
    assert_eq!(Batch::from_value(&batch_with("events", e)).map(|b| b.events[0].content.clone()), Ok(Value::Null));
}

#[test]
fn missing_event_content_is_stored_as_null() {
    let mut e = event();
    e.as_object_mut().map(|o| o.remove("content"));
    let batch = Batch::from_value(&batch_with("events", e)).expect("deliberate fix (a)");
    assert_eq!(batch.events[0].content, Value::Null);
}

#[test]
fn prompt_links() {
    assert!(Batch::from_value(&batch_with("prompt_links", link())).is_ok());
    let mut l = link();
    l["prompt_version_id"] = json!("nope");
    assert_eq!(error_of(batch_with("prompt_links", l)), "prompt_links[0].prompt_version_id is not a valid UUID");
    let mut l = link();
    l.as_object_mut().map(|o| o.remove("trace_id"));
    assert_eq!(error_of(batch_with("prompt_links", l)), "prompt_links[0].trace_id is not a valid UUID");
    let mut l = link();
    l["variable_values"] = json!([]);
    assert_eq!(error_of(batch_with("prompt_links", l)), "prompt_links[0].variable_values must be an object");
}

#[test]
fn scores() {
    assert!(Batch::from_value(&batch_with("scores", score())).is_ok());
    let categorical = json!({"id": P3, "trace_id": R1, "span_id": P1, "name": " tone ", "value": 0,
        "data_type": "categorical", "string_value": " polite ", "source": "api", "comment": "ok", "created_at": TS});
    let b = Batch::from_value(&batch_with("scores", categorical)).expect("categorical");
    assert_eq!((b.scores[0].name.as_str(), b.scores[0].string_value.as_deref()), ("tone", Some("polite")));
    let boolean = json!({"id": P3, "trace_id": R1, "name": "pass", "value": 1, "data_type": "boolean",
        "source": "api", "created_at": TS});
    assert_eq!(
        Batch::from_value(&batch_with("scores", boolean)).map(|b| b.scores[0].data_type),
        Ok(ScoreDataType::Boolean)
    );

    let mut s = score();
    s["data_type"] = json!("categorical");
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].string_value is required for categorical scores");
    let mut s = score();
    s["string_value"] = json!("x");
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].string_value is only allowed for categorical scores");
    let mut s = score();
    s["value"] = json!("0.8");
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].value must be a finite number");
    let mut s = score();
    s["data_type"] = json!("boolean");
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].value must be 0 or 1 for boolean scores");
    let mut s = score();
    s["source"] = json!("human");
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].source must be api");
    let mut s = score();
    s["name"] = json!("  ");
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].name is required");
    let mut s = score();
    s["comment"] = json!(5);
    assert_eq!(error_of(batch_with("scores", s)), "scores[0].comment must be a string");

    let too_many: Vec<Value> = (0..501).map(|_| json!("not even an object")).collect();
    assert_eq!(error_of(json!({"schema_version": 2, "scores": too_many})), "scores must contain at most 500 items");
}

#[test]
fn top_level_checks_in_order() {
    assert_eq!(Batch::from_json_slice(b"not json").expect_err("should be rejected"), ContractError::InvalidJson);
    assert_eq!(Batch::from_json_slice(b"").expect_err("should be rejected"), ContractError::InvalidJson);
    assert_eq!(error_of(json!([])), "JSON body must be an object");
    assert_eq!(error_of(json!(null)), "JSON body must be an object");
    for v in [json!(null), json!("2"), json!(3), json!(1.5)] {
        assert_eq!(error_of(json!({"schema_version": v})), "Unsupported schema_version (expected 1 or 2)");
    }
    assert!(Batch::from_value(&json!({"schema_version": 2.0})).is_ok());
    assert!(Batch::from_value(&json!({"schema_version": 1, "sessions": null, "unknown": 1})).is_ok());
    // Array types are all checked before any record.
    assert_eq!(
        error_of(json!({"schema_version": 1, "sessions": [{"id": "bad"}], "scores": {}})),
        "scores must be an array"
    );
    assert_eq!(error_of(json!({"schema_version": 1, "sessions": "not-array"})), "sessions must be an array");
    // Records: sessions before runs, first error only.
    assert_eq!(
        error_of(json!({"schema_version": 1, "runs": [{"id": "bad"}], "sessions": [{"id": "bad"}]})),
        "sessions[0].id is not a valid UUID"
    );
}

fn ids(batch: &Batch) -> Vec<String> {
    batch.spans.iter().map(|s| s.id.to_string()).collect()
}

#[test]
fn parents_precede_children() {
    let a = "aaaaaaaa-0000-4000-8000-000000000000";
    let b = "bbbbbbbb-0000-4000-8000-000000000000";
    let c = "cccccccc-0000-4000-8000-000000000000";
    let d = "dddddddd-0000-4000-8000-000000000000";
    // c is a child of b, b of a; d's parent lives outside the batch.
    let body =
        json!({"schema_version": 2, "spans": [span(c, Some(b)), span(b, Some(a)), span(d, Some(P1)), span(a, None)]});
    let batch = Batch::from_value(&body).expect("valid");
    assert_eq!(ids(&batch), [d, a, b, c]);
    assert_eq!(batch.parents_to_be_stored(), vec![P1.parse::<Uuid>().expect("uuid")]);
}

#[test]
fn parent_cycles_need_a_stored_anchor() {
    let a = "aaaaaaaa-0000-4000-8000-000000000000";
    let b = "bbbbbbbb-0000-4000-8000-000000000000";
    let body = json!({"schema_version": 2, "spans": [span(a, Some(b)), span(b, Some(a))]});
    let batch = Batch::from_value(&body).expect("valid shape");
    assert_eq!(ids(&batch), [a, b]);
    assert_eq!(batch.parents_to_be_stored(), vec![b.parse::<Uuid>().expect("uuid")]);
}

#[test]
fn repeated_ids_fold_like_sequential_upserts() {
    let mut ok = run();
    ok["status"] = json!("ok");
    ok["ended_at"] = json!(TS);
    ok["name"] = json!("renamed");
    ok["metadata"] = json!({"cost_usd": 1.5});
    let body = json!({"schema_version": 2, "runs": [run(), ok.clone()]});
    let batch = Batch::from_value(&body).expect("valid");
    assert_eq!(batch.runs.len(), 1);
    let r = &batch.runs[0];
    assert_eq!((r.status, r.name.as_str()), (Status::Ok, "agent"), "name is kept from the first write");
    assert_eq!(r.metadata, json!({"cost_usd": 1.5}));

    // A stale `running` after `ok` changes nothing (deliberate fix (e)).
    let body = json!({"schema_version": 2, "runs": [ok, run()]});
    let batch = Batch::from_value(&body).expect("valid");
    assert_eq!((batch.runs[0].status, batch.runs[0].metadata.clone()), (Status::Ok, json!({"cost_usd": 1.5})));

    // Spans: the repeat is folded, not dropped.
    let mut done = span(P1, None);
    done["status"] = json!("error");
    done["error"] = json!({"type": "Timeout"});
    let body = json!({"schema_version": 2, "spans": [span(P1, None), done]});
    let batch = Batch::from_value(&body).expect("valid");
    assert_eq!(batch.spans.len(), 1);
    assert_eq!(
        (batch.spans[0].status, batch.spans[0].error.clone()),
        (Status::Error, Some(json!({"type": "Timeout"})))
    );
}

#[test]
fn merged_batches_equal_one_batch_of_all_their_records() {
    let a = "aaaaaaaa-0000-4000-8000-000000000000";
    let b = "bbbbbbbb-0000-4000-8000-000000000000";
    let mut ended = span(a, None);
    ended["status"] = json!("ok");
    ended["ended_at"] = json!(TS);
    // The first batch opens `a` and a child whose parent `b` comes in the third; the second ends `a`.
    let first = json!({"schema_version": 2, "sessions": [session()], "runs": [run()],
                       "spans": [span(a, None), span(P1, Some(b))], "events": [event()]});
    let second = json!({"schema_version": 2, "spans": [ended.clone()], "scores": [score()]});
    let third = json!({"schema_version": 2, "spans": [span(b, Some(a)), span(a, None)]});
    let parsed = |v: &Value| Batch::from_value(v).expect("valid");
    let merged = Batch::merge([parsed(&first), parsed(&second), parsed(&third)]);

    let all = json!({"schema_version": 2, "sessions": [session()], "runs": [run()],
                     "spans": [span(a, None), span(P1, Some(b)), ended, span(b, Some(a)), span(a, None)],
                     "events": [event()], "scores": [score()]});
    assert_eq!(merged, parsed(&all));
    assert_eq!(ids(&merged), [a, b, P1], "parents first across the batches");
    assert_eq!(merged.spans[0].status, Status::Ok, "a later `running` does not reopen the span");
    assert!(merged.parents_to_be_stored().is_empty());
    assert_eq!(merged.len(), 7);
}

#[test]
fn absent_and_null_json_fields_differ() {
    let mut r = run();
    r["metadata"] = json!(null);
    r["error"] = json!(null);
    let batch = Batch::from_value(&batch_with("runs", r)).expect("valid");
    assert_eq!((batch.runs[0].metadata.clone(), batch.runs[0].error.clone()), (Value::Null, Some(Value::Null)));
    let batch = Batch::from_value(&batch_with("runs", run())).expect("valid");
    assert_eq!((batch.runs[0].metadata.clone(), batch.runs[0].error.clone()), (json!({}), None));
}

#[test]
fn serialization_round_trips_and_matches_the_original_sdk_shape() {
    let mut r = run();
    r["status"] = json!("error");
    r["ended_at"] = json!(TS);
    r["error"] = json!({"type": "RuntimeError", "message": "boom"});
    let mut e = event();
    e["content"] = json!(null);
    e["span_id"] = json!(P1);
    let mut sp = span(P1, None);
    sp["iteration"] = json!(2);
    let body = json!({"schema_version": 2, "sessions": [session()], "runs": [r], "spans": [sp],
        "events": [e], "scores": [score()], "prompt_links": [link()]});
    let batch = Batch::from_value(&body).expect("valid");
    let bytes = batch.to_json();
    assert_eq!(Batch::from_json_slice(&bytes).expect("reads back"), batch);

    let sent: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(sent["events"][0]["content"], Value::Null, "content is always sent");
    assert_eq!(sent["events"][0]["type"], "user_input");
    assert!(sent["sessions"][0].get("ended_at").is_none(), "absent optionals are omitted");
    assert!(sent["sessions"][0].get("project_id").is_none());
    assert_eq!(sent["runs"][0]["ended_at"], TS);
    assert_eq!(sent["spans"][0]["iteration"], 2);
    assert!(sent["spans"][0].get("parent_span_id").is_none());
    assert_eq!(sent["scores"][0]["source"], "api");
    for array in ["sessions", "runs", "spans", "events", "scores", "prompt_links"] {
        assert!(sent[array].is_array(), "{array} is always present");
    }
}

/// The fuzz target's property (fuzz/fuzz_targets/batch_validation.rs) over its seed corpus, on
/// the stable toolchain: never a panic; an accepted batch serializes to a body accepted as the
/// same batch.
#[test]
fn the_fuzz_corpus_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/batch_validation");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the fuzz corpus") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        if let Ok(batch) = Batch::from_json_slice(&bytes) {
            assert_eq!(Batch::from_json_slice(&batch.to_json()).as_ref(), Ok(&batch));
            seen += 1;
        }
    }
    assert!(seen >= 5, "the seed corpus is accepted: {seen}");
}

#[test]
fn a_nul_anywhere_is_replaced_by_the_replacement_character() {
    let mut r = run();
    r["name"] = json!("a\u{0}b");
    r["metadata"] = json!({"k\u{0}ey": ["x\u{0}", {"deep": "\u{0}"}]});
    let mut e = event();
    e["content"] = json!("tool output \u{0}\u{0}");
    let body = json!({"schema_version": 2, "runs": [r], "events": [e]});
    let bytes = serde_json::to_vec(&body).expect("json");
    assert!(bytes.windows(6).any(|w| w == b"\\u0000"), "the body carries NUL escapes");
    let batch = Batch::from_json_slice(&bytes).expect("accepted");
    assert_eq!(batch.runs[0].name, "a\u{fffd}b");
    assert_eq!(batch.runs[0].metadata, json!({"k\u{fffd}ey": ["x\u{fffd}", {"deep": "\u{fffd}"}]}));
    assert_eq!(batch.events[0].content, json!("tool output \u{fffd}\u{fffd}"));
    assert_eq!(Batch::from_value(&body).expect("accepted"), batch, "both entry points agree");
    assert!(!String::from_utf8(batch.to_json()).expect("utf-8").contains("\\u0000"));
}

#[test]
fn figures_that_could_overflow_a_sum_are_refused_with_the_field() {
    let mut sp = span(P1, None);
    sp["attributes"] = json!({"cost_usd": 1e308});
    assert_eq!(error_of(batch_with("spans", sp)), "spans[0].attributes.cost_usd must be a number from 0 to 1000000");
    let mut sp = span(P1, None);
    sp["attributes"] = json!({"input_tokens": -1});
    assert_eq!(
        error_of(batch_with("spans", sp)),
        "spans[0].attributes.input_tokens must be a number from 0 to 10000000000"
    );
    let mut r = run();
    r["metadata"] = json!({"total_output_tokens": 1.7e308});
    assert_eq!(
        error_of(batch_with("runs", r)),
        "runs[0].metadata.total_output_tokens must be a number from 0 to 10000000000"
    );
    let mut s = score();
    s["value"] = json!(1e300);
    assert_eq!(
        error_of(batch_with("scores", s)),
        "scores[0].value must be between -1000000000000000 and 1000000000000000"
    );
    // Real figures, and values that are not numbers (never added up), pass as before.
    let mut sp = span(P1, None);
    sp["attributes"] = json!({"cost_usd": 12.5, "input_tokens": 120_000, "output_tokens": "many"});
    assert!(Batch::from_value(&batch_with("spans", sp)).is_ok());
}

#[test]
fn a_batch_over_the_record_limit_is_refused_whole() {
    let sessions: Vec<Value> = (0..3).map(|_| session()).collect();
    let body = serde_json::to_vec(&json!({"schema_version": 2, "sessions": sessions, "runs": [run()]})).expect("json");
    let err = Batch::from_json_slice_limited(&body, 3).expect_err("4 records over a limit of 3");
    assert_eq!(err, ContractError::TooManyRecords { count: 4, limit: 3 });
    assert_eq!(err.message(), "Batch has 4 records; at most 3 are accepted per request");
    assert!(Batch::from_json_slice_limited(&body, 4).is_ok());
}

#[test]
fn an_unknown_key_is_quoted_shortened() {
    let mut s = session();
    s["k".repeat(100_000)] = json!(1);
    let message = error_of(batch_with("sessions", s));
    assert_eq!(message, format!("sessions[0].{}… is not allowed", "k".repeat(64)));
}

#[test]
fn both_entry_points_check_in_the_same_order() {
    let cases: [(&[u8], &str); 6] = [
        (b"{not json", "Invalid JSON body"),
        (b"[1, 2]", "JSON body must be an object"),
        (br#"{"schema_version": 3, "runs": 5}"#, "Unsupported schema_version (expected 1 or 2)"),
        (br#"{"schema_version": 2, "runs": 5, "spans": 6}"#, "runs must be an array"),
        (br#"{"schema_version": 2, "runs": [{"id": 1}], "sessions": [7]}"#, "sessions[0] is not an object"),
        (br#"{"schema_version": 2, "runs": [{"big": 1e400}]}"#, "Invalid JSON body"),
    ];
    for (body, message) in cases {
        assert_eq!(Batch::from_json_slice(body).expect_err("rejected").message(), message);
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            assert_eq!(Batch::from_value(&value).expect_err("rejected").message(), message);
        }
    }
}
