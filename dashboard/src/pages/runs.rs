//! `/p/:project/runs`: runs across sessions, filterable by status, time, text and score.

use leptos::prelude::*;
use leptos_router::components::A;

use super::query_param;
use crate::app::project_id;
use crate::components::{
    ErrorBox, FirstTrace, IdChip, LiveToggle, Loading, Pager, STARTED, Select, StatusBadge, live_changes, message,
};
use crate::format;

#[component]
pub fn RunsPage() -> impl IntoView {
    let project = project_id();
    let (status, range, q, score, min, max, category, page) = (
        query_param("status"),
        query_param("range"),
        query_param("q"),
        query_param("score"),
        query_param("min"),
        query_param("max"),
        query_param("category"),
        query_param("page"),
    );
    // New and finished runs appear as they are ingested, unless paused.
    let live = RwSignal::new(true);
    let changes = live_changes(Memo::new(move |_| format!("/api/live?project={}", project.get())), live);
    let data = Resource::new(
        move || {
            let filters = (status.get(), range.get(), q.get(), score.get(), min.get(), max.get(), category.get());
            (changes.get(), project.get(), filters, page.get())
        },
        |(_, p, (st, r, q, sc, mn, mx, cat), pg)| {
            crate::api::list_runs(p, st, r, q, sc, mn, mx, cat, pg.parse().unwrap_or(1))
        },
    );
    view! {
        <header class="page-head"><h1>"Runs"</h1><LiveToggle on=live/></header>
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
                let keep = vec![("status", status.get()), ("range", range.get()), ("q", q.get()), ("score", score.get()), ("min", min.get()), ("max", max.get()), ("category", category.get())];
                view! {
                    <form method="get" class="filters">
                        <Select label="Status" name="status" current=status.get()
                                options=&[("", "Any"), ("ok", "ok"), ("error", "error"), ("running", "running")]/>
                        <Select label="Started" name="range" current=range.get() options=STARTED/>
                        <input type="search" name="q" placeholder="Search ids, names, metadata" value=q.get()/>
                        <label>"Score "
                            <select name="score">
                                <option value="">"—"</option>
                                {d.score_names.iter().map(|n| {
                                    let selected = score.get() == *n;
                                    view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <input name="min" size="6" placeholder="min" aria-label="Score at least" value=min.get()/>
                        <input name="max" size="6" placeholder="max" aria-label="Score at most" value=max.get()/>
                        <input name="category" size="10" placeholder="category" aria-label="Score category" value=category.get()/>
                        <button type="submit">"Filter"</button>
                    </form>
                    <table class="table" id="runs">
                        <thead><tr>
                            <th>"Run"</th><th>"Name"</th><th>"Status"</th><th>"Started"</th><th>"Duration"</th>
                            <th>"Model"</th><th>"Tools"</th><th>"Tokens"</th><th>"Cost"</th><th>"Session"</th>
                        </tr></thead>
                        <tbody>
                            {d.rows.into_iter().map(|r| {
                                let href = format!("/p/{}/runs/{}", project.get(), r.id);
                                let session = format!("/p/{}/sessions/{}", project.get(), r.session_id);
                                view! {
                                    <tr>
                                        <td><IdChip id=r.id.clone() href=href.clone()/></td>
                                        <td><A href=href>{r.name.clone()}</A></td>
                                        <td><StatusBadge status=r.status.as_str().to_owned()/></td>
                                        <td title=r.started.clone()>{r.started_ago.clone()}</td>
                                        <td>{format::duration(r.duration_ms)}</td>
                                        <td class="muted">{r.model.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td class="num">{r.tool_calls}</td>
                                        <td class="num">{format::count(r.input_tokens + r.output_tokens)}</td>
                                        <td class="num">{format::run_cost(r.cost_usd, r.model.as_deref())}</td>
                                        <td><IdChip id=r.session_id.clone() href=session/></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page=page.get().parse().unwrap_or(1) total=d.total base=format!("/p/{}/runs", project.get()) pairs=keep/>
                }.into_any()
            })}
        </Transition>
    }
}
