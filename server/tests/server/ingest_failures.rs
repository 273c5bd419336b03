//! Real database failures (reference §5.1 "key lookup DB error", "any other message → 500"):
//! the answer is 500 `Internal server error` with nothing internal in it, and nothing of the
//! batch is stored. The database is broken on purpose with raw SQL, on both stores.

use crate::common::fixtures::*;
use crate::common::*;
use northstar_store::Store;
use serde_json::json;

async fn a_failing_key_lookup_is_500(s: &TestServer) {
    let table = if s.backend == Backend::Postgres { "private.api_keys" } else { "api_keys" };
    execute_sql(&s.database_url(), &format!("ALTER TABLE {table} RENAME TO api_keys_gone")).await;
    let response = s
        .client
        .post(s.ingest_url())
        .bearer_auth(&s.key)
        .body(Trace::new().body().to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]));
    assert_eq!(read(response).await, (500, json!({"error": "Internal server error"})));
}

async fn a_storage_failure_is_500_and_stores_nothing(s: &TestServer) {
    let sql = if s.backend == Backend::Postgres {
        "ALTER TABLE private.events ADD CONSTRAINT no_events_today CHECK (false) NOT VALID"
    } else {
        "CREATE TRIGGER no_events_today BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'no events today'); END"
    };
    execute_sql(&s.database_url(), sql).await;
    let (status, body) = s.post(&Trace::new().body()).await;
    assert_eq!((status, &body), (500, &json!({"error": "Internal server error"})));
    assert!(!body.to_string().contains("no_events_today") && !body.to_string().contains("no events today"));
    let counts = s.store.count_records(s.project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events), (0, 0, 0, 0), "one transaction");
    // A batch without events still goes through.
    let mut body = Trace::new().body();
    body["events"] = json!([]);
    s.accepts(&body).await;
}

on_both_stores!(a_failing_key_lookup_is_500, a_storage_failure_is_500_and_stores_nothing);
