//! One module per page.

mod graph;
mod overview;
mod projects;
mod prompts;
mod run;
mod runs;
mod scores;
mod session;
mod sessions;
mod settings;
mod tree;
mod users;

pub use overview::OverviewPage;
pub use projects::ProjectsPage;
pub use prompts::{PromptPage, PromptVersionPage, PromptsPage};
pub use run::RunPage;
pub use runs::RunsPage;
pub use scores::ScoresPage;
pub use session::SessionPage;
pub use sessions::SessionsPage;
pub use settings::SettingsPage;
pub use users::UsersPage;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// One query parameter of the current URL, as a signal ("" when absent).
pub(crate) fn query_param(name: &'static str) -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(name).unwrap_or_default())
}

/// A route parameter, as a signal.
pub(crate) fn route_param(name: &'static str) -> Memo<String> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| params.read().get(name).unwrap_or_default())
}
