//! The run tree (and the same rows on a time axis). Thousands of spans stay usable: nodes
//! below depth 2 start collapsed, collapsed children are not rendered at all, and long child
//! lists show 100 at a time.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::{StatusBadge, kind_icon};
use crate::format;
use crate::model::Node;

/// Children shown per parent before "show more".
pub const CHILD_PAGE: usize = 100;

#[derive(Debug, Clone, PartialEq)]
enum Row {
    Node(u32),
    More { parent: Option<u32>, hidden: usize },
}

impl Row {
    fn key(&self) -> u64 {
        match self {
            Row::Node(i) => u64::from(*i),
            Row::More { parent, .. } => u64::MAX - parent.map_or(0, |p| u64::from(p) + 1),
        }
    }
}

/// The rows to draw: a depth-first walk that enters only expanded nodes and stops each
/// child list at its limit.
fn visible(nodes: &[Node], roots: &[u32], expanded: &HashSet<u32>, limits: &HashMap<Option<u32>, usize>) -> Vec<Row> {
    let mut out = Vec::new();
    let mut stack: Vec<(Option<u32>, usize)> = vec![(None, 0)];
    while let Some((parent, pos)) = stack.pop() {
        let list: &[u32] = match parent {
            None => roots,
            Some(p) => &nodes[p as usize].children,
        };
        if pos >= list.len() {
            continue;
        }
        let limit = limits.get(&parent).copied().unwrap_or(CHILD_PAGE);
        if pos >= limit {
            out.push(Row::More { parent, hidden: list.len() - pos });
            continue;
        }
        let child = list[pos];
        stack.push((parent, pos + 1));
        out.push(Row::Node(child));
        if expanded.contains(&child) && !nodes[child as usize].children.is_empty() {
            stack.push((Some(child), 0));
        }
    }
    out
}

/// Rows drawn before anyone clicks, at most.
pub const INITIAL_ROWS: usize = 500;

/// Nodes above depth 2 start open, in tree order, as long as the rows they reveal stay within
/// [`INITIAL_ROWS`]; everything deeper starts closed.
fn initially_open(nodes: &[Node], roots: &[u32]) -> HashSet<u32> {
    let mut rows = roots.len().min(CHILD_PAGE);
    let mut open = HashSet::new();
    // `nodes` is in depth-first order, so a parent is decided before its children.
    for (i, n) in nodes.iter().enumerate() {
        let shown = n.parent.is_none_or(|p| open.contains(&p));
        if n.depth >= 2 || n.children.is_empty() || !shown {
            continue;
        }
        let more = n.children.len().min(CHILD_PAGE);
        if rows + more > INITIAL_ROWS {
            continue;
        }
        rows += more;
        open.insert(i as u32);
    }
    open
}

#[component]
pub fn TraceTree(
    nodes: Vec<Node>,
    roots: Vec<u32>,
    total_ms: f64,
    /// The run page's path; rows link to `base?node=…`.
    base: String,
    selected: Memo<String>,
    timeline: bool,
) -> impl IntoView {
    let initial = initially_open(&nodes, &roots);
    let nodes = StoredValue::new(nodes);
    let roots = StoredValue::new(roots);
    let base = StoredValue::new(base);
    let expanded = RwSignal::new(initial);
    let limits: RwSignal<HashMap<Option<u32>, usize>> = RwSignal::new(HashMap::new());
    let rows = Memo::new(move |_| {
        let (open, lim) = (expanded.read(), limits.read());
        nodes.with_value(|n| roots.with_value(|r| visible(n, r, &open, &lim)))
    });
    let view_param = if timeline { "timeline" } else { "" };

    let row_view = move |row: Row| match row {
        Row::More { parent, hidden } => {
            let more = move |_| limits.update(|l| *l.entry(parent).or_insert(CHILD_PAGE) += CHILD_PAGE);
            let depth = parent.map_or(0, |p| nodes.with_value(|n| n[p as usize].depth) + 1);
            view! {
                <div class="tree-row more" style=format!("--depth: {depth}")>
                    <span class="tree-name">
                        <button type="button" class="link" on:click=more>
                            {format!("Show {} more ({hidden} hidden)", hidden.min(CHILD_PAGE))}
                        </button>
                    </span>
                </div>
            }
            .into_any()
        }
        Row::Node(i) => {
            let n = nodes.with_value(|n| n[i as usize].clone());
            // An event opens the span it belongs to (its conversation is shown there).
            let target = if n.is_event() {
                n.parent.map(|p| nodes.with_value(|all| all[p as usize].id.clone())).unwrap_or_default()
            } else {
                n.id.clone()
            };
            let href = base.with_value(|b| format!("{b}{}", format::query(&[("node", &target), ("view", view_param)])));
            let has_children = !n.children.is_empty();
            let open = move || expanded.read().contains(&i);
            let toggle = move |_| {
                expanded.update(|s| {
                    if !s.remove(&i) {
                        s.insert(i);
                    }
                });
            };
            let (id, is_event) = (n.id.clone(), n.is_event());
            let is_selected = move || !is_event && selected.get() == id;
            let (left, width) = crate::format::bar(n.start_ms, n.duration_ms, total_ms, 0.3);
            let kind_class = match &n.event_type {
                Some(t) => format!("kind kind-event ev-{t}"),
                None => format!("kind kind-{}", n.kind_name()),
            };
            let (kind_name, status) = (n.kind_name(), n.status.as_str());
            view! {
                <div class="tree-row" class:selected=is_selected data-kind=kind_name style=format!("--depth: {}", n.depth)>
                    <span class="tree-name">
                        {if has_children {
                            view! {
                                <button type="button" class="toggle" aria-expanded=move || open().to_string()
                                        aria-label="Expand or collapse" on:click=toggle>
                                    {move || if open() { "▾" } else { "▸" }}
                                </button>
                            }.into_any()
                        } else {
                            view! { <span class="toggle-spacer"></span> }.into_any()
                        }}
                        <span class=kind_class title=kind_name>{kind_icon(kind_name)}</span>
                        <A href=href attr:class="node-link">{n.name.clone()}</A>
                    </span>
                    {if timeline {
                        view! {
                            <span class="tree-track">
                                <span class=format!("tree-bar kind-{} status-{}", kind_name, status)
                                      style=format!("left: {left:.3}%; width: {width:.3}%")
                                      title=format!("+{} · {}", format::duration(Some(n.start_ms)), format::duration(n.duration_ms))></span>
                            </span>
                        }.into_any()
                    } else {
                        view! {
                            <span class="tree-cols">
                                <span>{(!is_event).then(|| view! { <StatusBadge status=status.to_owned()/> })}</span>
                                <span class="num">{if is_event { String::new() } else { format::duration(n.duration_ms) }}</span>
                                <span class="num">{if n.tokens > 0 { format::count(n.tokens) } else { String::new() }}</span>
                                <span class="num">{if n.cost_usd > 0.0 { format::cost(n.cost_usd) } else { String::new() }}</span>
                            </span>
                        }.into_any()
                    }}
                </div>
            }
            .into_any()
        }
    };

    let axis = timeline.then(|| {
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
    });
    let header = (!timeline).then(|| {
        view! {
            <div class="tree-row head">
                <span class="tree-name muted">"Span"</span>
                <span class="tree-cols muted"><span>"Status"</span><span>"Duration"</span><span>"Tokens"</span><span>"Cost"</span></span>
            </div>
        }
    });
    view! {
        <div class="tree" class:timeline=timeline id="trace-tree">
            {header}
            {axis}
            <For each=move || rows.get() key=Row::key children=row_view/>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(parent: Option<u32>, children: Vec<u32>, depth: u16) -> Node {
        Node {
            id: String::new(),
            parent,
            children,
            depth,
            kind: Some(northstar_wire::SpanKind::Agent),
            event_type: None,
            name: String::new(),
            status: northstar_wire::Status::Ok,
            start_ms: 0.0,
            duration_ms: None,
            tokens: 0,
            cost_usd: 0.0,
            model: None,
        }
    }

    #[test]
    fn collapsed_children_are_not_rows_and_long_lists_are_paged() {
        // 0 → 1 → (250 leaves)
        let mut nodes = vec![node(None, vec![1], 0), node(Some(0), (2..252).collect(), 1)];
        nodes.extend((2..252).map(|_| node(Some(1), vec![], 2)));
        let roots = vec![0];
        let closed = visible(&nodes, &roots, &HashSet::new(), &HashMap::new());
        assert_eq!(closed, vec![Row::Node(0)]);

        let open: HashSet<u32> = [0, 1].into();
        let rows = visible(&nodes, &roots, &open, &HashMap::new());
        assert_eq!(rows.len(), 2 + CHILD_PAGE + 1);
        assert_eq!(rows.last(), Some(&Row::More { parent: Some(1), hidden: 150 }));

        assert_eq!(initially_open(&nodes, &roots), open, "both levels fit in the first rows");

        let limits: HashMap<Option<u32>, usize> = [(Some(1), 300)].into();
        let rows = visible(&nodes, &roots, &open, &limits);
        assert_eq!(rows.len(), 252);
        assert!(rows.iter().all(|r| matches!(r, Row::Node(_))));
    }
}
