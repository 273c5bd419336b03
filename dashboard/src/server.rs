//! Mounting the dashboard in an axum server.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use northstar_store::AnyStore;

pub use crate::convert::DashboardConfig;

/// The dashboard's stylesheet, served at `/pkg/dashboard.css`.
pub const STYLESHEET: &str = include_str!("../style/dashboard.css");

/// The wasm-bindgen output name: the server serves `/pkg/dashboard.js` and
/// `/pkg/dashboard_bg.wasm`.
pub const OUTPUT_NAME: &str = "dashboard";

/// The dashboard's pages and server functions, reading `store`.
pub fn router(store: AnyStore, config: DashboardConfig) -> Router {
    crate::panics::install();
    let options = LeptosOptions::builder().output_name(OUTPUT_NAME).site_pkg_dir("pkg").build();
    let routes = route_list().to_vec();
    let live = crate::live::LiveState { store: store.clone() };
    let context = move || {
        provide_context(store.clone());
        provide_context(config.clone());
    };
    Router::new()
        .route("/api/live", axum::routing::get(crate::live::handle).with_state(live))
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || crate::app::shell(options.clone())
        })
        .with_state(options)
        .layer(axum::middleware::from_fn(crate::panics::catch_render_panics))
}

/// The app's routes, generated once per process. Generating them renders the app with every
/// resource's loading suppressed through a process-global flag, so a page rendering on another
/// server in the same process at that moment would wait forever (leptos-rs/leptos#4773): a
/// second server (tests start many) must reuse the first one's list instead.
fn route_list() -> &'static [leptos_axum::AxumRouteListing] {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(crate::app::App))
}

/// Puts this page's content security policy on the response: scripts only from this server
/// or carrying the page's nonce (the hydration script and data), wasm compilation, inline
/// style attributes (bar widths), nothing from elsewhere, no framing.
pub fn content_security_policy() {
    use axum::http::{HeaderValue, header};
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    let nonce = leptos::nonce::use_nonce().map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
