//! The prompt registry: `/p/:project/prompts` (the prompts, a new one), `/prompts/:id` (its
//! versions side by side with how their runs went, a new version, labels and their history, a
//! diff of any two versions) and `/prompts/:id/versions/:number` (a version and its runs).
//! Members read; the project's admins create, add versions and move labels.

use leptos::prelude::*;
use leptos_router::components::A;

use super::{query_param, route_param};
use crate::api::{AddPromptVersion, CreatePrompt, SetPromptLabel};
use crate::app::project_id;
use crate::components::{ErrorBox, Loading, Pager, Stat, message};
use crate::model::{PromptItem, VersionItem};

/// `prod → v2` chips.
fn label_chips(labels: Vec<(String, i32)>) -> impl IntoView {
    labels
        .into_iter()
        .map(
            |(label, n)| view! { <span class="label-chip" data-label=label.clone()>{format!("{label} → v{n}")}</span> },
        )
        .collect_view()
}

#[component]
pub fn PromptsPage() -> impl IntoView {
    let project = project_id();
    let create = ServerAction::<CreatePrompt>::new();
    let q = query_param("q");
    let data = Resource::new(move || (project.get(), create.version().get()), |(p, _)| crate::api::list_prompts(p));
    view! {
        <header class="page-head"><h1>"Prompts"</h1></header>
        <form method="get" class="filters">
            <input type="search" name="q" placeholder="Search names and slugs" prop:value=move || q.get()/>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let admin = d.project.role == "admin";
                let needle = q.get().to_lowercase();
                let rows: Vec<PromptItem> = d.prompts.into_iter()
                    .filter(|p| needle.is_empty() || p.name.to_lowercase().contains(&needle) || p.slug.to_lowercase().contains(&needle))
                    .collect();
                let project = d.project.id.clone();
                view! {
                    {if rows.is_empty() {
                        view! { <p class="muted" id="no-prompts">"No prompts yet. An SDK asks for one by its slug: "
                            <code>"northstar::prompt(\"support-answer\")"</code>" (Rust), "
                            <code>"client.pull_prompt(\"support-answer\")"</code>" (the original Python SDK)."</p> }.into_any()
                    } else {
                        view! {
                            <table class="table" id="prompts">
                                <thead><tr><th>"Prompt"</th><th>"Slug"</th><th>"Versions"</th><th>"Labels"</th><th>"Changed"</th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|p| {
                                        let href = format!("/p/{project}/prompts/{}", p.id);
                                        view! {
                                            <tr class="prompt-row">
                                                <td><A href=href>{p.name.clone()}</A>
                                                    {p.description.clone().map(|d| view! { <div class="preview muted">{d}</div> })}</td>
                                                <td><code>{p.slug.clone()}</code></td>
                                                <td class="num">{p.versions}</td>
                                                <td>{label_chips(p.labels.clone())}</td>
                                                <td class="muted">{p.updated.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    {admin.then(|| view! {
                        <section class="panel" id="new-prompt">
                            <h2>"New prompt"</h2>
                            <ActionForm action=create>
                                <input type="hidden" name="project" value=project.clone()/>
                                <label>"Name " <input name="name" id="prompt-name" required placeholder="Support answer"/></label>
                                " "<label>"Slug " <input name="slug" id="prompt-slug" required placeholder="support-answer"
                                    pattern="[A-Za-z0-9._\\-]+" title="letters, digits, '-', '_' or '.'"/></label>
                                " "<label>"Description " <input name="description" id="prompt-description" size="40"/></label>
                                " "<button type="submit" id="create-prompt">"Create"</button>
                            </ActionForm>
                            {move || create.value().get().and_then(Result::err).map(|e| view! { <ErrorBox message=message(&e)/> })}
                        </section>
                    })}
                }.into_any()
            })}
        </Suspense>
    }
}

#[component]
pub fn PromptPage() -> impl IntoView {
    let (project, id) = (project_id(), route_param("id"));
    let add = ServerAction::<AddPromptVersion>::new();
    let label = ServerAction::<SetPromptLabel>::new();
    // A version saved or a label moved: its form starts empty again (the next change note is
    // never the last one by mistake).
    let (add_form, label_form) = (NodeRef::<leptos::html::Form>::new(), NodeRef::<leptos::html::Form>::new());
    let reset = |form: NodeRef<leptos::html::Form>| {
        if let Some(form) = form.get_untracked() {
            form.reset();
        }
    };
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(_))) {
            reset(add_form);
        }
    });
    Effect::new(move |_| {
        if matches!(label.value().get(), Some(Ok(_))) {
            reset(label_form);
        }
    });
    let data = Resource::new(
        move || (project.get(), id.get(), add.version().get(), label.version().get()),
        |(p, id, ..)| crate::api::prompt_page(p, id),
    );
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let admin = d.project.role == "admin";
                let (project, prompt) = (d.project.id.clone(), d.prompt.id.clone());
                let current = d.versions.first().cloned();
                let numbers: Vec<i32> = d.versions.iter().map(|v| v.number).collect();
                view! {
                    <header class="page-head">
                        <h1>{d.prompt.name.clone()}</h1>
                        <code class="slug">{d.prompt.slug.clone()}</code>
                        <span class="labels">{label_chips(d.prompt.labels.clone())}</span>
                    </header>
                    {d.prompt.description.clone().map(|t| view! { <p class="muted">{t}</p> })}
                    <section class="panel" id="versions">
                        <h2>"Versions on real traffic"</h2>
                        {if d.versions.is_empty() {
                            view! { <p class="muted">"No version yet."</p> }.into_any()
                        } else {
                            view! { <VersionsTable project=project.clone() prompt=prompt.clone() versions=d.versions.clone()/> }.into_any()
                        }}
                    </section>
                    {(numbers.len() > 1).then(|| view! { <Diff project=project.clone() prompt=prompt.clone() numbers=numbers.clone()/> })}
                    {admin.then(|| {
                        let (project2, prompt2) = (project.clone(), prompt.clone());
                        let (project, prompt) = (project.clone(), prompt.clone());
                        let (content, model) = current.as_ref().map_or_else(Default::default, |v| (v.content.clone(), v.model.clone().unwrap_or_default()));
                        let temperature = current.as_ref().and_then(|v| v.temperature).map(|t| t.to_string()).unwrap_or_default();
                        let max_tokens = current.as_ref().and_then(|v| v.max_tokens).map(|t| t.to_string()).unwrap_or_default();
                        view! {
                            <section class="panel" id="new-version">
                                <h2>"New version"</h2>
                                <ActionForm action=add node_ref=add_form>
                                    <input type="hidden" name="project" value=project.clone()/>
                                    <input type="hidden" name="prompt" value=prompt.clone()/>
                                    <textarea name="content" id="version-content" rows="8" cols="90" required
                                              placeholder="Answer {{ question }} for {{ customer }}.">{content}</textarea>
                                    <div class="version-form">
                                        <label>"Model " <input name="model" id="version-model" value=model size="18"/></label>
                                        <label>"Temperature " <input name="temperature" id="version-temperature" value=temperature size="5"/></label>
                                        <label>"Max tokens " <input name="max_tokens" id="version-max-tokens" value=max_tokens size="7"/></label>
                                        <label>"Change note " <input name="change_note" id="version-note" size="40"/></label>
                                        <button type="submit" id="add-version">"Save version"</button>
                                    </div>
                                </ActionForm>
                                <p class="muted">"Variables are read from the content: "<code>"{{ name }}"</code>" or "<code>"{name}"</code>"."</p>
                                {move || add.value().get().and_then(Result::err).map(|e| view! { <ErrorBox message=message(&e)/> })}
                            </section>
                            <section class="panel" id="set-label">
                                <h2>"Move a label"</h2>
                                <ActionForm action=label node_ref=label_form>
                                    <input type="hidden" name="project" value=project2.clone()/>
                                    <input type="hidden" name="prompt" value=prompt2.clone()/>
                                    <label>"Label " <input name="label" id="label-name" list="label-names" required size="12" placeholder="prod"/></label>
                                    <datalist id="label-names"><option value="prod"/><option value="staging"/></datalist>
                                    " "<label>"Version " <select name="version" id="label-version">
                                        {d.versions.iter().map(|v| view! { <option value=v.id.clone()>{format!("v{}", v.number)}</option> }).collect_view()}
                                    </select></label>
                                    " "<label>"Change note " <input name="change_note" id="label-note" size="40" placeholder="required for prod"/></label>
                                    " "<button type="submit" id="move-label">"Move"</button>
                                </ActionForm>
                                {move || label.value().get().and_then(Result::err).map(|e| view! { <ErrorBox message=message(&e)/> })}
                            </section>
                        }
                    })}
                    <section class="panel" id="label-history">
                        <h2>"Label history"</h2>
                        {if d.history.is_empty() {
                            view! { <p class="muted">"No label was set yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table compact">
                                    <thead><tr><th>"Label"</th><th>"Version"</th><th>"When"</th><th>"By"</th><th>"Note"</th></tr></thead>
                                    <tbody>
                                        {d.history.iter().map(|h| view! {
                                            <tr class="label-move">
                                                <td>{h.label.clone()}</td><td>{format!("v{}", h.version)}</td>
                                                <td class="muted">{h.at.clone()}</td><td>{h.by.clone().unwrap_or_default()}</td>
                                                <td>{h.note.clone().unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

/// Every version beside the others: what it says and how the runs that used it went.
#[component]
fn VersionsTable(project: String, prompt: String, versions: Vec<VersionItem>) -> impl IntoView {
    view! {
        <table class="table" id="version-table">
            <thead><tr>
                <th>"Version"</th><th>"Labels"</th><th>"Model"</th><th>"Note"</th><th>"Created"</th>
                <th>"Runs"</th><th>"Errors"</th><th>"Cost / run"</th><th>"p50"</th><th>"p95"</th><th>"Scores"</th>
            </tr></thead>
            <tbody>
                {versions.into_iter().map(|v| {
                    let href = format!("/p/{project}/prompts/{prompt}/versions/{}", v.number);
                    view! {
                        <tr class="version-row" data-version=v.number>
                            <td>
                                <A href=href>{format!("v{}", v.number)}</A>
                                <details class="version-content"><summary>"content"</summary><pre class="code">{v.content.clone()}</pre></details>
                            </td>
                            <td>{v.labels.iter().map(|l| view! { <span class="label-chip">{l.clone()}</span> }).collect_view()}</td>
                            <td class="muted">{v.model.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{v.change_note.clone().unwrap_or_default()}</td>
                            <td class="muted" title=v.created_by.clone().unwrap_or_default()>{v.created.clone()}</td>
                            <td class="num runs">{v.runs}</td>
                            <td class="num">{v.error_rate.clone()}</td>
                            <td class="num">{v.cost_per_run.clone()}</td>
                            <td class="num">{v.p50.clone()}</td>
                            <td class="num">{v.p95.clone()}</td>
                            <td class="scores">{v.scores.iter().map(|(n, mean, count)| view! {
                                <span class="score-chip" title=format!("mean of {count}")>{n.clone()}" "<b>{mean.clone()}</b></span>
                            }).collect_view()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Two versions' contents, line by line.
#[component]
fn Diff(project: String, prompt: String, numbers: Vec<i32>) -> impl IntoView {
    // Newest first: the newest against the one before it, by default.
    let from = RwSignal::new(numbers.get(1).copied().unwrap_or_default());
    let to = RwSignal::new(numbers.first().copied().unwrap_or_default());
    let lines = Resource::new(
        move || (project.clone(), prompt.clone(), from.get(), to.get()),
        |(p, id, f, t)| crate::api::prompt_diff(p, id, f, t),
    );
    let options = move |current: RwSignal<i32>| {
        numbers
            .iter()
            .map(|&n| view! { <option value=n.to_string() selected=move || current.get() == n>{format!("v{n}")}</option> })
            .collect_view()
    };
    let pick = |signal: RwSignal<i32>| move |ev| signal.set(event_target_value(&ev).parse().unwrap_or_default());
    view! {
        <section class="panel" id="diff">
            <h2>"Compare versions"</h2>
            <label>"From " <select id="diff-from" on:change=pick(from)>{options(from)}</select></label>
            " "<label>"to " <select id="diff-to" on:change=pick(to)>{options(to)}</select></label>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match lines.await {
                        Ok(lines) => view! {
                            <pre class="code diff" id="diff-lines">
                                {lines.into_iter().map(|l| {
                                    let sign = match l.tag.as_str() { "add" => "+ ", "del" => "- ", _ => "  " };
                                    view! { <div class=format!("diff-line diff-{}", l.tag)>{sign}{l.text}</div> }
                                }).collect_view()}
                            </pre>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A version: its content and variables, and the runs that used it.
#[component]
pub fn PromptVersionPage() -> impl IntoView {
    let (project, id, number, page) = (project_id(), route_param("id"), route_param("number"), query_param("page"));
    let data = Resource::new(
        move || (project.get(), id.get(), number.get(), page.get()),
        |(p, id, n, pg)| crate::api::prompt_version(p, id, n.parse().unwrap_or_default(), pg.parse().unwrap_or(1)),
    );
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let (p, v) = (d.prompt, d.version);
                let back = format!("/p/{}/prompts/{}", project.get(), p.id);
                let base = format!("{back}/versions/{}", v.number);
                view! {
                    <header class="page-head">
                        <h1><A href=back>{p.name.clone()}</A>{format!(" · v{}", v.number)}</h1>
                        <span class="labels">{v.labels.iter().map(|l| view! { <span class="label-chip">{l.clone()}</span> }).collect_view()}</span>
                    </header>
                    <section class="stats" id="version-figures">
                        <Stat label="Runs" value=v.runs.to_string()/>
                        <Stat label="Errors" value=v.error_rate.clone()/>
                        <Stat label="Cost / run" value=v.cost_per_run.clone()/>
                        <Stat label="Latency p50 · p95" value=format!("{} · {}", v.p50, v.p95)/>
                    </section>
                    <section class="panel" id="version-detail">
                        <pre class="code">{v.content.clone()}</pre>
                        <p class="muted">
                            "Variables: "{if v.variables.is_empty() { "none".to_owned() } else { v.variables.join(", ") }}
                            {v.model.clone().map(|m| format!(" · model {m}"))}
                            {v.temperature.map(|t| format!(" · temperature {t}"))}
                            {v.max_tokens.map(|t| format!(" · max tokens {t}"))}
                            {format!(" · sha256 {}…", v.hash)}
                        </p>
                    </section>
                    <section class="panel">
                        <h2>"Runs that used it"</h2>
                        {if d.runs.is_empty() {
                            view! { <p class="muted">"No run used this version yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table" id="runs">
                                    <thead><tr>
                                        <th>"Run"</th><th>"Name · input"</th><th>"Status"</th><th>"Started"</th><th>"Duration"</th>
                                        <th>"Model"</th><th>"Tools"</th><th>"Tokens"</th><th>"Cost"</th><th>"Scores"</th><th>"Session"</th>
                                    </tr></thead>
                                    <tbody>
                                        {d.runs.into_iter().map(|r| view! { <super::runs::RunRowView run=r project=project.get()/> }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager page=page.get().parse().unwrap_or(1) total=d.total base=base pairs=Vec::new()/>
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}
