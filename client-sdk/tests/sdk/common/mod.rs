//! The SDK tests' harness: the real NorthStar server in-process, on a free port of 127.0.0.1,
//! with a real SQLite or Postgres store, and the workspace's fault proxy (`test-support`) to
//! stand in front of it.

use std::time::Duration;

use northstar_server::{AppState, INGEST_PATH, keys};
use northstar_store::{AnyStore, Store};
pub use northstar_test_support::PgDatabase;
pub use northstar_test_support::proxy::{Fault, FaultProxy};
use tokio::net::TcpListener;
use uuid::Uuid;

/// The SDK's global client is one per process: tests that install it take turns on this.
pub static GLOBAL_SDK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The real server with one project.
pub struct RealServer {
    pub endpoint: String,
    pub key: String,
    pub project: Uuid,
    pub store: AnyStore,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl RealServer {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("northstar.db").display());
        Self::start(&url, Some(dir), None).await
    }

    pub async fn postgres() -> Self {
        let db = PgDatabase::create().await;
        let url = db.url.clone();
        Self::start(&url, None, Some(db)).await
    }

    async fn start(url: &str, dir: Option<tempfile::TempDir>, pg: Option<PgDatabase>) -> Self {
        let store = AnyStore::connect(url).await.expect("store");
        store.migrate().await.expect("migrate");
        let key = keys::mint();
        let project = store.create_project("sdk-tests", &keys::hash(&key)).await.expect("project").id;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}{INGEST_PATH}", listener.local_addr().expect("addr"));
        let state = AppState::new(store.clone(), 10 * 1024 * 1024);
        tokio::spawn(async move {
            let _ = northstar_server::serve(listener, state, std::future::pending()).await;
        });
        Self { endpoint, key, project, store, _dir: dir, _pg: pg }
    }
}

/// Options for a test client: fast timers so tests finish quickly.
pub fn fast_options(endpoint: &str, key: &str) -> northstar::Options {
    northstar::Options::default()
        .endpoint(endpoint)
        .api_key(key)
        .enabled(true)
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_millis(500))
        .retry_base_delay(Duration::from_millis(20))
        .shutdown_timeout(Duration::from_secs(10))
}
