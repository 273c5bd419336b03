//! The queries behind the dashboard's pages, on both stores: the cost rule, the sessions
//! list's filters, sorting and pages, run rows, scores and their aggregates. Data goes in
//! through the real ingest endpoint.

use crate::common::fixtures::batch;
use crate::common::on_both_stores;
use crate::common::{Backend, TestServer, uuid};
use northstar_store::{
    NewScore, RunFilter, RunSort, ScoreFilter, SessionFilter, SessionSort, SessionStatus, Store, StoreError, TimeRange,
};
use northstar_wire::{ScoreDataType, Status};
use serde_json::{Value, json};

const S1: &str = "10000000-0000-4000-8000-000000000001";
const S2: &str = "10000000-0000-4000-8000-000000000002";
const S3: &str = "10000000-0000-4000-8000-000000000003";
const RA: &str = "20000000-0000-4000-8000-00000000000a";
const RB: &str = "20000000-0000-4000-8000-00000000000b";
const RC: &str = "20000000-0000-4000-8000-00000000000c";
const RD: &str = "20000000-0000-4000-8000-00000000000d";
const RE: &str = "20000000-0000-4000-8000-00000000000e";

fn run(id: &str, session: &str, name: &str, day: u32, secs: u32, status: &str, metadata: Value) -> Value {
    json!({"id": id, "session_id": session, "name": name,
           "started_at": format!("2025-05-{day:02}T10:00:00Z"),
           "ended_at": format!("2025-05-{day:02}T10:00:{secs:02}Z"),
           "status": status, "metadata": metadata})
}

fn span(id: &str, run: &str, kind: &str, attributes: Value) -> Value {
    json!({"id": id, "run_id": run, "kind": kind, "name": kind, "started_at": "2025-05-01T10:00:00Z",
           "ended_at": "2025-05-01T10:00:00.5Z", "status": "ok", "attributes": attributes})
}

fn sid(n: u32) -> String {
    format!("30000000-0000-4000-8000-{n:012}")
}

/// Five runs in three sessions, each exercising one side of the cost rule.
async fn seed(server: &TestServer) {
    server
        .accepts(&batch(json!({
            "sessions": [
                {"id": S1, "created_at": "2025-05-01T09:59:00Z", "ended_at": "2025-05-01T10:01:00Z", "metadata": {"user": "alice"}},
                {"id": S2, "created_at": "2025-05-02T09:59:00Z", "metadata": {"user": "bob"}},
                {"id": S3, "created_at": "2025-05-03T09:59:00Z"},
            ],
            "runs": [
                // Priced by its model spans; the SDK's own aggregates in metadata must not add up again.
                run(RA, S1, "support-agent", 1, 1, "ok",
                    json!({"cost_usd": 0.03, "total_input_tokens": 150, "total_output_tokens": 30})),
                // No model span: its metadata is the only source.
                run(RB, S1, "batch-summarizer", 1, 2, "ok",
                    json!({"cost_usd": 0.5, "total_input_tokens": 1000, "total_output_tokens": 200, "model": "gpt-4o"})),
                // Model span with tokens but no cost: cost from metadata, tokens from the span.
                run(RC, S2, "support-agent", 2, 3, "ok", json!({"cost_usd": 0.2, "total_input_tokens": 999})),
                // Garbage in metadata is ignored, never an error.
                run(RD, S2, "support-agent", 2, 4, "ok", json!({"cost_usd": "lots", "total_input_tokens": [1]})),
                run(RE, S2, "refund-tool-runner", 2, 5, "error", json!({"ticket": "T-1234"})),
            ],
            "spans": [
                span(&sid(1), RA, "model", json!({"model": "gpt-4o-mini", "cost_usd": 0.01, "input_tokens": 100, "output_tokens": 20})),
                span(&sid(2), RA, "model", json!({"model": "gpt-4o-mini", "cost_usd": 0.02, "input_tokens": 50, "output_tokens": 10})),
                span(&sid(3), RA, "tool", json!({})),
                span(&sid(4), RC, "model", json!({"model": "claude-sonnet-4", "input_tokens": 10, "output_tokens": 5})),
                span(&sid(5), RE, "tool", json!({})),
                span(&sid(6), RE, "tool", json!({})),
            ],
        })))
        .await;
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn cost_rule_on_runs(server: &TestServer) {
    seed(server).await;
    let store = &server.store;
    let p = server.project;
    let a = store.run_row(p, uuid(RA)).await.expect("query").expect("run A");
    assert!(close(a.cost_usd, 0.03), "spans' cost, not spans + metadata: {}", a.cost_usd);
    assert_eq!((a.input_tokens, a.output_tokens), (150, 30));
    assert_eq!((a.model.as_deref(), a.models, a.tool_calls, a.spans), (Some("gpt-4o-mini"), 1, 1, 3));
    assert_eq!(a.duration_ms, Some(1000.0));

    let b = store.run_row(p, uuid(RB)).await.expect("query").expect("run B");
    assert!(close(b.cost_usd, 0.5));
    assert_eq!((b.input_tokens, b.output_tokens, b.model.as_deref()), (1000, 200, Some("gpt-4o")));

    let c = store.run_row(p, uuid(RC)).await.expect("query").expect("run C");
    assert!(close(c.cost_usd, 0.2), "no span carries a cost: metadata's");
    assert_eq!((c.input_tokens, c.output_tokens), (10, 5), "spans carry tokens: theirs, not metadata's 999");

    let d = store.run_row(p, uuid(RD)).await.expect("query").expect("run D");
    assert_eq!((d.cost_usd, d.input_tokens, d.output_tokens), (0.0, 0, 0));

    let e = store.run_row(p, uuid(RE)).await.expect("query").expect("run E");
    assert_eq!((e.status, e.tool_calls), (Status::Error, 2));

    let (other, _) = server.other_project().await;
    assert_eq!(store.run_row(other, uuid(RA)).await.expect("query"), None, "scoped to the project");

    // A run's models, however many calls name them: the first by name, and how many differ.
    let calls = ["gpt-4o", "claude-haiku", "gpt-4o", "claude-haiku", "gpt-4o-mini"].iter().enumerate();
    let spans: Vec<Value> = calls.map(|(i, m)| span(&sid(100 + i as u32), RD, "model", json!({"model": m}))).collect();
    let nameless = span(&sid(200), RD, "model", json!({"model": 7}));
    server.accepts(&batch(json!({"spans": spans.into_iter().chain([nameless]).collect::<Vec<_>>()}))).await;
    let d = store.run_row(p, uuid(RD)).await.expect("query").expect("run D");
    assert_eq!((d.model.as_deref(), d.models), (Some("claude-haiku"), 3), "a model that is not a name is none");
}

async fn overview_totals_days_models_latency(server: &TestServer) {
    seed(server).await;
    let o = server.store.overview(server.project, TimeRange::default()).await.expect("overview");
    assert_eq!((o.runs, o.errored_runs, o.sessions, o.tool_calls), (5, 1, 3, 3));
    assert!(close(o.error_rate(), 0.2));
    assert!(close(o.cost_usd, 0.73), "0.03 + 0.5 + 0.2 + 0 + 0 = {}", o.cost_usd);
    assert_eq!((o.input_tokens, o.output_tokens), (150 + 1000 + 10, 30 + 200 + 5));
    let days: Vec<(&str, i64, i64)> = o.days.iter().map(|d| (d.day.as_str(), d.runs, d.errored_runs)).collect();
    assert_eq!(days, [("2025-05-01", 2, 0), ("2025-05-02", 3, 1)]);
    assert!(close(o.days[0].cost_usd, 0.53) && close(o.days[1].cost_usd, 0.2));
    // The models add up to the total; metadata-priced runs appear under their metadata model.
    let models: Vec<(&str, i64)> = o.by_model.iter().map(|m| (m.model.as_str(), m.calls)).collect();
    assert_eq!(models, [("gpt-4o", 0), ("claude-sonnet-4", 0), ("gpt-4o-mini", 2)]);
    assert!(close(o.by_model.iter().map(|m| m.cost_usd).sum::<f64>(), o.cost_usd));
    assert!(close(o.by_model[2].cost_usd, 0.03));
    // Durations 1…5 s: nearest-rank p50 = 3 s, p95 = 5 s.
    assert_eq!((o.latency_p50_ms, o.latency_p95_ms), (Some(3000.0), Some(5000.0)));

    let later = TimeRange { from: Some("2025-05-02T00:00:00Z".parse().expect("ts")), to: None };
    let o = server.store.overview(server.project, later).await.expect("overview");
    assert_eq!((o.runs, o.sessions), (3, 2));
    let empty = server.store.overview(server.other_project().await.0, TimeRange::default()).await.expect("overview");
    assert_eq!((empty.runs, empty.cost_usd, empty.latency_p50_ms), (0, 0.0, None));
}

async fn sessions_list_filters_sorts_pages(server: &TestServer) {
    seed(server).await;
    let (store, p) = (&server.store, server.project);
    let list = |f: SessionFilter| async move { store.list_session_rows(p, &f).await.expect("sessions") };
    let ids = |rows: &[northstar_store::SessionRow]| rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>();

    let all = list(SessionFilter::default()).await;
    assert_eq!((ids(&all.rows), all.total), (vec![S3.to_owned(), S2.into(), S1.into()], 3));
    let s1 = &all.rows[2];
    assert_eq!((s1.status, s1.runs, s1.errored_runs, s1.tool_calls), (SessionStatus::Completed, 2, 0, 1));
    assert!(close(s1.cost_usd, 0.53));
    assert_eq!((s1.input_tokens, s1.output_tokens, s1.duration_ms), (1150, 230, Some(120_000.0)));
    let s2 = &all.rows[1];
    assert_eq!((s2.status, s2.runs, s2.errored_runs, s2.tool_calls), (SessionStatus::Errored, 3, 1, 2));
    // Still open: measured to the end of its latest run (10:00:05 from 09:59:00).
    assert_eq!(s2.duration_ms, Some(65_000.0));
    assert_eq!((all.rows[0].status, all.rows[0].runs, all.rows[0].duration_ms), (SessionStatus::Active, 0, None));

    for (status, expect) in [(SessionStatus::Errored, S2), (SessionStatus::Active, S3), (SessionStatus::Completed, S1)]
    {
        let page = list(SessionFilter { status: Some(status), ..Default::default() }).await;
        assert_eq!((ids(&page.rows), page.total), (vec![expect.to_owned()], 1), "{status:?}");
    }
    let by_cost = list(SessionFilter { sort: SessionSort::Cost, ..Default::default() }).await;
    assert_eq!(ids(&by_cost.rows), [S1, S2, S3]);
    let by_runs_asc = list(SessionFilter { sort: SessionSort::Runs, descending: false, ..Default::default() }).await;
    assert_eq!(ids(&by_runs_asc.rows), [S3, S1, S2]);
    let by_duration = list(SessionFilter { sort: SessionSort::Duration, ..Default::default() }).await;
    assert_eq!(ids(&by_duration.rows), [S1, S2, S3], "unknown durations last");

    // Pages, on the fast path (default order) and the aggregated one.
    let second = list(SessionFilter { limit: 1, offset: 1, ..Default::default() }).await;
    assert_eq!((ids(&second.rows), second.total), (vec![S2.to_owned()], 3));
    let second = list(SessionFilter { sort: SessionSort::Cost, limit: 2, offset: 2, ..Default::default() }).await;
    assert_eq!((ids(&second.rows), second.total), (vec![S3.to_owned()], 3));
    let past = list(SessionFilter { sort: SessionSort::Cost, limit: 2, offset: 10, ..Default::default() }).await;
    assert_eq!((past.rows.len(), past.total), (0, 3));

    let search = |q: &str| SessionFilter { search: Some(q.into()), ..Default::default() };
    assert_eq!(ids(&list(search("REFUND-tool")).await.rows), [S2], "run names, any case");
    assert_eq!(ids(&list(search("alice")).await.rows), [S1], "session metadata values");
    assert_eq!(ids(&list(search("T-1234")).await.rows), [S2], "run metadata values");
    assert_eq!(ids(&list(search("000000000003")).await.rows), [S3], "session ids");
    assert_eq!(ids(&list(search(RB)).await.rows), [S1], "run ids");
    assert_eq!(list(search("user")).await.total, 0, "keys are not values");
    assert_eq!(list(search("100%")).await.total, 0, "% is literal");

    let since = SessionFilter {
        range: TimeRange {
            from: Some("2025-05-02T00:00:00Z".parse().expect("ts")),
            to: Some("2025-05-03T00:00:00Z".parse().expect("ts")),
        },
        ..Default::default()
    };
    assert_eq!(ids(&list(since).await.rows), [S2]);

    let one = store.session_row(p, uuid(S2)).await.expect("query").expect("S2");
    assert_eq!(one, all.rows[1]);
    assert_eq!(store.session_row(server.other_project().await.0, uuid(S2)).await.expect("query"), None);
}

async fn run_lists_filter_and_page(server: &TestServer) {
    seed(server).await;
    let (store, p) = (&server.store, server.project);
    let list = |f: RunFilter| async move { store.list_run_rows(p, &f).await.expect("runs") };
    let names = |page: &northstar_store::Page<northstar_store::RunRow>| {
        page.rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>()
    };

    let all = list(RunFilter::default()).await;
    assert_eq!((names(&all), all.total), (vec![RE.to_owned(), RD.into(), RC.into(), RB.into(), RA.into()], 5));
    let in_s1 = list(RunFilter { session: Some(uuid(S1)), descending: false, ..Default::default() }).await;
    assert_eq!(names(&in_s1), [RA, RB]);
    assert!(close(in_s1.rows[0].cost_usd, 0.03));
    let errors = list(RunFilter { status: Some(Status::Error), ..Default::default() }).await;
    assert_eq!(names(&errors), [RE]);
    let page = list(RunFilter { limit: 2, offset: 2, ..Default::default() }).await;
    assert_eq!((names(&page), page.total), (vec![RC.to_owned(), RB.into()], 5));
    let text = list(RunFilter { search: Some("summarizer".into()), ..Default::default() }).await;
    assert_eq!(names(&text), [RB]);

    // Every sort, both ways; ties (RD and RE cost nothing) by id, in the sort's direction.
    let sorted = |sort: RunSort, descending: bool| list(RunFilter { sort, descending, ..Default::default() });
    assert_eq!(names(&sorted(RunSort::Cost, true).await), [RB, RC, RA, RE, RD], "0.5, 0.2, 0.03, 0, 0");
    assert_eq!(names(&sorted(RunSort::Cost, false).await), [RD, RE, RA, RC, RB]);
    assert_eq!(names(&sorted(RunSort::Duration, true).await), [RE, RD, RC, RB, RA], "5 s … 1 s");
    assert_eq!(names(&sorted(RunSort::Duration, false).await), [RA, RB, RC, RD, RE]);
    assert_eq!(names(&sorted(RunSort::Tokens, false).await), [RD, RE, RC, RA, RB], "0, 0, 15, 180, 1,200");
    assert_eq!(names(&sorted(RunSort::Started, false).await), [RA, RB, RC, RD, RE]);
    // A sort keeps the filters and pages: the errored runs (one), the second page of costs.
    let errors = list(RunFilter { status: Some(Status::Error), sort: RunSort::Cost, ..Default::default() }).await;
    assert_eq!((names(&errors), errors.total), (vec![RE.to_owned()], 1));
    let page = list(RunFilter { sort: RunSort::Cost, limit: 2, offset: 2, ..Default::default() }).await;
    assert_eq!(names(&page), [RA, RE]);

    // A running run has no length yet: the longest when longest first, last when shortest first.
    let running = "20000000-0000-4000-8000-00000000000f";
    server
        .accepts(&batch(json!({"runs": [{"id": running, "session_id": S3, "name": "still-going",
                                           "started_at": "2025-05-03T10:00:00Z", "status": "running"}]})))
        .await;
    assert_eq!(names(&sorted(RunSort::Duration, true).await)[0], running);
    assert_eq!(names(&sorted(RunSort::Duration, false).await)[5], running);

    // Each row says what the run was asked (its first input, whatever its shape) and who for,
    // and carries its newest score of each name.
    server
        .accepts(&batch(json!({
            "runs": [run(RA, S1, "support-agent", 1, 1, "ok",
                         json!({"cost_usd": 0.03, "total_input_tokens": 150, "total_output_tokens": 30, "user_id": "u-42"}))],
            "events": [
                {"id": "40000000-0000-4000-8000-000000000001", "run_id": RA, "type": "user_input",
                 "created_at": "2025-05-01T10:00:00.5Z", "content": "and a follow-up"},
                {"id": "40000000-0000-4000-8000-000000000002", "run_id": RA, "type": "user_input",
                 "created_at": "2025-05-01T10:00:00.1Z", "content": "Where is\nmy order?"},
                {"id": "40000000-0000-4000-8000-000000000003", "run_id": RC, "type": "user_input",
                 "created_at": "2025-05-02T10:00:00.1Z", "content": {"role": "user", "content": "Cancel it"}},
                {"id": "40000000-0000-4000-8000-000000000004", "run_id": RD, "type": "user_input",
                 "created_at": "2025-05-02T10:00:00.1Z", "content": {"question": "x".repeat(1000)}},
            ],
        })))
        .await;
    store.add_score(p, &new_score(RA, "quality", ScoreDataType::Numeric, 0.4, None)).await.expect("score");
    store.add_score(p, &new_score(RA, "quality", ScoreDataType::Numeric, 0.9, None)).await.expect("score");
    let rows = sorted(RunSort::Started, false).await.rows;
    let by_id = |id: &str| rows.iter().find(|r| r.id == uuid(id)).expect("listed");
    assert_eq!(by_id(RA).input.as_deref(), Some("Where is\nmy order?"), "the first input, as recorded");
    assert_eq!(by_id(RA).user.as_deref(), Some("u-42"));
    assert_eq!(by_id(RC).input.as_deref(), Some("Cancel it"), "a message object's text");
    let long = by_id(RD).input.clone().expect("an object's JSON");
    assert!(long.starts_with(r#"{"question""#) && long.chars().count() == 300, "cut to 300: {long}");
    assert_eq!((by_id(RB).input.clone(), by_id(RB).user.clone()), (None, None));
    let scores: Vec<f64> = by_id(RA).scores.iter().map(|s| s.value).collect();
    assert_eq!(scores, [0.9, 0.4], "newest first");
    assert!(by_id(RB).scores.is_empty());

    // The sessions list says who each session was for and how it began.
    let sessions = store.list_session_rows(p, &SessionFilter::default()).await.expect("sessions").rows;
    let s1 = sessions.iter().find(|s| s.id == uuid(S1)).expect("S1");
    assert_eq!(s1.user.as_deref(), Some("alice"), "the session's own metadata first");
    assert_eq!((s1.first_run.as_deref(), s1.input.as_deref()), (Some("support-agent"), Some("Where is\nmy order?")));
    let s3 = sessions.iter().find(|s| s.id == uuid(S3)).expect("S3");
    assert_eq!((s3.first_run.as_deref(), s3.input.as_deref(), s3.user.as_deref()), (Some("still-going"), None, None));
    let one = store.session_row(p, uuid(S1)).await.expect("query").expect("S1");
    assert_eq!(&one, s1, "one session's row is its list row");
}

fn new_score(run: &str, name: &str, data_type: ScoreDataType, value: f64, category: Option<&str>) -> NewScore {
    NewScore {
        run: uuid(run),
        span: None,
        name: name.into(),
        value,
        data_type,
        string_value: category.map(str::to_owned),
        comment: Some("checked by hand".into()),
        created_by: None,
        source: northstar_wire::ScoreSource::Human,
    }
}

async fn scores_add_list_aggregate_filter(server: &TestServer) {
    seed(server).await;
    let (store, p) = (&server.store, server.project);
    for (run, v) in [(RA, 0.9), (RB, 0.1), (RC, 0.52), (RD, 0.55)] {
        store.add_score(p, &new_score(run, " quality ", ScoreDataType::Numeric, v, None)).await.expect("numeric");
    }
    store.add_score(p, &new_score(RA, "verdict", ScoreDataType::Categorical, 0.0, Some(" good "))).await.expect("cat");
    store.add_score(p, &new_score(RB, "verdict", ScoreDataType::Categorical, 0.0, Some("bad"))).await.expect("cat");
    store.add_score(p, &new_score(RC, "verdict", ScoreDataType::Categorical, 0.0, Some("good"))).await.expect("cat");
    store.add_score(p, &new_score(RA, "resolved", ScoreDataType::Boolean, 1.0, None)).await.expect("bool");
    let last = store.add_score(p, &new_score(RA, "resolved", ScoreDataType::Boolean, 0.0, None)).await.expect("bool");
    assert_eq!(last.source, northstar_wire::ScoreSource::Human);

    // Refused with a reason, nothing stored.
    for (bad, why) in [
        (new_score(RA, "  ", ScoreDataType::Numeric, 1.0, None), "name is required"),
        (new_score(RA, "q", ScoreDataType::Numeric, f64::NAN, None), "value must be a finite number"),
        (new_score(RA, "q", ScoreDataType::Categorical, 0.0, Some(" ")), "a category is required"),
        (new_score(RA, "q", ScoreDataType::Boolean, 0.5, None), "value must be 0 or 1 for pass/fail scores"),
    ] {
        match store.add_score(p, &bad).await {
            Err(StoreError::Invalid(m)) => assert_eq!(m, why),
            other => panic!("expected Invalid({why}), got {other:?}"),
        }
    }
    let (other, _) = server.other_project().await;
    assert!(matches!(
        store.add_score(other, &new_score(RA, "q", ScoreDataType::Numeric, 1.0, None)).await,
        Err(StoreError::NotFound(_))
    ));
    let mut on_foreign_span = new_score(RA, "q", ScoreDataType::Numeric, 1.0, None);
    on_foreign_span.span = Some(uuid(&sid(4))); // a span of run C
    assert!(matches!(store.add_score(p, &on_foreign_span).await, Err(StoreError::NotFound(_))));

    let on_a = store.list_scores(p, uuid(RA)).await.expect("scores");
    assert_eq!(on_a.len(), 4, "the refused ones were not stored");
    assert_eq!(on_a[0].id, last.id, "newest first");
    let verdict = on_a.iter().find(|s| s.name == "verdict").expect("verdict");
    assert_eq!((verdict.string_value.as_deref(), verdict.comment.as_deref()), (Some("good"), Some("checked by hand")));
    assert!(on_a.iter().any(|s| s.name == "quality"), "names are trimmed");

    let summaries = store.score_summaries(p, TimeRange::default()).await.expect("summaries");
    let names: Vec<&str> = summaries.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["quality", "resolved", "verdict"]);
    let quality = &summaries[0];
    assert_eq!((quality.count, quality.min, quality.max), (4, 0.1, 0.9));
    assert!(close(quality.avg, 0.5175));
    let counts: Vec<i64> = quality.buckets.iter().map(|b| b.1).collect();
    assert_eq!(counts, [1, 0, 0, 0, 0, 2, 0, 0, 0, 1], "0.1 | 0.52, 0.55 | 0.9 (the maximum in the last bucket)");
    assert_eq!(quality.buckets[0].0, "0.1");
    let resolved = &summaries[1];
    assert_eq!((resolved.count, resolved.avg), (2, 0.5));
    assert_eq!(resolved.buckets, [("fail".to_owned(), 1), ("pass".to_owned(), 1)]);
    assert_eq!(summaries[2].buckets, [("good".to_owned(), 2), ("bad".to_owned(), 1)]);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(quality.trend.len(), 1);
    assert_eq!((quality.trend[0].0.as_str(), quality.trend[0].2), (today.as_str(), 4));

    let by_score = |min: Option<f64>, max: Option<f64>| RunFilter {
        score: Some(ScoreFilter { name: "quality".into(), min, max, category: None }),
        ..Default::default()
    };
    let high = store.list_run_rows(p, &by_score(Some(0.5), None)).await.expect("runs");
    let ids: Vec<String> = high.rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!((ids, high.total), (vec![RD.to_owned(), RC.into(), RA.into()], 3));
    let band = store.list_run_rows(p, &by_score(Some(0.2), Some(0.52))).await.expect("runs");
    assert_eq!(band.rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(), [RC]);
    let good = RunFilter {
        score: Some(ScoreFilter { name: "verdict".into(), category: Some("good".into()), ..Default::default() }),
        ..Default::default()
    };
    assert_eq!(store.list_run_rows(p, &good).await.expect("runs").total, 2);
}

/// The figures ingest keeps in columns, batch by batch, are the ones a rebuild from the spans
/// computes: a span first sent running and then ended, a final span re-sent as running (the
/// upsert keeps the final copy, so must the figures), a run priced only by its metadata, and a
/// retention pass that deletes one of a session's runs.
async fn figures_kept_by_ingest_match_a_rebuild(server: &TestServer) {
    const S: &str = "40000000-0000-4000-8000-000000000001";
    const R1: &str = "40000000-0000-4000-8000-0000000000a1";
    const R2: &str = "40000000-0000-4000-8000-0000000000a2";
    const M: &str = "40000000-0000-4000-8000-0000000000b1";
    const T: &str = "40000000-0000-4000-8000-0000000000b2";
    let (store, p) = (&server.store, server.project);
    let model = |status: &str, attributes: Value| {
        json!({"id": M, "run_id": R1, "kind": "model", "name": "llm", "started_at": "2025-06-01T10:00:00Z",
               "status": status, "attributes": attributes})
    };
    server
        .accepts(&batch(json!({
            "sessions": [{"id": S, "created_at": "2025-06-01T09:59:00Z"}],
            "runs": [{"id": R1, "session_id": S, "name": "agent", "started_at": "2025-06-01T10:00:00Z",
                      "status": "running", "metadata": {"cost_usd": 9.0}}],
            "spans": [model("running", json!({"model": "gpt-4o"})),
                      {"id": T, "run_id": R1, "kind": "tool", "name": "search", "started_at": "2025-06-01T10:00:01Z",
                       "status": "running", "attributes": {}}],
        })))
        .await;
    let row = store.run_row(p, uuid(R1)).await.expect("run").expect("stored");
    assert_eq!((row.cost_usd, row.tool_calls, row.spans), (9.0, 1, 2), "no span carries a cost yet: metadata");
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!((session.status, session.runs, session.cost_usd), (SessionStatus::Active, 1, 9.0));

    let ended = json!({"model": "gpt-4o", "cost_usd": 0.25, "input_tokens": 100, "output_tokens": 10});
    let mut ended_span = model("ok", ended);
    ended_span["ended_at"] = json!("2025-06-01T10:00:02Z");
    server.accepts(&batch(json!({"spans": [ended_span]}))).await;
    server.accepts(&batch(json!({"spans": [model("running", json!({"cost_usd": 7.0, "input_tokens": 5}))]}))).await;
    server
        .accepts(&batch(json!({
            "runs": [{"id": R1, "session_id": S, "name": "agent", "started_at": "2025-06-01T10:00:00Z",
                      "ended_at": "2025-06-01T10:00:03Z", "status": "error", "metadata": {"cost_usd": 9.0}},
                     {"id": R2, "session_id": S, "name": "summarize", "started_at": "2025-07-01T10:00:00Z",
                      "ended_at": "2025-07-01T10:00:04Z", "status": "ok",
                      "metadata": {"cost_usd": 0.5, "total_input_tokens": 40, "total_output_tokens": 4}}],
        })))
        .await;

    let row = store.run_row(p, uuid(R1)).await.expect("run").expect("stored");
    assert_eq!((row.cost_usd, row.input_tokens, row.output_tokens), (0.25, 100, 10), "the ended span, kept");
    assert_eq!((row.model.as_deref(), row.tool_calls, row.spans), (Some("gpt-4o"), 1, 2));
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!(
        (session.status, session.runs, session.errored_runs, session.tool_calls),
        (SessionStatus::Errored, 2, 1, 1)
    );
    assert!(close(session.cost_usd, 0.75), "{}", session.cost_usd);
    assert_eq!((session.input_tokens, session.output_tokens), (140, 14));
    assert_eq!(session.duration_ms, Some(30.0 * 86_400_000.0 + 64_000.0), "to the end of its latest run");

    // The latest run's end, corrected to earlier: a maximum cannot be subtracted, so the
    // session is recomputed from its runs.
    server
        .accepts(&batch(json!({
            "runs": [{"id": R2, "session_id": S, "name": "summarize", "started_at": "2025-07-01T10:00:00Z",
                      "ended_at": "2025-07-01T10:00:02Z", "status": "ok",
                      "metadata": {"cost_usd": 0.5, "total_input_tokens": 40, "total_output_tokens": 4}}],
        })))
        .await;
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!(session.duration_ms, Some(30.0 * 86_400_000.0 + 62_000.0));
    assert_eq!((session.runs, session.input_tokens), (2, 140), "nothing counted twice");

    let snapshot = async || {
        let sessions = store.list_session_rows(p, &SessionFilter::default()).await.expect("sessions").rows;
        let runs = store.list_run_rows(p, &RunFilter::default()).await.expect("runs").rows;
        (sessions, runs)
    };
    let kept = snapshot().await;
    store.rebuild_figures().await.expect("rebuild");
    assert_eq!(snapshot().await, kept, "ingest kept what a rebuild computes");

    // Retention takes the errored June run; the session keeps the July one and says so.
    let cutoff = "2025-06-15T00:00:00Z".parse().expect("time");
    assert_eq!(store.delete_runs_before(p, cutoff, 100).await.expect("retention"), 1);
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("kept");
    assert_eq!(
        (session.status, session.runs, session.errored_runs, session.cost_usd),
        (SessionStatus::Active, 1, 0, 0.5)
    );
    let kept = snapshot().await;
    store.rebuild_figures().await.expect("rebuild");
    assert_eq!(snapshot().await, kept);
}

/// Batches for one run arriving at once (several SDK processes, or a retry racing its first
/// try) add up exactly: each span counts once however many copies arrive.
async fn concurrent_batches_for_one_run_add_up(server: &TestServer) {
    const S: &str = "50000000-0000-4000-8000-000000000001";
    const R: &str = "50000000-0000-4000-8000-0000000000a1";
    server
        .accepts(&batch(json!({
            "sessions": [{"id": S, "created_at": "2025-06-01T09:59:00Z"}],
            "runs": [{"id": R, "session_id": S, "name": "agent", "started_at": "2025-06-01T10:00:00Z", "status": "running"}],
        })))
        .await;
    let spans = |i: u32| {
        let spans: Vec<Value> = (0..5)
            .map(|k| {
                json!({"id": format!("50000000-0000-4000-8000-{:012}", 100 + i * 5 + k), "run_id": R, "kind": "model",
                       "name": "llm", "started_at": "2025-06-01T10:00:01Z", "ended_at": "2025-06-01T10:00:02Z",
                       "status": "ok", "attributes": {"cost_usd": 0.5, "input_tokens": 10, "output_tokens": 1}})
            })
            .collect();
        batch(json!({"spans": spans}))
    };
    // Twenty batches of five spans, each sent twice, all at once.
    let bodies: Vec<Value> = (0..20).flat_map(|i| [spans(i), spans(i)]).collect();
    futures_util::future::join_all(bodies.iter().map(|b| server.accepts(b))).await;

    let (store, p) = (&server.store, server.project);
    let run = store.run_row(p, uuid(R)).await.expect("run").expect("stored");
    assert_eq!((run.cost_usd, run.input_tokens, run.output_tokens, run.spans), (50.0, 1000, 100, 100));
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!((session.cost_usd, session.input_tokens), (50.0, 1000));

    // New runs of the session at once, each with a priced span: no batch waits on another's
    // run (a foreign key's lock on the session) in a cycle, and the session counts them all.
    let new_run = |i: u32| {
        let run = format!("50000000-0000-4000-8000-{:012}", 900 + i);
        batch(json!({
            "runs": [{"id": run, "session_id": S, "name": "agent", "started_at": "2025-06-01T11:00:00Z",
                      "ended_at": "2025-06-01T11:00:01Z", "status": if i.is_multiple_of(4) { "error" } else { "ok" }}],
            "spans": [{"id": format!("50000000-0000-4000-8000-{:012}", 950 + i), "run_id": run, "kind": "model",
                       "name": "llm", "started_at": "2025-06-01T11:00:00Z", "status": "ok",
                       "attributes": {"cost_usd": 0.25}}],
        }))
    };
    let bodies: Vec<Value> = (0..16).map(new_run).collect();
    futures_util::future::join_all(bodies.iter().map(|b| server.accepts(b))).await;
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!((session.runs, session.errored_runs, session.cost_usd), (17, 4, 54.0));

    // One new run in two batches at once (a request retried while the first is in flight):
    // whichever commits second finds the run stored and adds only what it changed.
    let twice = new_run(100);
    futures_util::future::join_all([server.accepts(&twice), server.accepts(&twice)]).await;
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!((session.runs, session.errored_runs, session.cost_usd), (18, 5, 54.25));
    let kept = store.list_session_rows(p, &SessionFilter::default()).await.expect("sessions");
    store.rebuild_figures().await.expect("rebuild");
    assert_eq!(store.run_row(p, uuid(R)).await.expect("run").expect("stored"), run);
    assert_eq!(store.list_session_rows(p, &SessionFilter::default()).await.expect("sessions"), kept);
}

/// A batch that creates runs with their spans inserts each run with its spans' figures (one
/// write of the row), and they are what a rebuild computes; a later batch adds to them.
async fn runs_created_with_their_spans_start_with_their_figures(server: &TestServer) {
    const S: &str = "60000000-0000-4000-8000-000000000001";
    let run = |i: u32| format!("60000000-0000-4000-8000-{:012}", 100 + i);
    let span = |run: &str, i: u32, kind: &str, attributes: Value| {
        json!({"id": format!("60000000-0000-4000-8000-{:012}", 200 + i), "run_id": run, "kind": kind, "name": kind,
               "started_at": "2025-06-01T10:00:01Z", "ended_at": "2025-06-01T10:00:02Z", "status": "ok",
               "attributes": attributes})
    };
    let priced =
        |cost: f64, input: u32| json!({"model": "gpt-4o", "cost_usd": cost, "input_tokens": input, "output_tokens": 3});
    let (r1, r2) = (run(1), run(2));
    server
        .accepts(&batch(json!({
            "sessions": [{"id": S, "created_at": "2025-06-01T09:59:00Z"}],
            "runs": [{"id": r1, "session_id": S, "name": "a", "started_at": "2025-06-01T10:00:00Z",
                      "ended_at": "2025-06-01T10:00:05Z", "status": "ok"},
                     {"id": r2, "session_id": S, "name": "b", "started_at": "2025-06-01T10:00:00Z", "status": "running"}],
            "spans": [span(&r1, 1, "model", priced(0.5, 10)), span(&r1, 2, "model", priced(0.25, 20)),
                      span(&r1, 3, "tool", json!({})), span(&r2, 4, "model", priced(1.0, 7)), span(&r2, 5, "agent", json!({}))],
        })))
        .await;
    let (store, p) = (&server.store, server.project);
    let row = store.run_row(p, uuid(&r1)).await.expect("run").expect("stored");
    assert_eq!((row.cost_usd, row.input_tokens, row.output_tokens, row.tool_calls, row.spans), (0.75, 30, 6, 1, 3));
    let row = store.run_row(p, uuid(&r2)).await.expect("run").expect("stored");
    assert_eq!((row.cost_usd, row.input_tokens, row.tool_calls, row.spans), (1.0, 7, 0, 2));
    let session = store.session_row(p, uuid(S)).await.expect("session").expect("stored");
    assert_eq!((session.runs, session.cost_usd, session.input_tokens, session.tool_calls), (2, 1.75, 37, 1));

    // A later batch: a new span of the stored run, and one of its spans re-priced.
    server
        .accepts(&batch(json!({"spans": [span(&r2, 6, "tool", json!({})), span(&r2, 4, "model", priced(2.0, 7))]})))
        .await;
    let row = store.run_row(p, uuid(&r2)).await.expect("run").expect("stored");
    assert_eq!((row.cost_usd, row.tool_calls, row.spans), (2.0, 1, 3));

    let runs = store.list_run_rows(p, &RunFilter::default()).await.expect("runs").rows;
    let sessions = store.list_session_rows(p, &SessionFilter::default()).await.expect("sessions").rows;
    store.rebuild_figures().await.expect("rebuild");
    assert_eq!(store.list_run_rows(p, &RunFilter::default()).await.expect("runs").rows, runs);
    assert_eq!(store.list_session_rows(p, &SessionFilter::default()).await.expect("sessions").rows, sessions);
}

on_both_stores!(
    figures_kept_by_ingest_match_a_rebuild,
    runs_created_with_their_spans_start_with_their_figures,
    concurrent_batches_for_one_run_add_up,
    cost_rule_on_runs,
    overview_totals_days_models_latency,
    sessions_list_filters_sorts_pages,
    run_lists_filter_and_page,
    scores_add_list_aggregate_filter,
);
