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
        describe();
        // Histogram samples collect in the recorder until an upkeep drains them into their
        // buckets: without a scrape of /metrics they grew with every request, forever.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("northstar-metrics".into()).spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// Describes every metric family and registers its usual series at zero, so that dashboards
/// and alerts see them before the first event.
fn describe() {
    use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram};
    describe_counter!("northstar_ingest_requests_total", "Ingest requests answered, by HTTP status");
    describe_counter!("northstar_ingest_records_total", "Records stored by ingest, by type");
    describe_counter!(
        "northstar_ingest_rejects_total",
        "Ingest requests refused (what SDKs see as rejects), by reason"
    );
    describe_histogram!("northstar_ingest_request_seconds", Unit::Seconds, "Time to answer an ingest request");
    describe_gauge!("northstar_db_pool_connections", "Database pool connections, by pool and state");
    describe_counter!("northstar_retention_deleted_runs_total", "Runs deleted by the retention task");
    describe_counter!("northstar_login_failures_total", "Dashboard logins with a wrong email or password");
    describe_counter!("northstar_login_refused_total", "Dashboard logins refused before any check, by reason");
    describe_counter!("northstar_http_panics_total", "Requests whose handler panicked (answered 500)");
    counter!("northstar_ingest_requests_total", "status" => "200").absolute(0);
    for kind in ["session", "run", "span", "event", "score"] {
        counter!("northstar_ingest_records_total", "type" => kind).absolute(0);
    }
    for reason in ["auth", "invalid", "too_large", "encoding", "references", "unavailable", "rate_limited"] {
        counter!("northstar_ingest_rejects_total", "reason" => reason).absolute(0);
    }
    let _ = histogram!("northstar_ingest_request_seconds");
    counter!("northstar_retention_deleted_runs_total").absolute(0);
    counter!("northstar_login_failures_total").absolute(0);
    for reason in ["locked_out", "busy"] {
        counter!("northstar_login_refused_total", "reason" => reason).absolute(0);
    }
    counter!("northstar_http_panics_total").absolute(0);
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
