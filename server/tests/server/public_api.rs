//! The public API (`/api/v1/`), on both stores: keys with scopes, every endpoint's answers and
//! filters, cursor paging, the project boundary, deletes that keep figures right, the export
//! stream, and the OpenAPI document.

use crate::common::fixtures::{agent_trace, batch, id};
use crate::common::on_both_stores;
use crate::common::{Backend, TestServer};
use northstar_server::keys;
use northstar_store::{KeyScope, Store};
use serde_json::{Value, json};
use uuid::Uuid;

/// A new read key of the server's project.
async fn read_key(server: &TestServer) -> String {
    let key = keys::mint();
    let created =
        server.store.create_api_key(server.project, "ci", KeyScope::Read, &keys::hash(&key)).await.expect("key");
    let listed = server.store.list_api_keys(server.project).await.expect("keys");
    assert!(listed.contains(&created), "the key returned is the key stored: {created:?} in {listed:?}");
    key
}

async fn get(server: &TestServer, key: &str, path: &str) -> (u16, Value) {
    let r = server.client.get(format!("{}{path}", server.base)).bearer_auth(key).send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn delete(server: &TestServer, key: &str, path: &str) -> u16 {
    let r = server.client.delete(format!("{}{path}", server.base)).bearer_auth(key).send().await.expect("request");
    r.status().as_u16()
}

/// Runs named `name` in session `session`, starting `minute` minutes past 10:00, lasting
/// `seconds`, with one model span of `model` costing `cost`, and the given metadata.
fn run(
    session: &str,
    name: &str,
    minute: u32,
    seconds: u32,
    model: &str,
    cost: f64,
    metadata: Value,
) -> (String, Value) {
    let (r, s) = (id(), id());
    let start = format!("2026-01-05T10:{minute:02}:00Z");
    let end = format!("2026-01-05T10:{minute:02}:{seconds:02}Z");
    let body = batch(json!({
        "sessions": [{"id": session, "created_at": "2026-01-05T10:00:00Z", "metadata": {}}],
        "runs": [{"id": r, "session_id": session, "name": name, "started_at": start, "ended_at": end,
                  "status": if name == "failing" { "error" } else { "ok" }, "metadata": metadata}],
        "spans": [{"id": s, "run_id": r, "kind": "model", "name": "llm", "started_at": start, "ended_at": end,
                   "status": "ok", "attributes": {"model": model, "cost_usd": cost, "input_tokens": 10, "output_tokens": 5}}],
        "events": [{"id": id(), "run_id": r, "span_id": s, "type": "user_input", "created_at": start,
                    "content": format!("question {minute}"), "attributes": {}}],
    }));
    (r, body)
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().expect("data").iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect()
}

async fn keys_have_scopes_and_the_api_wants_a_read_key(server: &TestServer) {
    let (status, body) = get(server, "", "/api/v1/runs").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, body) = get(server, &server.key, "/api/v1/runs").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "an ingest key cannot read");
    let key = read_key(server).await;
    assert_eq!(get(server, &key, "/api/v1/runs").await.0, 200);
    // A read key cannot send traces: it answers as an unknown key does.
    assert_eq!(server.post_with_key(&key, &agent_trace().1).await.0, 401);
    // Listed with name, scope, created and last used, never the key; the project key first.
    let mut listed = server.store.list_api_keys(server.project).await.expect("keys");
    for _ in 0..100 {
        if listed[1].last_used_at.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        listed = server.store.list_api_keys(server.project).await.expect("keys");
    }
    assert_eq!(listed.len(), 2);
    assert!(listed[0].project_key && listed[0].scope == KeyScope::Ingest);
    assert_eq!((listed[1].name.as_str(), listed[1].scope, listed[1].project_key), ("ci", KeyScope::Read, false));
    assert!(listed[1].last_used_at.is_some(), "its use is recorded");
    // Rotating the project key leaves named keys alone; revoking one ends it.
    server.store.rotate_key(server.project, &keys::hash(&keys::mint())).await.expect("rotate");
    assert_eq!(get(server, &key, "/api/v1/runs").await.0, 200);
    assert!(server.store.revoke_api_key(server.project, listed[1].id).await.expect("revoke"));
    assert_eq!(get(server, &key, "/api/v1/runs").await.0, 401);
    // Another project's key id is not this project's to revoke.
    let (other, _) = server.other_project().await;
    assert!(server.store.revoke_api_key(other, listed[1].id).await.is_err());
}

async fn runs_are_filtered_and_paged_by_cursor(server: &TestServer) {
    let key = read_key(server).await;
    let session = id();
    let (cheap, b1) =
        run(&session, "triage", 1, 2, "gpt-4o-mini", 0.001, json!({"user_id": "ann", "tier": "gold", "beta": true}));
    let (dear, b2) = run(&session, "triage", 2, 30, "gpt-4o", 0.5, json!({"user_id": "bob", "tier": 3}));
    let (bad, b3) = run(&session, "failing", 3, 5, "claude-3-5-sonnet", 0.02, json!({"model": "legacy-model"}));
    for b in [b1, b2, b3] {
        server.accepts(&b).await;
    }
    let list = |q: &'static str| get(server, &key, if q.is_empty() { "/api/v1/runs" } else { q });
    let (status, all) = list("").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), vec![bad.clone(), dear.clone(), cheap.clone()], "newest first");
    assert_eq!(all["data"][0]["figures"]["cost_usd"], json!(0.02));
    assert_eq!(all["data"][2]["io"]["input"], json!("question 1"));
    assert!(all.get("next_cursor").is_none(), "one page");
    assert_eq!(ids(&list("/api/v1/runs?name=triage").await.1), vec![dear.clone(), cheap.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?status=error").await.1), vec![bad.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?model=gpt-4o").await.1), vec![dear.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?model=legacy-model").await.1), vec![bad.clone()], "a model its metadata names");
    assert_eq!(ids(&list("/api/v1/runs?model=nobody").await.1), Vec::<String>::new());
    // A model of many spans is found by probing runs in order instead (the same answers).
    let busy = id();
    let spans: Vec<Value> = (0..5_002)
        .map(|i| {
            json!({"id": id(), "run_id": busy, "kind": "model", "name": "llm", "started_at": "2026-01-05T09:00:00Z",
                        "status": "ok", "attributes": {"model": if i == 0 { "legacy-model" } else { "busy-model" }}})
        })
        .collect();
    server
        .accepts(&batch(json!({"runs": [{"id": busy, "session_id": session, "name": "busy", "started_at": "2026-01-05T09:00:00Z", "status": "ok"}],
                                 "spans": spans})))
        .await;
    assert_eq!(ids(&list("/api/v1/runs?model=busy-model").await.1), vec![busy.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?model=legacy-model").await.1), vec![bad.clone(), busy.clone()]);
    assert_eq!(delete(server, &key, &format!("/api/v1/runs/{busy}")).await, 204);
    assert_eq!(ids(&list("/api/v1/runs?min_cost=0.01&max_cost=0.1").await.1), vec![bad.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?min_latency_ms=10000").await.1), vec![dear.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?metadata=user_id:ann").await.1), vec![cheap.clone()]);
    assert_eq!(ids(&list("/api/v1/runs?metadata=tier:3").await.1), vec![dear.clone()], "a number as JSON writes it");
    assert_eq!(ids(&list("/api/v1/runs?metadata=user_id:ann&metadata=tier:3").await.1), Vec::<String>::new());
    assert_eq!(ids(&list("/api/v1/runs?metadata=tier").await.1), vec![dear.clone(), cheap.clone()], "a key present");
    assert_eq!(
        ids(&list("/api/v1/runs?metadata=beta:true").await.1),
        vec![cheap.clone()],
        "a boolean as JSON writes it"
    );
    assert_eq!(ids(&list("/api/v1/runs?metadata=we%22ird%5Ckey:x").await.1), Vec::<String>::new(), "any key is data");
    assert_eq!(ids(&list("/api/v1/runs?text=FAIL").await.1), vec![bad.clone()]);
    // A NUL is looked for as the stores keep it (U+FFFD), never a database error.
    for nul in ["/api/v1/runs?name=%00", "/api/v1/runs?metadata=%00:%00", "/api/v1/runs?model=a%00b"] {
        let (status, page) = list(nul).await;
        assert_eq!((status, ids(&page)), (200, Vec::<String>::new()), "{nul}: {page}");
    }
    assert_eq!(
        ids(&list("/api/v1/runs?from=2026-01-05T10:02:00Z&to=2026-01-05T10:03:00Z").await.1),
        vec![dear.clone()]
    );
    // Light rows: core only.
    let (_, light) = list("/api/v1/runs?fields=core").await;
    assert!(light["data"][0].get("figures").is_none() && light["data"][0].get("io").is_none(), "{light}");
    // One at a time, by cursor, every run once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/runs?limit=1".to_owned();
    loop {
        let (status, page) = get(server, &key, &path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/runs?limit=1&cursor={c}"),
            None => break,
        }
        assert!(seen.len() <= 3, "paging ends");
    }
    assert_eq!(seen, vec![bad, dear, cheap.clone()]);
    // Scores filter runs; bad parameters are 400s in the envelope.
    let (status, _) = server
        .client
        .post(format!("{}/api/v1/scores", server.base))
        .bearer_auth(&key)
        .json(&json!({"run_id": cheap, "name": "correct", "value": 1, "data_type": "boolean"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .expect("post");
    assert_eq!(status, 201);
    assert_eq!(ids(&list("/api/v1/runs?score_name=correct&score_min=1").await.1), vec![cheap]);
    for bad in [
        "/api/v1/runs?limit=0",
        "/api/v1/runs?limit=5000",
        "/api/v1/runs?status=sleeping",
        "/api/v1/runs?from=yesterday",
        "/api/v1/runs?cursor=nonsense",
        "/api/v1/runs?min_cost=NaN",
        "/api/v1/runs?fields=everything",
        "/api/v1/runs?session=not-a-uuid",
        "/api/v1/runs?to=",
    ] {
        let (status, body) = get(server, &key, bad).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad}: {body}");
    }
}

async fn a_run_answers_with_its_tree_spans_and_events(server: &TestServer) {
    let key = read_key(server).await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let (status, detail) = get(server, &key, &format!("/api/v1/runs/{}", t.run)).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["name"], json!("support-agent"));
    let agent = &detail["spans"][0];
    assert_eq!((agent["id"].as_str(), agent["child_count"].as_u64()), (Some(t.agent.as_str()), Some(2)));
    let model = &agent["children"][0];
    assert_eq!(model["kind"], json!("model"));
    assert_eq!(model["events"].as_array().map(Vec::len), Some(3), "the model call's messages are under it");
    let deep = &agent["children"][1]["children"][0]["children"][0];
    assert_eq!(deep["id"].as_str(), Some(t.deep.as_str()), "three levels down");
    // The LLM-sized summary, as text.
    let r = server
        .client
        .get(format!("{}/api/v1/runs/{}/context", server.base, t.run))
        .bearer_auth(&key)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(text.contains("[model] llm.answer") && text.contains("Refunds take 5 days."), "{text}");
    assert_eq!(get(server, &key, &format!("/api/v1/runs/{}/context?max_bytes=10", t.run)).await.0, 400);
    // One level at a time.
    let (_, top) = get(server, &key, &format!("/api/v1/runs/{}?depth=1", t.run)).await;
    assert_eq!(top["spans"][0]["children"], json!([]));
    assert_eq!(top["spans"][0]["child_count"], json!(2));
    let (_, next) = get(server, &key, &format!("/api/v1/spans?parent={}", t.agent)).await;
    assert_eq!(ids(&next), vec![t.model.clone(), t.tool.clone()]);
    let (_, roots) = get(server, &key, &format!("/api/v1/spans?run={}&parent=root", t.run)).await;
    assert_eq!(ids(&roots), vec![t.agent.clone()]);
    // Spans across runs, and one span with its events.
    let (_, models) = get(server, &key, "/api/v1/spans?kind=model&model=gpt-4o-mini").await;
    assert_eq!(ids(&models), vec![t.model.clone()]);
    let (_, by_attr) = get(server, &key, "/api/v1/spans?attribute=snippet:3").await;
    assert_eq!(ids(&by_attr), vec![t.deep.clone()]);
    let (status, tool) = get(server, &key, &format!("/api/v1/spans/{}", t.tool)).await;
    assert_eq!(status, 200);
    assert_eq!(tool["events"][0]["type"], json!("tool_arguments"));
    assert_eq!(tool["duration_ms"], json!(500.0));
    // Sessions.
    let (_, sessions) = get(server, &key, "/api/v1/sessions").await;
    assert_eq!(ids(&sessions), vec![t.session.clone()]);
    let (status, session) = get(server, &key, &format!("/api/v1/sessions/{}", t.session)).await;
    assert_eq!(status, 200);
    assert_eq!((session["runs"].as_i64(), session["first_runs"][0]["id"].as_str()), (Some(1), Some(t.run.as_str())));
    // Metrics by model and by day.
    let (status, m) = get(server, &key, "/api/v1/metrics?group_by=model").await;
    assert_eq!(status, 200, "{m}");
    assert_eq!((m["runs"].as_i64(), m["groups"][0]["key"].as_str()), (Some(1), Some("gpt-4o-mini")));
    assert_eq!(m["groups"][0]["latency_p50_ms"], json!(1200.0));
    let (_, days) = get(server, &key, "/api/v1/metrics").await;
    assert_eq!((days["groups"][0]["key"].as_str(), days["groups"][0]["count"].as_i64()), (Some("2025-05-01"), Some(1)));
    assert_eq!(days["groups"][0]["latency_p95_ms"], json!(2500.0));
}

async fn scores_are_added_and_listed(server: &TestServer) {
    let key = read_key(server).await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let post = |body: Value| {
        let (client, url, key) = (server.client.clone(), format!("{}/api/v1/scores", server.base), key.clone());
        async move {
            let r = client.post(url).bearer_auth(key).json(&body).send().await.expect("post");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let (status, score) = post(json!({"run_id": t.run, "span_id": t.model, "name": "tone", "data_type": "categorical",
                                      "string_value": "polite", "comment": "ok"}))
    .await;
    assert_eq!(status, 201, "{score}");
    assert_eq!((score["source"].as_str(), score["string_value"].as_str()), (Some("api"), Some("polite")));
    let (_, listed) = get(server, &key, &format!("/api/v1/scores?run={}", t.run)).await;
    assert_eq!(ids(&listed), vec![score["id"].as_str().expect("id").to_owned()]);
    assert_eq!(ids(&get(server, &key, "/api/v1/scores?source=human").await.1), Vec::<String>::new());
    // A NUL in a score's text is kept as U+FFFD, as ingest keeps it, on both stores.
    let (status, nul) = post(json!({"run_id": t.run, "name": "a\u{0}b", "value": 1, "comment": "c\u{0}"})).await;
    assert_eq!((status, nul["name"].as_str(), nul["comment"].as_str()), (201, Some("a\u{fffd}b"), Some("c\u{fffd}")));
    for (bad, code) in [
        (json!({"run_id": t.run, "name": "x"}), 400),
        (json!({"run_id": t.run, "name": "x", "value": 2, "data_type": "boolean"}), 400),
        (json!({"run_id": t.run, "name": " ", "value": 1}), 400),
        (json!({"run_id": t.run, "name": "x", "value": 1, "extra": true}), 400),
        (json!({"run_id": id(), "name": "x", "value": 1}), 404),
        (json!({"run_id": t.run, "span_id": id(), "name": "x", "value": 1}), 404),
    ] {
        let (status, body) = post(bad.clone()).await;
        assert_eq!(status, code, "{bad}: {body}");
        assert!(body["error"]["message"].is_string());
    }
}

async fn another_projects_ids_answer_404_like_unknown_ones(server: &TestServer) {
    let key = read_key(server).await;
    let (_, other_key) = server.other_project().await;
    let (t, body) = agent_trace();
    assert_eq!(server.post_with_key(&other_key, &body).await.0, 200);
    let unknown = Uuid::new_v4();
    for (theirs, nobodys) in [
        (format!("/api/v1/runs/{}", t.run), format!("/api/v1/runs/{unknown}")),
        (format!("/api/v1/spans/{}", t.model), format!("/api/v1/spans/{unknown}")),
        (format!("/api/v1/sessions/{}", t.session), format!("/api/v1/sessions/{unknown}")),
    ] {
        let (a, b) = (get(server, &key, &theirs).await, get(server, &key, &nobodys).await);
        assert_eq!(a.0, 404, "{theirs}");
        assert_eq!(a, b, "another project's id answers exactly as an unknown one");
        if !theirs.contains("/spans/") {
            assert_eq!(delete(server, &key, &theirs).await, 404);
        }
    }
    assert_eq!(get(server, &key, "/api/v1/runs/not-an-id").await.0, 404);
    assert_eq!(ids(&get(server, &key, "/api/v1/runs").await.1), Vec::<String>::new(), "lists are the key's project's");
    assert_eq!(ids(&get(server, &key, &format!("/api/v1/spans?run={}", t.run)).await.1), Vec::<String>::new());
    // Their data is untouched.
    let (other, _) = (server.store.list_projects().await.expect("projects")[1].id, ());
    assert!(server.store.get_run(other, t.run.parse().expect("id")).await.expect("read").is_some());
}

async fn deleting_runs_and_sessions_keeps_figures_right(server: &TestServer) {
    let key = read_key(server).await;
    let session = id();
    let (keep, b1) = run(&session, "a", 1, 2, "gpt-4o", 0.25, json!({}));
    let (gone, b2) = run(&session, "b", 2, 2, "gpt-4o", 0.5, json!({}));
    server.accepts(&b1).await;
    server.accepts(&b2).await;
    assert_eq!(delete(server, &key, &format!("/api/v1/runs/{gone}")).await, 204);
    assert_eq!(get(server, &key, &format!("/api/v1/runs/{gone}")).await.0, 404);
    assert_eq!(delete(server, &key, &format!("/api/v1/runs/{gone}")).await, 404, "gone is gone");
    let (_, s) = get(server, &key, &format!("/api/v1/sessions/{session}")).await;
    assert_eq!((s["runs"].as_i64(), s["cost_usd"].as_f64()), (Some(1), Some(0.25)), "{s}");
    assert_eq!(delete(server, &key, &format!("/api/v1/sessions/{session}")).await, 204);
    assert_eq!(get(server, &key, &format!("/api/v1/runs/{keep}")).await.0, 404);
    assert_eq!(get(server, &key, &format!("/api/v1/sessions/{session}")).await.0, 404);
    let counts = server.store.count_records(server.project).await.expect("counts");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events), (0, 0, 0, 0));
}

async fn export_streams_every_run_as_json_lines_and_otlp(server: &TestServer) {
    let key = read_key(server).await;
    let session = id();
    let mut runs = Vec::new();
    // More than one page of the export's reads (100).
    for chunk in 0..3 {
        let mut records = (Vec::new(), Vec::new());
        for i in 0..85u32 {
            let (r, s) = (id(), id());
            let at = format!("2026-02-0{}T{:02}:{:02}:00Z", chunk + 1, i / 60, i % 60);
            records.0.push(
                json!({"id": r, "session_id": session, "name": "e", "started_at": at, "ended_at": at, "status": "ok"}),
            );
            records.1.push(json!({"id": s, "run_id": r, "kind": "tool", "name": "t", "started_at": at, "status": "ok", "attributes": {"n": i}}));
            runs.push(r);
        }
        server
            .accepts(&batch(
                json!({"sessions": [{"id": session, "created_at": "2026-02-01T00:00:00Z", "metadata": {}}],
                                     "runs": records.0, "spans": records.1}),
            ))
            .await;
    }
    let fetch = |query: &'static str| {
        let (client, url, key) = (server.client.clone(), format!("{}/api/v1/export?{query}", server.base), key.clone());
        async move {
            let r = client.get(url).bearer_auth(key).send().await.expect("export");
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/x-ndjson");
            r.text().await.expect("body")
        }
    };
    let lines: Vec<Value> = fetch("from=2026-01-01T00:00:00Z")
        .await
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.iter().map(|l| l["id"].as_str().expect("id").to_owned()).collect::<Vec<_>>(),
        runs,
        "oldest first"
    );
    assert_eq!(lines[0]["spans"][0]["attributes"]["n"], json!(0));
    let part = fetch("from=2026-02-02T00:00:00Z&to=2026-02-03T00:00:00Z").await;
    assert_eq!(part.lines().count(), 85);
    let otlp = fetch("format=otlp&from=2026-02-03T00:00:00Z").await;
    let first: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
        serde_json::from_str(otlp.lines().next().expect("a line")).expect("OTLP JSON");
    let spans = &first.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 2, "the run's root span and its span");
    assert_eq!(Uuid::from_slice(&spans[0].trace_id).expect("id").to_string(), runs[170]);
    assert_eq!(spans[1].parent_span_id, spans[0].span_id);
    assert_eq!(otlp.lines().count(), 85);
}

/// A read key of `project`.
async fn read_key_of(server: &TestServer, project: Uuid) -> String {
    let key = keys::mint();
    server.store.create_api_key(project, "ci", KeyScope::Read, &keys::hash(&key)).await.expect("key");
    key
}

/// 60 runs of ~100 KB each (6 MB of export), sent with the project's ingest `key`.
async fn large_runs(server: &TestServer, key: &str) {
    let session = id();
    for _ in 0..6 {
        let (runs, events): (Vec<Value>, Vec<Value>) = (0..10)
            .map(|i| {
                let (r, at) = (id(), format!("2026-03-01T10:00:{i:02}Z"));
                (
                    json!({"id": r, "session_id": session, "name": "big", "started_at": at, "ended_at": at, "status": "ok"}),
                    json!({"id": id(), "run_id": r, "type": "user_input", "created_at": at, "content": "x".repeat(100_000), "attributes": {}}),
                )
            })
            .unzip();
        let body = batch(json!({"sessions": [{"id": session, "created_at": "2026-03-01T10:00:00Z", "metadata": {}}],
                                "runs": runs, "events": events}));
        assert_eq!(server.post_with_key(key, &body).await.0, 200);
    }
}

/// An export whose client reads its headers and then nothing (a 4 KiB receive buffer, so the
/// server cannot write far ahead): it keeps its turn while the socket is open.
async fn stalled_export(server: &TestServer, key: &str) -> tokio::net::TcpStream {
    let address: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().expect("address");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut stream = socket.connect(address).await.expect("connect");
    let request = format!("GET /api/v1/export HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {key}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.expect("send");
    let mut head = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut head).await.expect("status line");
    assert_eq!(&head, b"HTTP/1.1 200", "the stalled export started");
    stream
}

async fn exports_take_turns_two_on_the_server_and_one_per_project(server: &TestServer) {
    let (second, second_ingest) = server.other_project().await;
    let (third, _) = server.other_project().await;
    let keys = [read_key(server).await, read_key_of(server, second).await, read_key_of(server, third).await];
    large_runs(server, &server.key).await;
    large_runs(server, &second_ingest).await;

    let first_export = stalled_export(server, &keys[0]).await;
    // The same project again: its previous export still runs.
    let busy =
        server.client.get(format!("{}/api/v1/export", server.base)).bearer_auth(&keys[0]).send().await.expect("export");
    assert_eq!(busy.status(), 429);
    assert_eq!(busy.headers()["retry-after"], "5");
    let body: Value = busy.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "busy");
    assert!(body["error"]["message"].as_str().expect("message").contains("previous export"), "{body}");

    // A second project gets the server's second turn; a third finds none.
    let second_export = stalled_export(server, &keys[1]).await;
    let (status, body) = get(server, &keys[2], "/api/v1/export").await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("busy")), "{body}");

    // Every other read still answers meanwhile.
    assert_eq!(get(server, &keys[2], "/api/v1/runs").await.0, 200);

    // A client that goes away gives its turn back.
    drop(first_export);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = get(server, &keys[2], "/api/v1/export").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(std::time::Instant::now() < deadline, "the turn was never given back");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(second_export);
}

async fn an_export_whose_client_reads_nothing_gives_its_turn_back_after_a_minute(server: &TestServer) {
    let key = read_key(server).await;
    large_runs(server, &server.key).await;
    let _stalled = stalled_export(server, &key).await;
    let started = std::time::Instant::now();
    loop {
        let (status, body) = get(server, &key, "/api/v1/export?from=2027-01-01T00:00:00Z").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(started.elapsed() < std::time::Duration::from_secs(90), "the stalled export kept its turn");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(55), "the turn came back before a minute");
}

async fn the_openapi_document_describes_every_endpoint(server: &TestServer) {
    let r = server.client.get(format!("{}/api/openapi.json", server.base)).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    for (path, method) in [
        ("/api/v1/runs", "get"),
        ("/api/v1/runs/{id}", "get"),
        ("/api/v1/runs/{id}", "delete"),
        ("/api/v1/runs/{id}/context", "get"),
        ("/api/v1/spans", "get"),
        ("/api/v1/spans/{id}", "get"),
        ("/api/v1/sessions", "get"),
        ("/api/v1/sessions/{id}", "get"),
        ("/api/v1/sessions/{id}", "delete"),
        ("/api/v1/scores", "get"),
        ("/api/v1/scores", "post"),
        ("/api/v1/metrics", "get"),
        ("/api/v1/export", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["read_key"]["scheme"], json!("bearer"));
    // The same document as a page people read.
    let page = server.client.get(format!("{}/api/reference", server.base)).send().await.expect("get");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    for part in [
        "<code>GET /api/v1/runs</code>",
        "<code>DELETE /api/v1/sessions/{id}</code>",
        "id=\"schema-RunDetail\"",
        "min_latency_ms",
    ] {
        assert!(html.contains(part), "{part} in the reference page");
    }
    // An unknown endpoint under the API is the envelope's 404, not the dashboard.
    let key = read_key(server).await;
    let (status, body) = get(server, &key, "/api/v1/nothing-here").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
}

on_both_stores!(
    keys_have_scopes_and_the_api_wants_a_read_key,
    runs_are_filtered_and_paged_by_cursor,
    a_run_answers_with_its_tree_spans_and_events,
    scores_are_added_and_listed,
    another_projects_ids_answer_404_like_unknown_ones,
    deleting_runs_and_sessions_keeps_figures_right,
    export_streams_every_run_as_json_lines_and_otlp,
    exports_take_turns_two_on_the_server_and_one_per_project,
    an_export_whose_client_reads_nothing_gives_its_turn_back_after_a_minute,
    the_openapi_document_describes_every_endpoint,
);
