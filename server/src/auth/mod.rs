//! Dashboard login: users with argon2id password hashes, a signed JWT (HS256) in an HttpOnly,
//! SameSite=Lax cookie with an expiry, and a middleware in front of every dashboard page and
//! server function. State-changing requests must come from the dashboard's own origin
//! (`Origin`, else `Referer`), which together with SameSite=Lax makes them CSRF-safe.

mod limits;

use std::net::SocketAddr;
use std::sync::Arc;

pub use limits::{LoginLimits, Refusal};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use northstar_store::{AnyStore, Store, User, UserChange};
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

    /// A signed token for `user` at their current session epoch, valid for the configured
    /// lifetime (or until the epoch moves on).
    #[must_use]
    pub fn issue(&self, user: &User) -> String {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: user.id.to_string(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            ep: user.session_epoch,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The user a token names and the session epoch it was issued at, when it is ours,
    /// unexpired and HS256.
    #[must_use]
    pub fn verify(&self, token: &str) -> Option<(Uuid, i64)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        Some((data.claims.sub.parse().ok()?, data.claims.ep))
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
    /// The user's session epoch when issued (tokens from before epochs existed carry none: 0).
    #[serde(default)]
    ep: i64,
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

/// Argon2's working memory (19 MiB per verification with the default parameters), kept and
/// reused: at most one buffer per concurrent verification exists, and none is ever freed. Freed,
/// each 19 MiB buffer raised glibc's mmap threshold, so the next ones came from per-thread heaps
/// that kept them: a login flood grew the process by hundreds of MiB even with two
/// verifications at a time.
static WORKING_MEMORY: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

fn password_matches(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let Ok(params) = argon2::Params::try_from(&parsed) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else { return false };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let memory = || WORKING_MEMORY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut blocks = memory().pop().unwrap_or_default();
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..params.block_count()])
        .is_ok();
    memory().push(blocks);
    // `Output`'s equality is constant-time.
    computed && argon2::password_hash::Output::new(&out).is_ok_and(|out| out == expected)
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
    /// Concurrent verifications and failures per account and address.
    pub limits: LoginLimits,
}

impl AuthState {
    #[must_use]
    pub fn new(store: AnyStore, config: Arc<AuthConfig>, public_url: Option<&str>, limits: LoginLimits) -> Self {
        Self { store, config, public_host: public_url.and_then(url_host).map(str::to_owned), limits }
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
        Some((id, epoch)) => match auth.store.user_by_id(id).await {
            // Logged out, password changed or disabled since the token was issued: no login.
            Ok(user) => user.filter(|u| !u.disabled && u.session_epoch == epoch),
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

/// Where to go after logging in: a path on this server, nothing else. Browsers drop tabs and
/// line breaks from a URL and read `\\` as `/`, so `/\t/evil.example` would leave the server:
/// only printable ASCII without backslashes is kept (what a request's own path and query are),
/// and nothing that starts with `//`.
fn safe_next(next: &str) -> &str {
    let ok =
        next.starts_with('/') && !next.starts_with("//") && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok { next } else { "/" }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The login page's content security policy: its stylesheet, its form posting here, nothing else
/// (it has no script).
const LOGIN_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /login`.
pub async fn login_page(Query(q): Query<LoginQuery>) -> impl IntoResponse {
    let error = if q.error.is_empty() {
        String::new()
    } else {
        r#"<div class="banner error" role="alert">Wrong email or password.</div>"#.to_owned()
    };
    let next = escape(safe_next(&q.next));
    let page = Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · NorthStar</title><link rel="stylesheet" href="/pkg/dashboard.css"><link rel="icon" href="/pkg/favicon.svg" type="image/svg+xml"></head>
<body><main class="main narrow login"><h1>✦ NorthStar</h1>{error}
<form method="post" action="/login" class="login-form">
<input type="hidden" name="next" value="{next}">
<label>Email <input name="email" type="email" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login">Log in</button>
</form></main></body></html>"#
    ));
    ([(header::CONTENT_SECURITY_POLICY, LOGIN_CSP)], page)
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

/// `POST /login`: a cookie and the page asked for, or back to the form. A login locked out
/// by earlier failures, or one that finds every verification slot busy, gets 429 with
/// `Retry-After` before its password is looked at.
pub async fn login(
    State(auth): State<AuthState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let address = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let email = northstar_store::normalize_email(&form.email);
    let permit = match auth.limits.admit(&email, address).await {
        Ok(permit) => permit,
        Err(refusal) => {
            let wait = match refusal {
                Refusal::LockedOut(wait) => wait,
                Refusal::Busy => std::time::Duration::from_secs(1),
            };
            metrics::counter!("northstar_login_refused_total", "reason" => match refusal {
                Refusal::LockedOut(_) => "locked_out",
                Refusal::Busy => "busy",
            })
            .increment(1);
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                format!("Too many login attempts. Try again in {secs} s."),
            )
                .into_response();
        }
    };
    let found = match auth.store.user_by_email(&form.email).await {
        Ok(found) => found,
        Err(err) => return store_failure(&err),
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, DUMMY_HASH.clone()),
    };
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || {
        let matches = password_matches(&password, &hash);
        drop(permit);
        matches
    })
    .await
    .unwrap_or(false);
    let next = safe_next(&form.next).to_owned();
    let user = user.filter(|u| matches && !u.disabled);
    auth.limits.record(&email, address, user.is_some());
    match user {
        Some(user) => {
            tracing::info!(user = ?user.email, "dashboard login");
            let cookie = auth.config.cookie(&auth.config.issue(&user));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        None => {
            metrics::counter!("northstar_login_failures_total").increment(1);
            // Debug formatting: an email with a line break cannot forge a log line.
            tracing::warn!(email = ?form.email, address = ?address, "failed dashboard login");
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("error", "1")
                .append_pair("next", &next)
                .finish();
            Redirect::to(&format!("/login?{query}")).into_response()
        }
    }
}

/// `POST /logout`: ends every login of the user (the token stops working on every device), not
/// only this browser's cookie.
pub async fn logout(State(auth): State<AuthState>, user: Option<Extension<User>>) -> Response {
    if let Some(Extension(user)) = user
        && let Err(err) = auth.store.update_user(&user.email, &UserChange::EndSessions).await
    {
        return store_failure(&err);
    }
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
    fn a_password_matches_its_own_hash_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse batterz", &hash));
        assert!(!password_matches("correct horse battery", "not a hash"));
        // A hash made with other parameters (as by another version) verifies with its own.
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let params = argon2::Params::new(8 * 1024, 3, 1, None).expect("params");
        let other = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"another password", &salt)
            .expect("hash")
            .to_string();
        assert!(password_matches("another password", &other));
        assert!(!password_matches("correct horse battery", &other));
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next("/p/1/runs?x=1"), "/p/1/runs?x=1");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "javascript:alert(1)",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/ /evil.example",
            "/p\r\nSet-Cookie: x=1",
            "/p/\u{e9}",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
