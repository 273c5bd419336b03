//! The run tree (and the same rows on a time axis), virtualised: the server holds the tree
//! (`outline.rs`) and sends windows of visible rows; the page draws only the rows on screen,
//! each at its place in a box as tall as every visible row together, so a 100,000-row tree
//! scrolls like a short one. Opening or closing a node asks for the window again with the
//! tree's new state (the span ids toggled against the default).
//!
//! Keys: ↑/↓ move, → opens, ← closes, Enter selects.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::api::TREE_ROWS;
use crate::components::{StatusBadge, kind_icon};
use crate::format;
use crate::model::{ONLY, SearchResult, Seek, TreeRow, TreeWindow};

/// A row's height in pixels (the stylesheet's `.tree-row` height).
pub const ROW_H: f64 = 24.0;
/// Rows drawn above and below the screen.
const OVERSCAN: u32 = 12;
/// The scroll box's height before the browser has measured it (and on the server).
const DEFAULT_HEIGHT: f64 = 640.0;

/// What the tree needs from the run page.
#[derive(Clone)]
pub struct TreeSource {
    pub project: String,
    pub run: String,
    pub total_ms: f64,
    /// The run's start, in milliseconds since the Unix epoch.
    pub started_unix_ms: f64,
    /// The run page's path; rows link to `base?span=…`.
    pub base: String,
}

#[component]
pub fn TraceTree(
    source: TreeSource,
    window: TreeWindow,
    toggles: Vec<String>,
    /// The row of the span the page opened with, scrolled into view once hydrated.
    selected_row: Option<u32>,
    /// Failed spans in the run.
    errors: Signal<u32>,
    selected: Memo<String>,
    timeline: Memo<bool>,
    /// Goes up with every change to the run: the rows on screen are read again.
    changes: ReadSignal<u64>,
) -> impl IntoView {
    let source = StoredValue::new(source);
    let window = RwSignal::new(window);
    let toggles = RwSignal::new(toggles);
    let scroll = RwSignal::new(selected_row.map_or(0.0, |r| top_for(r, DEFAULT_HEIGHT)));
    let height = RwSignal::new(DEFAULT_HEIGHT);
    let cursor = RwSignal::new(selected_row);
    let container = NodeRef::<leptos::html::Div>::new();
    // Answers to older requests are dropped: the newest state wins.
    let generation = StoredValue::new(0_u64);
    let navigate = use_navigate();
    // The browser's clock, each second, for the elapsed time of running spans (0 on the server
    // and until the first tick, so both sides of hydration draw the same).
    let now = RwSignal::new(0.0_f64);
    #[cfg(feature = "hydrate")]
    if let Ok(tick) = set_interval_with_handle(
        move || {
            if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
                now.set(p.time_origin() + p.now());
            }
        },
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }

    let fetch = move |offset: u32| {
        let request = generation.get_value() + 1;
        generation.set_value(request);
        let (project, run) = source.with_value(|s| (s.project.clone(), s.run.clone()));
        let state = toggles.with_untracked(|t| t.join(","));
        leptos::task::spawn_local(async move {
            if let Ok(w) = crate::api::trace_rows(project, run, state, offset, TREE_ROWS).await
                && generation.get_value() == request
            {
                window.set(w);
            }
        });
    };
    // The rows on screen (plus a margin): fetched when the window does not hold them.
    let range = Memo::new(move |_| {
        let total = window.with(|w| w.total);
        let first = ((scroll.get() / ROW_H) as u32).saturating_sub(OVERSCAN).min(total);
        let last = (((scroll.get() + height.get()) / ROW_H).ceil() as u32 + OVERSCAN).min(total);
        (first, last)
    });
    Effect::new(move |_| {
        let (first, last) = range.get();
        let (offset, len) = window.with_untracked(|w| (w.offset, w.rows.len() as u32));
        if first < offset || last > offset + len {
            fetch(first.saturating_sub(TREE_ROWS / 4));
        }
    });
    Effect::new(move |_| {
        if changes.get() > 0 {
            fetch(window.with_untracked(|w| w.offset));
        }
    });
    // A deep link's row is in view once the page is live.
    Effect::new(move |_| {
        if let (Some(el), Some(row)) = (container.get(), selected_row) {
            let h = f64::from(el.client_height()).max(ROW_H);
            height.set(h);
            el.set_scroll_top(top_for(row, h) as i32);
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = container.get_untracked() {
            scroll.set(f64::from(el.scroll_top()));
            height.set(f64::from(el.client_height()).max(ROW_H));
        }
    };
    let toggle = move |id: String| {
        toggles.update(|t| match t.iter().position(|x| *x == id) {
            Some(k) => {
                t.swap_remove(k);
            }
            None => t.push(id),
        });
        fetch(window.with_untracked(|w| w.offset));
    };
    let href = move |link: &str| {
        let view = if timeline.get_untracked() { "timeline" } else { "" };
        source.with_value(|s| format!("{}{}", s.base, format::query(&[("span", link), ("view", view)])))
    };
    // Shows a span found by "next error" or a search: its path opened, its row in view, it
    // selected.
    let go = move |found: Seek, navigate: &dyn Fn(&str)| {
        toggles.set(found.toggles);
        cursor.set(Some(found.row));
        let h = height.get_untracked();
        if let Some(el) = container.get_untracked() {
            el.set_scroll_top(top_for(found.row, h) as i32);
        }
        fetch(found.row.saturating_sub(TREE_ROWS / 4));
        navigate(&href(&found.id));
    };
    let seek = {
        let navigate = navigate.clone();
        move |forward: bool| {
            let (project, run) = source.with_value(|s| (s.project.clone(), s.run.clone()));
            let state = toggles.with_untracked(|t| t.join(","));
            let from = selected.get_untracked();
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                if let Ok(Some(found)) = crate::api::trace_seek(project, run, state, from, forward).await {
                    go(found, &|to| navigate(to, Default::default()));
                }
            });
        }
    };
    let reveal = {
        let navigate = navigate.clone();
        move |node: String| {
            let (project, run) = source.with_value(|s| (s.project.clone(), s.run.clone()));
            let state = toggles.with_untracked(|t| t.join(","));
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                if let Ok(found) = crate::api::trace_reveal(project, run, state, node).await {
                    go(found, &|to| navigate(to, Default::default()));
                }
            });
        }
    };
    let row_at = move |position: u32| {
        window.with_untracked(|w| position.checked_sub(w.offset).and_then(|i| w.rows.get(i as usize).cloned()))
    };
    let navigate_key = use_navigate();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let total = window.with_untracked(|w| w.total);
        if total == 0 {
            return;
        }
        let at = cursor.get_untracked().unwrap_or(0).min(total - 1);
        let moved = match ev.key().as_str() {
            "ArrowDown" => Some((at + 1).min(total - 1)),
            "ArrowUp" => Some(at.saturating_sub(1)),
            "ArrowRight" | "ArrowLeft" => {
                let opening = ev.key() == "ArrowRight";
                if let Some(row) = row_at(at).filter(|r| r.children > 0 && r.open != opening) {
                    toggle(row.id);
                }
                None
            }
            "Enter" => {
                if let Some(row) = row_at(at) {
                    navigate_key(&href(&row.link), Default::default());
                }
                None
            }
            _ => return,
        };
        ev.prevent_default();
        if let Some(to) = moved {
            cursor.set(Some(to));
            if let Some(el) = container.get_untracked() {
                let (top, h) = (f64::from(to) * ROW_H, f64::from(el.client_height()));
                let now = f64::from(el.scroll_top());
                if top < now {
                    el.set_scroll_top(top as i32);
                } else if top + ROW_H > now + h {
                    el.set_scroll_top((top + ROW_H - h) as i32);
                }
            }
        }
    };

    let rows = move || {
        let (first, last) = range.get();
        window.with(|w| {
            w.rows
                .iter()
                .enumerate()
                .map(|(i, r)| (w.offset + i as u32, r))
                .filter(|(p, _)| *p >= first && *p < last)
                .map(|(p, r)| (p, r.clone()))
                .collect::<Vec<_>>()
        })
    };
    let row_view = move |(position, row): (u32, TreeRow)| {
        let is_event = row.is_event();
        let link = row.link.clone();
        let is_selected = move || !is_event && selected.get() == link;
        let at_cursor = move || cursor.get() == Some(position);
        let (kind_name, status) = (row.kind_name(), row.status.as_str());
        let kind_class = match &row.event_type {
            Some(t) => format!("kind kind-event ev-{t}"),
            None => format!("kind kind-{kind_name}"),
        };
        let id = row.id.clone();
        let toggle_view = if row.children > 0 {
            let open = row.open;
            view! {
                <button type="button" class="toggle" aria-expanded=open.to_string()
                        aria-label="Expand or collapse" on:click=move |_| toggle(id.clone())>
                    {if open { "▾" } else { "▸" }}
                </button>
            }
            .into_any()
        } else {
            view! { <span class="toggle-spacer"></span> }.into_any()
        };
        let (left, width) = format::bar(row.start_ms, row.duration_ms, source.with_value(|s| s.total_ms), 0.3);
        let bar_title = format!("+{} · {}", format::duration(Some(row.start_ms)), format::duration(row.duration_ms));
        let running = row.status == northstar_wire::Status::Running && row.duration_ms.is_none();
        let (started, start_ms) = (source.with_value(|s| s.started_unix_ms), row.start_ms);
        let fixed = if is_event { String::new() } else { format::duration(row.duration_ms) };
        let duration = move || match now.get() {
            t if running && t > 0.0 => format::duration(Some((t - started - start_ms).max(0.0))),
            _ => fixed.clone(),
        };
        let tokens = if row.tokens > 0 { format::count(row.tokens) } else { String::new() };
        let cost = if row.cost_usd > 0.0 { format::cost(row.cost_usd) } else { String::new() };
        // The columns, or the bar on the time axis: switching keeps the tree as it is.
        let figures = move || {
            if timeline.get() {
                view! {
                    <span class="tree-track">
                        <span class=format!("tree-bar kind-{kind_name} status-{status}")
                              style=format!("left: {left:.3}%; width: {width:.3}%") title=bar_title.clone()></span>
                    </span>
                }
                .into_any()
            } else {
                view! {
                    <span class="tree-cols">
                        <span>{(!is_event).then(|| view! { <StatusBadge status=status.to_owned()/> })}</span>
                        <span class="num" class:elapsed=running>{duration.clone()}</span>
                        <span class="num">{tokens.clone()}</span>
                        <span class="num">{cost.clone()}</span>
                    </span>
                }
                .into_any()
            }
        };
        let href = href(&row.link);
        view! {
            <div class="tree-row" class:selected=is_selected class:cursor=at_cursor class:context=row.context data-kind=kind_name
                 data-row=position style=format!("top: {}px; --depth: {}", f64::from(position) * ROW_H, row.depth)>
                <span class="tree-name">
                    {toggle_view}
                    <span class=kind_class title=kind_name>{kind_icon(kind_name)}</span>
                    <A href=href attr:class="node-link">{row.name.clone()}</A>
                    {row.error_below.then(|| view! { <span class="error-below" title="a span below failed">"●"</span> })}
                </span>
                {figures}
            </div>
        }
    };

    let total_ms = source.with_value(|s| s.total_ms);
    let head = move || {
        if timeline.get() {
            let ticks = [0.0, 0.25, 0.5, 0.75, 1.0];
            view! {
                <div class="tree-row axis">
                    <span class="tree-name muted">"Span"</span>
                    <span class="tree-track">
                        {ticks.into_iter().map(|t| view! {
                            <span class="tick" style=format!("left: {:.1}%", t * 100.0)>{format::duration(Some(t * total_ms))}</span>
                        }).collect_view()}
                    </span>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="tree-row head">
                    <span class="tree-name muted">"Span"</span>
                    <span class="tree-cols muted"><span>"Status"</span><span>"Duration"</span><span>"Tokens"</span><span>"Cost"</span></span>
                </div>
            }
            .into_any()
        }
    };
    let seek_next = seek.clone();
    // The filter travels in the tree's state (`only:<kind>`), so every window, seek and reveal
    // sees it; a seek to a span it hides drops it.
    let only = move || toggles.with(|t| t.iter().find_map(|x| x.strip_prefix(ONLY)).unwrap_or_default().to_owned());
    // Toggles count against the default, and a filter has its own (every path open): a new
    // filter, or none, starts from its default.
    let set_only = move |kind: String| {
        toggles.set(if kind.is_empty() { Vec::new() } else { vec![format!("{ONLY}{kind}")] });
        cursor.set(None);
        if let Some(el) = container.get_untracked() {
            el.set_scroll_top(0);
        }
        fetch(0);
    };
    let filters =
        [("", "All spans"), ("model", "Model calls"), ("tool", "Tool calls"), ("agent", "Agents"), ("error", "Failed")];
    view! {
        <Search source=source reveal/>
        <div class="tree-filter">
            <label>"Show "
                <select id="tree-filter" prop:value=only on:change=move |ev| set_only(event_target_value(&ev))>
                    {filters.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                </select>
            </label>
        </div>
        <div class="tree-tools" class:hidden=move || errors.get() == 0>
            <span class="error-count">{move || { let n = errors.get(); format!("{n} failed {}", if n == 1 { "span" } else { "spans" }) }}</span>
            <button type="button" class="link" id="prev-error" on:click=move |_| seek(false)>"↑ previous error"</button>
            <button type="button" class="link" id="next-error" on:click=move |_| seek_next(true)>"↓ next error"</button>
        </div>
        <div class="tree" class:timeline=move || timeline.get() id="trace-tree" tabindex="0" node_ref=container
             on:scroll=on_scroll on:keydown=on_key aria-label="Spans and events of the run">
            {head}
            <div class="tree-body" style=move || format!("height: {}px", f64::from(window.with(|w| w.total)) * ROW_H)>
                <For each=rows key=|(p, r)| (*p, r.index, r.open, r.children, r.status, r.context) children=row_view/>
            </div>
        </div>
    }
}

/// The search box above the tree and what it found; a click on a hit shows it in the tree.
#[component]
fn Search(source: StoredValue<TreeSource>, reveal: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let found: RwSignal<Option<Result<SearchResult, String>>> = RwSignal::new(None);
    let search = move || {
        let (project, run) = source.with_value(|s| (s.project.clone(), s.run.clone()));
        let (t, k) = (text.get_untracked(), kind.get_untracked());
        if t.trim().is_empty() && k.is_empty() {
            found.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let answer = crate::api::trace_search(project, run, t, k).await.map_err(|e| crate::components::message(&e));
            found.set(Some(answer));
        });
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        search();
    };
    let kinds = [
        ("", "All spans"),
        ("model", "Model"),
        ("tool", "Tool"),
        ("agent", "Agent"),
        ("workflow", "Workflow"),
        ("custom", "Custom"),
        ("error", "Failed"),
    ];
    let hits = move || {
        let reveal = reveal.clone();
        found.get().map(|answer| match answer {
            Err(e) => view! { <p class="form-error" role="alert">{e}</p> }.into_any(),
            Ok(r) if r.total == 0 => view! { <p class="muted" id="search-none">"Nothing found."</p> }.into_any(),
            Ok(r) => {
                let shown = r.hits.len() as u32;
                view! {
                    <div class="search-hits" id="search-hits">
                        <p class="muted">{if shown < r.total { format!("{} matches, the first {shown}:", r.total) } else { format!("{} matches", r.total) }}</p>
                        {r.hits.into_iter().map(|h| {
                            let reveal = reveal.clone();
                            let id = h.id.clone();
                            let k = h.kind.map_or("event", northstar_wire::SpanKind::as_str);
                            view! {
                                <button type="button" class="search-hit" class:failed=h.status == northstar_wire::Status::Error
                                        on:click=move |_| reveal(id.clone())>
                                    <span class=format!("kind kind-{k}")>{kind_icon(k)}</span>" "{h.name}
                                </button>
                            }
                        }).collect_view()}
                    </div>
                }
                .into_any()
            }
        })
    };
    view! {
        <form class="trace-search" on:submit=on_submit role="search">
            <input type="search" id="trace-search" placeholder="Search names, messages, attributes…" aria-label="Search the run"
                   prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
            <select aria-label="Kind" id="trace-search-kind" on:change=move |ev| { kind.set(event_target_value(&ev)); search(); }>
                {kinds.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
            </select>
            <button type="submit">"Find"</button>
        </form>
        {hits}
    }
}

/// The scroll position that shows `row` a third of the way down a box `height` tall.
fn top_for(row: u32, height: f64) -> f64 {
    (f64::from(row) * ROW_H - height / 3.0).max(0.0)
}
