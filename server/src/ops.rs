//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers and
//! is migrated), `/metrics` (Prometheus text), and the `healthcheck` command containers run.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use northstar_store::{AnyStore, Store};

/// The process-wide Prometheus recorder (the `metrics` macros report to one global recorder).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        // The exporter's histograms buffer their samples until an upkeep drains them (without a
        // scrape of /metrics they grew with every request); ingest latency is a `Latency`,
        // which does not buffer, but any other histogram would.
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
    use metrics::{counter, describe_counter, describe_gauge};
    describe_counter!("northstar_ingest_requests_total", "Ingest requests answered, by HTTP status");
    describe_counter!("northstar_ingest_records_total", "Records stored by ingest, by type");
    describe_counter!(
        "northstar_ingest_rejects_total",
        "Ingest requests refused (what SDKs see as rejects), by reason"
    );
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
    let mut text = handle.render();
    INGEST_SECONDS.render("northstar_ingest_request_seconds", "Time to answer an ingest request", &mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// The upper bounds of the ingest latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A Prometheus histogram of fixed buckets kept in atomics. The exporter's own histograms
/// buffer every sample until an upkeep or a scrape drains them, and their storage kept growing
/// under steady ingest even when drained every few seconds (BENCHMARKS, memory under steady
/// ingest); this one is a fixed set of counters.
#[derive(Debug)]
pub(crate) struct Latency {
    /// Per bucket (not cumulative); the last counts what is above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Time to answer an ingest request.
pub(crate) static INGEST_SECONDS: Latency = Latency {
    buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64::new(0),
    sum_micros: AtomicU64::new(0),
};

impl Latency {
    pub(crate) fn observe(&self, elapsed: std::time::Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Appends the family in the Prometheus text format.
    fn render(&self, name: &str, help: &str, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {}", self.count.load(Ordering::Relaxed));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_renders_as_a_cumulative_prometheus_histogram() {
        let latency = Latency {
            buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        };
        for ms in [0.5, 3.0, 3.0, 40_000.0] {
            latency.observe(std::time::Duration::from_secs_f64(ms / 1000.0));
        }
        let mut text = String::new();
        latency.render("t_seconds", "Test", &mut text);
        assert!(text.starts_with("# HELP t_seconds Test\n# TYPE t_seconds histogram\n"), "{text}");
        for line in [
            "t_seconds_bucket{le=\"0.001\"} 1\n",
            "t_seconds_bucket{le=\"0.0025\"} 1\n",
            "t_seconds_bucket{le=\"0.005\"} 3\n",
            "t_seconds_bucket{le=\"30\"} 3\n",
            "t_seconds_bucket{le=\"+Inf\"} 4\n",
            "t_seconds_sum 40.0065\n",
            "t_seconds_count 4\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
