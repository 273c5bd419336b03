//! The NorthStar server: the batched ingest endpoint of the original NorthStar's contract, the
//! dashboard and an admin CLI, over an embedded SQLite database or Postgres.
//!
//! [`app`] builds the whole router from an [`AppState`]; tests serve it on a free port.

pub mod admin;
pub mod config;
mod costs;
mod dashboard;
mod ingest;
pub mod keys;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::any;
use northstar_store::{AnyStore, Store};
use tokio::net::TcpListener;

/// The ingest path of the original's Supabase Edge Function, kept so existing SDKs work.
pub const INGEST_PATH: &str = "/functions/v1/ingest-traces";
/// The same endpoint under NorthStar's own API prefix.
pub const INGEST_PATH_V1: &str = "/api/v1/ingest";

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: AnyStore,
    pub max_body_bytes: usize,
    /// Prices for model spans that arrive without a cost.
    pub prices: std::sync::Arc<northstar_pricing::PriceTable>,
    /// The base URL people reach this server at, for the ingest URL the dashboard shows;
    /// `None` derives it from each request's `Host`.
    pub public_url: Option<String>,
}

impl AppState {
    /// State with the bundled price table.
    #[must_use]
    pub fn new(store: AnyStore, max_body_bytes: usize) -> Self {
        Self {
            store,
            max_body_bytes,
            prices: std::sync::Arc::new(northstar_pricing::PriceTable::bundled()),
            public_url: None,
        }
    }
}

/// The whole HTTP application: ingest and the dashboard.
pub fn app(state: AppState) -> Router {
    let dashboard = dashboard::router(state.store.clone(), state.public_url.clone());
    Router::new()
        .route(INGEST_PATH, any(ingest::handle))
        .route(INGEST_PATH_V1, any(ingest::handle))
        .with_state(state)
        .merge(dashboard)
}

/// Serves [`app`] on `listener` until `shutdown` resolves, finishing in-flight requests.
///
/// # Errors
///
/// When accepting connections fails.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
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

/// Connects to the configured store and applies migrations.
///
/// # Errors
///
/// Connection or migration failures.
pub async fn open_store(settings: &config::Settings) -> anyhow::Result<AnyStore> {
    let store = match settings.database()? {
        config::Database::Url(url) => AnyStore::connect(&url).await?,
        config::Database::SqliteFile(path) => AnyStore::Sqlite(northstar_store::SqliteStore::open(&path).await?),
    };
    store.migrate().await?;
    Ok(store)
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
    let listener = TcpListener::bind(settings.bind).await?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, backend = store.backend(), "NorthStar listening");
    println!("NorthStar listening on http://{addr} (dashboard: http://{addr}/, ingest: http://{addr}{INGEST_PATH})");
    let state = AppState { public_url: settings.public_url.clone(), ..AppState::new(store, settings.max_body_bytes) };
    serve(listener, state, shutdown_signal()).await?;
    Ok(())
}
