//! What an attacker, a flood and hostile data found (issue 21), each as a regression test on
//! both stores where it applies: panics answer 500, pages render runs that are still running,
//! NUL and huge numbers never reach the database as a 500, batches are bounded, redirects stay
//! on the server, logins are limited and can be ended, slow clients are cut.

use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::common::fixtures::{T0, batch, id, run, session, span};
use crate::common::on_both_stores;
use crate::common::{AppState, Backend, PASSWORD, TestServer};
use northstar_server::auth::{AuthConfig, LoginLimits};
use northstar_store::{Store, UserChange};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A session with a finished run and a run still running (no end, no duration) that started
/// after it, with a running span: what a live agent leaves behind.
fn live_session() -> (String, String, Value) {
    let (s, done, live, step) = (id(), id(), id(), id());
    let mut finished = run(&done, &s);
    finished["status"] = json!("ok");
    finished["ended_at"] = json!("2025-05-01T10:00:01Z");
    let mut running = run(&live, &s);
    running["started_at"] = json!("2025-05-01T10:00:05Z");
    let mut open = span(&step, &live, None);
    open["started_at"] = json!("2025-05-01T10:00:05Z");
    let body = batch(json!({"sessions": [session(&s)], "runs": [finished, running], "spans": [open]}));
    (s, live, body)
}

async fn every_page_renders_while_runs_are_still_running(server: &TestServer) {
    let (session, live, body) = live_session();
    server.accepts(&body).await;
    let cookie = server.admin_cookie().await;
    let p = server.project;
    for page in [
        format!("/p/{p}"),
        format!("/p/{p}/sessions"),
        format!("/p/{p}/sessions/{session}"),
        format!("/p/{p}/runs"),
        format!("/p/{p}/runs/{live}"),
        format!("/p/{p}/scores"),
        format!("/p/{p}/settings"),
        "/".to_owned(),
    ] {
        let (status, html) = tokio::time::timeout(Duration::from_secs(20), server.get_as(&cookie, &page))
            .await
            .unwrap_or_else(|_| panic!("{page} answers instead of hanging"));
        assert_eq!(status, 200, "{page}: {html}");
        assert!(html.contains("</html>"), "{page} is whole");
    }
}

async fn a_nul_anywhere_is_stored_the_same_on_both_stores(server: &TestServer) {
    let (s, r, sp) = (id(), id(), id());
    let mut run = run(&r, &s);
    run["name"] = json!("agent\u{0}name");
    run["metadata"] = json!({"k\u{0}": "v\u{0}", "nested": ["\u{0}"]});
    let mut span = span(&sp, &r, None);
    span["attributes"] = json!({"output": "binary\u{0}\u{0}data"});
    let event = json!({"id": id(), "run_id": r, "span_id": sp, "type": "tool_result", "created_at": T0,
                       "content": "\u{0}", "attributes": {"\u{0}": 1}});
    let score = json!({"id": id(), "trace_id": r, "name": "q\u{0}", "value": 1, "data_type": "categorical",
                       "string_value": "good\u{0}", "comment": "c\u{0}", "source": "api", "created_at": T0});
    let body = batch(json!({"sessions": [session(&s)], "runs": [run], "spans": [span], "events": [event],
                            "scores": [score]}));
    server.accepts(&body).await;
    let stored = server.store.get_run(server.project, r.parse().expect("uuid")).await.expect("read").expect("run");
    assert_eq!(stored.name, "agent\u{fffd}name");
    assert_eq!(stored.metadata, json!({"k\u{fffd}": "v\u{fffd}", "nested": ["\u{fffd}"]}));
    let span = server.store.get_span(server.project, sp.parse().expect("uuid")).await.expect("read").expect("span");
    assert_eq!(span.attributes["output"], "binary\u{fffd}\u{fffd}data");
}

async fn figures_too_large_to_add_up_are_refused_and_the_overview_stays_up(server: &TestServer) {
    let (s, r, sp) = (id(), id(), id());
    let mut model = span(&sp, &r, None);
    model["kind"] = json!("model");
    model["attributes"] = json!({"cost_usd": 1.7e308, "input_tokens": 1e308});
    let body = batch(json!({"sessions": [session(&s)], "runs": [run(&r, &s)], "spans": [model]}));
    server.rejects(&body, "spans[0].attributes.cost_usd must be a number from 0 to 1000000").await;
    let mut meta = run(&r, &s);
    meta["metadata"] = json!({"cost_usd": 1e300});
    let body = batch(json!({"sessions": [session(&s)], "runs": [meta]}));
    server.rejects(&body, "runs[0].metadata.cost_usd must be a number from 0 to 1000000").await;
    // The largest accepted figures, many times over, still sum to finite figures.
    for _ in 0..3 {
        let (s, r) = (id(), id());
        let spans: Vec<Value> = (0..50)
            .map(|_| {
                let mut m = span(&id(), &r, None);
                m["kind"] = json!("model");
                m["status"] = json!("ok");
                m["attributes"] =
                    json!({"cost_usd": northstar_wire::MAX_COST_USD, "input_tokens": northstar_wire::MAX_TOKENS});
                m
            })
            .collect();
        server.accepts(&batch(json!({"sessions": [session(&s)], "runs": [run(&r, &s)], "spans": spans}))).await;
    }
    let cookie = server.admin_cookie().await;
    let (status, _) = server.get_as(&cookie, &format!("/p/{}", server.project)).await;
    assert_eq!(status, 200, "the overview renders");
}

async fn a_batch_of_thousands_of_sessions_is_stored_whole(server: &TestServer) {
    // Past SQLite's bound-parameter limit in one statement (8 per session), and on Postgres
    // one statement per thousand sessions instead of one each.
    let sessions: Vec<Value> = (0..5_000).map(|_| session(&id())).collect();
    server.accepts(&batch(json!({"sessions": sessions}))).await;
    assert_eq!(server.store.count_records(server.project).await.expect("count").sessions, 5_000);
}

async fn a_batch_over_the_record_limit_is_a_413_and_stores_nothing(server: &TestServer) {
    let sessions: Vec<Value> = (0..northstar_wire::MAX_RECORDS + 1).map(|_| session(&id())).collect();
    let (status, body) = server.post(&batch(json!({"sessions": sessions}))).await;
    assert_eq!(status, 413);
    let limit = northstar_wire::MAX_RECORDS;
    assert_eq!(body["error"], format!("Batch has {} records; at most {limit} are accepted per request", limit + 1));
    assert_eq!(server.store.count_records(server.project).await.expect("count").sessions, 0);
}

async fn a_batch_of_many_runs_leaves_other_projects_ingesting(server: &TestServer) {
    // One advisory lock per run filled Postgres' shared lock table; the locks are bucketed now.
    let s = id();
    let runs: Vec<Value> = (0..9_000).map(|_| run(&id(), &s)).collect();
    let big = batch(json!({"sessions": [session(&s)], "runs": runs}));
    let (_, other_key) = server.other_project().await;
    let small = common::fixtures::Trace::new().body();
    let (big, small) = tokio::join!(server.post(&big), server.post_with_key(&other_key, &small));
    assert_eq!(big.0, 200, "{}", big.1);
    assert_eq!(small.0, 200, "{}", small.1);
}

async fn add_score_for_another_projects_run_is_a_404(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (other, other_key) = server.other_project().await;
    let trace = common::fixtures::Trace::new();
    assert_eq!(server.post_with_key(&other_key, &trace.body()).await.0, 200);
    let project = server.project.to_string();
    let add_score = |value: &'static str| {
        let form = [
            ("project", project.as_str()),
            ("run", trace.run.as_str()),
            ("name", "quality"),
            ("data_type", "numeric"),
            ("value", value),
        ];
        let request = server
            .client
            .post(format!("{}/api/dashboard/add_score", server.base))
            .header("cookie", &cookie)
            .form(&form);
        async move { request.send().await.expect("request").status() }
    };
    assert_eq!(add_score("1").await, 404, "a run of project {other} is not found in this one");
    assert_eq!(add_score("x").await, 400, "a form error is the person's, not the server's");
}

async fn next_after_login_never_leaves_the_server(server: &TestServer) {
    server.user("nina@example.com", false).await;
    for next in
        ["/\t/evil.example/", "/\r\n/evil.example/", "/\\evil.example", "//evil.example", "/p\r\nSet-Cookie: a=b"]
    {
        let response = server
            .client
            .post(format!("{}/login", server.base))
            .form(&[("email", "nina@example.com"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 303, "{next:?}");
        assert_eq!(response.headers()["location"], "/", "{next:?}");
    }
    let (status, html) = server.get_as("", "/login?next=/%09/evil.example/").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"name="next" value="/""#), "the form carries / only");
    let response = server.client.get(format!("{}/login", server.base)).send().await.expect("login page");
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
}

async fn repeated_wrong_passwords_lock_the_account_out_with_retry_after(server: &TestServer) {
    server.user("lena@example.com", false).await;
    for _ in 0..5 {
        assert_eq!(server.login("lena@example.com", "wrong password").await, None);
    }
    let response = server
        .client
        .post(format!("{}/login", server.base))
        .form(&[("email", "lena@example.com"), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 429, "locked out, even with the right password");
    assert!(response.headers().contains_key("retry-after"));
    assert!(server.login("other@example.com", "anything at all").await.is_none(), "other accounts still answer");
}

async fn logging_out_or_a_new_password_ends_the_login_and_a_disabled_user_cannot_log_in(server: &TestServer) {
    server.user("omar@example.com", true).await;
    let page = format!("/p/{}", server.project);
    let cookie = server.login("omar@example.com", PASSWORD).await.expect("login");
    let second_device = server.login("omar@example.com", PASSWORD).await.expect("login");
    assert_eq!(server.get_as(&cookie, &page).await.0, 200);
    let response = server.client.post(format!("{}/logout", server.base)).header("cookie", &cookie).send().await;
    assert_eq!(response.expect("logout").status(), 303);
    assert_eq!(server.get_as(&cookie, &page).await.0, 303, "the token no longer works");
    assert_eq!(server.get_as(&second_device, &page).await.0, 303, "nor any other login of the user");

    let cookie = server.login("omar@example.com", PASSWORD).await.expect("login again");
    assert_eq!(server.get_as(&cookie, &page).await.0, 200);
    let hash = northstar_server::auth::hash_password("a brand new password").expect("hash");
    server.store.update_user("omar@example.com", &UserChange::Password(hash)).await.expect("password");
    assert_eq!(server.get_as(&cookie, &page).await.0, 303, "a new password ends the login");
    assert!(server.login("omar@example.com", PASSWORD).await.is_none(), "the old password is refused");
    let cookie = server.login("omar@example.com", "a brand new password").await.expect("new password");

    server.store.update_user("omar@example.com", &UserChange::Disabled(true)).await.expect("disable");
    assert_eq!(server.get_as(&cookie, &page).await.0, 303, "disabling ends the login");
    assert!(server.login("omar@example.com", "a brand new password").await.is_none(), "and refuses new ones");
    server.store.update_user("omar@example.com", &UserChange::Disabled(false)).await.expect("enable");
    assert!(server.login("omar@example.com", "a brand new password").await.is_some());
}

async fn a_server_admin_disables_users_and_sets_passwords_from_the_dashboard(server: &TestServer) {
    server.user("pia@example.com", false).await;
    let pia = server.login("pia@example.com", PASSWORD).await.expect("login");
    let admin = server.admin_cookie().await;
    let call = |cookie: String, function: &'static str, form: Vec<(&'static str, String)>| async move {
        let response = server
            .client
            .post(format!("{}/api/dashboard/{function}", server.base))
            .header("cookie", cookie)
            .form(&form)
            .send()
            .await
            .expect("request");
        (response.status().as_u16(), response.text().await.expect("body"))
    };
    let (status, _) = call(pia.clone(), "users", vec![]).await;
    assert_eq!(status, 403, "only server admins manage users");
    let (status, _) =
        call(pia.clone(), "user_disabled", vec![("email", "pia@example.com".into()), ("disabled", "true".into())])
            .await;
    assert_eq!(status, 403);

    let (status, users) = call(admin.clone(), "users", vec![]).await;
    assert_eq!(status, 200);
    assert!(users.contains("pia@example.com"), "{users}");
    let (status, _) =
        call(admin.clone(), "user_disabled", vec![("email", "pia@example.com".into()), ("disabled", "true".into())])
            .await;
    assert_eq!(status, 200);
    assert_eq!(server.get_as(&pia, &format!("/p/{}", server.project)).await.0, 303, "her login has ended");
    assert!(server.login("pia@example.com", PASSWORD).await.is_none());
    let (status, _) =
        call(admin.clone(), "user_disabled", vec![("email", "pia@example.com".into()), ("disabled", "false".into())])
            .await;
    assert_eq!(status, 200);
    let (status, body) =
        call(admin.clone(), "user_password", vec![("email", "pia@example.com".into()), ("password", "short".into())])
            .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(
        admin.clone(),
        "user_password",
        vec![("email", "pia@example.com".into()), ("password", "pia's new password".into())],
    )
    .await;
    assert_eq!(status, 200);
    assert!(server.login("pia@example.com", "pia's new password").await.is_some());
    let (status, html) = server.get_as(&admin, "/users").await;
    assert_eq!(status, 200);
    assert!(html.contains("pia@example.com") && html.contains("Set"), "the users page lists her");
}

async fn metrics_are_described_before_any_traffic(server: &TestServer) {
    let text = server.client.get(format!("{}/metrics", server.base)).send().await.expect("metrics");
    let text = text.text().await.expect("body");
    for family in [
        "# TYPE northstar_ingest_requests_total counter",
        "northstar_ingest_records_total{type=\"run\"}",
        "northstar_ingest_rejects_total{reason=\"invalid\"}",
        "northstar_login_failures_total",
        "northstar_http_panics_total",
    ] {
        assert!(text.contains(family), "{family} in:\n{text}");
    }
}

async fn server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |state| AppState {
        auth: Arc::new(
            AuthConfig::new(b"a test secret that is long enough for HS256", chrono::Duration::hours(1), false)
                .expect("auth"),
        ),
        login_limits: LoginLimits::new(2),
        ..state
    })
    .await
}

on_both_stores!(
    start = server;
    every_page_renders_while_runs_are_still_running,
    a_nul_anywhere_is_stored_the_same_on_both_stores,
    figures_too_large_to_add_up_are_refused_and_the_overview_stays_up,
    a_batch_of_thousands_of_sessions_is_stored_whole,
    a_batch_over_the_record_limit_is_a_413_and_stores_nothing,
    a_batch_of_many_runs_leaves_other_projects_ingesting,
    add_score_for_another_projects_run_is_a_404,
    next_after_login_never_leaves_the_server,
    repeated_wrong_passwords_lock_the_account_out_with_retry_after,
    logging_out_or_a_new_password_ends_the_login_and_a_disabled_user_cannot_log_in,
    a_server_admin_disables_users_and_sets_passwords_from_the_dashboard,
    metrics_are_described_before_any_traffic,
);

async fn deliberately_panics() -> &'static str {
    panic!("deliberately")
}

/// A router that panics, behind the server's own layers, on a real port.
async fn panicking_server(limits: northstar_server::connections::Limits) -> (String, tokio::sync::oneshot::Sender<()>) {
    use axum::routing::{get, post};
    let routes = axum::Router::new()
        .route("/panic", get(deliberately_panics))
        .route("/echo", post(|body: String| async move { body }))
        .route("/fine", get(|| async { "fine" }));
    let app = northstar_server::harden(routes, Duration::from_secs(2));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(northstar_server::connections::serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    (format!("{addr}"), stop)
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let (addr, _stop) = panicking_server(Default::default()).await;
    let client = reqwest::Client::new();
    let response = tokio::time::timeout(Duration::from_secs(10), client.get(format!("http://{addr}/panic")).send())
        .await
        .expect("answered, not hung")
        .expect("response");
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().await.expect("body"), r#"{"error":"Internal server error"}"#);
    let fine = client.get(format!("http://{addr}/fine")).send().await.expect("response");
    assert_eq!(fine.text().await.expect("body"), "fine");
}

#[tokio::test]
async fn slow_and_idle_connections_are_cut() {
    let limits =
        northstar_server::connections::Limits { max_connections: 3, header_timeout: Duration::from_millis(500) };
    let (addr, _stop) = panicking_server(limits).await;
    let closed_within = |mut stream: tokio::net::TcpStream, limit: Duration| async move {
        let mut buf = Vec::new();
        tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await.is_ok()
    };
    // Idle: connected, nothing sent.
    let idle = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    assert!(closed_within(idle, Duration::from_secs(5)).await, "an idle connection is closed");
    // Headers a byte at a time, never finished.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"GET /fine HTTP/1.1\r\n").await.expect("write");
    assert!(closed_within(slow, Duration::from_secs(5)).await, "unfinished headers are cut");
    // A body that never arrives: cut by the body deadline (2 s here).
    let mut body = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    body.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab").await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), body.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "a stalled body is cut");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408") || answer.starts_with("HTTP/1.1 4"), "{answer}");
    // The cap: more connections than allowed wait; once others close, they are served.
    let held: Vec<_> = futures_util::future::join_all((0..3).map(|_| tokio::net::TcpStream::connect(&addr))).await;
    let response = tokio::time::timeout(Duration::from_secs(10), reqwest::get(format!("http://{addr}/fine")))
        .await
        .expect("served once the held connections time out")
        .expect("response");
    assert_eq!(response.status(), 200);
    drop(held);
}

/// The abuse suite: the real server binary, attacked as a hostile client would, on both
/// stores: hostile strings in every field, huge and non-finite numbers, huge batches, a login
/// flood, slow and idle connections, and concurrent large bodies. No answer is a 5xx, nothing
/// hangs (every request has a generous deadline), and the process's peak memory stays bounded.
mod abuse {
    use std::process::{Child, Command, Stdio};

    use super::*;
    use crate::common::PgDatabase;

    const KEY: &str = "ns_abuse_suite_bootstrap_key_0123456789";
    const ADMIN: &str = "admin@example.com";
    /// A deadline far above any real answer: reaching it means the server hung.
    const HANG: Duration = Duration::from_secs(60);

    struct Server {
        child: Child,
        base: String,
        client: reqwest::Client,
        _db: (Option<PgDatabase>, Option<tempfile::TempDir>),
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Server {
        async fn start(backend: Backend) -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_northstar-server"));
            cmd.arg("serve")
                .env_clear()
                .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
                .env("NORTHSTAR_BOOTSTRAP_API_KEY", KEY)
                .env("NORTHSTAR_ADMIN_EMAIL", ADMIN)
                .env("NORTHSTAR_ADMIN_PASSWORD", PASSWORD)
                .env("NORTHSTAR_HEADER_TIMEOUT_SECS", "2")
                .env("NORTHSTAR_REQUEST_TIMEOUT_SECS", "10")
                .env("NORTHSTAR_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let db = match backend {
                Backend::Postgres => {
                    let db = PgDatabase::create().await;
                    cmd.env("DATABASE_URL", &db.url);
                    (Some(db), None)
                }
                Backend::Sqlite => {
                    let dir = tempfile::tempdir().expect("dir");
                    cmd.env("NORTHSTAR_DATA_DIR", dir.path());
                    (None, Some(dir))
                }
            };
            let child = cmd.spawn().expect("spawn the server");
            let base = format!("http://127.0.0.1:{port}");
            let client = reqwest::Client::builder()
                .timeout(HANG)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let server = Self { child, base, client, _db: db };
            for _ in 0..600 {
                if server.client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status() == 200) {
                    return server;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the server did not become ready");
        }

        async fn ingest(&self, body: Vec<u8>) -> u16 {
            let response = self
                .client
                .post(format!("{}/functions/v1/ingest-traces", self.base))
                .bearer_auth(KEY)
                .body(body)
                .send()
                .await
                .expect("an answer, not a hang or a dropped connection");
            response.status().as_u16()
        }

        /// The process's peak resident memory so far, in MiB (Linux `VmHWM`).
        fn peak_rss_mib(&self) -> u64 {
            let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
            let kib: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .expect("VmHWM");
            kib / 1024
        }
    }

    /// Strings that have broken parsers, databases and renderers.
    fn hostile_strings() -> Vec<String> {
        let mut all: Vec<String> = (0u8..0x20).map(|c| format!("a{}b", c as char)).collect();
        all.extend(
            [
                "\u{7f}",
                "\u{2028}\u{2029}",
                "\u{feff}",
                "\u{202e}reversed",
                "\\",
                "\"",
                "\\u0000",
                "'; DROP TABLE runs; --",
                "<script>alert(1)</script>",
                "\u{10ffff}",
                "😀",
                "\u{0}\u{0}\u{0}",
            ]
            .map(str::to_owned),
        );
        all.push("x".repeat(200_000));
        all
    }

    fn everything_with(text: &str) -> Value {
        let (s, r, sp) = (id(), id(), id());
        let mut run = run(&r, &s);
        run["name"] = json!(text);
        run["metadata"] = json!({ text: text, "list": [text] });
        run["error"] = json!({"type": text, "message": text});
        let mut span = span(&sp, &r, None);
        span["name"] = json!(text);
        span["attributes"] = json!({ text: text, "model": text });
        let event = json!({"id": id(), "run_id": r, "span_id": sp, "type": "tool_result", "created_at": T0,
                           "content": {text: [text]}, "attributes": {text: text}});
        let score = json!({"id": id(), "trace_id": r, "span_id": sp, "name": text, "value": 1, "data_type": "categorical",
                           "string_value": text, "comment": text, "source": "api", "created_at": T0});
        let mut session = session(&s);
        session["metadata"] = json!({ text: text });
        batch(json!({"sessions": [session], "runs": [run], "spans": [span], "events": [event], "scores": [score]}))
    }

    fn numbers_in_every_numeric_place(number: &str) -> Vec<u8> {
        let (s, r) = (id(), id());
        format!(
            r#"{{"schema_version": 2,
                "sessions": [{{"id": "{s}", "created_at": "{T0}", "metadata": {{"n": {number}}}}}],
                "runs": [{{"id": "{r}", "session_id": "{s}", "name": "n", "started_at": "{T0}", "status": "ok",
                          "metadata": {{"cost_usd": {number}, "total_input_tokens": {number}}}}}],
                "spans": [{{"id": "{sp}", "run_id": "{r}", "kind": "model", "name": "n", "started_at": "{T0}",
                           "status": "ok", "iteration": {number},
                           "attributes": {{"model": "gpt-4o-mini", "cost_usd": {number}, "input_tokens": {number}, "output_tokens": {number}}}}}],
                "scores": [{{"id": "{sc}", "trace_id": "{r}", "name": "n", "value": {number}, "data_type": "numeric",
                            "source": "api", "created_at": "{T0}"}}]}}"#,
            sp = id(),
            sc = id(),
        )
        .into_bytes()
    }

    async fn the_server_survives_every_class_of_hostile_input(backend: Backend) {
        let server = Server::start(backend).await;
        for text in hostile_strings() {
            let status = server.ingest(everything_with(&text).to_string().into_bytes()).await;
            // A score name or category that is only whitespace once trimmed is the one refusal.
            let blank = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}').is_empty();
            let expected = if blank { 400 } else { 200 };
            assert_eq!(status, expected, "{:?}", text.chars().take(20).collect::<String>());
        }
        for number in [
            "1e308",
            "-1e308",
            "1.7976931348623157e308",
            "1e400",
            "-0",
            "5e-324",
            "9007199254740993",
            "1e30",
            "NaN",
            "Infinity",
        ] {
            let status = server.ingest(numbers_in_every_numeric_place(number)).await;
            assert!(status < 500, "{number}: {status}");
        }
        // Huge batches: over the record limit, over the body limit, and the most that is allowed.
        let many: Vec<Value> = (0..northstar_wire::MAX_RECORDS + 1).map(|_| session(&id())).collect();
        assert_eq!(server.ingest(batch(json!({"sessions": many})).to_string().into_bytes()).await, 413);
        assert_eq!(server.ingest(vec![b' '; 11 * 1024 * 1024]).await, 413);
        let s = id();
        let runs: Vec<Value> = (0..northstar_wire::MAX_RECORDS - 1).map(|_| run(&id(), &s)).collect();
        let body = batch(json!({"sessions": [session(&s)], "runs": runs})).to_string().into_bytes();
        assert_eq!(server.ingest(body).await, 200);

        // Concurrent large bodies, each close to the body limit: memory is bounded by the budget.
        let big = |n: usize| {
            let (s, r) = (id(), id());
            let spans: Vec<Value> = (0..n)
                .map(|i| {
                    let mut sp = span(&id(), &r, None);
                    sp["attributes"] =
                        json!({"prompt": "lorem ipsum dolor sit amet ".repeat(20), "i": i, "tags": ["a", "b", "c"]});
                    sp
                })
                .collect();
            batch(json!({"sessions": [session(&s)], "runs": [run(&r, &s)], "spans": spans})).to_string().into_bytes()
        };
        let body = big(9_000);
        assert!(body.len() > 5 * 1024 * 1024 && body.len() < 10 * 1024 * 1024, "{}", body.len());
        let statuses = futures_util::future::join_all((0..20).map(|_| server.ingest(body.clone()))).await;
        assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");

        // A login flood: many wrong passwords at once, from one address. On connections of its
        // own: the server closes a connection whose large body it refused unread, and a pooled
        // one reused at that moment fails in the client (hyper's IncompleteMessage), not here.
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let flood = futures_util::future::join_all((0..200).map(|i| {
            let client = fresh.clone();
            let url = format!("{}/login", server.base);
            async move {
                let form = [("email", format!("victim{}@example.com", i % 3)), ("password", "guess".to_owned())];
                client.post(url).form(&form).send().await.expect("an answer").status().as_u16()
            }
        }))
        .await;
        assert!(flood.iter().all(|s| *s == 303 || *s == 429), "{flood:?}");
        assert!(flood.contains(&429), "the flood is refused, not verified");

        // Slow and idle connections do not stop the server answering.
        let mut idle = Vec::new();
        for _ in 0..200 {
            idle.push(
                tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await.expect("connect"),
            );
        }
        let mut slow =
            tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await.expect("connect");
        slow.write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nemail=").await.expect("write");
        let health = server.client.get(format!("{}/healthz", server.base)).send().await.expect("healthz answers");
        assert_eq!(health.status(), 200);
        let ingest = server.ingest(common::fixtures::Trace::new().body().to_string().into_bytes()).await;
        assert_eq!(ingest, 200, "ingest goes on");
        drop(idle);

        let peak = server.peak_rss_mib();
        eprintln!("abuse suite ({backend:?}): peak RSS {peak} MiB");
        assert!(peak < 400, "peak RSS {peak} MiB");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_survives_every_class_of_hostile_input_on_postgres() {
        the_server_survives_every_class_of_hostile_input(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_survives_every_class_of_hostile_input_on_sqlite() {
        the_server_survives_every_class_of_hostile_input(Backend::Sqlite).await;
    }
}
