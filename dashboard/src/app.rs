//! The document shell, the routes and the layout every project page shares.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet, ParentRoute, Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::{SsrMode, path};

use crate::components::{ErrorBox, ThemeToggle};
use crate::pages::{
    OverviewPage, ProjectsPage, PromptPage, PromptVersionPage, PromptsPage, RunPage, RunsPage, ScoresPage, SessionPage,
    SessionsPage, SettingsPage, UsersPage,
};

/// The HTML document around the app.
/// Sets `data-theme` from the stored choice (no `<`, `>` or `&`: the text is not escaped into
/// something else).
const THEME_BEFORE_PAINT: &str = "try{var t=localStorage.getItem(\"northstar-theme\");\
    if(t){document.documentElement.dataset.theme=t}}catch(e){}";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"NorthStar"</title>
                <link rel="stylesheet" href="/pkg/dashboard.css"/>
                <link rel="icon" href="/pkg/favicon.svg" type="image/svg+xml"/>
                // The theme the person chose, before the first paint (the toggle applies it
                // again once the page is live): no light flash on a dark dashboard.
                <script nonce=leptos::nonce::use_nonce()>{THEME_BEFORE_PAINT}</script>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <Routes fallback=|| view! { <main class="main"><ErrorBox message="Page not found".to_owned()/></main> }>
                <Route path=path!("/") view=ProjectsPage ssr=SsrMode::Async/>
                <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("/p/:project") view=ProjectLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("sessions") view=SessionsPage ssr=SsrMode::Async/>
                    <Route path=path!("sessions/:id") view=SessionPage ssr=SsrMode::Async/>
                    <Route path=path!("runs") view=RunsPage ssr=SsrMode::Async/>
                    <Route path=path!("runs/:id") view=RunPage ssr=SsrMode::Async/>
                    <Route path=path!("scores") view=ScoresPage ssr=SsrMode::Async/>
                    <Route path=path!("prompts") view=PromptsPage ssr=SsrMode::Async/>
                    <Route path=path!("prompts/:id") view=PromptPage ssr=SsrMode::Async/>
                    <Route path=path!("prompts/:id/versions/:number") view=PromptVersionPage ssr=SsrMode::Async/>
                    <Route path=path!("settings") view=SettingsPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Who is logged in, and the way out.
#[component]
pub fn UserBox() -> impl IntoView {
    let me = Resource::new(|| (), |()| crate::api::current_user());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().map(|me| view! {
                    <div class="user">
                        <span class="user-email" title=me.email.clone()>{me.email.clone()}</span>
                        <form method="post" action="/logout"><button type="submit" class="link" id="logout">"Log out"</button></form>
                    </div>
                })
            })}
        </Suspense>
    }
}

/// The project id of the current route.
pub fn project_id() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("project").unwrap_or_default())
}

/// Sidebar (project, sections, theme) and the page.
#[component]
fn ProjectLayout() -> impl IntoView {
    let project = project_id();
    let projects = Resource::new(|| (), |()| crate::api::list_projects());
    // Set only in the browser: tests wait for it before clicking, and the first-view benchmark
    // reads when it happened (the `northstar-hydrated` performance mark).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
            let _ = performance.mark("northstar-hydrated");
        }
        hydrated.set(true);
    });
    let link = move |section: &'static str| move || format!("/p/{}{section}", project.get());
    view! {
        <div class="layout">
            <nav class="sidebar">
                <a class="brand" href="/">"✦ NorthStar"</a>
                <div class="project-name">
                    <Suspense fallback=|| "…">
                        {move || Suspend::new(async move {
                            let list = projects.await.unwrap_or_default();
                            let id = project.get();
                            let name = list.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| "unknown project".into());
                            view! {
                                <span class="label">"Project"</span>
                                <span class="value">{name}</span>
                                {(list.len() > 1).then(|| view! { <a class="switch" href="/">"switch"</a> })}
                            }
                        })}
                    </Suspense>
                </div>
                <A href=link("") exact=true>"Overview"</A>
                <A href=link("/sessions")>"Sessions"</A>
                <A href=link("/runs")>"Runs"</A>
                <A href=link("/scores")>"Scores"</A>
                <A href=link("/prompts")>"Prompts"</A>
                <A href=link("/settings")>"Settings"</A>
                // Outside the app: the public API's reference, rendered by the server.
                <a href="/api/reference" rel="external" class="nav-api">"API reference"</a>
                <div class="sidebar-foot">
                    <UserBox/>
                    <ThemeToggle/>
                    <span id="hydrated" class="hydration" data-state=move || if hydrated.get() { "hydrated" } else { "ssr" }></span>
                </div>
            </nav>
            <main class="main">
                <Outlet/>
            </main>
        </div>
    }
}
