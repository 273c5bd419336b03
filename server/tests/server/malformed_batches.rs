//! Property: whatever a client sends, the server answers 200 `{"accepted":true}` or a 4xx
//! `{"error": "<message>"}`; never a 5xx, never a panic. Inputs are real batches (valid
//! references, so many reach the database) with random mutations: wrong types, removed and
//! unknown keys, odd numbers and dates, dangling or foreign references, broken JSON.
//! Runs over HTTP against the real server on both stores.

use std::sync::OnceLock;

use crate::common::fixtures::*;
use crate::common::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(1.5), Just(-0.0), Just(1e300), Just(4_294_967_296.0), Just(2_147_483_647.0), any::<f64>()]
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("".to_owned()),
            Just("   ".to_owned()),
            Just("not-a-uuid".to_owned()),
            Just("2024-02-30T00:00:00Z".to_owned()),
            Just("2024-12-31T24:00:00Z".to_owned()),
            Just("9999-12-31T23:59:59.9999999-23:59".to_owned()),
            Just("0001-01-01T00:00:00+23:59".to_owned()),
            Just("running".to_owned()),
            Just("categorical".to_owned()),
            Just("<script>alert(1)</script>".to_owned()),
            Just("\u{0000}\u{feff}é".to_owned()),
            Just(uuid::Uuid::new_v4().to_string()),
            Just(uuid::Uuid::nil().to_string().to_uppercase()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const ARRAYS: [&str; 6] = ["sessions", "runs", "spans", "events", "prompt_links", "scores"];
const KEYS: [&str; 16] = [
    "id",
    "session_id",
    "run_id",
    "span_id",
    "parent_span_id",
    "trace_id",
    "project_id",
    "name",
    "status",
    "kind",
    "type",
    "created_at",
    "started_at",
    "ended_at",
    "value",
    "content",
];

#[derive(Debug, Clone)]
enum Mutation {
    SetField {
        array: usize,
        index: usize,
        key: usize,
        value: Value,
    },
    RemoveField {
        array: usize,
        index: usize,
        key: usize,
    },
    AddUnknownKey {
        array: usize,
        index: usize,
        key: String,
    },
    ReplaceRecord {
        array: usize,
        index: usize,
        value: Value,
    },
    ReplaceArray {
        array: usize,
        value: Value,
    },
    /// Points a field at another id of the batch (`Some`) or at a fresh one (`None`).
    Relink {
        array: usize,
        index: usize,
        key: usize,
        target: Option<usize>,
    },
    SchemaVersion(Value),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = (0..ARRAYS.len(), 0..4usize);
    prop_oneof![
        4 => (at.clone(), 0..6usize, prop::option::of(0..16usize))
            .prop_map(|((array, index), key, target)| Mutation::Relink { array, index, key, target }),
        3 => (at.clone(), 0..KEYS.len(), any_json()).prop_map(|((array, index), key, value)| Mutation::SetField { array, index, key, value }),
        2 => (at.clone(), 0..KEYS.len()).prop_map(|((array, index), key)| Mutation::RemoveField { array, index, key }),
        1 => (at.clone(), "[a-z]{1,6}").prop_map(|((array, index), key)| Mutation::AddUnknownKey { array, index, key }),
        1 => (at, any_json()).prop_map(|((array, index), value)| Mutation::ReplaceRecord { array, index, value }),
        1 => (0..ARRAYS.len(), any_json()).prop_map(|(array, value)| Mutation::ReplaceArray { array, value }),
        1 => any_json().prop_map(Mutation::SchemaVersion),
        1 => (0..4000usize).prop_map(Mutation::Truncate),
    ]
}

/// A valid two-run batch; mutations then break it.
fn base_batch() -> Value {
    let t = Trace::new();
    let mut body = t.body();
    let (run2, span2) = (id(), id());
    body["runs"].as_array_mut().expect("runs").push(run(&run2, &t.session));
    body["spans"].as_array_mut().expect("spans").push(span(&span2, &run2, None));
    body["scores"] = json!([score(&id(), &t.run)]);
    body["prompt_links"] = json!([]);
    body
}

fn record_mut(body: &mut Value, array: usize, index: usize) -> Option<&mut Value> {
    let items = body.get_mut(ARRAYS[array])?.as_array_mut()?;
    if items.is_empty() {
        items.push(json!({}));
    }
    let len = items.len();
    items.get_mut(index % len)
}

/// Applies mutations; `Err(bytes)` when the body is no longer JSON.
fn apply(mut body: Value, mutations: &[Mutation]) -> Result<Value, Vec<u8>> {
    for m in mutations {
        match m {
            Mutation::SetField { array, index, key, value } => {
                if let Some(obj) = record_mut(&mut body, *array, *index).and_then(Value::as_object_mut) {
                    obj.insert(KEYS[*key].to_owned(), value.clone());
                }
            }
            Mutation::RemoveField { array, index, key } => {
                if let Some(obj) = record_mut(&mut body, *array, *index).and_then(Value::as_object_mut) {
                    obj.remove(KEYS[*key]);
                }
            }
            Mutation::AddUnknownKey { array, index, key } => {
                if let Some(obj) = record_mut(&mut body, *array, *index).and_then(Value::as_object_mut) {
                    obj.insert(format!("x_{key}"), Value::Bool(true));
                }
            }
            Mutation::ReplaceRecord { array, index, value } => {
                if let Some(record) = record_mut(&mut body, *array, *index) {
                    *record = value.clone();
                }
            }
            Mutation::Relink { array, index, key, target } => {
                let ids: Vec<Value> = ARRAYS
                    .iter()
                    .filter_map(|a| body.get(*a).and_then(Value::as_array))
                    .flatten()
                    .filter_map(|r| r.get("id").cloned())
                    .collect();
                let value = match target {
                    Some(t) if !ids.is_empty() => ids[t % ids.len()].clone(),
                    _ => Value::String(uuid::Uuid::new_v4().to_string()),
                };
                if let Some(obj) = record_mut(&mut body, *array, *index).and_then(Value::as_object_mut) {
                    obj.insert(KEYS[*key].to_owned(), value);
                }
            }
            Mutation::ReplaceArray { array, value } => body[ARRAYS[*array]] = value.clone(),
            Mutation::SchemaVersion(value) => body["schema_version"] = value.clone(),
            Mutation::Truncate(at) => {
                let text = body.to_string().into_bytes();
                return Err(text[..(*at).min(text.len().saturating_sub(1))].to_vec());
            }
        }
    }
    Ok(body)
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    servers: Vec<TestServer>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let servers = runtime.block_on(async {
            vec![TestServer::start(Backend::Sqlite).await, TestServer::start(Backend::Postgres).await]
        });
        Harness { runtime, servers }
    })
}

fn check(body: Result<Value, Vec<u8>>) -> Result<(), TestCaseError> {
    let h = harness();
    let mut answers = Vec::new();
    for server in &h.servers {
        let bytes = match &body {
            Ok(v) => v.to_string().into_bytes(),
            Err(raw) => raw.clone(),
        };
        let (status, json) = h.runtime.block_on(async {
            let auth = format!("Bearer {}", server.key);
            read(server.post_raw(&[("authorization", &auth)], bytes).await).await
        });
        prop_assert!(status == 200 || (400..500).contains(&status), "{:?}: status {status} {json}", server.backend);
        if status == 200 {
            prop_assert_eq!(&json, &json!({"accepted": true}));
        } else {
            let message = json.get("error").and_then(Value::as_str).unwrap_or_default();
            prop_assert!(!message.is_empty() && json.as_object().is_some_and(|o| o.len() == 1), "{json}");
        }
        answers.push((status, json));
    }
    // Both stores saw the same sequence of bodies: they must answer alike.
    prop_assert_eq!(&answers[0], &answers[1], "SQLite and Postgres disagree");
    Ok(())
}

proptest! {
    // 256 cases per property in CI; `PROPTEST_CASES=N` for a long run (BENCHMARKS.md).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_batches_never_get_a_5xx(mutations in prop::collection::vec(mutation(), 0..4)) {
        check(apply(base_batch(), &mutations))?;
    }

    #[test]
    fn arbitrary_json_bodies_never_get_a_5xx(body in any_json()) {
        check(Ok(body))?;
    }

    #[test]
    fn batches_of_arbitrary_records_never_get_a_5xx(array in 0..ARRAYS.len(), records in prop::collection::vec(any_json(), 1..4)) {
        check(Ok(json!({"schema_version": 2, ARRAYS[array]: records})))?;
    }
}
