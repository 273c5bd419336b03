//! `/p/:project/settings`: the project's API key (rotated here by its admins, shown once) and
//! how long it keeps runs.

use leptos::prelude::*;

use crate::api::{RotateKey, SetRetention};
use crate::app::project_id;
use crate::components::{CopyButton, ErrorBox, Loading, message};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let project = project_id();
    let rotate = ServerAction::<RotateKey>::new();
    let retention = ServerAction::<SetRetention>::new();
    let data = Resource::new(
        move || (project.get(), rotate.version().get(), retention.version().get()),
        |(p, _, _)| crate::api::project_settings(p),
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
                let (id1, id2) = (d.project.id.clone(), d.project.id.clone());
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
                        {move || rotate.value().get().map(|r| match r {
                            Ok(key) => view! {
                                <div class="banner new-key" role="status">
                                    "New key (shown once, copy it now): " <code id="new-key">{key.clone()}</code>
                                    <CopyButton text=key what="key"/>
                                </div>
                            }.into_any(),
                            Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                        })}
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
