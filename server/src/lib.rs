//! The NorthStar server: the batched ingest endpoint of the original NorthStar's contract, the
//! dashboard and an admin CLI, over an embedded SQLite database or Postgres.
//!
//! [`app`] builds the whole router from an [`AppState`]; tests serve it on a free port.

pub mod admin;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
mod costs;
mod dashboard;
mod ingest;
pub mod key_use;
pub mod ops;
pub mod otlp;
pub mod retention;
/// API keys (their format and hash are part of the contract): re-exported from the wire crate.
pub use northstar_wire::keys;

use std::net::SocketAddr;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use northstar_store::{AnyStore, Store};
use tokio::net::TcpListener;

/// Ingest requests stored at once by default.
pub const DEFAULT_INGEST_CONCURRENCY: usize = 64;

/// The ingest path of the original's Supabase Edge Function, kept so existing SDKs work.
pub const INGEST_PATH: &str = "/functions/v1/ingest-traces";
/// The same endpoint under NorthStar's own API prefix.
pub const INGEST_PATH_V1: &str = "/api/v1/ingest";

pub use ingest::{Admission, Budget, RateLimit};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store ingest writes through.
    pub store: AnyStore,
    /// The store the dashboard reads through: its own connections, so that dashboard load
    /// cannot take ingest's.
    pub dashboard_store: AnyStore,
    /// Dashboard login tokens.
    pub auth: Arc<auth::AuthConfig>,
    /// Concurrent password verifications and failures per account and address.
    pub login_limits: auth::LoginLimits,
    /// Per-key ingest rate limit; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Longest an ingest request may take.
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Ingest requests stored at once, shared fairly between projects under overload.
    pub admission: Admission,
    /// Bytes of ingest bodies decoded and stored at once (see `ingest/budget.rs`).
    pub ingest_budget: ingest::Budget,
    /// Most records one ingest request may carry (more: 413).
    pub max_batch_records: usize,
    /// Prices for model spans that arrive without a cost.
    pub prices: std::sync::Arc<northstar_pricing::PriceTable>,
    /// The base URL people reach this server at, for the ingest URL the dashboard shows;
    /// `None` derives it from each request's `Host`.
    pub public_url: Option<String>,
    /// Key lookups, and when each key was last used.
    pub key_use: Arc<key_use::KeyUse>,
}

impl AppState {
    /// State with the bundled price table.
    #[must_use]
    pub fn new(store: AnyStore, max_body_bytes: usize) -> Self {
        Self {
            dashboard_store: store.clone(),
            auth: Arc::new(auth::AuthConfig::random(chrono::Duration::hours(12), false)),
            login_limits: auth::LoginLimits::default(),
            rate_limit: None,
            request_timeout: Duration::from_secs(30),
            store,
            admission: Admission::new(DEFAULT_INGEST_CONCURRENCY),
            ingest_budget: ingest::Budget::new(max_body_bytes),
            max_body_bytes,
            max_batch_records: northstar_wire::MAX_RECORDS,
            prices: std::sync::Arc::new(northstar_pricing::PriceTable::bundled()),
            public_url: None,
            key_use: Arc::default(),
        }
    }
}

/// The whole HTTP application: ingest, operations endpoints, and the dashboard behind login.
pub fn app(state: AppState) -> Router {
    let auth_state = auth::AuthState::new(
        state.dashboard_store.clone(),
        state.auth.clone(),
        state.public_url.as_deref(),
        state.login_limits.clone(),
    );
    let dashboard = Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .with_state(auth_state.clone())
        .merge(dashboard::router(state.dashboard_store.clone(), state.public_url.clone()))
        .layer(axum::middleware::from_fn_with_state(auth_state, auth::require_login))
        .layer(axum::middleware::from_fn(auth::security_headers));
    let ops = ops::router(state.store.clone(), state.dashboard_store.clone());
    let api = api::ApiState::new(state.dashboard_store.clone(), state.key_use.clone());
    let programs = api::router(api.clone()).merge(api::mcp::router(api));
    #[expect(
        deprecated,
        reason = "TimeoutLayer::new answers 408, which SDKs retry; its replacement needs the status spelled out the same way"
    )]
    let timeout = tower_http::timeout::TimeoutLayer::new(state.request_timeout);
    let body_timeout = state.request_timeout;
    let routes = Router::new()
        .route(INGEST_PATH, any(ingest::handle))
        .route(INGEST_PATH_V1, any(ingest::handle))
        .route(ingest::prompts::FUNCTION_PATH, any(ingest::prompts::handle))
        .route(&format!("{}/{{*rest}}", ingest::prompts::FUNCTION_PATH), any(ingest::prompts::handle))
        .route(ingest::prompts::FALLBACK_PATH, any(ingest::prompts::handle))
        .route(otlp::HTTP_PATH, any(otlp::handle))
        .route(otlp::LANGFUSE_PATH, any(otlp::handle))
        .route(otlp::LOGS_PATH, any(otlp::handle_logs))
        .route(otlp::METRICS_PATH, any(otlp::handle_metrics))
        .route_service(otlp::grpc::PATH, otlp::grpc::service(state.clone()))
        .route_service(otlp::grpc::LOGS_PATH, otlp::grpc::logs_service(state.clone()))
        .route_service(otlp::grpc::METRICS_PATH, otlp::grpc::metrics_service(state.clone()))
        .layer(timeout)
        .with_state(state)
        .merge(ops)
        .merge(programs)
        .merge(dashboard);
    harden(routes, body_timeout)
}

/// The layers every route of the server sits behind: a panic in a handler is a 500 (logged),
/// and every body, not only ingest's, must arrive within `body_timeout` (a body sent a byte a
/// second would otherwise hold its connection forever).
pub fn harden(routes: Router, body_timeout: Duration) -> Router {
    routes
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_timeout))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
}

/// A panic in a handler becomes a 500 (logged), never a connection left without an answer.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %message, "a request handler panicked; answering 500");
    metrics::counter!("northstar_http_panics_total").increment(1);
    let body = serde_json::json!({ "error": "Internal server error" }).to_string();
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, [(axum::http::header::CONTENT_TYPE, "application/json")], body)
        .into_response()
}

/// Serves [`app`] on `listener` until `shutdown` resolves, finishing in-flight requests, with
/// the default connection limits.
///
/// # Errors
///
/// When accepting connections fails.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve(listener, app(state), connections::Limits::default(), shutdown).await
}

/// What [`bootstrap`] did on this start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Projects already existed; nothing was created.
    Existing,
    /// The default project was created. `api_key` is `Some` when the key was generated here
    /// (it must be printed, once) and `None` when the operator supplied it.
    Created { project_id: uuid::Uuid, api_key: Option<String> },
}

/// On the first start (no project at all), creates the project `default` with the operator's
/// bootstrap key or a freshly minted one.
///
/// # Errors
///
/// Store errors; a blank bootstrap key.
pub async fn bootstrap(store: &AnyStore, bootstrap_key: Option<&str>) -> anyhow::Result<Bootstrap> {
    if !store.list_projects().await?.is_empty() {
        return Ok(Bootstrap::Existing);
    }
    let (key, generated) = match bootstrap_key {
        Some(k) if k.trim().is_empty() || k.trim() != k => {
            anyhow::bail!("NORTHSTAR_BOOTSTRAP_API_KEY must be non-empty and have no surrounding whitespace")
        }
        Some(k) => (k.to_owned(), false),
        None => (keys::mint(), true),
    };
    let project = store.create_project("default", &keys::hash(&key)).await?;
    Ok(Bootstrap::Created { project_id: project.id, api_key: generated.then_some(key) })
}

/// On a start with no dashboard user, creates the first one, a server admin: from
/// `NORTHSTAR_ADMIN_EMAIL` / `NORTHSTAR_ADMIN_PASSWORD`, or `admin@localhost` with a random
/// password. Returns the generated password (to print once), if any.
///
/// # Errors
///
/// Store errors; a password shorter than 8 characters.
pub async fn bootstrap_admin(
    store: &AnyStore,
    email: Option<&str>,
    password: Option<&str>,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let (email, password, generated) = match (email, password) {
        (Some(e), Some(p)) => (e.to_owned(), p.to_owned(), false),
        (None, None) => ("admin@localhost".to_owned(), keys::mint().trim_start_matches("ns_").to_owned(), true),
        _ => anyhow::bail!("set both NORTHSTAR_ADMIN_EMAIL and NORTHSTAR_ADMIN_PASSWORD, or neither"),
    };
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&pw)).await??;
    let user = store.create_user(&email, &hash, true).await?;
    Ok(Some((user.email, generated.then_some(password))))
}

/// Connects to the configured store and applies migrations.
///
/// # Errors
///
/// Connection or migration failures.
pub async fn open_store(settings: &config::Settings) -> anyhow::Result<AnyStore> {
    let store = connect_store(settings).await?;
    store.migrate().await?;
    Ok(store)
}

async fn connect_store(settings: &config::Settings) -> anyhow::Result<AnyStore> {
    Ok(match settings.database()? {
        config::Database::Url(url) => AnyStore::connect(&url).await?,
        config::Database::SqliteFile(path) => AnyStore::Sqlite(northstar_store::SqliteStore::open(&path).await?),
    })
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// The `serve` command: open the store, bootstrap, listen.
///
/// # Errors
///
/// Store, bootstrap or bind failures.
pub async fn run_server(settings: &config::Settings) -> anyhow::Result<()> {
    settings.check_exposed_secrets()?;
    let store = open_store(settings).await?;
    match bootstrap(&store, settings.bootstrap_api_key.as_deref()).await? {
        Bootstrap::Existing => {}
        Bootstrap::Created { project_id, api_key } => {
            println!("Created the default project.");
            println!("  project id: {project_id}");
            match api_key {
                Some(key) => println!("  API key:    {key}\n  (shown once: only its SHA-256 hash is stored)"),
                None => println!("  API key:    the value of NORTHSTAR_BOOTSTRAP_API_KEY"),
            }
        }
    }
    match bootstrap_admin(&store, settings.admin_email.as_deref(), settings.admin_password.as_deref()).await? {
        None => {}
        Some((email, Some(password))) => {
            println!(
                "Created the dashboard admin.\n  email:    {email}\n  password: {password}\n  (shown once; change it by creating another admin with `northstar-server user create`)"
            );
        }
        Some((email, None)) => {
            println!("Created the dashboard admin {email} (password from NORTHSTAR_ADMIN_PASSWORD).")
        }
    }
    let ttl = chrono::Duration::hours(i64::from(settings.session_hours.max(1)));
    let secure = settings.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let auth = match settings.jwt_secret.as_deref() {
        Some(secret) => auth::AuthConfig::new(secret.as_bytes(), ttl, secure)?,
        None => {
            tracing::warn!("NORTHSTAR_JWT_SECRET is not set: logins last until the server restarts");
            auth::AuthConfig::random(ttl, secure)
        }
    };
    // The dashboard reads through connections of its own.
    let dashboard_store = connect_store(settings).await?;
    retention::spawn(store.clone(), Duration::from_secs(settings.retention_interval_secs));
    let listener = TcpListener::bind(settings.bind).await?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, backend = store.backend(), "NorthStar listening");
    println!("NorthStar listening on http://{addr} (dashboard: http://{addr}/, ingest: http://{addr}{INGEST_PATH})");
    let state = AppState {
        public_url: settings.public_url.clone(),
        dashboard_store,
        auth: Arc::new(auth),
        rate_limit: RateLimit::per_second(settings.rate_limit_per_second),
        request_timeout: Duration::from_secs(settings.request_timeout_secs.max(1)),
        max_batch_records: settings.max_batch_records,
        admission: Admission::new(settings.ingest_concurrency),
        ..AppState::new(store, settings.max_body_bytes)
    };
    let limits = connections::Limits {
        max_connections: settings.max_connections,
        header_timeout: Duration::from_secs(settings.header_timeout_secs.max(1)),
    };
    connections::serve(listener, app(state), limits, shutdown_signal()).await?;
    Ok(())
}
