//! Operations, on both stores: health and readiness, Prometheus metrics, the per-key rate
//! limit, and retention deleting exactly what is older than each project's setting.

use crate::common::fixtures::{agent_trace, batch, id};
use crate::common::on_both_stores;
use crate::common::{AppState, Backend, TestServer};
use northstar_server::RateLimit;
use northstar_store::{NewScore, Store};
use northstar_wire::ScoreDataType;
use serde_json::json;

async fn health_readiness_metrics(server: &TestServer) {
    let get = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move {
            let r = server.client.get(url).send().await.expect("request");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    assert_eq!(get("/healthz").await, (200, r#"{"status":"ok"}"#.into()));
    assert_eq!(get("/readyz").await, (200, r#"{"status":"ready"}"#.into()));

    server.accepts(&agent_trace().1).await;
    let (status, _) = server.post(&json!({"schema_version": 3})).await;
    assert_eq!(status, 400);
    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "northstar_ingest_requests_total{status=\"200\"}",
        "northstar_ingest_requests_total{status=\"400\"}",
        "northstar_ingest_rejects_total{reason=\"invalid\"}",
        "northstar_ingest_records_total{type=\"span\"}",
        "northstar_ingest_request_seconds_bucket",
        "northstar_db_pool_connections{pool=\"ingest\",state=\"in_use\"}",
    ] {
        assert!(text.contains(line), "{line} in /metrics:\n{text}");
    }
}

async fn limited(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |state| AppState { rate_limit: RateLimit::per_second(3), ..state }).await
}

async fn rate_limit_is_per_key_with_retry_after(server: &TestServer) {
    let body = batch(json!({}));
    for _ in 0..3 {
        server.accepts(&body).await;
    }
    let response = server
        .client
        .post(server.ingest_url())
        .bearer_auth(&server.key)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=1).contains(&retry_after), "{retry_after}");
    assert_eq!(response.text().await.expect("body"), r#"{"error":"Rate limit exceeded"}"#);
    // Another project's key has its own budget.
    let (_, other) = server.other_project().await;
    assert_eq!(server.post_with_key(&other, &body).await.0, 200);
    // After the wait, the key gets through again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    server.accepts(&body).await;
}

/// Runs that started `days_ago` days ago, each with a span and an event, the first 100 with a score.
fn aged_trace(session: &str, days_ago: i64, runs: usize) -> (Vec<String>, serde_json::Value) {
    let started =
        (chrono::Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let ids: Vec<String> = (0..runs).map(|_| id()).collect();
    let runs_json: Vec<_> = ids
        .iter()
        .map(|r| json!({"id": r, "session_id": session, "name": "r", "started_at": started, "status": "ok"}))
        .collect();
    let spans: Vec<_> = ids
        .iter()
        .map(|r| json!({"id": id(), "run_id": r, "kind": "tool", "name": "t", "started_at": started, "status": "ok"}))
        .collect();
    let events: Vec<_> = ids
        .iter()
        .map(|r| json!({"id": id(), "run_id": r, "type": "custom", "created_at": started, "content": 1}))
        .collect();
    // A batch carries at most 500 scores.
    let scores: Vec<_> = ids
        .iter()
        .take(100)
        .map(|r| json!({"id": id(), "trace_id": r, "name": "q", "value": 1, "data_type": "numeric", "source": "api", "created_at": started}))
        .collect();
    let body = batch(json!({
        "sessions": [{"id": session, "created_at": started}],
        "runs": runs_json, "spans": spans, "events": events, "scores": scores,
    }));
    (ids, body)
}

async fn retention_deletes_exactly_what_is_older(server: &TestServer) {
    let store = &server.store;
    let p = server.project;
    // 1,200 runs 10 days old (more than two deletion chunks), 1 run 5 days old in a session of
    // its own, and 2 runs 1 day old; retention 3 days.
    let (old_session, mid_session, new_session) = (id(), id(), id());
    let (old, body) = aged_trace(&old_session, 10, 1200);
    server.accepts(&body).await;
    let (mid, body) = aged_trace(&mid_session, 5, 1);
    server.accepts(&body).await;
    let (new, body) = aged_trace(&new_session, 1, 2);
    server.accepts(&body).await;
    // A second project without retention keeps its old run.
    let (other, other_key) = server.other_project().await;
    let (kept, body) = aged_trace(&id(), 30, 1);
    assert_eq!(server.post_with_key(&other_key, &body).await.0, 200);
    store
        .add_score(
            p,
            &NewScore {
                run: new[0].parse().expect("id"),
                span: None,
                name: "human".into(),
                value: 1.0,
                data_type: ScoreDataType::Numeric,
                string_value: None,
                comment: None,
                created_by: None,
                source: northstar_wire::ScoreSource::Human,
            },
        )
        .await
        .expect("score");

    assert_eq!(
        northstar_server::retention::enforce(store, chrono::Utc::now()).await.expect("pass"),
        0,
        "no setting yet"
    );
    store.set_retention(p, Some(3)).await.expect("retention");
    let deleted = northstar_server::retention::enforce(store, chrono::Utc::now()).await.expect("pass");
    assert_eq!(deleted, 1201);

    let counts = store.count_records(p).await.expect("counts");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events, counts.scores), (1, 2, 2, 2, 3));
    for run in old.iter().chain(&mid) {
        assert_eq!(store.get_run(p, run.parse().expect("id")).await.expect("get"), None);
    }
    for run in &new {
        assert!(store.get_run(p, run.parse().expect("id")).await.expect("get").is_some());
    }
    for (session, exists) in [(&old_session, false), (&mid_session, false), (&new_session, true)] {
        assert_eq!(store.get_session(p, session.parse().expect("id")).await.expect("get").is_some(), exists);
    }
    assert!(
        store.get_run(other, kept[0].parse().expect("id")).await.expect("get").is_some(),
        "other project untouched"
    );
    assert_eq!(northstar_server::retention::enforce(store, chrono::Utc::now()).await.expect("pass"), 0, "idempotent");
}

on_both_stores!(health_readiness_metrics, retention_deletes_exactly_what_is_older);

mod rate_limit {
    use super::*;
    on_both_stores!(start = limited; rate_limit_is_per_key_with_retry_after);
}
