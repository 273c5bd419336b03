//! `/p/:project/sessions`: every session, filtered, sorted and paged on the server.

use leptos::prelude::*;
use leptos_router::components::A;

use super::query_param;
use crate::app::project_id;
use crate::components::{
    ErrorBox, FirstTrace, IdChip, LiveToggle, Loading, Pager, STARTED, Select, SortHeader, StatusBadge, live_changes,
    message,
};
use crate::format;

#[component]
pub fn SessionsPage() -> impl IntoView {
    let project = project_id();
    let (status, range, q, sort, dir, page) = (
        query_param("status"),
        query_param("range"),
        query_param("q"),
        query_param("sort"),
        query_param("dir"),
        query_param("page"),
    );
    // New and finished runs appear as they are ingested, unless paused.
    let live = RwSignal::new(true);
    let changes = live_changes(Memo::new(move |_| format!("/api/live?project={}", project.get())), live);
    let data = Resource::new(
        move || (changes.get(), project.get(), status.get(), range.get(), q.get(), sort.get(), dir.get(), page.get()),
        |(_, p, st, r, q, so, d, pg)| crate::api::list_sessions(p, st, r, q, so, d, pg.parse().unwrap_or(1)),
    );
    view! {
        <header class="page-head"><h1>"Sessions"</h1><LiveToggle on=live/></header>
        <form method="get" class="filters">
            {move || view! {
                <Select label="Status" name="status" current=status.get()
                        options=&[("", "Any"), ("active", "Active"), ("completed", "Completed"), ("errored", "Errored")]/>
                <Select label="Started" name="range" current=range.get() options=STARTED/>
            }}
            <input type="search" name="q" placeholder="Search ids, names, metadata" prop:value=move || q.get()/>
            <input type="hidden" name="sort" prop:value=move || sort.get()/>
            <input type="hidden" name="dir" prop:value=move || dir.get()/>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let filtered = !status.get().is_empty() || !range.get().is_empty() || !q.get().is_empty();
                if d.total == 0 && !filtered {
                    return view! { <FirstTrace ingest_url=d.ingest.url/> }.into_any();
                }
                let base = format!("/p/{}/sessions", project.get());
                let keep = vec![("status", status.get()), ("range", range.get()), ("q", q.get()), ("sort", sort.get()), ("dir", dir.get())];
                let header = {
                    let (base, keep) = (base.clone(), vec![("status", status.get()), ("range", range.get()), ("q", q.get())]);
                    move |key: &'static str, label: &'static str| view! {
                        <SortHeader key=key label=label base=base.clone() keep=keep.clone() sort=sort.get() dir=dir.get()/>
                    }
                };
                view! {
                    <table class="table" id="sessions">
                        <thead><tr>
                            <th>"Session"</th><th>"First run · input"</th><th>"Status"</th>
                            {header("started", "Started")}{header("duration", "Duration")}{header("runs", "Runs")}
                            {header("tool_calls", "Tool calls")}{header("cost", "Cost")}{header("tokens", "Tokens")}
                        </tr></thead>
                        <tbody>
                            {d.rows.into_iter().map(|s| {
                                let href = format!("/p/{}/sessions/{}", project.get(), s.id);
                                let duration = if s.status == "active" { format!("{} (running)", format::duration(s.duration_ms)) } else { format::duration(s.duration_ms) };
                                view! {
                                    <tr>
                                        <td><IdChip id=s.id.clone() href=href.clone()/></td>
                                        <td class="run-name">
                                            <A href=href>{s.first_run.clone().unwrap_or_else(|| "—".into())}</A>
                                            {s.user.clone().map(|u| view! { <span class="who" title="User">{u}</span> })}
                                            {s.input.clone().map(|i| view! { <div class="preview muted" title="First input">{i}</div> })}
                                        </td>
                                        <td><StatusBadge status=s.status.clone()/></td>
                                        <td title=s.started.clone()>{s.started_ago.clone()}</td>
                                        <td>{duration}</td>
                                        <td class="num">{s.runs}</td>
                                        <td class="num">{s.tool_calls}</td>
                                        <td class="num">{format::usage_cost(s.cost_usd, s.tokens)}</td>
                                        <td class="num">{format::count(s.tokens)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page=page.get().parse().unwrap_or(1) total=d.total base=base pairs=keep/>
                }.into_any()
            })}
        </Transition>
    }
}
