//! `/p/:project/runs`: runs across sessions, filterable by status, time, text and score, sorted
//! by start, duration, tokens or cost; each row says what the run was asked and its scores.

use leptos::prelude::*;
use leptos_router::components::A;

use super::query_param;
use crate::app::project_id;
use crate::components::{
    ErrorBox, FirstTrace, IdChip, LiveToggle, Loading, Pager, STARTED, Select, SortHeader, StatusBadge, live_changes,
    message,
};
use crate::format;
use crate::model::RunItem;

#[component]
pub fn RunsPage() -> impl IntoView {
    let project = project_id();
    let (status, range, q, score, min, max, category) = (
        query_param("status"),
        query_param("range"),
        query_param("q"),
        query_param("score"),
        query_param("min"),
        query_param("max"),
        query_param("category"),
    );
    let (sort, dir, page) = (query_param("sort"), query_param("dir"), query_param("page"));
    // New and finished runs appear as they are ingested, unless paused.
    let live = RwSignal::new(true);
    let changes = live_changes(Memo::new(move |_| format!("/api/live?project={}", project.get())), live);
    let data = Resource::new(
        move || {
            let filters = (status.get(), range.get(), q.get(), score.get(), min.get(), max.get(), category.get());
            (changes.get(), project.get(), filters, sort.get(), dir.get(), page.get())
        },
        |(_, p, (st, r, q, sc, mn, mx, cat), so, d, pg)| {
            crate::api::list_runs(p, st, r, q, sc, mn, mx, cat, so, d, pg.parse().unwrap_or(1))
        },
    );
    let names = Resource::new(move || project.get(), crate::api::score_names);
    // The filters stay outside the live part of the page: what someone is typing survives an update.
    let filters = view! {
        <form method="get" class="filters">
            {move || view! {
                <Select label="Status" name="status" current=status.get()
                        options=&[("", "Any"), ("ok", "ok"), ("error", "error"), ("running", "running")]/>
                <Select label="Started" name="range" current=range.get() options=STARTED/>
            }}
            <input type="search" name="q" placeholder="Search ids, names, metadata" prop:value=move || q.get()/>
            <label>"Score "
                <select name="score">
                    <option value="">"—"</option>
                    <Suspense>
                        {move || Suspend::new(async move {
                            names.await.unwrap_or_default().into_iter().map(|n| {
                                let (selected, label) = (score.get_untracked() == n, n.clone());
                                view! { <option value=n selected=selected>{label}</option> }
                            }).collect_view()
                        })}
                    </Suspense>
                </select>
            </label>
            <input name="min" size="6" placeholder="min" aria-label="Score at least" prop:value=move || min.get()/>
            <input name="max" size="6" placeholder="max" aria-label="Score at most" prop:value=move || max.get()/>
            <input name="category" size="10" placeholder="category" aria-label="Score category" prop:value=move || category.get()/>
            <input type="hidden" name="sort" prop:value=move || sort.get()/>
            <input type="hidden" name="dir" prop:value=move || dir.get()/>
            <button type="submit">"Filter"</button>
        </form>
    };
    view! {
        <header class="page-head"><h1>"Runs"</h1><LiveToggle on=live/></header>
        {filters}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let filtered = [status.get(), range.get(), q.get(), score.get()].iter().any(|v| !v.is_empty());
                if d.total == 0 && !filtered {
                    return view! { <FirstTrace ingest_url=d.ingest.url/> }.into_any();
                }
                let base = format!("/p/{}/runs", project.get());
                let keep = vec![("status", status.get()), ("range", range.get()), ("q", q.get()), ("score", score.get()), ("min", min.get()), ("max", max.get()), ("category", category.get())];
                let header = {
                    let (base, keep) = (base.clone(), keep.clone());
                    move |key: &'static str, label: &'static str| view! {
                        <SortHeader key=key label=label base=base.clone() keep=keep.clone() sort=sort.get() dir=dir.get()/>
                    }
                };
                let mut pairs = keep;
                pairs.extend([("sort", sort.get()), ("dir", dir.get())]);
                view! {
                    <table class="table" id="runs">
                        <thead><tr>
                            <th>"Run"</th><th>"Name · input"</th><th>"Status"</th>
                            {header("started", "Started")}{header("duration", "Duration")}
                            <th>"Model"</th><th>"Tools"</th>{header("tokens", "Tokens")}{header("cost", "Cost")}
                            <th>"Scores"</th><th>"Session"</th>
                        </tr></thead>
                        <tbody>
                            {d.rows.into_iter().map(|r| view! { <RunRowView run=r project=project.get()/> }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page=page.get().parse().unwrap_or(1) total=d.total base=base pairs=pairs/>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
pub(crate) fn RunRowView(run: RunItem, project: String) -> impl IntoView {
    let r = run;
    let href = format!("/p/{project}/runs/{}", r.id);
    let session = format!("/p/{project}/sessions/{}", r.session_id);
    view! {
        <tr>
            <td><IdChip id=r.id.clone() href=href.clone()/></td>
            <td class="run-name">
                <A href=href>{r.name.clone()}</A>
                {r.user.clone().map(|u| view! { <span class="who" title="User">{u}</span> })}
                {r.input.clone().map(|i| view! { <div class="preview muted" title="First input">{i}</div> })}
            </td>
            <td><StatusBadge status=r.status.as_str().to_owned()/></td>
            <td title=r.started.clone()>{r.started_ago.clone()}</td>
            <td>{format::duration(r.duration_ms)}</td>
            <td class="muted model">{r.model.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="num">{r.tool_calls}</td>
            <td class="num">{format::count(r.input_tokens + r.output_tokens)}</td>
            <td class="num">{format::run_cost(r.cost_usd, r.model.as_deref())}</td>
            <td class="scores">
                {r.scores.into_iter().map(|s| {
                    let title = if s.span { "A span's score" } else { "The run's score" };
                    view! { <span class="score-chip" class:span-score=s.span title=title>{s.name}" "<b>{s.value}</b></span> }
                }).collect_view()}
            </td>
            <td><IdChip id=r.session_id.clone() href=session/></td>
        </tr>
    }
}
