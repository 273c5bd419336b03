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
            let (n, open) = (items.len(), depth < OPEN_LEVELS && items.len() <= OPEN_ENTRIES);
            if n == 0 {
                return view! { <span class="json-empty">"[]"</span> }.into_any();
            }
            let rows = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| entry(view! { <span class="json-index">{i}</span> }.into_any(), item, depth))
                .collect_view();
            fold(format!("[ {n} {} ]", if n == 1 { "item" } else { "items" }), open, rows.into_any())
        }
        JsonNode::Map(entries) => {
            let (n, open) = (entries.len(), depth < OPEN_LEVELS && entries.len() <= OPEN_ENTRIES);
            if n == 0 {
                return view! { <span class="json-empty">"{}"</span> }.into_any();
            }
            let rows = entries
                .into_iter()
                .map(|(key, item)| entry(view! { <span class="json-key">{key}</span> }.into_any(), item, depth))
                .collect_view();
            fold(format!("{{ {n} {} }}", if n == 1 { "key" } else { "keys" }), open, rows.into_any())
        }
    }
}

fn entry(label: AnyView, item: JsonNode, depth: usize) -> impl IntoView {
    view! { <div class="json-entry">{label}": "{draw(item, depth + 1)}</div> }
}

fn fold(summary: String, open: bool, rows: AnyView) -> AnyView {
    view! {
        <details class="json-fold" open=open>
            <summary class="json-summary">{summary}</summary>
            <div class="json-children">{rows}</div>
        </details>
    }
    .into_any()
}
