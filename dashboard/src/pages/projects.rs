//! `/`: choose a project.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::app::UserBox;
use crate::components::{ErrorBox, Loading, ThemeToggle, message};

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let projects = Resource::new(|| (), |()| crate::api::list_projects());
    view! {
        <main class="main narrow">
            <header class="page-head">
                <h1>"✦ NorthStar"</h1>
                <UserBox/>
                <ThemeToggle/>
            </header>
            <h2>"Projects"</h2>
            <ManageUsers/>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match projects.await {
                        Ok(list) if list.is_empty() => view! {
                            <p>"You are not a member of any project yet. An admin can add you: "
                               <code>"northstar-server user add --email you@example.com --project <id>"</code></p>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="table">
                                <thead><tr><th>"Project"</th><th>"Id"</th><th>"Your role"</th><th>"Created"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|p| {
                                        let href = format!("/p/{}", p.id);
                                        view! {
                                            <tr>
                                                <td><A href=href>{p.name}</A></td>
                                                <td><code>{p.id}</code></td>
                                                <td>{p.role}</td>
                                                <td>{p.created}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// A link to the users page, for server admins.
#[component]
fn ManageUsers() -> impl IntoView {
    let me = Resource::new(|| (), |()| crate::api::current_user());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().filter(|me| me.is_admin).map(|_| view! {
                    <p class="muted"><A href="/users" attr:id="manage-users">"Manage users"</A>" (disable, set passwords)"</p>
                })
            })}
        </Suspense>
    }
}
