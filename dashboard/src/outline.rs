//! The run page's tree, server side: a run is read and indexed once ([`Outline`]), kept for a
//! moment ([`OutlineCache`]), and the page asks it for windows of the rows that are visible, so
//! what a browser receives does not grow with the run. A 100,000-span run sends the rows on
//! screen, not 100,000 nodes.
//!
//! The nodes are in depth-first order, so a node's subtree is the contiguous range after it:
//! the visible rows are a walk that jumps over every closed subtree, and a node's row is a
//! binary search in that walk. Which nodes are open is the default rule ([`Outline::new`])
//! with the person's toggles applied; toggles travel as span ids, so a window request carries
//! the whole state of the tree and the server keeps none per viewer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use northstar_store::RunRow;
use northstar_wire::Status;
use uuid::Uuid;

use northstar_wire::SpanKind;

use crate::model::{AgentGraph, GraphEdge, GraphNode, ONLY, SearchHit, Seek, TreeRow, TreeWindow};

/// Rows that start open before anyone clicks, at most.
pub const INITIAL_ROWS: usize = 500;

/// Rows a window holds at most.
pub const MAX_WINDOW: u32 = 500;

/// A run's tree, indexed.
#[derive(Debug)]
pub(crate) struct Outline {
    pub(crate) nodes: Vec<Node>,
    pub(crate) total_ms: f64,
    /// The size of each node's subtree, itself included.
    size: Vec<u32>,
    /// Whether a failed span is in each node's subtree, itself excluded.
    error_below: Vec<bool>,
    /// Span and event ids → node.
    by_id: HashMap<String, u32>,
    /// The nodes open when the person has toggled nothing.
    default_open: HashSet<u32>,
}

impl Outline {
    /// `nodes` in depth-first order (as `convert::trace` builds them).
    pub(crate) fn new(nodes: Vec<Node>, total_ms: f64) -> Self {
        let n = nodes.len();
        let mut size = vec![1_u32; n];
        let mut error_below = vec![false; n];
        for i in (0..n).rev() {
            if let Some(p) = nodes[i].parent {
                let p = p as usize;
                size[p] += size[i];
                error_below[p] |= error_below[i] || nodes[i].status == Status::Error;
            }
        }
        let by_id = nodes.iter().enumerate().map(|(i, n)| (n.id.clone(), i as u32)).collect();
        let default_open = default_open(&nodes);
        Self { nodes, total_ms, size, error_below, by_id, default_open }
    }

    /// The tree's state from `toggles`: span ids toggled against the default, and at most one
    /// `only:<kind>` that filters the tree to spans of that kind (`error`: failed spans) and
    /// the path to each.
    pub(crate) fn open(&self, toggles: &[String]) -> Open {
        let toggled = toggles.iter().filter_map(|id| self.by_id.get(id)).copied().collect();
        let only = toggles.iter().find_map(|t| t.strip_prefix(ONLY)).map(|kind| self.filter(kind));
        Open { toggled, only }
    }

    /// Which nodes a filter to `kind` keeps: the matching spans and every ancestor of one.
    fn filter(&self, kind: &str) -> Filter {
        let n = self.nodes.len();
        let matches: Vec<bool> = self.nodes.iter().map(|node| node_is(node, kind)).collect();
        let mut below = vec![false; n];
        for i in (0..n).rev() {
            if let Some(p) = self.nodes[i].parent {
                below[p as usize] |= below[i] || matches[i];
            }
        }
        Filter { matches, below }
    }

    fn is_open(&self, open: &Open, i: u32) -> bool {
        // Under a filter a node is open when a match is below it.
        let default = match &open.only {
            Some(f) => f.below[i as usize],
            None => self.default_open.contains(&i),
        };
        default != open.toggled.contains(&i)
    }

    /// The visible rows, as node numbers in depth-first (so ascending) order.
    pub(crate) fn visible(&self, open: &Open) -> Vec<u32> {
        let mut rows = Vec::new();
        let mut i = 0;
        while i < self.nodes.len() {
            if open.only.as_ref().is_some_and(|f| !f.keeps(i)) {
                i += self.size[i] as usize;
                continue;
            }
            rows.push(i as u32);
            i += if self.is_open(open, i as u32) { 1 } else { self.size[i] as usize };
        }
        rows
    }

    /// `limit` visible rows from `offset`.
    pub(crate) fn window(&self, open: &Open, offset: u32, limit: u32) -> TreeWindow {
        let visible = self.visible(open);
        let total = visible.len() as u32;
        let offset = offset.min(total);
        let end = offset.saturating_add(limit.min(MAX_WINDOW)).min(total);
        let rows = visible[offset as usize..end as usize].iter().map(|&i| self.row(open, i)).collect();
        TreeWindow { total, offset, rows }
    }

    fn row(&self, open: &Open, i: u32) -> TreeRow {
        let n = &self.nodes[i as usize];
        // An event opens the span it belongs to (its conversation is shown there).
        let link = self.link(i);
        TreeRow {
            index: i,
            id: n.id.clone(),
            link,
            depth: n.depth,
            kind: n.kind,
            event_type: n.event_type.clone(),
            name: n.label(),
            status: n.status,
            start_ms: n.start_ms,
            duration_ms: n.duration_ms,
            tokens: n.tokens,
            cost_usd: n.cost_usd,
            children: n.children.len() as u32,
            open: !n.children.is_empty() && self.is_open(open, i),
            error_below: self.error_below[i as usize],
            context: open.only.as_ref().is_some_and(|f| !f.matches[i as usize]),
        }
    }

    /// The node of a span or event id, if it is one of this run's.
    pub(crate) fn find(&self, span: &str) -> Option<u32> {
        self.by_id.get(span).copied()
    }

    /// `toggles` with every closed ancestor of node `i` opened, so that `i` is visible (and
    /// the filter dropped when it hides `i`).
    pub(crate) fn reveal(&self, toggles: &[String], i: u32) -> Vec<String> {
        let mut toggles = toggles.to_vec();
        if self.open(&toggles).only.is_some_and(|f| !f.matches[i as usize]) {
            toggles.retain(|t| !t.starts_with(ONLY));
        }
        let open = self.open(&toggles);
        let mut at = self.nodes[i as usize].parent;
        while let Some(p) = at {
            if !self.is_open(&open, p) {
                let id = &self.nodes[p as usize].id;
                // Toggled closed by the person: remove the toggle; open by default: add one.
                match toggles.iter().position(|t| t == id) {
                    Some(k) => {
                        toggles.swap_remove(k);
                    }
                    None => toggles.push(id.clone()),
                }
            }
            at = self.nodes[p as usize].parent;
        }
        toggles
    }

    /// Where to go to show node `i`: `toggles` with its path opened, and its row.
    pub(crate) fn seek(&self, toggles: &[String], i: u32) -> Seek {
        let toggles = self.reveal(toggles, i);
        let row = self.position(&self.open(&toggles), i).unwrap_or(0);
        Seek { id: self.link(i), toggles, row }
    }

    /// The span a click on node `i` selects: itself, or an event's span (empty: the run).
    fn link(&self, i: u32) -> String {
        let n = &self.nodes[i as usize];
        match (n.is_event(), n.parent) {
            (false, _) => n.id.clone(),
            (true, Some(p)) => self.nodes[p as usize].id.clone(),
            (true, None) => String::new(),
        }
    }

    pub(crate) fn hit(&self, i: u32) -> SearchHit {
        let n = &self.nodes[i as usize];
        SearchHit { link: self.link(i), id: n.id.clone(), kind: n.kind, name: n.label(), status: n.status }
    }

    /// The row of node `i` among the visible ones (it must be visible).
    pub(crate) fn position(&self, open: &Open, i: u32) -> Option<u32> {
        self.visible(open).binary_search(&i).ok().map(|p| p as u32)
    }

    /// The next (or previous) failed span after (before) node `from`, wrapping around; from
    /// the top when `from` is `None`.
    pub(crate) fn next_error(&self, from: Option<u32>, forward: bool) -> Option<u32> {
        let failed = |i: &usize| self.nodes[*i].status == Status::Error && !self.nodes[*i].is_event();
        let n = self.nodes.len();
        if forward {
            let start = from.map_or(0, |f| f as usize + 1);
            (start..n).chain(0..start.min(n)).find(failed)
        } else {
            let start = from.map_or(n, |f| f as usize);
            (0..start).rev().chain((start..n).rev()).find(failed)
        }
        .map(|i| i as u32)
    }

    /// The nodes a search finds, in tree order: `text` (case-insensitive) in the name (an
    /// event's name is its message's start), the model, or equal to the kind or status; or a
    /// span in `text_hits` (found in its attributes or messages by the store). `kind` keeps only
    /// spans of that kind (`error`: failed spans). Nothing when both are empty.
    pub(crate) fn search(&self, text: &str, kind: &str, text_hits: &HashSet<String>) -> Vec<u32> {
        let text = text.trim().to_lowercase();
        if text.is_empty() && kind.is_empty() {
            return Vec::new();
        }
        let kind_matches = |n: &Node| kind.is_empty() || node_is(n, kind);
        let text_matches = |n: &Node| {
            text.is_empty()
                || n.label().to_lowercase().contains(&text)
                || n.model.as_deref().is_some_and(|m| m.to_lowercase().contains(&text))
                || (!n.is_event() && (n.kind_name() == text || n.status.as_str() == text || text_hits.contains(&n.id)))
        };
        let found = self.nodes.iter().enumerate().filter(|(_, n)| kind_matches(n) && text_matches(n));
        found.map(|(i, _)| i as u32).collect()
    }

    /// The run as who called whom. Each agent, tool and model span is a call from the nearest
    /// agent above it (or the run); workflow and custom spans are steps inside their caller, not
    /// callees. Nodes are one per kind and name (a model by its model name), in order of first
    /// call; an agent that reaches itself is drawn at its first depth.
    pub(crate) fn graph(&self) -> AgentGraph {
        let mut nodes = vec![GraphNode { kind: "run".into(), name: "run".into(), depth: 0, calls: 0, errors: 0 }];
        let mut index: HashMap<(&'static str, String), u32> = HashMap::new();
        let mut edges: Vec<GraphEdge> = Vec::new();
        let mut edge_index: HashMap<(u32, u32), usize> = HashMap::new();
        // The graph node each tree node calls from: its own for agents, its caller's otherwise.
        let mut caller_of = vec![0_u32; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            let caller = n.parent.map_or(0, |p| caller_of[p as usize]);
            caller_of[i] = caller;
            let kind = match n.kind {
                Some(SpanKind::Agent) => "agent",
                Some(SpanKind::Tool) => "tool",
                Some(SpanKind::Model) => "model",
                _ => continue,
            };
            let name = if kind == "model" { n.model.clone().unwrap_or_else(|| n.name.clone()) } else { n.name.clone() };
            let depth = nodes[caller as usize].depth + 1;
            let to = *index.entry((kind, name.clone())).or_insert_with(|| {
                nodes.push(GraphNode { kind: kind.into(), name, depth, calls: 0, errors: 0 });
                (nodes.len() - 1) as u32
            });
            let failed = u32::from(n.status == Status::Error);
            nodes[to as usize].calls += 1;
            nodes[to as usize].errors += failed;
            let e = *edge_index.entry((caller, to)).or_insert_with(|| {
                edges.push(GraphEdge { from: caller, to, calls: 0, total_ms: 0.0, cost_usd: 0.0, errors: 0 });
                edges.len() - 1
            });
            let edge = &mut edges[e];
            edge.calls += 1;
            edge.total_ms += n.duration_ms.unwrap_or(0.0);
            edge.cost_usd += n.cost_usd;
            edge.errors += failed;
            if kind == "agent" {
                caller_of[i] = to;
            }
        }
        AgentGraph { nodes, edges }
    }

    /// How many spans failed.
    pub(crate) fn errors(&self) -> u32 {
        self.nodes.iter().filter(|n| n.status == Status::Error && !n.is_event()).count() as u32
    }

    fn weight(&self) -> usize {
        self.nodes.len().max(1)
    }
}

/// One row of the run tree: a span, or an event on a span (or on the run).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) id: String,
    /// Index of the parent node; `None` for the run's direct children.
    pub(crate) parent: Option<u32>,
    pub(crate) children: Vec<u32>,
    pub(crate) depth: u16,
    /// The span's kind; `None` for an event.
    pub(crate) kind: Option<SpanKind>,
    /// For events: the event type.
    pub(crate) event_type: Option<String>,
    pub(crate) name: String,
    /// The turn of an agent loop, when recorded.
    pub(crate) iteration: Option<i32>,
    pub(crate) status: Status,
    pub(crate) start_ms: f64,
    pub(crate) duration_ms: Option<f64>,
    /// Own figures plus those of every model span below.
    pub(crate) tokens: i64,
    pub(crate) cost_usd: f64,
    pub(crate) model: Option<String>,
}

impl Node {
    /// The name as rows show it: with the turn of an agent loop, which tells a thousand
    /// `fetch_page` rows apart.
    pub(crate) fn label(&self) -> String {
        match self.iteration {
            Some(i) => format!("{} #{i}", self.name),
            None => self.name.clone(),
        }
    }

    /// `agent`, `model`, … or `event`.
    #[must_use]
    pub(crate) fn kind_name(&self) -> &'static str {
        self.kind.map_or("event", SpanKind::as_str)
    }

    #[must_use]
    pub(crate) fn is_event(&self) -> bool {
        self.kind.is_none()
    }
}

/// Whether `node` is a span of `kind` (`error`: a failed span).
fn node_is(node: &Node, kind: &str) -> bool {
    match kind {
        "error" => node.status == Status::Error && !node.is_event(),
        k => node.kind_name() == k,
    }
}

/// The tree's state: which nodes are open (the default with these toggled), and its filter.
pub(crate) struct Open {
    toggled: HashSet<u32>,
    only: Option<Filter>,
}

/// The nodes a filter keeps: those that match, and those with a match below.
struct Filter {
    matches: Vec<bool>,
    below: Vec<bool>,
}

impl Filter {
    fn keeps(&self, i: usize) -> bool {
        self.matches[i] || self.below[i]
    }
}

/// The top-level nodes start open; those at depth 1 too, in tree order, as long as the rows
/// they reveal stay within [`INITIAL_ROWS`]; everything deeper starts closed.
fn default_open(nodes: &[Node]) -> HashSet<u32> {
    let mut rows = nodes.iter().filter(|n| n.parent.is_none()).count();
    let mut open = HashSet::new();
    // A parent comes before its children, so it is decided first.
    for (i, n) in nodes.iter().enumerate() {
        let shown = n.parent.is_none_or(|p| open.contains(&p));
        if n.depth >= 2 || n.children.is_empty() || !shown {
            continue;
        }
        if n.depth > 0 && rows + n.children.len() > INITIAL_ROWS {
            continue;
        }
        rows += n.children.len();
        open.insert(i as u32);
    }
    open
}

/// The run `id` of the scope's project with its outline (from the cache when fresh).
pub(crate) async fn load(
    scope: &crate::scope::ProjectScope,
    id: &str,
) -> Result<(RunRow, Arc<Outline>), leptos::prelude::ServerFnError> {
    use northstar_store::Store;

    use crate::scope::{PageError, fail};
    let id = crate::scope::uuid(id)?;
    let run = scope.store.run_row(scope.id, id).await.map_err(fail)?.ok_or_else(PageError::not_found)?;
    let outline = OutlineCache::global()
        .get(scope.id, &run, || async {
            let started = std::time::Instant::now();
            let view = scope.store.run_outline(scope.id, id).await.map_err(fail)?;
            let view = view.ok_or_else(PageError::not_found)?;
            let read = started.elapsed();
            let outline = crate::convert::outline(&view.run, &view.spans, &view.events);
            tracing::debug!(run = %id, nodes = outline.nodes.len(), ?read, indexed = ?(started.elapsed() - read), "run outline built");
            Ok::<_, leptos::prelude::ServerFnError>(outline)
        })
        .await?;
    Ok((run, outline))
}

/// Toggles as they travel: span ids joined by commas.
pub(crate) fn parse_toggles(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// Outlines of the runs being looked at, by project and run (one per process: every router
/// and server function of the process reads the same, and ids are random, so two stores in one
/// process do not meet). An outline is rebuilt when its run has changed
/// (status, end, figures) and after a moment in any case (a second while the run is running, so
/// a live run's new spans appear; a minute after it ended, for late events). Concurrent
/// viewers of one run wait for one build. Bounded by the nodes held in all outlines together.
pub struct OutlineCache {
    slots: Mutex<HashMap<(Uuid, Uuid), Arc<Slot>>>,
    /// When each run's outline was last built and how long that took.
    builds: Mutex<HashMap<Uuid, (Instant, Duration)>>,
    budget: usize,
}

struct Slot {
    fingerprint: Fingerprint,
    made: Instant,
    outline: tokio::sync::OnceCell<Arc<Outline>>,
}

type Fingerprint = (Status, Option<chrono::DateTime<chrono::Utc>>, i64, i64, i64);

fn fingerprint(run: &RunRow) -> Fingerprint {
    (run.status, run.ended_at, run.spans, run.input_tokens + run.output_tokens, run.tool_calls)
}

impl Default for OutlineCache {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl OutlineCache {
    /// The process's cache.
    pub(crate) fn global() -> &'static Self {
        static CACHE: std::sync::LazyLock<OutlineCache> = std::sync::LazyLock::new(OutlineCache::default);
        &CACHE
    }

    /// Holding at most about `budget` nodes (always at least the outline being read).
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self { slots: Mutex::new(HashMap::new()), builds: Mutex::new(HashMap::new()), budget }
    }

    /// The outline of `run`, built by `build` when there is none fresh.
    pub(crate) async fn get<F, Fut, E>(&self, project: Uuid, run: &RunRow, build: F) -> Result<Arc<Outline>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Outline, E>>,
    {
        let fingerprint = fingerprint(run);
        let ttl = if run.status == Status::Running { Duration::from_secs(1) } else { Duration::from_secs(60) };
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = (project, run.id);
            match slots.get(&key) {
                Some(s) if s.fingerprint == fingerprint && s.made.elapsed() < ttl => Arc::clone(s),
                _ => {
                    let s = Arc::new(Slot { fingerprint, made: Instant::now(), outline: tokio::sync::OnceCell::new() });
                    slots.insert(key, Arc::clone(&s));
                    s
                }
            }
        };
        let outline = slot
            .outline
            .get_or_try_init(|| async {
                let started = Instant::now();
                let outline = build().await.map(Arc::new)?;
                let mut builds = self.builds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if builds.len() > 10_000 {
                    builds.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(60));
                }
                builds.insert(run.id, (started, started.elapsed()));
                Ok(outline)
            })
            .await?;
        self.evict((project, run.id));
        Ok(Arc::clone(outline))
    }

    /// When `run`'s outline may be built again without building more than half the time: a live
    /// page of a run that takes 0.7 s to read hears of its changes at most every 1.4 s (small
    /// runs at once). `None`: now.
    pub(crate) fn next_build(&self, run: Uuid) -> Option<Instant> {
        let builds = self.builds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (at, took) = builds.get(&run)?;
        Some(*at + *took * 2).filter(|next| *next > Instant::now())
    }

    /// Drops the outlines of `runs` (of every run: `None`) built before `changed` (when the
    /// change was heard): every page following a run forgets its outline, and the first
    /// rebuild after the change serves them all.
    pub(crate) fn forget(&self, runs: Option<&[Uuid]>, changed: Instant) {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.retain(|(_, run), slot| slot.made >= changed || runs.is_some_and(|r| !r.contains(run)));
    }

    /// Drops the oldest outlines (not `keep`) while all of them hold more than the budget.
    fn evict(&self, keep: (Uuid, Uuid)) {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let weight = |s: &Slot| s.outline.get().map_or(0, |o| o.weight());
        let mut held: usize = slots.values().map(|s| weight(s)).sum();
        while held > self.budget {
            let oldest =
                slots.iter().filter(|(id, _)| **id != keep).min_by_key(|(_, s)| s.made).map(|(id, s)| (*id, weight(s)));
            let Some((id, w)) = oldest else { break };
            slots.remove(&id);
            held -= w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<u32>, children: Vec<u32>, depth: u16, status: Status) -> Node {
        Node {
            id: id.to_owned(),
            parent,
            children,
            depth,
            kind: Some(SpanKind::Agent),
            event_type: None,
            name: id.to_owned(),
            iteration: None,
            status,
            start_ms: 0.0,
            duration_ms: None,
            tokens: 0,
            cost_usd: 0.0,
            model: None,
        }
    }

    /// a → b → c → d (failed), and e beside a.
    fn chain() -> Outline {
        Outline::new(
            vec![
                node("a", None, vec![1], 0, Status::Ok),
                node("b", Some(0), vec![2], 1, Status::Ok),
                node("c", Some(1), vec![3], 2, Status::Ok),
                node("d", Some(2), vec![], 3, Status::Error),
                node("e", None, vec![], 0, Status::Ok),
            ],
            1.0,
        )
    }

    #[test]
    fn closed_subtrees_are_skipped_and_toggles_open_them() {
        let o = chain();
        let open = o.open(&[]);
        assert_eq!(o.visible(&open), vec![0, 1, 2, 4], "depth 2 starts closed");
        let open = o.open(&["c".into()]);
        assert_eq!(o.visible(&open), vec![0, 1, 2, 3, 4]);
        let open = o.open(&["a".into()]);
        assert_eq!(o.visible(&open), vec![0, 4], "a toggle closes what is open by default");
    }

    #[test]
    fn a_revealed_node_is_visible_and_its_position_is_its_row() {
        let o = chain();
        let toggles = o.reveal(&["a".into()], 3);
        let open = o.open(&toggles);
        assert_eq!(o.visible(&open), vec![0, 1, 2, 3, 4]);
        assert_eq!(o.position(&open, 3), Some(3));
        assert_eq!(o.position(&open, 4), Some(4));
    }

    #[test]
    fn every_ancestor_of_a_failure_is_marked_and_next_error_wraps() {
        let o = chain();
        let w = o.window(&o.open(&[]), 0, 10);
        let marked: Vec<(String, bool)> = w.rows.iter().map(|r| (r.id.clone(), r.error_below)).collect();
        assert_eq!(marked, [("a", true), ("b", true), ("c", true), ("e", false)].map(|(i, b)| (i.to_owned(), b)));
        assert_eq!(o.next_error(None, true), Some(3));
        assert_eq!(o.next_error(Some(3), true), Some(3), "wraps around to the only one");
        assert_eq!(o.next_error(Some(4), false), Some(3));
        assert_eq!(o.errors(), 1);
    }

    #[test]
    fn a_window_is_bounded_and_counts_every_visible_row() {
        // root → mid → 10,000 leaves: too many to open by default below the top.
        let mut nodes = vec![
            node("root", None, vec![1], 0, Status::Ok),
            node("mid", Some(0), (2..10_002).collect(), 1, Status::Ok),
        ];
        nodes.extend((1..=10_000).map(|i| node(&format!("n{i}"), Some(1), vec![], 2, Status::Ok)));
        let o = Outline::new(nodes, 1.0);
        assert_eq!(o.window(&o.open(&[]), 0, 100).total, 2, "mid starts closed: too many rows for the first view");
        let open = o.open(&["mid".into()]);
        let w = o.window(&open, 9_990, 100_000);
        assert_eq!((w.total, w.offset, w.rows.len()), (10_002, 9_990, 12));
        assert_eq!(w.rows.last().map(|r| r.id.as_str()), Some("n10000"));
        let w = o.window(&open, 0, 100_000);
        assert_eq!(w.rows.len(), MAX_WINDOW as usize);
    }

    #[test]
    fn a_filter_keeps_the_matching_spans_and_the_path_to_each() {
        // a → b → c → d (failed), e beside a; b and e are tools.
        let mut o = chain();
        o.nodes[1].kind = Some(SpanKind::Tool);
        o.nodes[4].kind = Some(SpanKind::Tool);
        let only_tools = ["only:tool".to_owned()];
        let open = o.open(&only_tools);
        assert_eq!(o.visible(&open), vec![0, 1, 4], "a as b's path; c and d hidden below the match");
        let w = o.window(&open, 0, 10);
        let rows: Vec<(&str, bool, bool)> = w.rows.iter().map(|r| (r.id.as_str(), r.context, r.open)).collect();
        assert_eq!(rows, [("a", true, true), ("b", false, false), ("e", false, false)]);
        // Failed spans, however deep: the whole path opens.
        let open = o.open(&["only:error".to_owned()]);
        assert_eq!(o.visible(&open), vec![0, 1, 2, 3]);
        // Nothing of that kind: nothing shown.
        assert!(o.visible(&o.open(&["only:model".to_owned()])).is_empty());
        // A toggle still closes a node of the filtered tree.
        assert_eq!(o.visible(&o.open(&["only:error".to_owned(), "b".to_owned()])), vec![0, 1]);
        // Revealing a span the filter hides drops the filter; one it keeps keeps it.
        let seek = o.seek(&only_tools, 3);
        assert!(!seek.toggles.iter().any(|t| t.starts_with(ONLY)), "{:?}", seek.toggles);
        assert_eq!(seek.row, 3);
        let seek = o.seek(&only_tools, 4);
        assert_eq!((seek.toggles.contains(&only_tools[0]), seek.row), (true, 2));
    }

    #[test]
    fn search_finds_names_kinds_and_store_hits_in_tree_order() {
        let o = chain();
        let none = HashSet::new();
        assert_eq!(o.search("C", "", &none), vec![2], "case-insensitive name");
        assert_eq!(o.search("", "error", &none), vec![3]);
        assert_eq!(o.search("agent", "", &none), vec![0, 1, 2, 3, 4], "the kind");
        let hits: HashSet<String> = ["e".to_owned(), "b".to_owned()].into();
        assert_eq!(o.search("text only in messages", "", &hits), vec![1, 4]);
        assert!(o.search(" ", "", &hits).is_empty());
    }

    #[test]
    fn the_graph_counts_calls_from_the_nearest_agent() {
        // run → planner (agent) → search (tool) ×2, one failed; → gpt (model) via a workflow step.
        let mut nodes = vec![
            node("planner", None, vec![1, 2, 3], 0, Status::Ok),
            node("search", Some(0), vec![], 1, Status::Ok),
            node("search", Some(0), vec![], 1, Status::Error),
            node("step", Some(0), vec![4], 1, Status::Ok),
            node("llm", Some(3), vec![], 2, Status::Ok),
        ];
        nodes[1].kind = Some(SpanKind::Tool);
        nodes[2].kind = Some(SpanKind::Tool);
        nodes[3].kind = Some(SpanKind::Workflow);
        nodes[4].kind = Some(SpanKind::Model);
        nodes[4].model = Some("gpt-4o".into());
        nodes[4].cost_usd = 0.5;
        nodes[1].duration_ms = Some(10.0);
        nodes[2].duration_ms = Some(30.0);
        let g = Outline::new(nodes, 1.0).graph();
        let names: Vec<(&str, &str, u32)> =
            g.nodes.iter().map(|n| (n.kind.as_str(), n.name.as_str(), n.depth)).collect();
        assert_eq!(names, [("run", "run", 0), ("agent", "planner", 1), ("tool", "search", 2), ("model", "gpt-4o", 2)]);
        let edges: Vec<(u32, u32, u32, f64, f64, u32)> =
            g.edges.iter().map(|e| (e.from, e.to, e.calls, e.total_ms, e.cost_usd, e.errors)).collect();
        assert_eq!(edges, [(0, 1, 1, 0.0, 0.0, 0), (1, 2, 2, 40.0, 0.0, 1), (1, 3, 1, 0.0, 0.5, 0)]);
        assert_eq!((g.nodes[2].calls, g.nodes[2].errors), (2, 1));
    }

    #[test]
    fn toggles_travel_as_comma_separated_ids() {
        assert_eq!(parse_toggles(" a, b,,c "), vec!["a", "b", "c"]);
        assert!(parse_toggles("").is_empty());
    }
}
