//! The dashboard, mounted on the same router as ingest: its pages and server functions
//! (`northstar-dashboard`), and its browser files, embedded in this binary by `build.rs`.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use northstar_dashboard::server::{DashboardConfig, STYLESHEET};
use northstar_store::AnyStore;
use tower_http::compression::CompressionLayer;

const JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pkg/dashboard.js"));
const WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pkg/dashboard_bg.wasm"));
/// The north star, in the accent colour.
const FAVICON: &[u8] = br##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="#3a5bd9" d="M16 1l3.6 11.4L31 16l-11.4 3.6L16 31l-3.6-11.4L1 16l11.4-3.6z"/></svg>"##;

/// The files change with every build and are small next to a trace: always revalidate.
fn asset(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
}

/// The dashboard's routes over `store`, gzip-compressed for browsers that ask (a run page
/// carries its whole tree for hydration; the wasm is large).
pub(crate) fn router(store: AnyStore, public_url: Option<String>) -> Router {
    Router::new()
        .route("/pkg/dashboard.css", get(|| async { asset("text/css; charset=utf-8", STYLESHEET.as_bytes()) }))
        .route("/pkg/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/pkg/dashboard_bg.wasm", get(|| async { asset("application/wasm", WASM) }))
        .route("/pkg/favicon.svg", get(|| async { asset("image/svg+xml", FAVICON) }))
        .merge(northstar_dashboard::server::router(
            store,
            DashboardConfig {
                public_url,
                hash_password: |password| crate::auth::hash_password(password).map_err(|e| e.to_string()),
            },
        ))
        .layer(CompressionLayer::new())
}
