//! `/p/:project`: runs, errors, cost and tokens at a glance, for a time range.

use leptos::prelude::*;

use super::query_param;
use crate::app::project_id;
use crate::components::{BarChart, ErrorBox, FirstTrace, HBar, Loading, RangePicker, Stat, message};
use crate::format;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let project = project_id();
    let range = query_param("range");
    let range = Memo::new(move |_| if range.get().is_empty() { "30d".to_owned() } else { range.get() });
    let data = Resource::new(move || (project.get(), range.get()), |(p, r)| crate::api::overview(p, r));
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let base = format!("/p/{}", d.project.id);
                let empty = !d.has_data;
                let max_model = d.by_model.first().map_or(0.0, |m| m.cost_usd);
                let max_latency = d.p95_ms.unwrap_or(0.0);
                let unpriced: Vec<String> =
                    d.by_model.iter().filter(|m| m.cost_usd == 0.0 && m.tokens > 0).map(|m| m.model.clone()).collect();
                let cost_note =
                    if unpriced.is_empty() { String::new() } else { format!("unpriced: {}", unpriced.join(", ")) };
                view! {
                    <header class="page-head">
                        <h1>"Overview"</h1>
                        <RangePicker current=range.get() base=base.clone()/>
                    </header>
                    {empty.then(|| view! { <FirstTrace ingest_url=d.ingest.url.clone()/> })}
                    <section class="stats">
                        <Stat label="Runs" value=format::count(d.runs)/>
                        <Stat label="Sessions" value=format::count(d.sessions)/>
                        <Stat label="Error rate" value=format::percent(d.error_rate) sub=format!("{} errored runs", d.errored_runs)/>
                        <Stat label="Tool calls" value=format::count(d.tool_calls)/>
                        <Stat label="Cost" value=format::usage_cost(d.cost_usd, d.input_tokens + d.output_tokens) sub=cost_note/>
                        <Stat label="Tokens" value=format::count(d.input_tokens + d.output_tokens)
                              sub=format!("{} in · {} out", format::count(d.input_tokens), format::count(d.output_tokens))/>
                    </section>
                    <section class="charts">
                        <BarChart title="Runs per day" points=d.days.iter().map(|p| (p.day.clone(), p.runs as f64)).collect() format=|v| format::count(v as i64)/>
                        <BarChart title="Errors per day" class="bar bar-error" points=d.days.iter().map(|p| (p.day.clone(), p.errors as f64)).collect() format=|v| format::count(v as i64)/>
                        <BarChart title="Cost per day" points=d.days.iter().map(|p| (p.day.clone(), p.cost_usd)).collect() format=format::cost/>
                        <BarChart title="Tokens per day" points=d.days.iter().map(|p| (p.day.clone(), p.tokens as f64)).collect() format=|v| format::count(v as i64)/>
                    </section>
                    <section class="panels">
                        <div class="panel">
                            <h2>"Cost by model"</h2>
                            {if d.by_model.is_empty() {
                                view! { <p class="muted">"No model calls in this range."</p> }.into_any()
                            } else {
                                d.by_model.iter().map(|m| view! {
                                    <HBar label=m.model.clone() value=m.cost_usd max=max_model
                                          text=format!("{} · {} calls · {} tokens", format::usage_cost(m.cost_usd, m.tokens), m.calls, format::count(m.tokens))/>
                                }).collect_view().into_any()
                            }}
                        </div>
                        <div class="panel">
                            <h2>"Run latency"</h2>
                            <HBar label="p50".to_owned() value=d.p50_ms.unwrap_or(0.0) max=max_latency text=format::duration(d.p50_ms)/>
                            <HBar label="p95".to_owned() value=d.p95_ms.unwrap_or(0.0) max=max_latency text=format::duration(d.p95_ms)/>
                        </div>
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}
