//! `/p/:project/runs/:id`: the trace. The tree (or timeline) of spans and events on the left,
//! the selected span (`?span=`, the run itself when absent) on the right, scores below.

use leptos::prelude::*;
use leptos_router::components::A;

use super::graph::RunGraph;
use super::tree::{TraceTree, TreeSource};
use super::{query_param, route_param};
use crate::api::AddScore;
use crate::app::project_id;
use crate::components::{
    CopyButton, ErrorBox, IdChip, JsonTree, LiveToggle, Loading, Stat, StatusBadge, kind_icon, live_changes, message,
};
use crate::format;
use crate::model::{ErrorView, MessageView, NodeDetail, RunItem};

#[component]
pub fn RunPage() -> impl IntoView {
    let project = project_id();
    let id = route_param("id");
    let span = query_param("span");
    let tab = query_param("view");
    let timeline = Memo::new(move |_| tab.get() == "timeline");
    // Changes to this run, as they are ingested (by any server on the database).
    let live = RwSignal::new(true);
    let live_url =
        Memo::new(move |_| format!("/api/live{}", format::query(&[("project", &project.get()), ("run", &id.get())])));
    let changes = live_changes(live_url, live);
    // The span in the URL when the page opens decides the first window; selecting another
    // afterwards does not reload the tree.
    let trace =
        Resource::new(move || (project.get(), id.get()), move |(p, id)| crate::api::trace(p, id, span.get_untracked()));
    let detail = Resource::new(
        move || (project.get(), id.get(), span.get(), changes.get()),
        |(p, id, n, _)| crate::api::load_node(p, id, n),
    );
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let t = match trace.await {
                    Ok(t) => t,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let summary = RwSignal::new(t.summary.clone());
                // The header follows the run's changes.
                Effect::new(move |_| {
                    if changes.get() > 0 {
                        let (p, r) = (project.get_untracked(), id.get_untracked());
                        leptos::task::spawn_local(async move {
                            if let Ok(now) = crate::api::run_header(p, r).await {
                                summary.set(now);
                            }
                        });
                    }
                });
                let r = t.summary.run.clone();
                let base = format!("/p/{}/runs/{}", project.get_untracked(), r.id);
                // Links that follow the selection without re-rendering the tree (which would
                // fold what the person opened).
                let tab_href = |v: &'static str| {
                    let base = base.clone();
                    move || format!("{base}{}", format::query(&[("span", &span.get()), ("view", v)]))
                };
                let tab_class = move |on: bool| move || if timeline.get() == on { "tab active" } else { "tab" };
                let source = TreeSource {
                    project: project.get_untracked(),
                    run: r.id.clone(),
                    total_ms: t.summary.total_ms,
                    started_unix_ms: t.summary.started_unix_ms,
                    base: base.clone(),
                };
                let errors = Signal::derive(move || summary.with(|s| s.errors));
                // Only a run's first node replaces the empty state by the tree; later changes
                // update the tree in place.
                let empty = Memo::new(move |_| summary.with(|s| s.nodes) == 0);
                view! {
                    <nav class="crumbs">
                        <A href=format!("/p/{}/sessions", project.get_untracked())>"Sessions"</A>" / "
                        <A href=format!("/p/{}/sessions/{}", project.get_untracked(), r.session_id)><code>{format::short_id(&r.session_id).to_owned()}</code></A>
                        " / "<code>{format::short_id(&r.id).to_owned()}</code>
                    </nav>
                    <header class="page-head">
                        <h1><span class="kind kind-run">{kind_icon("run")}</span>" " {r.name.clone()}</h1>
                        {move || view! { <StatusBadge status=summary.with(|s| s.run.status.as_str().to_owned())/> }}
                        <LiveToggle on=live/>
                        <IdChip id=r.id.clone()/>
                    </header>
                    {move || summary.with(|s| s.error.clone()).map(|e| view! { <ErrorBanner error=e/> })}
                    {move || view! { <RunStats r=summary.with(|s| s.run.clone())/> }}
                    <div class="trace">
                        <section class="panel trace-tree">
                            <div class="tabs">
                                <A href=tab_href("") attr:class=tab_class(false)>"Tree"</A>
                                <A href=tab_href("timeline") attr:class=tab_class(true)>"Timeline"</A>
                                <A href=base.clone() attr:class="tab run-link">"▶ Run"</A>
                            </div>
                            {move || if empty.get() {
                                view! { <p class="muted">"This run has no spans or events yet."</p> }.into_any()
                            } else {
                                view! {
                                    <TraceTree source=source.clone() window=t.window.clone() toggles=t.toggles.clone()
                                               selected_row=t.selected_row errors selected=span timeline changes/>
                                }.into_any()
                            }}
                        </section>
                        <section class="panel trace-detail" id="node-detail">
                            <Transition fallback=Loading>
                                {move || Suspend::new(async move {
                                    match detail.await {
                                        Ok(d) => view! { <Detail d/> }.into_any(),
                                        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                                    }
                                })}
                            </Transition>
                        </section>
                    </div>
                    <RunGraph project=project.get_untracked() run=r.id.clone() changes/>
                    <PromptUses project=project.get_untracked() run=r.id.clone()/>
                    <Scores project=project.get_untracked() run=r.id.clone()/>
                }.into_any()
            })}
        </Suspense>
    }
}

/// The run's figures.
#[component]
fn RunStats(r: RunItem) -> impl IntoView {
    let model = match (&r.model, r.models) {
        (Some(m), n) if n > 1 => format!("{m} +{}", n - 1),
        (Some(m), _) => m.clone(),
        (None, _) => "—".into(),
    };
    view! {
        <section class="stats">
            <Stat label="Duration" value=format::duration(r.duration_ms) sub=r.started.clone()/>
            <Stat label="Cost" value=format::run_cost(r.cost_usd, r.model.as_deref())/>
            <Stat label="Tokens" value=format::count(r.input_tokens + r.output_tokens)
                  sub=format!("{} in · {} out", format::count(r.input_tokens), format::count(r.output_tokens))/>
            <Stat label="Model" value=model/>
            <Stat label="Spans" value=r.spans.to_string() sub=format!("{} tool calls", r.tool_calls)/>
        </section>
    }
}

#[component]
fn ErrorBanner(error: ErrorView) -> impl IntoView {
    view! {
        <div class="banner error" role="alert">
            {error.kind.map(|k| view! { <strong>{k}</strong>": " })}
            <span class="error-message">{error.message}</span>
            {error.stack.map(|s| view! {
                <details class="error-stack"><summary>"Stack"</summary><pre class="code">{s}</pre></details>
            })}
        </div>
    }
}

#[component]
fn Detail(d: NodeDetail) -> impl IntoView {
    let tokens = d.tokens.map(|(i, o)| format!("{} in · {} out", format::count(i), format::count(o)));
    view! {
        <h2><span class=format!("kind kind-{}", d.kind_name())>{kind_icon(d.kind_name())}</span>" " {d.title.clone()}</h2>
        <div class="metrics">
            <span class="muted">{d.kind_name()}</span>
            <StatusBadge status=d.status.as_str().to_owned()/>
            <span>{format::duration(d.duration_ms)}</span>
            {d.iteration.map(|i| view! { <span class="iteration">{format!("iteration {i}")}</span> })}
            {tokens.map(|t| view! { <span>{t}</span> })}
            {d.cost_usd.map(|c| view! { <span class="cost">{format::cost(c)}</span> })}
            {d.model.clone().map(|m| view! { <span class="model">{m}</span> })}
        </div>
        {d.error.clone().map(|e| view! { <ErrorBanner error=e/> })}
        {(!d.messages.is_empty()).then(|| view! {
            <h3>"Messages and payloads"</h3>
            <div class="conversation">
                {d.messages.iter().cloned().map(|m| view! { <Message m/> }).collect_view()}
            </div>
        })}
        <details class="attributes" open=d.messages.is_empty()>
            <summary>{if d.kind.is_none() { "Metadata" } else { "Attributes" }}" "<CopyButton text=d.attributes.clone() what="JSON"/></summary>
            <JsonTree node=d.attributes_tree.clone()/>
        </details>
    }
}

/// One message of a conversation: its role, time, text or JSON tree, and a copy button.
#[component]
pub fn Message(m: MessageView) -> impl IntoView {
    view! {
        <div class=format!("msg role-{}", m.role)>
            <div class="msg-head">
                <span class="msg-role">{m.label.clone()}</span>
                <span class="msg-tools">
                    <span class="muted">{m.at.clone()}</span>
                    <CopyButton text=m.text.clone().or_else(|| m.json.clone()).unwrap_or_default() what="message"/>
                </span>
            </div>
            {m.text.clone().map(|t| view! { <div class="msg-text">{t}</div> })}
            {m.tree.clone().map(|node| view! { <JsonTree node=node/> })}
        </div>
    }
}

/// The run's scores and the form to add a human one.
#[component]
fn Scores(project: String, run: String) -> impl IntoView {
    let add = ServerAction::<AddScore>::new();
    let data_type = RwSignal::new("numeric".to_owned());
    let form = NodeRef::<leptos::html::Form>::new();
    // A score added: the form is empty again, for the next one.
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(_))) {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
            data_type.set("numeric".to_owned());
        }
    });
    let (p, r) = (project.clone(), run.clone());
    let scores =
        Resource::new(move || (p.clone(), r.clone(), add.version().get()), |(p, r, _)| crate::api::run_scores(p, r));
    let error = move || {
        add.value().get().and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{message(&e)}</p> })
    };
    view! {
        <section class="panel" id="scores">
            <h2>"Scores"</h2>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match scores.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No scores yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="table compact">
                                <thead><tr><th>"Name"</th><th>"Value"</th><th>"Source"</th><th>"Comment"</th><th>"When"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| view! {
                                        <tr class="score-row">
                                            <td>{s.name}</td>
                                            <td class=format!("score-value type-{}", s.data_type)>
                                                {s.value}
                                                {s.span.map(|id| view! { <span class="score-span" title=id.clone()>" span "{format::short_id(&id).to_owned()}</span> })}
                                            </td>
                                            <td>
                                                <span class=format!("badge source-{}", s.source)>{s.source.clone()}</span>
                                                {s.by.map(|by| view! { <span class="score-by muted">" by "{by}</span> })}
                                            </td>
                                            <td>{s.comment.unwrap_or_default()}</td>
                                            <td class="muted">{s.created}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=add node_ref=form>
                <div class="score-form">
                    <input type="hidden" name="project" value=project/>
                    <input type="hidden" name="run" value=run/>
                    <input name="name" placeholder="Score name" required aria-label="Score name"/>
                    <select name="data_type" aria-label="Type" on:change=move |ev| data_type.set(event_target_value(&ev))>
                        <option value="numeric">"Number"</option>
                        <option value="categorical">"Category"</option>
                        <option value="boolean">"Pass / fail"</option>
                    </select>
                    // Only the input of the chosen type is shown.
                    <input name="value" type="number" step="any" placeholder="Value" aria-label="Value"
                           hidden=move || data_type.get() != "numeric"/>
                    <input name="category" placeholder="Category" aria-label="Category"
                           hidden=move || data_type.get() != "categorical"/>
                    <select name="passed" aria-label="Pass or fail" hidden=move || data_type.get() != "boolean">
                        <option value="">"Pass / fail…"</option>
                        <option value="pass">"Pass"</option>
                        <option value="fail">"Fail"</option>
                    </select>
                    <input name="comment" placeholder="Comment (optional)" aria-label="Comment"/>
                    <button type="submit" id="add-score">"Add score"</button>
                </div>
            </ActionForm>
            {error}
        </section>
    }
}

/// Which prompt version each span of the run used, with its variables (nothing when none did).
#[component]
fn PromptUses(project: String, run: String) -> impl IntoView {
    let (p, r) = (project.clone(), run.clone());
    let uses = Resource::new(move || (p.clone(), r.clone()), |(p, r)| crate::api::run_prompts(p, r));
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let project = project.clone();
                Suspend::new(async move {
                    match uses.await {
                        Ok(list) if list.is_empty() => ().into_any(),
                        Ok(list) => view! {
                            <section class="panel" id="prompt-uses">
                                <h2>"Prompts"</h2>
                                <table class="table compact">
                                    <thead><tr><th>"Span"</th><th>"Prompt version"</th><th>"Variables"</th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|u| {
                                            let href = format!("/p/{project}/prompts/{}/versions/{}", u.prompt_id, u.version);
                                            view! {
                                                <tr class="prompt-use">
                                                    <td>{u.span_name}</td>
                                                    <td><a href=href>{format!("{} v{}", u.prompt_name, u.version)}</a>
                                                        {u.labels.into_iter().map(|l| view! { " "<span class="label-chip">{l}</span> }).collect_view()}</td>
                                                    <td>{u.variables.into_iter().map(|(k, v)| view! {
                                                        <div class="variable"><code>{k}</code>" = "{v}</div>
                                                    }).collect_view()}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
