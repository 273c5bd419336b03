//! `/p/:project/scores`: each score name's distribution and daily trend.

use leptos::prelude::*;
use leptos_router::components::A;

use super::query_param;
use crate::app::project_id;
use crate::components::{BarChart, ErrorBox, Loading, RangePicker, message};
use crate::format::{self, number};

#[component]
pub fn ScoresPage() -> impl IntoView {
    let project = project_id();
    let range = query_param("range");
    let range = Memo::new(move |_| if range.get().is_empty() { "all".to_owned() } else { range.get() });
    let data = Resource::new(move || (project.get(), range.get()), |(p, r)| crate::api::score_summaries(p, r));
    view! {
        <header class="page-head">
            <h1>"Scores"</h1>
            {move || view! { <RangePicker current=range.get() base=format!("/p/{}/scores", project.get())/> }}
        </header>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let list = match data.await {
                    Ok(l) => l,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                if list.is_empty() {
                    return view! {
                        <div class="empty">
                            <p>"No scores in this range. Add one from a run's page, or send them with the SDK: "
                               <code>"northstar::score(run_id, \"helpfulness\", 0.8)"</code></p>
                        </div>
                    }.into_any();
                }
                list.into_iter().map(|s| {
                    let runs = format!("/p/{}/runs{}", project.get(), format::query(&[("score", &s.name)]));
                    let n = if s.count == 1 { "1 score".to_owned() } else { format!("{} scores", s.count) };
                    let summary = match s.data_type.as_str() {
                        "boolean" => format!("{n} · pass rate {}", format::percent(s.avg)),
                        "categorical" => format!("{n} · {} categories", s.buckets.len()),
                        _ => format!("{n} · mean {} · min {} · max {}", number(s.avg), number(s.min), number(s.max)),
                    };
                    let trend_title = if s.data_type == "categorical" { "Scores per day" } else if s.data_type == "boolean" { "Pass rate per day" } else { "Mean per day" };
                    let trend: Vec<(String, f64)> = if s.data_type == "categorical" {
                        s.trend.iter().map(|(d, _, n)| (d.clone(), *n as f64)).collect()
                    } else {
                        s.trend.iter().map(|(d, v, _)| (d.clone(), *v)).collect()
                    };
                    let fmt: fn(f64) -> String = if s.data_type == "boolean" { format::percent } else { number };
                    let overall = if s.data_type == "categorical" { s.count.to_string() } else { fmt(s.avg) };
                    view! {
                        <section class="panel score-summary">
                            <h2>{s.name.clone()}" "<span class="badge">{s.data_type.clone()}</span></h2>
                            <p class="muted">{summary}" · "<A href=runs>"runs with this score"</A></p>
                            <div class="charts two">
                                <BarChart title="Distribution" points=s.buckets.iter().map(|(l, n)| (l.clone(), *n as f64)).collect() format=|v| format::count(v as i64)/>
                                <BarChart title=trend_title points=trend format=fmt total=overall/>
                            </div>
                        </section>
                    }
                }).collect_view().into_any()
            })}
        </Suspense>
    }
}
