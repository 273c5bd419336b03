//! `/p/:project/settings`: the project's API key (rotated here by its admins, shown once), its
//! named keys (ingest or read: created, listed and revoked here), and how long it keeps runs.

use leptos::prelude::*;

use crate::api::{CreateKey, RevokeNamedKey, RotateKey, SetRetention};
use crate::app::project_id;
use crate::components::{CopyButton, ErrorBox, Loading, message};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let project = project_id();
    let rotate = ServerAction::<RotateKey>::new();
    let retention = ServerAction::<SetRetention>::new();
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeNamedKey>::new();
    let data = Resource::new(
        move || {
            (
                project.get(),
                rotate.version().get(),
                retention.version().get(),
                create.version().get(),
                revoke.version().get(),
            )
        },
        |(p, ..)| crate::api::project_settings(p),
    );
    view! {
        <header class="page-head"><h1>"Settings"</h1></header>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let admin = d.project.role == "admin";
                let (id1, id2, id3) = (d.project.id.clone(), d.project.id.clone(), d.project.id.clone());
                let api_base = d.ingest.url.split("/functions/").next().unwrap_or_default().to_owned();
                let days = d.retention_days.map(|d| d.to_string()).unwrap_or_default();
                view! {
                    <section class="panel" id="api-key">
                        <h2>"API key"</h2>
                        <p>"Key: " {d.key.clone()}</p>
                        <p class="muted">"Ingest URL: " <code>{d.ingest.url.clone()}</code></p>
                        {if admin {
                            view! {
                                // Two steps: the key every agent of the project sends stops working.
                                <details class="confirm" id="rotate-confirm">
                                    <summary>"Create a new key…"</summary>
                                    <ActionForm action=rotate>
                                        <input type="hidden" name="project" value=id1/>
                                        <p class="form-error">"The current key stops working at once: every agent sending with it is refused until it has the new one."</p>
                                        <button type="submit" id="rotate-key">"Replace the key"</button>
                                    </ActionForm>
                                </details>
                            }.into_any()
                        } else {
                            view! { <p class="muted">"Only the project's admins can create keys."</p> }.into_any()
                        }}
                        {move || rotate.value().get().map(|r| new_key(r, "new-key"))}
                    </section>
                    <section class="panel" id="named-keys">
                        <h2>"Keys for services and programs"</h2>
                        <p class="muted">
                            "An ingest key sends traces; a read key reads them through the API ("
                            <code>{format!("{api_base}/api/v1/")}</code>", reference: "
                            <a href="/api/reference">"API reference"</a>") and MCP ("
                            <code>{format!("{api_base}/mcp")}</code>") and may add scores."
                        </p>
                        <table class="keys">
                            <thead><tr><th>"Name"</th><th>"Scope"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>
                                {d.keys.iter().map(|k| {
                                    let name = k.name.clone();
                                    let state = k.revoked.clone().map_or_else(|| "active".to_owned(), |at| format!("revoked {at}"));
                                    let can_revoke = admin && !k.project_key && k.revoked.is_none();
                                    let (project, key) = (id3.clone(), k.id.clone());
                                    view! {
                                        <tr class="key-row">
                                            <td>{name}</td>
                                            <td>{k.scope.clone()}</td>
                                            <td>{k.created.clone()}</td>
                                            <td>{k.last_used.clone().unwrap_or_else(|| "never".to_owned())}</td>
                                            <td>{state}</td>
                                            <td>{can_revoke.then(|| view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="project" value=project/>
                                                    <input type="hidden" name="key" value=key/>
                                                    <button type="submit" class="revoke-key">"Revoke"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {admin.then(|| view! {
                            <ActionForm action=create>
                                <input type="hidden" name="project" value=id3.clone()/>
                                <label>"Name " <input name="name" id="key-name" size="24" placeholder="eval-scripts"/></label>
                                " "<label>"Scope " <select name="scope" id="key-scope">
                                    <option value="read">"read"</option>
                                    <option value="ingest">"ingest"</option>
                                </select></label>
                                " "<button type="submit" id="create-key">"Create key"</button>
                            </ActionForm>
                        })}
                        {move || create.value().get().map(|r| new_key(r, "created-key"))}
                        {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorBox message=message(&e)/> })}
                    </section>
                    <section class="panel" id="retention">
                        <h2>"Retention"</h2>
                        <p>{match d.retention_days {
                            Some(n) => format!("Runs older than {n} days are deleted, with their spans, events and scores."),
                            None => "Runs are kept forever.".to_owned(),
                        }}</p>
                        {admin.then(|| view! {
                            <ActionForm action=retention>
                                <input type="hidden" name="project" value=id2/>
                                <label>"Keep runs for " <input name="days" size="5" value=days placeholder="∞"/> " days"</label>
                                " "<button type="submit" id="set-retention">"Save"</button>
                            </ActionForm>
                        })}
                        {move || retention.value().get().and_then(Result::err).map(|e| view! { <ErrorBox message=message(&e)/> })}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

/// A key just made, shown once with a copy button (`id` names its `<code>`), or why it was not.
fn new_key(result: Result<String, ServerFnError>, id: &'static str) -> AnyView {
    match result {
        Ok(key) => view! {
            <div class="banner new-key" role="status">
                "New key (shown once, copy it now): " <code id=id>{key.clone()}</code>
                <CopyButton text=key what="key"/>
            </div>
        }
        .into_any(),
        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
    }
}
