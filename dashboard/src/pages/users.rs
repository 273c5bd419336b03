//! `/users`: the dashboard's users, for server admins: disable or enable someone, set a new
//! password. Either ends every login the user has.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{SetUserDisabled, SetUserPassword};
use crate::app::UserBox;
use crate::components::{ErrorBox, Loading, ThemeToggle, message};

#[component]
pub fn UsersPage() -> impl IntoView {
    let disable = ServerAction::<SetUserDisabled>::new();
    let password = ServerAction::<SetUserPassword>::new();
    let users =
        Resource::new(move || (disable.version().get(), password.version().get()), |_| crate::api::list_users());
    view! {
        <main class="main narrow">
            <header class="page-head">
                <h1>"Users"</h1>
                <UserBox/>
                <ThemeToggle/>
            </header>
            <p><A href="/">"← Projects"</A></p>
            {move || disable.value().get().and_then(Result::err).map(|e| view! { <ErrorBox message=message(&e)/> })}
            {move || password.value().get().map(|r| match r {
                Ok(u) => view! { <div class="banner" role="status">{format!("New password set for {}; their logins have ended.", u.email)}</div> }.into_any(),
                Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
            })}
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let list = match users.await {
                        Ok(list) => list,
                        Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                    };
                    view! {
                        <table class="table" id="users">
                            <thead><tr><th>"Email"</th><th>"Role"</th><th>"State"</th><th>"Created"</th><th></th><th>"New password"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| {
                                    let (email1, email2) = (u.email.clone(), u.email.clone());
                                    view! {
                                        <tr data-email=u.email.clone()>
                                            <td>{u.email.clone()}</td>
                                            <td>{if u.is_admin { "server admin" } else { "user" }}</td>
                                            <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                            <td>{u.created}</td>
                                            <td>
                                                <ActionForm action=disable>
                                                    <input type="hidden" name="email" value=email1/>
                                                    <input type="hidden" name="disabled" value=(!u.disabled).to_string()/>
                                                    <button type="submit" class="toggle-user">{if u.disabled { "Enable" } else { "Disable" }}</button>
                                                </ActionForm>
                                            </td>
                                            <td>
                                                <ActionForm action=password>
                                                    <input type="hidden" name="email" value=email2/>
                                                    <input type="password" name="password" minlength="8" autocomplete="new-password" required/>
                                                    " "<button type="submit" class="set-password">"Set"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Suspense>
        </main>
    }
}
