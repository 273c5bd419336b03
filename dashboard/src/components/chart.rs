//! Charts as plain SVG rendered on the server (no script, no external assets).

use leptos::prelude::*;

const W: f64 = 600.0;
const H: f64 = 120.0;

/// Vertical bars, one per point, with the value on hover and the first and last labels below.
#[component]
pub fn BarChart(
    title: &'static str,
    points: Vec<(String, f64)>,
    format: fn(f64) -> String,
    #[prop(default = "bar")] class: &'static str,
    /// The figure beside the title; the sum of the points when not given.
    #[prop(optional, into)]
    total: Option<String>,
) -> impl IntoView {
    let max = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let total = total.unwrap_or_else(|| format(points.iter().map(|(_, v)| *v).sum()));
    let n = points.len().max(1) as f64;
    let slot = W / n;
    let width = (slot * 0.8).max(1.0);
    let first = points.first().map(|(l, _)| l.clone()).unwrap_or_default();
    let last = points.last().map(|(l, _)| l.clone()).unwrap_or_default();
    let bars = points
        .into_iter()
        .enumerate()
        .map(|(i, (label, v))| {
            let h = if max > 0.0 { (v / max * (H - 4.0)).max(if v > 0.0 { 1.0 } else { 0.0 }) } else { 0.0 };
            let x = i as f64 * slot + (slot - width) / 2.0;
            let tip = format!("{label}: {}", format(v));
            view! {
                <rect class=class x=format!("{x:.2}") y=format!("{:.2}", H - h) width=format!("{width:.2}") height=format!("{h:.2}")>
                    <title>{tip}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>
                <span>{title}</span>
                <span class="chart-total">{total}</span>
            </figcaption>
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label=title>
                <line class="axis" x1="0" y1=H.to_string() x2=W.to_string() y2=H.to_string()></line>
                {bars}
            </svg>
            <div class="chart-labels"><span>{first}</span><span>{last}</span></div>
        </figure>
    }
}

/// One labelled horizontal bar, `value` of `max`.
#[component]
pub fn HBar(label: String, value: f64, max: f64, text: String) -> impl IntoView {
    let pct = if max > 0.0 { (value / max * 100.0).clamp(0.0, 100.0) } else { 0.0 };
    let title = label.clone();
    view! {
        <div class="hbar">
            <span class="hbar-label" title=title>{label}</span>
            <span class="hbar-track"><span class="hbar-fill" style=format!("width: {pct:.1}%")></span></span>
            <span class="hbar-value">{text}</span>
        </div>
    }
}
