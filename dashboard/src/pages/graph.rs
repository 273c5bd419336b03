//! The run as who called whom: agents, tools and models as boxes in columns by call depth (the
//! run first), calls as arrows with their counts, and the same calls as a table with counts,
//! total time, cost and failures. A 2,000-span agent loop reads as a handful of boxes.

use leptos::prelude::*;

use crate::components::{ErrorBox, Loading, kind_icon, message};
use crate::format;
use crate::model::AgentGraph;

const COLUMN: f64 = 230.0;
const ROW: f64 = 58.0;
const BOX_W: f64 = 180.0;
const BOX_H: f64 = 42.0;

#[component]
pub fn RunGraph(project: String, run: String, changes: ReadSignal<u64>) -> impl IntoView {
    let graph =
        Resource::new(move || (project.clone(), run.clone(), changes.get()), |(p, r, _)| crate::api::trace_graph(p, r));
    view! {
        <section class="panel" id="agent-graph">
            <h2>"Agent graph"</h2>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match graph.await {
                        Ok(g) if g.edges.is_empty() => view! { <p class="muted">"No agent, tool or model calls yet."</p> }.into_any(),
                        Ok(g) => view! { <Picture g=g.clone()/><Calls g/> }.into_any(),
                        Err(e) => view! { <ErrorBox message=message(&e)/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Where each node's box goes: (x, y) of its top-left corner.
fn layout(g: &AgentGraph) -> Vec<(f64, f64)> {
    let mut in_column: Vec<u32> = Vec::new();
    g.nodes
        .iter()
        .map(|n| {
            let d = n.depth as usize;
            if in_column.len() <= d {
                in_column.resize(d + 1, 0);
            }
            let k = in_column[d];
            in_column[d] += 1;
            (10.0 + d as f64 * COLUMN, 10.0 + f64::from(k) * ROW)
        })
        .collect()
}

#[component]
fn Picture(g: AgentGraph) -> impl IntoView {
    let at = layout(&g);
    let width = at.iter().map(|p| p.0).fold(0.0, f64::max) + BOX_W + 20.0;
    let height = at.iter().map(|p| p.1).fold(0.0, f64::max) + BOX_H + 20.0;
    let edges = g
        .edges
        .iter()
        .map(|e| {
            let ((x1, y1), (x2, y2)) = (at[e.from as usize], at[e.to as usize]);
            let (sx, sy, tx, ty) = (x1 + BOX_W, y1 + BOX_H / 2.0, x2, y2 + BOX_H / 2.0);
            // Forward calls curve right; calls back to an earlier column loop below.
            let path = if tx > sx {
                let mid = (sx + tx) / 2.0;
                format!("M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}")
            } else {
                let low = sy.max(ty) + BOX_H;
                format!("M{sx},{sy} C{},{low} {},{low} {tx},{ty}", sx + 40.0, tx - 40.0)
            };
            let (lx, ly) = ((sx + tx) / 2.0, (sy + ty) / 2.0 - 4.0);
            let class = if e.errors > 0 { "graph-edge failed" } else { "graph-edge" };
            view! {
                <path class=class d=path/>
                <text class="graph-count" x=format!("{lx:.0}") y=format!("{ly:.0}")>{format!("×{}", e.calls)}</text>
            }
        })
        .collect_view();
    let boxes = g
        .nodes
        .iter()
        .zip(&at)
        .map(|(n, (x, y))| {
            let sub = match (n.kind.as_str(), n.errors) {
                ("run", _) => "the run".to_owned(),
                (_, 0) => format!("{} · ×{}", n.kind, n.calls),
                (_, e) => format!("{} · ×{} · {e} failed", n.kind, n.calls),
            };
            view! {
                <g class=format!("graph-node kind-{}", n.kind) class:failed={n.errors > 0}>
                    <rect x=format!("{x:.0}") y=format!("{y:.0}") width=BOX_W.to_string() height=BOX_H.to_string() rx="6"/>
                    <text x=format!("{:.0}", x + 10.0) y=format!("{:.0}", y + 17.0) class="graph-name">
                        {format!("{} {}", kind_icon(&n.kind), n.name)}
                    </text>
                    <text x=format!("{:.0}", x + 10.0) y=format!("{:.0}", y + 33.0) class="graph-sub">{sub}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <div class="graph-scroll">
            <svg class="graph" width=format!("{width:.0}") height=format!("{height:.0}") role="img" aria-label="Agent graph">
                {edges}
                {boxes}
            </svg>
        </div>
    }
}

#[component]
fn Calls(g: AgentGraph) -> impl IntoView {
    let name = |i: u32| g.nodes.get(i as usize).map(|n| n.name.clone()).unwrap_or_default();
    let rows = g
        .edges
        .iter()
        .map(|e| {
            view! {
                <tr class="graph-call" class:failed={e.errors > 0}>
                    <td>{name(e.from)}</td>
                    <td>{name(e.to)}</td>
                    <td class="num">{e.calls}</td>
                    <td class="num">{format::duration(Some(e.total_ms))}</td>
                    <td class="num">{format::cost(e.cost_usd)}</td>
                    <td class="num">{e.errors}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table compact" id="graph-calls">
            <thead><tr><th>"Caller"</th><th>"Callee"</th><th class="num">"Calls"</th><th class="num">"Time"</th><th class="num">"Cost"</th><th class="num">"Failed"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
