//! The NorthStar dashboard: a Leptos app rendered on the server (feature `ssr`, mounted by
//! `northstar-server`) and hydrated in the browser (feature `hydrate`, compiled to wasm by the
//! server's build script).
//!
//! Pages ask the store only through the server functions in [`api`]; each opens its project
//! once (`scope::ProjectScope`: the store from context, the project, the user's role) and fails
//! with one error type that carries its HTTP status (`scope::PageError`). Everything an agent
//! recorded is rendered as text, never as markup.

pub mod api;
pub mod app;
mod components;
pub mod format;
pub mod model;
mod pages;

#[cfg(feature = "ssr")]
mod convert;
#[cfg(feature = "ssr")]
mod live;
#[cfg(feature = "ssr")]
mod outline;
#[cfg(feature = "ssr")]
mod panics;
#[cfg(feature = "ssr")]
mod scope;
#[cfg(feature = "ssr")]
pub mod server;

/// Rows per page in every list.
pub const PAGE_SIZE: u32 = 50;

/// Rows a list counts at most; a larger total reads `COUNT_CAP + 1` (the store's rule).
pub const COUNT_CAP: i64 = 10_000;
#[cfg(feature = "ssr")]
const _: () = assert!(COUNT_CAP == northstar_store::COUNT_CAP);

/// The browser entry point, called by the hydration script.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
