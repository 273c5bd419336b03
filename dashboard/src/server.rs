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
    let options = LeptosOptions::builder().output_name(OUTPUT_NAME).site_pkg_dir("pkg").build();
    let routes = generate_route_list(crate::app::App);
    let context = move || {
        provide_context(store.clone());
        provide_context(config.clone());
    };
    Router::new()
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || crate::app::shell(options.clone())
        })
        .with_state(options)
}
