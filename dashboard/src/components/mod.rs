//! Small pieces every page uses.

mod chart;
mod json;
mod live;

use leptos::prelude::*;
use leptos_router::components::A;

pub use chart::{BarChart, HBar};
pub use json::JsonTree;
pub use live::{LiveToggle, live_changes};

use crate::format;

/// A server function's error as a sentence.
pub fn message(err: &ServerFnError) -> String {
    match err {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}

#[component]
pub fn ErrorBox(message: String) -> impl IntoView {
    view! { <div class="banner error" role="alert">{message}</div> }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="muted">"Loading…"</p> }
}

/// A labelled figure.
#[component]
pub fn Stat(label: &'static str, value: String, #[prop(optional, into)] sub: Option<String>) -> impl IntoView {
    // The whole value on hover when it does not fit (a long model name).
    let title = value.clone();
    view! {
        <div class="stat">
            <div class="stat-label">{label}</div>
            <div class="stat-value" title=title>{value}</div>
            {sub.filter(|s| !s.is_empty()).map(|s| view! { <div class="stat-sub">{s}</div> })}
        </div>
    }
}

/// `ok` / `error` / `running` / `active` / `completed` / `errored`.
#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge status-{status}");
    view! { <span class=class>{status}</span> }
}

/// A span kind's (or event's) icon.
pub fn kind_icon(kind: &str) -> &'static str {
    match kind {
        "agent" => "◆",
        "workflow" => "▤",
        "model" => "✦",
        "tool" => "⚒",
        "event" => "•",
        "run" => "▶",
        _ => "○",
    }
}

fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// An id shortened to 8 characters (full id on hover), optionally a link, with a copy button.
#[component]
pub fn IdChip(id: String, #[prop(optional, into)] href: Option<String>) -> impl IntoView {
    let short = format::short_id(&id).to_owned();
    let full = id.clone();
    let code = move || view! { <code>{short.clone()}</code> };
    view! {
        <span class="id-chip" title=id>
            {match href {
                Some(h) => view! { <A href=h>{code()}</A> }.into_any(),
                None => code().into_any(),
            }}
            <CopyButton text=full what="id"/>
        </span>
    }
}

/// A button that copies `text` to the clipboard; `what` names it for people and screen readers.
#[component]
pub fn CopyButton(text: String, what: &'static str) -> impl IntoView {
    let label = format!("Copy {what}");
    view! {
        <button type="button" class="copy" title=label.clone() aria-label=label on:click=move |_| copy_text(&text)>
            <svg viewBox="0 0 16 16" width="11" height="11" aria-hidden="true">
                <rect x="5" y="5" width="9" height="9" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.5"></rect>
                <path d="M3 11V3a1 1 0 0 1 1-1h7" fill="none" stroke="currentColor" stroke-width="1.5"></path>
            </svg>
        </button>
    }
}

/// Light / dark, remembered in the browser; the default follows the system.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let dark_now = root.get_attribute("data-theme").as_deref() == Some("dark")
                || (root.get_attribute("data-theme").is_none()
                    && web_sys::window()
                        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
                        .is_some_and(|m| m.matches()));
            let next = if dark_now { "light" } else { "dark" };
            let _ = root.set_attribute("data-theme", next);
            if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
                let _ = storage.set_item("northstar-theme", next);
            }
        }
    };
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(theme) = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item("northstar-theme").ok().flatten())
            && let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-theme", &theme);
        }
    });
    view! { <button type="button" class="theme-toggle" on:click=toggle title="Light / dark theme">"◐ Theme"</button> }
}

/// A labelled `<select>` of a GET filter form, showing `current`.
#[component]
pub fn Select(
    label: &'static str,
    name: &'static str,
    options: &'static [(&'static str, &'static str)],
    current: String,
) -> impl IntoView {
    view! {
        <label>{label}" "
            <select name=name>
                {options.iter().map(|(value, text)| view! { <option value=*value selected=current == *value>{*text}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// Start-time choices of the list filters.
pub const STARTED: &[(&str, &str)] =
    &[("", "Any time"), ("24h", "Last 24 h"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days")];

/// Time-range links that keep the other query parameters.
#[component]
pub fn RangePicker(
    current: String,
    base: String,
    #[prop(default = vec![])] keep: Vec<(&'static str, String)>,
) -> impl IntoView {
    let options = [("24h", "24 h"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("all", "All time")];
    view! {
        <div class="segmented" role="group" aria-label="Time range">
            {options
                .into_iter()
                .map(|(value, label)| {
                    let mut pairs: Vec<(&str, &str)> = keep.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    pairs.push(("range", value));
                    let href = format!("{base}{}", format::query(&pairs));
                    let class = if current == value { "seg active" } else { "seg" };
                    view! { <A href=href attr:class=class>{label}</A> }
                })
                .collect_view()}
        </div>
    }
}

/// Previous / next page links.
#[component]
pub fn Pager(page: u32, total: i64, base: String, pairs: Vec<(&'static str, String)>) -> impl IntoView {
    // Past the count's cap the number of pages is not known: there is always a next one.
    let capped = total > crate::COUNT_CAP;
    let pages = ((total.max(0) as u64).div_ceil(u64::from(crate::PAGE_SIZE))).max(1) as u32;
    let link = move |p: u32| {
        let page = p.to_string();
        let mut q: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        q.push(("page", if p <= 1 { "" } else { page.as_str() }));
        format!("{base}{}", format::query(&q))
    };
    let (prev, next) = (link(page.saturating_sub(1).max(1)), link(page + 1));
    view! {
        <div class="pager">
            <span class="muted">{if capped {
                format!("more than {} in all · page {page}", crate::COUNT_CAP)
            } else {
                format!("{total} in all · page {page} of {pages}")
            }}</span>
            {(page > 1).then(|| view! { <A href=prev>"← Previous"</A> })}
            {(page < pages || capped).then(|| view! { <A href=next>"Next →"</A> })}
        </div>
    }
}

/// A list's column header that sorts by `key`: a link to the list with the other filters kept
/// (`keep`), sorted by this column, descending first and ascending on a second click. `sort`
/// empty is the list's default, `started` descending.
#[component]
pub fn SortHeader(
    key: &'static str,
    label: &'static str,
    base: String,
    keep: Vec<(&'static str, String)>,
    sort: String,
    dir: String,
) -> impl IntoView {
    let active = sort == key || (sort.is_empty() && key == "started");
    let descending = dir != "asc";
    let next_dir = if active && descending { "asc" } else { "" };
    let arrow = if active { if descending { " ↓" } else { " ↑" } } else { "" };
    let mut pairs: Vec<(&str, &str)> = keep.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend([("sort", key), ("dir", next_dir)]);
    let href = format!("{base}{}", format::query(&pairs));
    let sorted = if active { if descending { "descending" } else { "ascending" } } else { "none" };
    view! { <th aria-sort=sorted><A href=href>{label}{arrow}</A></th> }
}

/// What a new project sees: how to send the first trace, with this server's endpoint.
#[component]
pub fn FirstTrace(ingest_url: String) -> impl IntoView {
    let env = format!(
        "export NORTHSTAR_ENDPOINT={ingest_url}\nexport NORTHSTAR_API_KEY=ns_…   # printed when the project was created"
    );
    let rust = "let _northstar = northstar::init(northstar::Options::default());\n\n#[northstar::trace]\nasync fn agent(question: String) -> String { … }";
    let curl = format!(
        "curl -s {ingest_url} -H \"Authorization: Bearer $NORTHSTAR_API_KEY\" -d '{{\"schema_version\": 2,\n  \"sessions\": [{{\"id\": \"11111111-0000-4000-8000-000000000001\", \"created_at\": \"2025-05-01T10:00:00Z\"}}],\n  \"runs\": [{{\"id\": \"22222222-0000-4000-8000-000000000002\", \"session_id\": \"11111111-0000-4000-8000-000000000001\",\n            \"name\": \"my-agent\", \"started_at\": \"2025-05-01T10:00:00Z\", \"status\": \"ok\"}}]}}'"
    );
    // OTLP is served at the server's root (`/v1/traces`, gRPC on the same port).
    let base = ingest_url.strip_suffix("/functions/v1/ingest-traces").unwrap_or(&ingest_url).to_owned();
    let otel_env = format!(
        "export OTEL_EXPORTER_OTLP_ENDPOINT={base}\nexport OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer ns_…\"\nexport OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf   # or grpc, same port"
    );
    let python = "# pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http openinference-instrumentation-openai\nfrom opentelemetry import trace\nfrom opentelemetry.sdk.trace import TracerProvider\nfrom opentelemetry.sdk.trace.export import BatchSpanProcessor\nfrom opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\nfrom openinference.instrumentation.openai import OpenAIInstrumentor\n\nprovider = TracerProvider()\nprovider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads OTEL_*\ntrace.set_tracer_provider(provider)\nOpenAIInstrumentor().instrument()";
    let typescript = "// npm install @opentelemetry/sdk-node @opentelemetry/exporter-trace-otlp-proto\nimport { NodeSDK } from \"@opentelemetry/sdk-node\";\nimport { OTLPTraceExporter } from \"@opentelemetry/exporter-trace-otlp-proto\";\n\nnew NodeSDK({ traceExporter: new OTLPTraceExporter() }).start(); // reads OTEL_*";
    let rust_otel = "// opentelemetry-otlp (http-proto), opentelemetry_sdk\nlet exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?; // reads OTEL_*\nlet provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()\n    .with_batch_exporter(exporter)\n    .build();";
    view! {
        <div class="empty">
            <h2>"No traces yet"</h2>
            <p>"Point an SDK at this server and run your agent; its runs appear here."</p>
            <h3>"1. Configure"</h3>
            <pre class="code">{env}</pre>
            <h3>"2. Trace (Rust, crate " <code>"northstar"</code> ")"</h3>
            <pre class="code">{rust}</pre>
            <h3>"Or export OpenTelemetry (any language, OTLP/HTTP or gRPC)"</h3>
            <pre class="code">{otel_env}</pre>
            <h3>"Python"</h3>
            <pre class="code">{python}</pre>
            <h3>"TypeScript"</h3>
            <pre class="code">{typescript}</pre>
            <h3>"Rust"</h3>
            <pre class="code">{rust_otel}</pre>
            <h3>"Or send a batch by hand"</h3>
            <pre class="code">{curl}</pre>
        </div>
    }
}
