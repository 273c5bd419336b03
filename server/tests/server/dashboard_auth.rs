//! Dashboard login and access, on both stores: logging in and out, wrong passwords, expired
//! and forged tokens, users who try to reach projects that are not theirs (404/403, never
//! data), cross-site form posts (403, nothing stored), and the security headers.

use std::sync::Arc;

use crate::common::fixtures::agent_trace;
use crate::common::on_both_stores;
use crate::common::{AppState, Backend, PASSWORD, TestServer};
use northstar_server::auth::AuthConfig;
use northstar_store::{Role, Store};
use serde_json::json;

const SECRET: &[u8] = b"a test secret that is long enough for HS256";

async fn server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |state| AppState {
        auth: Arc::new(AuthConfig::new(SECRET, chrono::Duration::hours(1), false).expect("auth")),
        ..state
    })
    .await
}

fn token(secret: &[u8], sub: &str, exp: i64, alg: jsonwebtoken::Algorithm) -> String {
    let claims = json!({"sub": sub, "iat": chrono::Utc::now().timestamp(), "exp": exp});
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &jsonwebtoken::EncodingKey::from_secret(secret))
        .expect("encode")
}

/// POSTs a server function's form; the status and body.
async fn login_logout_and_wrong_passwords(server: &TestServer) {
    server.user("ana@example.com", true).await;
    let page = format!("/p/{}/sessions", server.project);

    // Not logged in: pages redirect to the login form (keeping the page), server functions 401.
    let response = server.client.get(format!("{}{page}", server.base)).send().await.expect("request");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("/login?next=%2Fp%2F{}%2Fsessions", server.project));
    let (status, _) = server.server_fn("", "projects", &[], None).await;
    assert_eq!(status, 401);
    let (status, html) = server.get_as("", "/login").await;
    assert_eq!(status, 200);
    assert!(html.contains("<form method=\"post\" action=\"/login\""));

    assert_eq!(server.login("ana@example.com", "not the password").await, None);
    assert_eq!(server.login("nobody@example.com", PASSWORD).await, None);
    let response = server
        .client
        .post(format!("{}/login", server.base))
        .form(&[("email", "ana@example.com"), ("password", "wrong"), ("next", "/p")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["location"], "/login?error=1&next=%2Fp");
    let (_, html) = server.get_as("", "/login?error=1").await;
    assert!(html.contains("Wrong email or password."));

    // Any case and surrounding spaces in the email; the cookie is HttpOnly, SameSite=Lax, expiring.
    let response = server
        .client
        .post(format!("{}/login", server.base))
        .form(&[("email", " ANA@example.com "), ("password", PASSWORD), ("next", "//evil.example/")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/", "never redirected off-site");
    let set_cookie = response.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    for part in ["northstar_session=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
        assert!(set_cookie.contains(part), "{part} in {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    let (status, html) = server.get_as(&cookie, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("ana@example.com"), "the page names who is logged in");

    let response =
        server.client.post(format!("{}/logout", server.base)).header("cookie", &cookie).send().await.expect("logout");
    assert_eq!((response.status().as_u16(), &response.headers()["location"]), (303, &"/login".parse().expect("hv")));
    assert!(response.headers()["set-cookie"].to_str().expect("cookie").contains("Max-Age=0"));
}

async fn expired_and_forged_tokens_are_refused(server: &TestServer) {
    let id = server.user("ben@example.com", true).await.to_string();
    let page = format!("/p/{}", server.project);
    let now = chrono::Utc::now().timestamp();
    let good = token(SECRET, &id, now + 600, jsonwebtoken::Algorithm::HS256);
    assert_eq!(server.get_as(&format!("northstar_session={good}"), &page).await.0, 200, "a valid token works");

    let expired = token(SECRET, &id, now - 5, jsonwebtoken::Algorithm::HS256);
    let forged = token(b"another secret, also long enough for HS256", &id, now + 600, jsonwebtoken::Algorithm::HS256);
    let other_alg = token(SECRET, &id, now + 600, jsonwebtoken::Algorithm::HS512);
    let unknown_user = token(SECRET, &uuid::Uuid::new_v4().to_string(), now + 600, jsonwebtoken::Algorithm::HS256);
    let parts: Vec<&str> = good.split('.').collect();
    let unsigned = format!("{}.{}.", base64_url(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    for (what, bad) in [
        ("expired", expired),
        ("forged", forged),
        ("HS512", other_alg),
        ("unknown user", unknown_user),
        ("alg none", unsigned),
        ("garbage", "not-a-token".into()),
    ] {
        let (status, body) = server.get_as(&format!("northstar_session={bad}"), &page).await;
        assert_eq!(status, 303, "{what}: back to the login");
        assert!(!body.contains("Overview"), "{what}: no page");
        let (status, _) = server.server_fn(&format!("northstar_session={bad}"), "projects", &[], None).await;
        assert_eq!(status, 401, "{what}: server functions refuse too");
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

async fn users_see_only_their_projects(server: &TestServer) {
    // Project A (the server's) has a trace; project B has its own.
    let (a_trace, body) = agent_trace();
    server.accepts(&body).await;
    let (b, b_key) = server.other_project().await;
    let (b_trace, body) = agent_trace();
    let (status, _) = server.post_with_key(&b_key, &body).await;
    assert_eq!(status, 200);

    let carol = server.user("carol@example.com", false).await;
    server.store.set_member(server.project, carol, Role::Member).await.expect("member");
    let cookie = server.login("carol@example.com", PASSWORD).await.expect("login");

    let (status, html) = server.get_as(&cookie, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/p/{}", server.project)) && !html.contains(&format!("/p/{b}")), "only A is listed");
    assert_eq!(server.get_as(&cookie, &format!("/p/{}/runs/{}", server.project, a_trace.run)).await.0, 200);

    for path in [
        format!("/p/{b}"),
        format!("/p/{b}/sessions"),
        format!("/p/{b}/runs/{}", b_trace.run),
        format!("/p/{b}/sessions/{}", b_trace.session),
        format!("/p/{b}/settings"),
        // B's run through A's project: not A's, so not found either.
        format!("/p/{}/runs/{}", server.project, b_trace.run),
    ] {
        let (status, html) = server.get_as(&cookie, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!html.contains("support-agent") && !html.contains(&b_trace.session[..8]), "{path}: no data of B");
    }
    let b_id = b.to_string();
    let (status, body) =
        server.server_fn(&cookie, "trace", &[("project", &b_id), ("id", &b_trace.run), ("span", "")], None).await;
    assert_eq!(status, 404);
    assert!(!body.contains("llm.answer"));
    let score =
        [("project", b_id.as_str()), ("run", &b_trace.run), ("name", "q"), ("data_type", "numeric"), ("value", "1")];
    assert_eq!(server.server_fn(&cookie, "add_score", &score, None).await.0, 404);
    let a_id = server.project.to_string();
    let sideways =
        [("project", a_id.as_str()), ("run", &b_trace.run), ("name", "q"), ("data_type", "numeric"), ("value", "1")];
    assert_ne!(server.server_fn(&cookie, "add_score", &sideways, None).await.0, 200);
    assert!(server.store.list_scores(b, b_trace.run.parse().expect("id")).await.expect("scores").is_empty());

    // A member adds scores but may not manage keys or retention; an admin may.
    let mine =
        [("project", a_id.as_str()), ("run", &a_trace.run), ("name", "q"), ("data_type", "numeric"), ("value", "1")];
    assert_eq!(server.server_fn(&cookie, "add_score", &mine, None).await.0, 200);
    let scores = server.store.list_scores(server.project, a_trace.run.parse().expect("id")).await.expect("scores");
    assert_eq!(scores.len(), 1);
    assert_eq!(server.server_fn(&cookie, "rotate_key", &[("project", &a_id)], None).await.0, 403);
    assert_eq!(server.server_fn(&cookie, "retention", &[("project", &a_id), ("days", "7")], None).await.0, 403);
    server.store.set_member(server.project, carol, Role::Admin).await.expect("admin");
    let (status, body) = server.server_fn(&cookie, "rotate_key", &[("project", &a_id)], None).await;
    assert_eq!(status, 200);
    let new_key: String = serde_json::from_str(&body).expect("the key, as JSON");
    assert!(new_key.starts_with("ns_") && new_key.len() == 35);
    let (old, _) = server.post(&agent_trace().1).await;
    assert_eq!(old, 401, "the old key stopped working");
    assert_eq!(server.post_with_key(&new_key, &agent_trace().1).await.0, 200, "the new one works");
    assert_eq!(server.server_fn(&cookie, "rotate_key", &[("project", &b_id)], None).await.0, 404, "not B's admin");

    // Named keys: an admin creates one (shown once), the settings list it without the key, and
    // revoking it ends it; a member may not.
    let form = [("project", a_id.as_str()), ("name", "evals"), ("scope", "read")];
    let (status, body) = server.server_fn(&cookie, "create_key", &form, None).await;
    assert_eq!(status, 200, "{body}");
    let read_key: String = serde_json::from_str(&body).expect("the key, as JSON");
    let api =
        server.client.get(format!("{}/api/v1/runs", server.base)).bearer_auth(&read_key).send().await.expect("get");
    assert_eq!(api.status(), 200);
    let (status, body) = server.server_fn(&cookie, "settings", &[("project", &a_id)], None).await;
    assert_eq!(status, 200);
    let settings: serde_json::Value = serde_json::from_str(&body).expect("json");
    let named = &settings["keys"][1];
    assert_eq!((named["name"].as_str(), named["scope"].as_str()), (Some("evals"), Some("read")));
    assert!(!body.contains(&read_key), "never the key");
    let (_, html) = server.get_as(&cookie, &format!("/p/{a_id}/settings")).await;
    assert!(html.contains("evals") && html.contains("API reference"), "the settings page lists it");
    let bad = [("project", a_id.as_str()), ("name", "x"), ("scope", "owner")];
    assert_eq!(server.server_fn(&cookie, "create_key", &bad, None).await.0, 400);
    let key_id = named["id"].as_str().expect("id").to_owned();
    let revoke = [("project", a_id.as_str()), ("key", key_id.as_str())];
    server.store.set_member(server.project, carol, Role::Member).await.expect("member");
    assert_eq!(server.server_fn(&cookie, "revoke_named_key", &revoke, None).await.0, 403);
    assert_eq!(server.server_fn(&cookie, "create_key", &form, None).await.0, 403);
    server.store.set_member(server.project, carol, Role::Admin).await.expect("admin");
    assert_eq!(server.server_fn(&cookie, "revoke_named_key", &revoke, None).await.0, 200);
    let api =
        server.client.get(format!("{}/api/v1/runs", server.base)).bearer_auth(&read_key).send().await.expect("get");
    assert_eq!(api.status(), 401);
}

async fn cross_site_posts_are_refused(server: &TestServer) {
    let (t, body) = agent_trace();
    server.accepts(&body).await;
    let cookie = server.admin_cookie().await;
    let project = server.project.to_string();
    let form =
        [("project", project.as_str()), ("run", &t.run), ("name", "csrf"), ("data_type", "numeric"), ("value", "1")];
    let (status, _) = server.server_fn(&cookie, "add_score", &form, Some("http://evil.example")).await;
    assert_eq!(status, 403);
    let referer = server
        .client
        .post(format!("{}/api/dashboard/add_score", server.base))
        .header("cookie", &cookie)
        .header("referer", "https://evil.example/page")
        .form(&form)
        .send()
        .await
        .expect("request");
    assert_eq!(referer.status(), 403);
    let logout = server
        .client
        .post(format!("{}/logout", server.base))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(logout.status(), 403);
    let run = t.run.parse().expect("id");
    assert!(server.store.list_scores(server.project, run).await.expect("scores").is_empty(), "nothing stored");

    let own = server.base.clone();
    assert_eq!(server.server_fn(&cookie, "add_score", &form, Some(&own)).await.0, 200, "the dashboard's own origin");
    assert_eq!(server.store.list_scores(server.project, run).await.expect("scores").len(), 1);
}

async fn dashboard_responses_carry_security_headers(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let response = server
        .client
        .get(format!("{}/p/{}", server.base, server.project))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    let headers = response.headers().clone();
    let html = response.text().await.expect("body");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce in the policy");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the page's scripts carry the policy's nonce");
    let login = server.client.get(format!("{}/login", server.base)).send().await.expect("login");
    assert_eq!(login.headers()["x-frame-options"], "DENY");
}

on_both_stores!(
    start = server;
    login_logout_and_wrong_passwords,
    expired_and_forged_tokens_are_refused,
    users_see_only_their_projects,
    cross_site_posts_are_refused,
    dashboard_responses_carry_security_headers,
);
