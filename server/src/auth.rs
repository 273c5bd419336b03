//! Dashboard login: users with argon2id password hashes, a signed JWT (HS256) in an HttpOnly,
//! SameSite=Lax cookie with an expiry, and a middleware in front of every dashboard page and
//! server function. State-changing requests must come from the dashboard's own origin
//! (`Origin`, else `Referer`), which together with SameSite=Lax makes them CSRF-safe.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use northstar_store::{AnyStore, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The login cookie's name.
pub const COOKIE: &str = "northstar_session";

/// Keys and lifetime of login tokens.
#[derive(Clone)]
pub struct AuthConfig {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: chrono::Duration,
    /// Adds `Secure` to the cookie (the public URL is https).
    secure: bool,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig").field("ttl", &self.ttl).field("secure", &self.secure).finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// # Errors
    ///
    /// A secret shorter than [`crate::config::MIN_JWT_SECRET`] bytes.
    pub fn new(secret: &[u8], ttl: chrono::Duration, secure: bool) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= crate::config::MIN_JWT_SECRET,
            "NORTHSTAR_JWT_SECRET must be at least {} bytes",
            crate::config::MIN_JWT_SECRET
        );
        Ok(Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), ttl, secure })
    }

    /// A random secret, for a server started without one.
    #[must_use]
    pub fn random(ttl: chrono::Duration, secure: bool) -> Self {
        let mut secret = [0u8; 48];
        getrandom::fill(&mut secret).expect("the OS random number generator failed");
        Self::new(&secret, ttl, secure).expect("48 bytes is long enough")
    }

    /// A signed token for `user`, valid for the configured lifetime.
    #[must_use]
    pub fn issue(&self, user: Uuid) -> String {
        let now = chrono::Utc::now();
        let claims = Claims { sub: user.to_string(), iat: now.timestamp(), exp: (now + self.ttl).timestamp() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The user a token names, when it is ours, unexpired and HS256.
    #[must_use]
    pub fn verify(&self, token: &str) -> Option<Uuid> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        data.claims.sub.parse().ok()
    }

    fn cookie(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}", self.ttl.num_seconds())
    }

    fn expired_cookie(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
}

/// An argon2id PHC string for `password` (slow on purpose: run it off the async threads).
///
/// # Errors
///
/// An empty password.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    anyhow::ensure!(password.chars().count() >= 8, "passwords must have at least 8 characters");
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random number generator failed");
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash: {e}"))?
        .to_string())
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash nobody's password matches, verified for unknown emails so that both paths cost the same.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not anybody's password").expect("hash"));

/// The cookie value of `name` in a `Cookie` header.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The `host[:port]` of an `http(s)://` URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    rest.split('/').next().filter(|h| !h.is_empty())
}

/// Whether a state-changing request comes from this server's own pages: its `Origin` (or,
/// without one, its `Referer`) names the host the request was sent to, or the host of
/// `NORTHSTAR_PUBLIC_URL` (behind a proxy that rewrites `Host`). A request with neither header
/// is not from a browser page (browsers send `Origin` on every POST), so no page can forge it.
fn same_origin(headers: &HeaderMap, public_host: Option<&str>) -> bool {
    let source = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|h| h.to_str().ok());
    let Some(source) = source else { return true };
    let Some(from) = url_host(source) else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host == Some(from) || public_host == Some(from)
}

/// A store failure on the login path: 503 when the database is away, else 500; logged.
fn store_failure(err: &northstar_store::StoreError) -> Response {
    tracing::error!(error = %err, "dashboard login check failed");
    if matches!(err, northstar_store::StoreError::Unavailable(_)) {
        (StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable").into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
    }
}

/// Paths anyone may load: the login page and the browser files.
fn is_public(path: &str) -> bool {
    path == "/login" || path.starts_with("/pkg/")
}

/// What the auth layer needs.
#[derive(Clone, Debug)]
pub struct AuthState {
    pub store: AnyStore,
    pub config: Arc<AuthConfig>,
    /// The host of `NORTHSTAR_PUBLIC_URL`, also accepted as the dashboard's origin.
    pub public_host: Option<String>,
}

impl AuthState {
    #[must_use]
    pub fn new(store: AnyStore, config: Arc<AuthConfig>, public_url: Option<&str>) -> Self {
        Self { store, config, public_host: public_url.and_then(url_host).map(str::to_owned) }
    }
}

/// Requires a login for everything but [`is_public`] paths, and same-origin state changes
/// for everything. The user is put in the request's extensions for the pages.
pub async fn require_login(State(auth): State<AuthState>, mut req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !same_origin(req.headers(), auth.public_host.as_deref()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let path = req.uri().path().to_owned();
    if is_public(&path) {
        return next.run(req).await;
    }
    let user = match cookie_value(req.headers(), COOKIE).and_then(|t| auth.config.verify(t)) {
        Some(id) => match auth.store.user_by_id(id).await {
            Ok(user) => user,
            Err(err) => return store_failure(&err),
        },
        None => None,
    };
    match user {
        Some(user) => {
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        None if req.method() == Method::GET && !path.starts_with("/api/") => {
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let query = form_urlencoded::Serializer::new(String::new()).append_pair("next", target).finish();
            Redirect::to(&format!("/login?{query}")).into_response()
        }
        None => (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"error": "login required"}))).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    error: String,
}

/// Where to go after logging in: a path on this server, nothing else.
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if ok { next } else { "/" }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `GET /login`.
pub async fn login_page(Query(q): Query<LoginQuery>) -> Html<String> {
    let error = if q.error.is_empty() {
        String::new()
    } else {
        r#"<div class="banner error" role="alert">Wrong email or password.</div>"#.to_owned()
    };
    let next = escape(safe_next(&q.next));
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · NorthStar</title><link rel="stylesheet" href="/pkg/dashboard.css"></head>
<body><main class="main narrow login"><h1>✦ NorthStar</h1>{error}
<form method="post" action="/login" class="login-form">
<input type="hidden" name="next" value="{next}">
<label>Email <input name="email" type="email" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login">Log in</button>
</form></main></body></html>"#
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").field("email", &self.email).field("next", &self.next).finish_non_exhaustive()
    }
}

/// `POST /login`: a cookie and the page asked for, or back to the form.
pub async fn login(State(auth): State<AuthState>, Form(form): Form<LoginForm>) -> Response {
    let found = match auth.store.user_by_email(&form.email).await {
        Ok(found) => found,
        Err(err) => return store_failure(&err),
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, DUMMY_HASH.clone()),
    };
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash)).await.unwrap_or(false);
    let next = safe_next(&form.next).to_owned();
    match user.filter(|_| matches) {
        Some(user) => {
            tracing::info!(user = %user.email, "dashboard login");
            let cookie = auth.config.cookie(&auth.config.issue(user.id));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        None => {
            tracing::warn!(email = %form.email, "failed dashboard login");
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("error", "1")
                .append_pair("next", &next)
                .finish();
            Redirect::to(&format!("/login?{query}")).into_response()
        }
    }
}

/// `POST /logout`.
pub async fn logout(State(auth): State<AuthState>) -> Response {
    ([(header::SET_COOKIE, auth.config.expired_cookie())], Redirect::to("/login")).into_response()
}

/// Headers on every dashboard response: no framing, no sniffing, no referrer to other sites,
/// and a content security policy that allows only this server's files (the hydration script
/// carries the page's nonce; wasm needs `wasm-unsafe-eval`; bars are positioned with inline
/// styles).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.entry(name).or_insert(header::HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn state_changes_come_from_the_dashboard_itself() {
        let public = Some("northstar.example.com");
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]), None));
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")]), None), "no Origin/Referer: not a browser page");
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]), None));
        assert!(!same_origin(&headers(&[("host", "a:8080"), ("referer", "https://evil.example/a:8080/")]), None));
        assert!(!same_origin(&headers(&[("host", "a"), ("origin", "null")]), None), "opaque origins are refused");
        // Behind a proxy that sends its own Host upstream: the public URL's host is accepted.
        let proxied = headers(&[("host", "northstar:8080"), ("origin", "https://northstar.example.com")]);
        assert!(same_origin(&proxied, public));
        assert!(!same_origin(&proxied, None));
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next("/p/1/runs?x=1"), "/p/1/runs?x=1");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "", "javascript:alert(1)"] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
