//! What one node of the run page reads: a span's events, or the run's own (on no span), and
//! nothing of the rest of the run.

use northstar_store::Store;
use northstar_test_support::{Backend, store};
use northstar_wire::Batch;
use serde_json::json;
use uuid::Uuid;

const T0: &str = "2026-12-07T10:00:00.000000Z";

fn at(second: u32) -> String {
    format!("2026-12-07T10:00:{second:02}.000000Z")
}

async fn a_node_reads_its_own_events_only(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let project = store.create_project("p", "hash-of-key").await.expect("project").id;
    let (session, run, other_run) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (model, tool) = (Uuid::new_v4(), Uuid::new_v4());
    let event = |run: Uuid, span: Option<Uuid>, second: u32, text: &str| {
        json!({"id": Uuid::new_v4(), "run_id": run, "span_id": span, "type": "custom", "created_at": at(second),
               "content": {"text": text}})
    };
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0}],
        "runs": [
            {"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": "running"},
            {"id": other_run, "session_id": session, "name": "other", "started_at": T0, "status": "running"}
        ],
        "spans": [
            {"id": model, "run_id": run, "kind": "model", "name": "chat", "started_at": T0, "status": "running"},
            {"id": tool, "run_id": run, "kind": "tool", "name": "search", "started_at": T0, "status": "running"}
        ],
        "events": [
            event(run, Some(model), 3, "model second"),
            event(run, Some(model), 1, "model first"),
            event(run, Some(tool), 2, "tool"),
            event(run, None, 4, "run's own"),
            event(other_run, None, 5, "another run's own")
        ]
    });
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");

    let texts = |events: Vec<northstar_wire::Event>| {
        events.into_iter().map(|e| e.content["text"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    let of_model = store.list_node_events(project, run, Some(model)).await.expect("read");
    assert_eq!(texts(of_model), ["model first", "model second"], "by creation time");
    assert_eq!(texts(store.list_node_events(project, run, Some(tool)).await.expect("read")), ["tool"]);
    assert_eq!(texts(store.list_node_events(project, run, None).await.expect("read")), ["run's own"]);
    // A span named under another run, or another project, reads nothing.
    assert!(store.list_node_events(project, other_run, Some(model)).await.expect("read").is_empty());
    assert!(store.list_node_events(Uuid::new_v4(), run, Some(model)).await.expect("read").is_empty());
}

#[tokio::test]
async fn a_node_reads_its_own_events_only_postgres() {
    a_node_reads_its_own_events_only(Backend::Postgres).await;
}

#[tokio::test]
async fn a_node_reads_its_own_events_only_sqlite() {
    a_node_reads_its_own_events_only(Backend::Sqlite).await;
}
