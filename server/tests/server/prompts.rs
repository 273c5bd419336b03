//! The prompt registry on both stores: its rules (numbers, hashes, labels and their history,
//! inferred variables), the original's resolve function case by case (reference §1.10, with
//! `"version": null` accepted), the public API's `GET /api/v1/prompts/{slug}`, and prompt links
//! in batches (reference §2.5) with what a version's runs then show.

use crate::common::fixtures::{batch, id};
use crate::common::on_both_stores;
use crate::common::{Backend, TestServer};
use northstar_server::keys;
use northstar_store::{
    KeyScope, LabelChange, NewPrompt, NewPromptVersion, Prompt, PromptVersion, RunFilter, Store, StoreError,
};
use serde_json::{Value, json};
use uuid::Uuid;

async fn prompt(s: &TestServer, slug: &str) -> Prompt {
    let new = NewPrompt { name: format!("The {slug} prompt"), slug: slug.into(), ..NewPrompt::default() };
    s.store.create_prompt(s.project, &new).await.expect("prompt")
}

async fn version(s: &TestServer, prompt: Uuid, content: &str) -> PromptVersion {
    let new = NewPromptVersion { content: content.into(), ..NewPromptVersion::default() };
    s.store.add_prompt_version(s.project, prompt, &new).await.expect("version")
}

async fn label(s: &TestServer, prompt: Uuid, label: &str, version: Uuid) -> Result<Prompt, StoreError> {
    let change = LabelChange {
        label: label.into(),
        version_id: version,
        change_note: Some(format!("ship {label}")),
        deployed_by: Some("ada@example.com".into()),
    };
    s.store.set_prompt_label(s.project, prompt, &change).await
}

/// POST to the resolve function with `key`; the status, the CORS origin header and the body.
async fn resolve_at(s: &TestServer, path: &str, key: &str, body: &str) -> (u16, Option<String>, Value) {
    let r = s
        .client
        .post(format!("{}{path}", s.base))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let cors = r.headers().get("access-control-allow-origin").map(|v| v.to_str().expect("ascii").to_owned());
    let text = r.text().await.expect("body");
    (status, cors, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn resolve(s: &TestServer, body: Value) -> (u16, Value) {
    let (status, _, body) = resolve_at(s, "/functions/v1/prompts/resolve", &s.key, &body.to_string()).await;
    (status, body)
}

async fn the_registry_numbers_hashes_and_labels_versions(s: &TestServer) {
    let p = prompt(s, "support-answer").await;
    assert_eq!((p.versions, p.latest_version, p.labels.len()), (0, None, 0));
    let v1 = version(s, p.id, "Answer {{ question }} for {customer}. Reply as JSON: {\"answer\": \"…\"}").await;
    let v2 = version(s, p.id, "Answer {{question}} briefly.").await;
    assert_eq!((v1.version_number, v2.version_number), (1, 2));
    assert_eq!(v1.content_hash, keys::hash(&v1.content), "SHA-256 of the content, hex");
    assert_eq!(
        v1.variables,
        json!([{"name": "customer", "type": "string", "required": true, "default": null},
               {"name": "question", "type": "string", "required": true, "default": null}]),
        "inferred from the content when not given"
    );

    label(s, p.id, "staging", v2.id).await.expect("staging");
    label(s, p.id, "prod", v1.id).await.expect("prod");
    let moved = label(s, p.id, "prod", v2.id).await.expect("prod again");
    assert_eq!(moved.labels.get("prod"), Some(&v2.id));
    assert_eq!(moved.current_version_id, Some(v2.id), "the newest version is the current one");
    let numbers: Vec<(&str, i32)> = moved.label_numbers.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    assert_eq!(numbers, [("prod", 2), ("staging", 2)]);

    // The original's refusals, and ours.
    let no_note =
        LabelChange { label: "prod".into(), version_id: v1.id, change_note: Some("  ".into()), deployed_by: None };
    let err = s.store.set_prompt_label(s.project, p.id, &no_note).await.expect_err("refused");
    assert!(matches!(&err, StoreError::Invalid(m) if m == "change_note is required for prod labels"), "{err:?}");
    let other = prompt(s, "other").await;
    let foreign = version(s, other.id, "x").await;
    assert!(
        matches!(label(s, p.id, "staging", foreign.id).await, Err(StoreError::Invalid(_))),
        "another prompt's version"
    );
    assert!(matches!(label(s, p.id, "has space", v1.id).await, Err(StoreError::Invalid(_))));
    assert!(matches!(label(s, p.id, "latest", v1.id).await, Err(StoreError::Invalid(_))), "latest is automatic");
    let dup = NewPrompt { name: "again".into(), slug: "support-answer".into(), ..NewPrompt::default() };
    assert!(matches!(s.store.create_prompt(s.project, &dup).await, Err(StoreError::Invalid(_))), "slug per project");
    for bad in ["", "has space", "a/b", "ü"] {
        let new = NewPrompt { name: "n".into(), slug: bad.into(), ..NewPrompt::default() };
        assert!(matches!(s.store.create_prompt(s.project, &new).await, Err(StoreError::Invalid(_))), "slug {bad:?}");
    }
    for bad in [
        NewPromptVersion { content: " ".into(), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".repeat(65_537), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".into(), temperature: Some(2.5), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".into(), temperature: Some(f64::NAN), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".into(), max_tokens: Some(0), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".into(), max_tokens: Some(1 << 40), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".into(), variables: Some(json!({"a": 1})), ..NewPromptVersion::default() },
        NewPromptVersion { content: "x".into(), parent_version_id: Some(foreign.id), ..NewPromptVersion::default() },
    ] {
        let err = s.store.add_prompt_version(s.project, p.id, &bad).await.expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
    // Another project's prompt is not found, from either side.
    let (other_project, _) = s.other_project().await;
    let new = NewPromptVersion { content: "x".into(), ..NewPromptVersion::default() };
    assert!(matches!(s.store.add_prompt_version(other_project, p.id, &new).await, Err(StoreError::NotFound(_))));
    assert!(s.store.prompt_detail(other_project, p.id).await.expect("detail").is_none());

    // Hostile text is kept as text (a NUL as U+FFFD, on both stores), hashed as stored.
    let hostile = NewPromptVersion {
        content: "nul\u{0}here {{ x }} \u{1b}[31m".into(),
        model: Some("gpt-4o-mini".into()),
        temperature: Some(0.12345),
        max_tokens: Some(256),
        parent_version_id: Some(v2.id),
        change_note: Some("tighter".into()),
        ..NewPromptVersion::default()
    };
    let v3 = s.store.add_prompt_version(s.project, p.id, &hostile).await.expect("v3");
    assert_eq!(v3.content, "nul\u{FFFD}here {{ x }} \u{1b}[31m");
    assert_eq!(v3.content_hash, keys::hash(&v3.content));
    assert_eq!((v3.temperature, v3.max_tokens, v3.version_number), (Some(0.123), Some(256), 3));

    let detail = s.store.prompt_detail(s.project, p.id).await.expect("detail").expect("found");
    assert_eq!(detail.versions.iter().map(|v| v.version_number).collect::<Vec<_>>(), [3, 2, 1], "newest first");
    assert_eq!(detail.versions[0], v3, "a version reads back as it was returned");
    let history: Vec<(&str, i32)> = detail.history.iter().map(|h| (h.label.as_str(), h.version_number)).collect();
    assert_eq!(history, [("prod", 2), ("prod", 1), ("staging", 2)], "every move, newest first");
    assert_eq!(detail.history[0].deployed_by.as_deref(), Some("ada@example.com"));
    assert_eq!((detail.prompt.versions, detail.prompt.latest_version), (3, Some(3)));
    let listed: Vec<String> =
        s.store.list_prompts(s.project).await.expect("list").into_iter().map(|p| p.slug).collect();
    assert_eq!(listed, ["support-answer", "other"], "most recently changed first");
}

async fn the_resolve_function_keeps_the_original_contract(s: &TestServer) {
    let p = prompt(s, "greeter").await;
    let v1 = s
        .store
        .add_prompt_version(
            s.project,
            p.id,
            &NewPromptVersion {
                content: "Hi {{ name }}".into(),
                model: Some("gpt-4o".into()),
                temperature: Some(0.2),
                max_tokens: Some(100),
                ..NewPromptVersion::default()
            },
        )
        .await
        .expect("v1");
    let v2 = version(s, p.id, "Hello {{ name }}").await;
    label(s, p.id, "prod", v1.id).await.expect("prod");
    label(s, p.id, "beta", v2.id).await.expect("beta");

    // What the original SDK sends by default: "version": null (the original refused it: 400).
    let (status, body) =
        resolve(s, json!({"name": "greeter", "slug": "greeter", "label": "prod", "version": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"prompt_version": {"id": v1.id, "prompt_id": p.id, "version_number": 1, "content": "Hi {{ name }}",
               "model": "gpt-4o", "temperature": 0.2, "max_tokens": 100, "content_hash": v1.content_hash,
               "variables": [{"name": "name", "type": "string", "required": true, "default": null}]}}),
        "exactly the original's keys: its SDK forbids any other"
    );
    let version_of = |body: &Value| body["prompt_version"]["version_number"].as_i64();
    let cases = [
        (json!({"slug": "greeter"}), 200, Some(1)), // label defaults to prod
        (json!({"slug": "  greeter ", "label": " beta "}), 200, Some(2)), // both trimmed
        (json!({"slug": "", "name": "THE GREETER PROMPT"}), 200, Some(1)), // name, any case
        (json!({"slug": "greeter", "version": 2}), 200, Some(2)), // a version wins over the label
        (json!({"slug": "greeter", "version": 2.0}), 200, Some(2)), // an integer, as JavaScript reads it
        (json!({"slug": "greeter", "label": "latest"}), 200, Some(2)), // latest: the newest
        (json!({"slug": "greeter", "version": 9}), 404, None),
        (json!({"slug": "greeter", "version": 99_999_999_999_i64}), 404, None),
        (json!({"slug": "greeter", "label": "nope"}), 404, None),
        (json!({"slug": "unknown"}), 404, None),
        (json!({"slug": "greeter", "version": "2"}), 400, None),
        (json!({"slug": "greeter", "version": 1.5}), 400, None),
        (json!({"slug": 7}), 400, None),
        (json!({"label": "prod"}), 400, None),
        (json!({"slug": "gree\u{0}ter"}), 404, None),
    ];
    for (request, want, number) in cases {
        let (status, body) = resolve(s, request.clone()).await;
        assert_eq!(status, want, "{request}: {body}");
        assert_eq!(version_of(&body), number, "{request}: {body}");
    }
    let messages = [
        (json!({"label": "prod"}), "slug is required"),
        (json!({"slug": "greeter", "version": "2"}), "version must be an integer"),
        (json!({"slug": "unknown"}), "Prompt not found"),
    ];
    for (request, message) in messages {
        assert_eq!(resolve(s, request).await.1, json!({"error": message}));
    }

    // Transport rules: the ingest function's, in its order.
    let path = "/functions/v1/prompts/resolve";
    assert_eq!(resolve_at(s, path, &s.key, "not json").await.2, json!({"error": "Invalid JSON body"}));
    assert_eq!(resolve_at(s, path, &s.key, "[]").await.2, json!({"error": "JSON body must be an object"}));
    let (status, cors, body) = resolve_at(s, path, "ns_wrong", "not json").await;
    assert_eq!((status, cors.as_deref(), body), (401, Some("*"), json!({"error": "Invalid or revoked API key"})));
    let (status, _, body) = resolve_at(s, "/functions/v1/prompts/other", &s.key, "{}").await;
    assert_eq!((status, body), (404, json!({"error": "Not found"})));
    let r = s.client.get(format!("{}{path}", s.base)).send().await.expect("get");
    assert_eq!(r.status(), 405);
    let r = s.client.request(reqwest::Method::OPTIONS, format!("{}{path}", s.base)).send().await.expect("options");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-methods"], "POST, OPTIONS");
    let r = s.client.post(format!("{}{path}", s.base)).body("{}").send().await.expect("no key");
    assert_eq!(r.status(), 401);

    // The SDK's other URL, for an endpoint that is not the Supabase function's, and a read key.
    let read = keys::mint();
    s.store.create_api_key(s.project, "reader", KeyScope::Read, &keys::hash(&read)).await.expect("read key");
    let (status, _, body) = resolve_at(s, "/api/prompts/resolve", &read, r#"{"slug": "greeter"}"#).await;
    assert_eq!((status, version_of(&body)), (200, Some(1)), "{body}");

    // Another project's key sees none of this project's prompts.
    let (_, other_key) = s.other_project().await;
    let (status, _, body) = resolve_at(s, path, &other_key, r#"{"slug": "greeter"}"#).await;
    assert_eq!((status, body), (404, json!({"error": "Prompt not found"})));

    // The public API, with a read key.
    let get = |path: String, key: String| async move {
        let r = s.client.get(format!("{}{path}", s.base)).bearer_auth(key).send().await.expect("get");
        (r.status().as_u16(), r.json::<Value>().await.expect("json"))
    };
    let (status, body) = get("/api/v1/prompts/greeter".into(), read.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["id"].as_str(), body["labels"].clone()), (Some(v1.id.to_string().as_str()), json!(["prod"])));
    assert_eq!(body["slug"], "greeter");
    let (status, body) = get("/api/v1/prompts/greeter?label=beta".into(), read.clone()).await;
    assert_eq!((status, body["version_number"].as_i64()), (200, Some(2)));
    let (status, body) = get("/api/v1/prompts/greeter?version=1".into(), read.clone()).await;
    assert_eq!((status, body["version_number"].as_i64()), (200, Some(1)));
    assert_eq!(get("/api/v1/prompts/greeter?version=x".into(), read.clone()).await.0, 400);
    assert_eq!(get("/api/v1/prompts/nothing".into(), read.clone()).await.0, 404);
    assert_eq!(get("/api/v1/prompts/greeter".into(), s.key.clone()).await.0, 403, "an ingest key does not read");
}

/// A run with one model span; the batch and the ids.
fn run_with_model_span(status: &str, seconds: u32) -> (String, String, Value) {
    let (session, run, span) = (id(), id(), id());
    let body = batch(json!({
        "sessions": [{"id": session, "created_at": "2026-02-01T10:00:00Z", "metadata": {}}],
        "runs": [{"id": run, "session_id": session, "name": "agent", "started_at": "2026-02-01T10:00:00Z",
                  "ended_at": format!("2026-02-01T10:00:{seconds:02}Z"), "status": status, "metadata": {}}],
        "spans": [{"id": span, "run_id": run, "kind": "model", "name": "llm", "started_at": "2026-02-01T10:00:00Z",
                   "ended_at": "2026-02-01T10:00:01Z", "status": "ok",
                   "attributes": {"model": "gpt-4o-mini", "cost_usd": 0.5, "input_tokens": 10, "output_tokens": 5}}],
    }));
    (run, span, body)
}

async fn batches_link_spans_to_versions_and_versions_show_their_runs(s: &TestServer) {
    let p = prompt(s, "linked").await;
    let (v1, v2) = (version(s, p.id, "One {{ q }}").await, version(s, p.id, "Two {{ q }}").await);

    // A link in the same batch as its span (the original SDK's shape), then one re-sent with
    // new values (an upsert on span + version), then a span linked to two versions.
    let (run_a, span_a, mut body) = run_with_model_span("ok", 2);
    body["prompt_links"] = json!([{"trace_id": run_a, "span_id": span_a, "prompt_version_id": v1.id,
                                   "variable_values": {"q": "first"}}]);
    s.accepts(&body).await;
    s.accepts(&batch(json!({"prompt_links": [{"trace_id": run_a, "span_id": span_a, "prompt_version_id": v1.id,
                                              "variable_values": {"q": "second"}}]})))
        .await;
    let (run_b, span_b, mut body) = run_with_model_span("error", 4);
    body["prompt_links"] = json!([
        {"trace_id": run_b, "span_id": span_b, "prompt_version_id": v2.id},
        {"trace_id": run_b, "span_id": span_b, "prompt_version_id": v2.id, "variable_values": {"q": "last wins"}},
    ]);
    s.accepts(&body).await;
    let (run_c, span_c, mut body) = run_with_model_span("ok", 6);
    body["prompt_links"] = json!([{"trace_id": run_c, "span_id": span_c, "prompt_version_id": v2.id}]);
    s.accepts(&body).await;

    let uses = s.store.prompt_uses(s.project, Uuid::parse_str(&run_a).expect("id")).await.expect("uses");
    assert_eq!(uses.len(), 1, "re-sent, not repeated");
    assert_eq!((uses[0].version_number, uses[0].prompt_slug.as_str()), (1, "linked"));
    assert_eq!(uses[0].variable_values, json!({"q": "second"}));
    let uses = s.store.prompt_uses(s.project, Uuid::parse_str(&run_b).expect("id")).await.expect("uses");
    assert_eq!(uses.iter().map(|u| u.variable_values.clone()).collect::<Vec<_>>(), [json!({"q": "last wins"})]);

    // The original's reference rules, each a 400 with nothing stored.
    let unknown_span = id();
    let refused = [
        json!({"trace_id": run_a, "span_id": unknown_span, "prompt_version_id": v1.id}),
        json!({"trace_id": run_b, "span_id": span_a, "prompt_version_id": v1.id}),
        json!({"trace_id": run_a, "span_id": span_a, "prompt_version_id": id()}),
    ];
    for link in refused {
        let (r, sp, mut body) = run_with_model_span("ok", 1);
        body["prompt_links"] = json!([link]);
        s.rejects(&body, "Payload contains invalid project references").await;
        assert!(s.store.get_run(s.project, Uuid::parse_str(&r).expect("id")).await.expect("get").is_none(), "{sp}");
    }
    // Another project's version is unknown here.
    let (other, other_key) = s.other_project().await;
    let (r, sp, mut body) = run_with_model_span("ok", 1);
    body["prompt_links"] = json!([{"trace_id": r, "span_id": sp, "prompt_version_id": v1.id}]);
    let (status, reply) = s.post_with_key(&other_key, &body).await;
    assert_eq!((status, reply), (400, json!({"error": "Payload contains invalid project references"})));
    assert!(s.store.get_run(other, Uuid::parse_str(&r).expect("id")).await.expect("get").is_none());

    // A version's runs, and how its runs went beside the other version's.
    let of_version = |v: Uuid| RunFilter { prompt_version: Some(v), ..RunFilter::default() };
    let rows = s.store.list_run_rows(s.project, &of_version(v2.id)).await.expect("runs");
    let mut ids: Vec<String> = rows.rows.iter().map(|r| r.id.to_string()).collect();
    ids.sort();
    let mut want = vec![run_b.clone(), run_c.clone()];
    want.sort();
    assert_eq!((ids, rows.total), (want, 2));
    let score = json!({"id": id(), "trace_id": run_b, "name": "helpful", "value": 0.25, "data_type": "numeric",
                       "source": "api", "created_at": "2026-02-01T10:01:00Z"});
    let score2 = json!({"id": id(), "trace_id": run_c, "name": "helpful", "value": 0.75, "data_type": "numeric",
                        "source": "api", "created_at": "2026-02-01T10:01:00Z"});
    s.accepts(&batch(json!({"scores": [score, score2]}))).await;
    let figures = s.store.prompt_version_figures(s.project, p.id).await.expect("figures");
    let f2 = figures.iter().find(|f| f.version_id == v2.id).expect("v2 figures");
    assert_eq!((f2.runs, f2.errors), (2, 1));
    assert!((f2.cost_usd - 1.0).abs() < 1e-9, "{f2:?}");
    assert_eq!((f2.latency_p50_ms, f2.latency_p95_ms), (Some(4000.0), Some(6000.0)));
    assert_eq!(f2.scores, [("helpful".to_owned(), 0.5, 2)]);
    let f1 = figures.iter().find(|f| f.version_id == v1.id).expect("v1 figures");
    assert_eq!((f1.runs, f1.errors, f1.scores.len()), (1, 0, 0));

    // The public API's runs filter.
    let read = keys::mint();
    s.store.create_api_key(s.project, "reader", KeyScope::Read, &keys::hash(&read)).await.expect("read key");
    let r = s
        .client
        .get(format!("{}/api/v1/runs?prompt_version={}", s.base, v1.id))
        .bearer_auth(&read)
        .send()
        .await
        .expect("runs");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"].as_array().map(|d| d.iter().map(|r| r["id"].clone()).collect()), Some(vec![json!(run_a)]));

    // Deleting a run takes its links with it.
    assert!(s.store.delete_run(s.project, Uuid::parse_str(&run_c).expect("id")).await.expect("delete"));
    let figures = s.store.prompt_version_figures(s.project, p.id).await.expect("figures");
    assert_eq!(figures.iter().find(|f| f.version_id == v2.id).map(|f| f.runs), Some(1));
}

async fn versions_written_at_once_get_one_number_each(s: &TestServer) {
    let p = prompt(s, "busy").await;
    let writers = (0..12).map(|i| {
        let (store, project) = (s.store.clone(), s.project);
        tokio::spawn(async move {
            let new = NewPromptVersion { content: format!("draft {i}"), ..NewPromptVersion::default() };
            store.add_prompt_version(project, p.id, &new).await.expect("every writer succeeds").version_number
        })
    });
    let mut numbers = Vec::new();
    for w in writers {
        numbers.push(w.await.expect("join"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
    let detail = s.store.prompt_detail(s.project, p.id).await.expect("detail").expect("found");
    assert_eq!(detail.prompt.current_version_id, Some(detail.versions[0].id), "the highest number is current");
}

/// An OTLP/JSON export of one generation span with these attributes; its trace and span ids.
async fn otlp_generation(s: &TestServer, attributes: Value) -> (Uuid, String) {
    let trace = Uuid::new_v4();
    let span = format!("{:016x}", rand_span());
    let body = json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{
        "traceId": trace.simple().to_string(), "spanId": span, "name": "generation",
        "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261601000000000",
        "attributes": attributes, "status": {}}]}]}]});
    let r = s
        .client
        .post(format!("{}/v1/traces", s.base))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("export");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    (trace, span)
}

fn rand_span() -> u64 {
    u64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes")) | 1
}

async fn a_langfuse_generation_naming_a_prompt_version_is_linked_to_it(s: &TestServer) {
    let p = prompt(s, "otel-prompt").await;
    let (v1, _v2) = (version(s, p.id, "One {{ q }}").await, version(s, p.id, "Two {{ q }}").await);
    let attrs = |name: &str, version: Value| {
        json!([
            {"key": "langfuse.observation.type", "value": {"stringValue": "generation"}},
            {"key": "langfuse.observation.prompt.name", "value": {"stringValue": name}},
            {"key": "langfuse.observation.prompt.version", "value": version},
        ])
    };
    let (run, _) = otlp_generation(s, attrs("otel-prompt", json!({"intValue": "1"}))).await;
    let uses = s.store.prompt_uses(s.project, run).await.expect("uses");
    assert_eq!(uses.iter().map(|u| u.version_id).collect::<Vec<_>>(), [v1.id], "linked to version 1");
    // By name too (any case), as the resolve function finds prompts.
    let (run, _) = otlp_generation(s, attrs("The OTEL-PROMPT prompt", json!({"intValue": "1"}))).await;
    assert_eq!(s.store.prompt_uses(s.project, run).await.expect("uses").len(), 1);
    // A version the registry does not have, or no version: the span is stored, unlinked.
    for version in [json!({"intValue": "9"}), json!({"stringValue": "x"}), json!({"doubleValue": 1.5})] {
        let (run, _) = otlp_generation(s, attrs("otel-prompt", version.clone())).await;
        assert!(s.store.prompt_uses(s.project, run).await.expect("uses").is_empty(), "{version}");
        assert_eq!(s.store.list_spans(s.project, run).await.expect("spans").len(), 1, "{version}");
    }
    let (run, _) = otlp_generation(s, attrs("unknown", json!({"intValue": "1"}))).await;
    assert!(s.store.prompt_uses(s.project, run).await.expect("uses").is_empty());
}

async fn members_read_the_registry_and_only_admins_change_it(s: &TestServer) {
    let p = prompt(s, "members").await;
    let v1 = version(s, p.id, "Hi {{ name }}").await;
    let email = "member@example.com";
    let member = s.user(email, false).await;
    s.store.set_member(s.project, member, northstar_store::Role::Member).await.expect("member");
    let cookie = s.login(email, crate::common::PASSWORD).await.expect("login");
    let (project, prompt_id, version_id) = (s.project.to_string(), p.id.to_string(), v1.id.to_string());

    let (status, body) = s.server_fn(&cookie, "prompts", &[("project", &project)], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("members"), "{body}");
    let (status, _) = s.server_fn(&cookie, "prompt", &[("project", &project), ("id", &prompt_id)], None).await;
    assert_eq!(status, 200);
    let create = [("project", project.as_str()), ("name", "x"), ("slug", "x"), ("description", "")];
    assert_eq!(s.server_fn(&cookie, "create_prompt", &create, None).await.0, 403);
    let add = [
        ("project", project.as_str()),
        ("prompt", prompt_id.as_str()),
        ("content", "v2"),
        ("model", ""),
        ("temperature", ""),
        ("max_tokens", ""),
        ("change_note", ""),
    ];
    assert_eq!(s.server_fn(&cookie, "add_prompt_version", &add, None).await.0, 403);
    let label = [
        ("project", project.as_str()),
        ("prompt", prompt_id.as_str()),
        ("label", "prod"),
        ("version", version_id.as_str()),
        ("change_note", "ship"),
    ];
    assert_eq!(s.server_fn(&cookie, "set_prompt_label", &label, None).await.0, 403);

    s.store.set_member(s.project, member, northstar_store::Role::Admin).await.expect("admin");
    assert_eq!(s.server_fn(&cookie, "add_prompt_version", &add, None).await.0, 200);
    assert_eq!(s.server_fn(&cookie, "set_prompt_label", &label, None).await.0, 200);
    let bad = [
        ("project", project.as_str()),
        ("prompt", prompt_id.as_str()),
        ("content", "v3"),
        ("model", ""),
        ("temperature", "hot"),
        ("max_tokens", ""),
        ("change_note", ""),
    ];
    let (status, body) = s.server_fn(&cookie, "add_prompt_version", &bad, None).await;
    assert_eq!(status, 400, "{body}");
    let detail = s.store.prompt_detail(s.project, p.id).await.expect("detail").expect("found");
    assert_eq!(detail.versions[0].created_by.as_deref(), Some(email), "who wrote it");
    assert_eq!(detail.versions[0].parent_version_id, Some(v1.id), "written from the current version");
    assert_eq!(detail.history[0].deployed_by.as_deref(), Some(email));
}

on_both_stores!(
    a_langfuse_generation_naming_a_prompt_version_is_linked_to_it,
    versions_written_at_once_get_one_number_each,
    members_read_the_registry_and_only_admins_change_it,
    the_registry_numbers_hashes_and_labels_versions,
    the_resolve_function_keeps_the_original_contract,
    batches_link_spans_to_versions_and_versions_show_their_runs,
);
