//! Group commit on a real SQLite file. The tests run on tokio's current-thread runtime, where
//! requests joined in one `tokio::join!` are all queued before the writer task first runs, so
//! they form one group deterministically.

use northstar_wire::Batch;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{AnyStore, SqliteStore, Store, StoreError};

const T0: &str = "2026-12-02T10:00:00.000000Z";
const T1: &str = "2026-12-02T10:00:01.500000Z";

async fn store(dir: &tempfile::TempDir, name: &str) -> (AnyStore, Uuid) {
    let store = AnyStore::Sqlite(SqliteStore::open(&dir.path().join(name)).await.expect("open"));
    store.migrate().await.expect("migrate");
    let project = store.create_project("p", &format!("{name}-key")).await.expect("project").id;
    (store, project)
}

fn batch(body: Value) -> Batch {
    let mut body = body;
    body["schema_version"] = json!(2);
    Batch::from_value(&body).expect("valid batch")
}

/// A run in three batches: opened with its session and a model span, the span ended with its
/// cost, then events on the span and the run ended. Each batch names records of the one before.
fn three_batches() -> [Batch; 3] {
    let (session, run, span) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let model = |status: &str, ended: Option<&str>, cost: Option<f64>| {
        let mut s = json!({"id": span, "run_id": run, "kind": "model", "name": "llm", "started_at": T0,
                           "status": status, "attributes": {"model": "gpt-4o-mini", "input_tokens": 100}});
        if let Some(at) = ended {
            s["ended_at"] = json!(at);
        }
        if let Some(c) = cost {
            s["attributes"]["cost_usd"] = json!(c);
        }
        s
    };
    let run_record = |status: &str, ended: Option<&str>| json!({"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": status, "ended_at": ended});
    let event = |kind: &str| json!({"id": Uuid::new_v4(), "run_id": run, "span_id": span, "type": kind, "created_at": T1, "content": {"text": kind}});
    [
        batch(json!({"sessions": [{"id": session, "created_at": T0}], "runs": [run_record("running", None)],
                     "spans": [model("running", None, None)]})),
        batch(json!({"spans": [model("ok", Some(T1), Some(0.25))]})),
        batch(
            json!({"runs": [run_record("ok", Some(T1))], "events": [event("user_input"), event("assistant_message")]}),
        ),
    ]
}

/// What a reader sees of the run of `three_batches` (its rows and its figures).
async fn state(store: &AnyStore, project: Uuid, batches: &[Batch; 3]) -> Value {
    let run = batches[0].runs[0].id;
    let session = batches[0].sessions[0].id;
    let row = store.run_row(project, run).await.expect("read").expect("run");
    let session_row = store.session_row(project, session).await.expect("read").expect("session");
    json!({
        "run": format!("{:?}", store.get_run(project, run).await.expect("read")),
        "spans": format!("{:?}", store.list_spans(project, run).await.expect("read")),
        "events": format!("{:?}", store.list_events(project, run).await.expect("read")),
        "run_row": format!("{row:?}"),
        "session_row": format!("{session_row:?}"),
    })
}

#[tokio::test]
async fn batches_queued_together_are_written_by_one_transaction_with_the_effect_of_one_after_another() {
    let dir = tempfile::tempdir().expect("dir");
    let (grouped, p1) = store(&dir, "grouped.db").await;
    let (sequential, p2) = store(&dir, "sequential.db").await;
    let batches = three_batches();

    let (a, b, c) =
        tokio::join!(grouped.ingest(p1, &batches[0]), grouped.ingest(p1, &batches[1]), grouped.ingest(p1, &batches[2]));
    let counts = [a.expect("first"), b.expect("second"), c.expect("third")];
    assert_eq!(grouped.sqlite().merged_requests(), 3, "the three were written together");
    assert_eq!((counts[0].sessions, counts[0].runs, counts[0].spans), (1, 1, 1), "each answer counts its own batch");
    assert_eq!((counts[1].spans, counts[2].runs, counts[2].events), (1, 1, 2));

    for b in &batches {
        sequential.ingest(p2, b).await.expect("sequential");
    }
    assert_eq!(sequential.sqlite().merged_requests(), 0, "one at a time, nothing to merge");
    let (got, want) = (state(&grouped, p1, &batches).await, state(&sequential, p2, &batches).await);
    let mut want = want.to_string();
    want = want.replace(&p2.to_string(), &p1.to_string());
    assert_eq!(got.to_string(), want);
    let row = grouped.run_row(p1, batches[0].runs[0].id).await.expect("read").expect("run");
    assert_eq!((row.cost_usd, row.input_tokens), (0.25, 100), "the span's figures reached the run once");
}

#[tokio::test]
async fn a_bad_batch_in_a_group_is_rejected_alone_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, project) = store(&dir, "bad.db").await;
    let good = three_batches();
    let unknown = Uuid::new_v4();
    let bad = batch(json!({
        "runs": [{"id": Uuid::new_v4(), "session_id": good[0].sessions[0].id, "name": "orphan", "started_at": T0, "status": "ok"}],
        "spans": [{"id": Uuid::new_v4(), "run_id": unknown, "kind": "tool", "name": "t", "started_at": T0, "status": "ok"}]
    }));

    let (a, b, c, d) = tokio::join!(
        store.ingest(project, &good[0]),
        store.ingest(project, &bad),
        store.ingest(project, &good[1]),
        store.ingest(project, &good[2])
    );
    a.expect("first good batch");
    c.expect("second good batch");
    d.expect("third good batch");
    match b {
        Err(StoreError::InvalidReference(detail)) => assert_eq!(detail, format!("run {unknown} not found for project")),
        other => panic!("expected the bad batch's own reference error, got {other:?}"),
    }
    assert_eq!(store.sqlite().merged_requests(), 0, "the merged write failed, so each was written alone");
    let counts = store.count_records(project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events), (1, 1, 1, 2), "nothing of the bad batch");
}

#[tokio::test]
async fn one_group_writes_each_batch_into_its_own_project() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, first) = store(&dir, "projects.db").await;
    let second = store.create_project("q", "second-key").await.expect("project").id;
    let (mine, theirs) = (three_batches(), three_batches());

    let (a, b, c) =
        tokio::join!(store.ingest(first, &mine[0]), store.ingest(second, &theirs[0]), store.ingest(first, &mine[1]));
    a.expect("first");
    b.expect("second");
    c.expect("third");
    assert_eq!(store.sqlite().merged_requests(), 3);
    let run = |b: &[Batch; 3]| b[0].runs[0].id;
    assert!(store.get_run(first, run(&mine)).await.expect("read").is_some());
    assert!(store.get_run(second, run(&mine)).await.expect("read").is_none());
    assert!(store.get_run(second, run(&theirs)).await.expect("read").is_some());
    assert!(store.get_run(first, run(&theirs)).await.expect("read").is_none());
    let span = store.get_span(first, mine[0].spans[0].id).await.expect("read").expect("span");
    assert_eq!(span.status, northstar_wire::Status::Ok, "the later batch of the same project applied");
}

#[tokio::test]
async fn a_request_abandoned_while_it_queued_is_not_written() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, project) = store(&dir, "abandoned.db").await;
    let batches = three_batches();
    // Hold the write turn, as a long write would: the request queues behind it.
    let turn = store.sqlite().hold_write_turn().await;
    let abandoned =
        tokio::time::timeout(std::time::Duration::from_millis(50), store.ingest(project, &batches[0])).await;
    assert!(abandoned.is_err(), "the request timed out while it queued");
    drop(turn);
    // A later request goes through the same writer: the abandoned one was dropped before it.
    let other = batch(json!({"sessions": [{"id": Uuid::new_v4(), "created_at": T0}]}));
    store.ingest(project, &other).await.expect("written");
    let counts = store.count_records(project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans), (1, 0, 0), "only the later request is stored");
}
