//! A local ingest endpoint for benchmarks: accepts every batch at once (the SDK's cost, not the
//! server's, is what these benches measure), hangs (a slow backend), or is absent (down).
#![allow(dead_code, reason = "each bench uses a different part of this module")]

use std::net::TcpListener as StdListener;
use std::time::Duration;

use axum::Router;
use axum::routing::post;

/// `http://127.0.0.1:PORT/ingest`, answering `{"accepted":true}` after `delay`.
pub fn endpoint(delay: Duration) -> String {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = Router::new().route(
                "/ingest",
                post(move |_body: axum::body::Bytes| async move {
                    tokio::time::sleep(delay).await;
                    r#"{"accepted":true}"#
                }),
            );
            let _ = axum::serve(listener, app).await;
        });
    });
    format!("http://{addr}/ingest")
}

/// An address where nothing listens (connections are refused).
pub fn down_endpoint() -> String {
    let port = StdListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    format!("http://127.0.0.1:{port}/ingest")
}
