//! The change feed: a write, once committed, is heard by every store on the database (on
//! Postgres through another connection, as another server would hear it; on SQLite by the
//! other stores of this process on the same file), naming the runs it touched.

use std::time::Duration;

use northstar_store::{AnyStore, Change, Store};
use northstar_test_support::{Backend, store};
use northstar_wire::Batch;
use serde_json::json;
use uuid::Uuid;

const T0: &str = "2026-12-07T10:00:00.000000Z";

async fn next(changes: &mut tokio::sync::broadcast::Receiver<Change>) -> Change {
    tokio::time::timeout(Duration::from_secs(10), changes.recv())
        .await
        .expect("a change within 10 s")
        .expect("the feed is open")
}

async fn a_write_is_heard_by_every_store_on_the_database(backend: Backend) {
    let (writer, guard) = store(backend).await;
    let reader = AnyStore::connect(&guard.url()).await.expect("a second store on the database");
    let mut heard = reader.changes().await;
    let project = writer.create_project("p", "hash-of-key").await.expect("project").id;
    let (session, run, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0}],
        "runs": [{"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": "running"}],
        "spans": [{"id": Uuid::new_v4(), "run_id": run, "kind": "tool", "name": "s", "started_at": T0, "status": "running"}]
    });
    writer.ingest(project, &Batch::from_value(&body).expect("batch")).await.expect("ingest");
    let change = next(&mut heard).await;
    assert_eq!(change, Change { project, runs: Some(vec![run]) });
    assert!(change.touches(run) && !change.touches(other));

    // A span of that run alone names the run too; a refused batch announces nothing.
    let span = json!({"schema_version": 2, "spans": [{"id": Uuid::new_v4(), "run_id": run, "kind": "tool",
                      "name": "t", "started_at": T0, "status": "ok"}]});
    let orphan = json!({"schema_version": 2, "spans": [{"id": Uuid::new_v4(), "run_id": other, "kind": "tool",
                        "name": "t", "started_at": T0, "status": "ok"}]});
    assert!(writer.ingest(project, &Batch::from_value(&orphan).expect("batch")).await.is_err(), "unknown run");
    writer.ingest(project, &Batch::from_value(&span).expect("batch")).await.expect("ingest");
    assert_eq!(next(&mut heard).await, Change { project, runs: Some(vec![run]) }, "nothing of the refused batch");
}

#[tokio::test]
async fn a_write_is_heard_by_every_store_on_the_database_on_postgres() {
    a_write_is_heard_by_every_store_on_the_database(Backend::Postgres).await;
}

#[tokio::test]
async fn a_write_is_heard_by_every_store_on_the_database_on_sqlite() {
    a_write_is_heard_by_every_store_on_the_database(Backend::Sqlite).await;
}
