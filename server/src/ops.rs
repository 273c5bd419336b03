//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers and
//! is migrated), `/metrics` (Prometheus text), and the `healthcheck` command containers run.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use northstar_store::{AnyStore, Store};

/// The process-wide Prometheus recorder (the `metrics` macros report to one global recorder).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("northstar_ingest_request_seconds".into()), &buckets)
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        handle
    })
}

#[derive(Clone, Debug)]
struct OpsState {
    ingest: AnyStore,
    dashboard: AnyStore,
}

pub(crate) fn router(ingest: AnyStore, dashboard: AnyStore) -> Router {
    metrics_handle();
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok"}))) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(OpsState { ingest, dashboard })
}

async fn readyz(State(s): State<OpsState>) -> Response {
    match s.ingest.ready().await {
        Ok(true) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ready"}))).into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "migrations pending"})))
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "not ready: database check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "database unavailable"})))
                .into_response()
        }
    }
}

async fn render_metrics(State(s): State<OpsState>) -> Response {
    for (pool, store) in [("ingest", &s.ingest), ("dashboard", &s.dashboard)] {
        let (open, idle) = store.pool_usage();
        metrics::gauge!("northstar_db_pool_connections", "pool" => pool, "state" => "open").set(f64::from(open));
        metrics::gauge!("northstar_db_pool_connections", "pool" => pool, "state" => "idle").set(f64::from(idle));
        metrics::gauge!("northstar_db_pool_connections", "pool" => pool, "state" => "in_use")
            .set(f64::from(open.saturating_sub(idle)));
    }
    let handle = metrics_handle();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// `northstar-server healthcheck`: GET `/readyz` on the local port the server binds.
///
/// # Errors
///
/// When the server does not answer 200.
pub fn healthcheck(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let target = std::net::SocketAddr::new(
        if bind.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { bind.ip() },
        bind.port(),
    );
    let timeout = std::time::Duration::from_secs(5);
    let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(stream, "GET /readyz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    anyhow::ensure!(head.starts_with(b"HTTP/1.1 200"), "not ready: {}", String::from_utf8_lossy(&head));
    Ok(())
}
