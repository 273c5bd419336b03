//! Accepting and serving connections, with the limits a server facing the open network needs
//! and `axum::serve` does not set: a cap on open connections, a deadline for a request's
//! headers (which also closes a keep-alive connection left idle that long), and graceful
//! shutdown that lets the requests in flight finish.
//!
//! Connections speak HTTP/1.1 or, with prior knowledge, cleartext HTTP/2 (what gRPC exporters
//! send), at most [`MAX_STREAMS`] requests at once on one.
//!
//! A request's body has its own deadline, set by a layer in [`crate::app`]. What belongs in a
//! proxy in front (TLS, per-address connection limits, slow-reader protection) is in the README.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Requests in flight on one HTTP/2 connection.
const MAX_STREAMS: u32 = 64;

/// What an HTTP/2 client with prior knowledge sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `stream` sends enough to tell its protocol (an HTTP/1 request's first byte, or the
/// whole HTTP/2 preface) within `limit`. An idle or trickling connection is cut here, as the
/// HTTP/1 header deadline cuts one that stalls later.
async fn first_bytes_within(stream: &tokio::net::TcpStream, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => return false,
        };
        if n == 0 {
            return false;
        }
        if n == H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] {
            return true;
        }
        // Part of the preface: peek returns at once until more arrives.
        if tokio::time::timeout_at(deadline, tokio::time::sleep(Duration::from_millis(10))).await.is_err() {
            return false;
        }
    }
}

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; the next waits in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// Longest wait for a request's headers, counted from the moment the connection is ready
    /// for a request (so also the longest a keep-alive connection stays idle).
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_connections: 4096, header_timeout: Duration::from_secs(30) }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// the requests in flight. Every request carries its peer's [`ConnectInfo<SocketAddr>`].
///
/// # Errors
///
/// None so far: failed accepts (a full file table, a reset before accept) are logged and retried.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning; the next accept retries.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(Body::new))
        });
        // HTTP/1.1, or HTTP/2 with prior knowledge (OTLP/gRPC exporters speak cleartext h2).
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS)
            // A client that stops answering pings (or sends nothing) is cut like an idle one.
            .keep_alive_interval(Some(limits.header_timeout))
            .keep_alive_timeout(Duration::from_secs(20));
        let watcher = graceful.watcher();
        let mut closing = closing.subscribe();
        tokio::spawn(async move {
            // Telling HTTP/1 from HTTP/2 waits for the first bytes, with no deadline of its own;
            // a shutdown does not wait for a connection that has sent nothing yet.
            let ready = tokio::select! {
                ready = first_bytes_within(&stream, limits.header_timeout) => ready,
                _ = closing.changed() => false,
            };
            if ready {
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                if let Err(err) = watcher.watch(connection).await {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    graceful.shutdown().await;
    Ok(())
}
