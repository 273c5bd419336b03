//! `/p/:project/sessions/:id`: a session's runs on a timeline, and the session as one
//! conversation (what each run was asked and answered).

use leptos::prelude::*;
use leptos_router::components::A;

use super::route_param;
use super::run::Message;
use crate::app::project_id;
use crate::components::{ErrorBox, IdChip, LiveToggle, Loading, Stat, StatusBadge, live_changes, message};
use crate::format;

#[component]
pub fn SessionPage() -> impl IntoView {
    let project = project_id();
    let id = route_param("id");
    // The session's new and finished runs appear as they are ingested, unless paused.
    let live = RwSignal::new(true);
    let changes = live_changes(Memo::new(move |_| format!("/api/live?project={}", project.get())), live);
    let data = Resource::new(move || (changes.get(), project.get(), id.get()), |(_, p, id)| crate::api::session(p, id));
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorBox message=message(&e)/> }.into_any(),
                };
                let s = d.session.clone();
                let span = d.span_ms;
                view! {
                    <nav class="crumbs"><A href=format!("/p/{}/sessions", project.get())>"Sessions"</A>" / "<code>{format::short_id(&s.id).to_owned()}</code></nav>
                    <header class="page-head">
                        <h1>"Session " <IdChip id=s.id.clone()/></h1>
                        <StatusBadge status=s.status.clone()/>
                        <LiveToggle on=live/>
                    </header>
                    <section class="stats">
                        <Stat label="Started" value=s.started_ago.clone() sub=s.started.clone()/>
                        <Stat label="Duration" value=format::duration(s.duration_ms)/>
                        <Stat label="Runs" value=s.runs.to_string() sub=format!("{} errored", s.errored_runs)/>
                        <Stat label="Tool calls" value=s.tool_calls.to_string()/>
                        <Stat label="Cost" value=format::usage_cost(s.cost_usd, s.tokens) sub=format!("{} tokens", format::count(s.tokens))/>
                    </section>
                    <section class="panel">
                        <h2>"Runs"</h2>
                        <div class="timeline">
                            {d.runs.clone().into_iter().map(|r| {
                                let (left, width) = format::bar(r.offset_ms, r.duration_ms, span, 0.4);
                                let href = format!("/p/{}/runs/{}", project.get(), r.id);
                                let model = match (&r.model, r.models) {
                                    (Some(m), n) if n > 1 => format!("{m} +{}", n - 1),
                                    (Some(m), _) => m.clone(),
                                    (None, _) => "—".into(),
                                };
                                view! {
                                    <div class="timeline-row">
                                        <span class="timeline-name"><A href=href>{r.name.clone()}</A></span>
                                        <span class="timeline-track">
                                            <span class=format!("timeline-bar status-{}", r.status.as_str()) style=format!("left: {left:.2}%; width: {width:.2}%")
                                                  title=format!("+{} · {}", format::duration(Some(r.offset_ms)), format::duration(r.duration_ms))></span>
                                        </span>
                                        <span class="timeline-meta">
                                            <StatusBadge status=r.status.as_str().to_owned()/>
                                            <span>{format::duration(r.duration_ms)}</span>
                                            <span>{format::run_cost(r.cost_usd, r.model.as_deref())}</span>
                                            <span class="muted">{model}</span>
                                        </span>
                                    </div>
                                }
                            }).collect_view()}
                        </div>
                    </section>
                    <section class="panel" id="conversation">
                        <h2>"Conversation"</h2>
                        {if d.turns.is_empty() {
                            view! { <p class="muted">"No run of this session recorded an input or an answer."</p> }.into_any()
                        } else {
                            view! { <div class="turns">
                                {d.turns.clone().into_iter().map(|t| {
                                    let href = format!("/p/{}/runs/{}", project.get(), t.run);
                                    view! {
                                        <div class="turn-head">
                                            <A href=href>{t.name.clone()}</A>
                                            <StatusBadge status=t.status.as_str().to_owned()/>
                                        </div>
                                        {t.input.map(|m| view! { <Message m=m/> })}
                                        {t.output.map(|m| view! { <Message m=m/> })}
                                    }
                                }).collect_view()}
                            </div> }.into_any()
                        }}
                    </section>
                    <details class="panel">
                        <summary>"Session metadata"</summary>
                        <pre class="code">{d.metadata.clone()}</pre>
                    </details>
                }.into_any()
            })}
        </Transition>
    }
}
