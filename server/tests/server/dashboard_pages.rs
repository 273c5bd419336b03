//! The dashboard's pages as the server renders them, on both stores: each page answers with
//! the data in place, agent content is escaped, and a run of 10,000 spans renders.

use crate::common::fixtures::{agent_trace, batch, id};
use crate::common::on_both_stores;
use crate::common::{Backend, TestServer};
use serde_json::json;

/// A page as the logged-in user of `cookie` sees it; asserts 200.
async fn page(server: &TestServer, cookie: &str, path: &str) -> String {
    let (status, body) = server.get_as(cookie, path).await;
    assert_eq!(status, 200, "GET {path}");
    body
}

async fn every_page_renders_its_data(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let p = server.project;

    let html = page(server, &cookie, "/").await;
    assert!(html.contains(&format!("/p/{p}")), "projects page links the project");
    let html = page(server, &cookie, &format!("/p/{p}")).await;
    assert!(html.contains("Overview") && !html.contains("No traces yet"), "older data: not a new project");
    let html = page(server, &cookie, &format!("/p/{p}?range=all")).await;
    assert!(html.contains("Overview") && html.contains("$0.0123") && html.contains("gpt-4o-mini"), "{html}");
    let html = page(server, &cookie, &format!("/p/{p}/sessions")).await;
    assert!(html.contains(&t.session[..8]) && html.contains("$0.0123"));
    let html = page(server, &cookie, &format!("/p/{p}/sessions?q=dana")).await;
    assert!(html.contains(&t.session[..8]), "search by metadata value");
    let html = page(server, &cookie, &format!("/p/{p}/sessions?q=nobody")).await;
    assert!(!html.contains(&t.session[..8]));
    let html = page(server, &cookie, &format!("/p/{p}/sessions/{}", t.session)).await;
    assert!(html.contains("support-agent") && html.contains(&format!("/p/{p}/runs/{}", t.run)));
    // The session as one conversation: what its run was asked and answered.
    assert!(html.contains(r#"id="conversation""#) && html.contains("Refunds take 5 days."), "{html}");
    // Lists say who a session was for and what it began with; the runs list sorts.
    let html = page(server, &cookie, &format!("/p/{p}/sessions")).await;
    assert!(html.contains(">dana</span>") && html.contains("How do refunds work?"), "{html}");
    let html = page(server, &cookie, &format!("/p/{p}/runs")).await;
    assert!(html.contains("support-agent") && html.contains("How do refunds work?"));
    assert!(html.contains(r#"aria-sort="descending""#) && html.contains("sort=cost"), "sortable headers");
    for sort in ["cost", "duration", "tokens", "started"] {
        let html = page(server, &cookie, &format!("/p/{p}/runs?sort={sort}&dir=asc")).await;
        assert!(html.contains("support-agent"), "sorted by {sort}");
    }
    // The tree filtered to tool calls: the tool, the path to it, nothing else.
    let cookie = &cookie;
    let rows = |toggles: &str| {
        let form = [
            ("project", p.to_string()),
            ("run", t.run.clone()),
            ("toggles", toggles.to_owned()),
            ("offset", "0".to_owned()),
            ("limit", "100".to_owned()),
        ];
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = server.server_fn(cookie, "trace_rows", &form, None).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let tools = rows("only:tool").await;
    assert!(tools.contains("search_docs") && tools.contains("plan-and-answer"), "{tools}");
    assert!(!tools.contains("llm.answer") && !tools.contains("rank-results"), "{tools}");
    assert!(rows("").await.contains("llm.answer"));
    let html = page(server, cookie, &format!("/p/{p}/runs/{}", t.run)).await;
    // Rendered nodes are links; the page's data for hydration holds every name anyway.
    for name in ["plan-and-answer", "llm.answer", "search_docs", "rank-results"] {
        assert!(html.contains(&format!(">{name}</a>")), "{name} is a visible node");
    }
    assert!(!html.contains(">score-snippet</a>"), "depth 3 starts collapsed (not rendered)");
    let html = page(server, cookie, &format!("/p/{p}/runs/{}?view=timeline", t.run)).await;
    assert!(html.contains("tree-bar"), "timeline bars");
    let html = page(server, cookie, &format!("/p/{p}/scores")).await;
    assert!(html.contains("No scores"));
}

async fn agent_content_is_text_not_markup(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let html = page(server, &cookie, &format!("/p/{}/runs/{}?node={}", server.project, t.run, t.model)).await;
    assert!(html.contains("You are a support agent.") && html.contains("Refunds take 5 days."));
    assert!(html.contains("&lt;script&gt;window.__pwned = true&lt;/script&gt;"), "escaped in the page");
    assert!(!html.contains("<script>window.__pwned"), "never as markup");
    assert!(!html.contains("<img src=x"), "never as markup");
    // Lists and the session's conversation show the same input: escaped there too.
    for path in ["sessions".to_owned(), "runs".to_owned(), format!("sessions/{}", t.session)] {
        let html = page(server, &cookie, &format!("/p/{}/{path}", server.project)).await;
        assert!(html.contains("How do refunds work? &lt;script&gt;"), "{path}: the input, escaped");
        assert!(!html.contains("<script>window.__pwned") && !html.contains("<img src=x"), "{path}: never as markup");
    }
}

async fn empty_project_shows_how_to_send_a_trace(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let html = page(server, &cookie, &format!("/p/{}/sessions", server.project)).await;
    let host = server.base.trim_start_matches("http://");
    assert!(html.contains("No traces yet"));
    assert!(html.contains(&format!("http://{host}/functions/v1/ingest-traces")), "the endpoint is filled in");
    assert!(html.contains(&format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://{host}\n")), "and the OTLP endpoint");
}

async fn unknown_project_and_run_are_404(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (status, html) = server.get_as(&cookie, &format!("/p/{}/runs/{}", server.project, id())).await;
    assert_eq!(status, 404);
    assert!(html.contains("not found"));
    let (status, html) = server.get_as(&cookie, &format!("/p/{}", id())).await;
    assert_eq!(status, 404);
    assert!(html.contains("project not found"));
}

/// 10,000 spans: 99 children under an agent span, each with 100 children of its own.
async fn a_10k_span_run_page_renders(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (session, run, root) = (id(), id(), id());
    let mut spans =
        vec![json!({"id": root, "run_id": run, "kind": "agent", "name": "root", "started_at": "2025-05-01T10:00:00Z",
                                "ended_at": "2025-05-01T10:01:00Z", "status": "ok", "attributes": {}})];
    for i in 0..99 {
        let step = id();
        spans.push(json!({"id": step, "run_id": run, "parent_span_id": root, "kind": "workflow", "name": format!("step-{i}"),
                          "started_at": "2025-05-01T10:00:01Z", "ended_at": "2025-05-01T10:00:02Z", "status": "ok", "attributes": {}}));
        for j in 0..100 {
            spans.push(json!({"id": id(), "run_id": run, "parent_span_id": step, "kind": "model", "name": format!("call-{i}-{j}"),
                              "started_at": "2025-05-01T10:00:01.5Z", "ended_at": "2025-05-01T10:00:01.6Z", "status": "ok",
                              "attributes": {"model": "gpt-4o-mini", "cost_usd": 0.001, "input_tokens": 10, "output_tokens": 1}}));
        }
    }
    assert_eq!(spans.len(), 10_000);
    server
        .accepts(&batch(json!({
            "sessions": [{"id": session, "created_at": "2025-05-01T10:00:00Z"}],
            "runs": [{"id": run, "session_id": session, "name": "big-run", "started_at": "2025-05-01T10:00:00Z",
                      "ended_at": "2025-05-01T10:01:00Z", "status": "ok"}],
            "spans": spans,
        })))
        .await;
    let html = page(server, &cookie, &format!("/p/{}/runs/{run}", server.project)).await;
    assert!(
        html.contains("big-run") && html.contains(">root</a>") && html.contains(">step-") && html.contains(">call-")
    );
    // The root and then steps open, in tree order, while at most 500 rows are open (the root,
    // its 99 steps and the calls of four of them); only the first screen of them is drawn, and
    // the page does not carry the tree.
    assert_eq!(html.matches("aria-expanded=\"true\"").count(), 2, "the root and the first step are on screen");
    let rows = html.matches("class=\"tree-row").count();
    assert!((30..=60).contains(&rows), "{rows} rows drawn");
    assert!(html.matches(">step-").count() < 5, "rows below the screen are not sent");
    assert!(html.len() < 256 * 1024, "the page is {} bytes", html.len());
    assert!(!html.contains("role=\"alert\""), "no error on the page");
    assert!(html.contains("$9.90"), "the run's cost is the sum of its 9,900 model spans");
}

async fn a_score_or_filter_a_person_got_wrong_is_a_400_that_says_why(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let p = server.project.to_string();
    let score = |name: &'static str, data_type: &'static str, extra: (&'static str, &'static str)| {
        vec![
            ("project", p.clone()),
            ("run", t.run.clone()),
            ("name", name.to_owned()),
            ("data_type", data_type.to_owned()),
            (extra.0, extra.1.to_owned()),
        ]
    };
    for (form, says) in [
        (score("  ", "numeric", ("value", "1")), "a score needs a name"),
        (score("tone", "categorical", ("category", " ")), "a category score needs a category"),
        (score("q", "numeric", ("value", "lots")), "value must be a number"),
        (score("q", "boolean", ("passed", "maybe")), "choose pass or fail"),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = server.server_fn(&cookie, "add_score", &form, None).await;
        assert_eq!((status, body.contains(says)), (400, true), "{form:?}: {body}");
    }
    // A category on a number score is not kept (the store would refuse it).
    let form = [
        ("project", p.as_str()),
        ("run", &t.run),
        ("name", "q"),
        ("data_type", "numeric"),
        ("value", "0.5"),
        ("category", "stray"),
    ];
    assert_eq!(server.server_fn(&cookie, "add_score", &form, None).await.0, 200);

    let runs = |min: &'static str| {
        [
            ("project", p.clone()),
            ("status", String::new()),
            ("range", String::new()),
            ("q", String::new()),
            ("score", "q".to_owned()),
            ("min", min.to_owned()),
            ("max", String::new()),
            ("category", String::new()),
            ("sort", String::new()),
            ("dir", String::new()),
            ("page", "1".to_owned()),
        ]
    };
    let form = runs("high");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = server.server_fn(&cookie, "runs", &form, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("minimum must be a number"), "{body}");
    let form = runs("0.5");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = server.server_fn(&cookie, "runs", &form, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&t.run), "the run scored 0.5: {body}");
}

async fn a_failed_span_shows_its_stack_and_its_iteration(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (session, run, span) = (id(), id(), id());
    server
        .accepts(&batch(json!({
            "sessions": [{"id": session, "created_at": "2025-05-01T10:00:00Z"}],
            "runs": [{"id": run, "session_id": session, "name": "loop", "started_at": "2025-05-01T10:00:00Z", "status": "error"}],
            "spans": [{"id": span, "run_id": run, "kind": "tool", "name": "fetch_page", "started_at": "2025-05-01T10:00:00Z",
                       "ended_at": "2025-05-01T10:00:01Z", "status": "error", "iteration": 7,
                       "error": {"type": "TimeoutError", "message": "took too long", "stack": "at fetch (agent.py:12)"},
                       "attributes": {}}],
        })))
        .await;
    let html = page(server, &cookie, &format!("/p/{}/runs/{run}?span={span}", server.project)).await;
    assert!(html.contains("TimeoutError") && html.contains("at fetch (agent.py:12)"), "the stack is shown");
    assert!(html.contains("iteration 7") && html.contains(">fetch_page #7</a>"), "the turn is shown");
}

async fn the_run_page_draws_who_called_whom(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let html = page(server, &cookie, &format!("/p/{}/runs/{}", server.project, t.run)).await;
    assert!(html.contains(r#"aria-label="Agent graph""#), "the picture");
    for call in ["<td>plan-and-answer</td><td>gpt-4o-mini</td>", "<td>plan-and-answer</td><td>search_docs</td>"] {
        assert!(html.contains(call), "{call}");
    }
}

async fn a_span_level_score_says_which_span(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let mut score = crate::common::fixtures::score(&id(), &t.run);
    score["span_id"] = json!(t.model);
    server.accepts(&batch(json!({"scores": [score]}))).await;
    let html = page(server, &cookie, &format!("/p/{}/runs/{}", server.project, t.run)).await;
    let short = &t.model[..8];
    let at = html.find(r#"class="score-span""#).expect("the score is marked as a span's");
    assert!(html[at..].chars().take(200).collect::<String>().contains(short), "which span: {}", &html[at..]);
}

async fn a_run_whose_model_nothing_priced_says_unpriced_not_free(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (session, run) = (id(), id());
    server
        .accepts(&batch(json!({
            "sessions": [{"id": session, "created_at": "2025-05-01T10:00:00Z"}],
            "runs": [{"id": run, "session_id": session, "name": "local", "started_at": "2025-05-01T10:00:00Z", "status": "ok"}],
            "spans": [{"id": id(), "run_id": run, "kind": "model", "name": "chat", "started_at": "2025-05-01T10:00:00Z",
                       "status": "ok", "attributes": {"model": "my-local-model-7b", "input_tokens": 10, "output_tokens": 2}}],
        })))
        .await;
    let html = page(server, &cookie, &format!("/p/{}/runs/{run}", server.project)).await;
    assert!(html.contains(">unpriced</div>"), "the run's cost says unpriced");
    let list = page(server, &cookie, &format!("/p/{}/runs", server.project)).await;
    assert!(list.contains(r#"<td class="num">unpriced</td>"#), "the runs list too");
}

async fn hostile_search_text_finds_nothing_and_is_no_5xx(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let p = server.project.to_string();
    for text in ["\0", "a\0b", "%_\\", &"x".repeat(10_000), "\u{202e}\u{1}"] {
        let form = [("project", p.as_str()), ("run", &t.run), ("text", text), ("kind", "")];
        let (status, body) = server.server_fn(&cookie, "trace_search", &form, None).await;
        assert_eq!(status, 200, "{text:?}: {body}");
        assert!(body.contains(r#""total":0"#), "{text:?}: {body}");
        let form = [
            ("project", p.as_str()),
            ("status", ""),
            ("range", ""),
            ("q", text),
            ("score", ""),
            ("min", ""),
            ("max", ""),
            ("category", ""),
            ("sort", ""),
            ("dir", ""),
            ("page", "1"),
        ];
        let (status, body) = server.server_fn(&cookie, "runs", &form, None).await;
        assert_eq!(status, 200, "runs list, {text:?}: {body}");
    }
}

async fn the_page_has_an_icon_and_its_theme_before_the_first_paint(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let html = page(server, &cookie, &format!("/p/{}", server.project)).await;
    assert!(html.contains(r#"<link rel="icon" href="/pkg/favicon.svg""#), "{html}");
    assert!(html.contains("localStorage.getItem(\"northstar-theme\")"), "the stored theme is applied by the head");
    let icon = server.client.get(format!("{}/pkg/favicon.svg", server.base)).send().await.expect("icon");
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
}

on_both_stores!(
    a_score_or_filter_a_person_got_wrong_is_a_400_that_says_why,
    a_failed_span_shows_its_stack_and_its_iteration,
    the_page_has_an_icon_and_its_theme_before_the_first_paint,
    the_run_page_draws_who_called_whom,
    a_span_level_score_says_which_span,
    hostile_search_text_finds_nothing_and_is_no_5xx,
    a_run_whose_model_nothing_priced_says_unpriced_not_free,
    every_page_renders_its_data,
    agent_content_is_text_not_markup,
    empty_project_shows_how_to_send_a_trace,
    unknown_project_and_run_are_404,
    a_10k_span_run_page_renders,
);
