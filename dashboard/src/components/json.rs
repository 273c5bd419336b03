//! JSON drawn as a tree: each object and array folds on its own (the outer two levels start
//! open, long lists closed), keys and values on one line each, like a browser's JSON viewer.

use leptos::prelude::*;

use crate::model::JsonNode;

/// Levels that start open.
const OPEN_LEVELS: usize = 2;
/// A list or object with more entries than this starts closed.
const OPEN_ENTRIES: usize = 50;

#[component]
pub fn JsonTree(node: JsonNode) -> impl IntoView {
    view! { <div class="json-tree">{draw(node, 0)}</div> }
}

fn draw(node: JsonNode, depth: usize) -> AnyView {
    match node {
        JsonNode::Scalar(text) => {
            let class = match text.as_bytes().first() {
                Some(b'"') => "json-string",
                Some(b'n') => "json-null",
                Some(b't' | b'f') => "json-bool",
                _ => "json-number",
            };
            view! { <span class=class>{text}</span> }.into_any()
        }
        JsonNode::List(items) => {
            let entries = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (view! { <span class="json-index">{i}</span> }.into_any(), item));
            fold(entries.collect(), ("[", "]"), ("item", "items"), depth)
        }
        JsonNode::Map(entries) => {
            let entries =
                entries.into_iter().map(|(key, item)| (view! { <span class="json-key">{key}</span> }.into_any(), item));
            fold(entries.collect(), ("{", "}"), ("key", "keys"), depth)
        }
    }
}

/// An array's or object's entries (label, value) under a summary that folds them, like
/// `[ 3 items ]`; `[]` or `{}` when there are none.
fn fold(
    entries: Vec<(AnyView, JsonNode)>,
    (open_mark, close_mark): (&str, &str),
    (one, many): (&str, &str),
    depth: usize,
) -> AnyView {
    let n = entries.len();
    if n == 0 {
        return view! { <span class="json-empty">{format!("{open_mark}{close_mark}")}</span> }.into_any();
    }
    let open = depth < OPEN_LEVELS && n <= OPEN_ENTRIES;
    let summary = format!("{open_mark} {n} {} {close_mark}", if n == 1 { one } else { many });
    let rows = entries
        .into_iter()
        .map(|(label, item)| view! { <div class="json-entry">{label}": "{draw(item, depth + 1)}</div> })
        .collect_view();
    view! {
        <details class="json-fold" open=open>
            <summary class="json-summary">{summary}</summary>
            <div class="json-children">{rows}</div>
        </details>
    }
    .into_any()
}
