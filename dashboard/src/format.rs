//! Formatting shared by both sides of hydration (pure functions, no clock, no locale).

/// A bar on a time axis `total_ms` long, as (left, width) in percent of the axis: inside the
/// axis, at least `min_width` wide, never NaN, whatever the figures (a running item has no
/// duration yet, an item may start at the very end, an axis may be empty).
#[must_use]
pub fn bar(offset_ms: f64, duration_ms: Option<f64>, total_ms: f64, min_width: f64) -> (f64, f64) {
    let percent = |ms: f64| {
        let p = ms / total_ms * 100.0;
        if p.is_finite() { p.clamp(0.0, 100.0) } else { 0.0 }
    };
    let left = percent(offset_ms);
    let width = percent(duration_ms.unwrap_or(0.0)).min(100.0 - left).max(min_width);
    (left, width)
}

/// Three significant digits below a dollar, no trailing zeros past the cents (`$0.0123`,
/// `$0.000077`, `$0.0001`, `$0.50`), cents above (`$12.34`), `$0` for nothing: one rule for
/// every cost on every page.
#[must_use]
pub fn cost(usd: f64) -> String {
    if usd == 0.0 || !usd.is_finite() {
        return "$0".into();
    }
    if usd.abs() >= 1.0 {
        return format!("${usd:.2}");
    }
    // Decimals that keep three significant digits: 0.0123 → 4, 0.000077 → 7 (then trimmed).
    let decimals = (2 - usd.abs().log10().floor() as i32).clamp(2, 12) as usize;
    let text = format!("{usd:.decimals$}");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    format!("${whole}.{fraction:0<2}")
}

/// A run's cost, or `unpriced` when it called a model and nothing priced it (no cost recorded
/// and no price known): `$0` would say it was free.
#[must_use]
pub fn run_cost(usd: f64, model: Option<&str>) -> String {
    if usd == 0.0 && model.is_some() { "unpriced".into() } else { cost(usd) }
}

/// A total cost of `tokens` of model use: "unpriced" when tokens were used and nothing
/// priced them (a session or a model of local or unknown models), never a bare $0.
#[must_use]
pub fn usage_cost(usd: f64, tokens: i64) -> String {
    if usd == 0.0 && tokens > 0 { "unpriced".into() } else { cost(usd) }
}

/// `950`, `12.3k`, `4.56M`.
#[must_use]
pub fn count(n: i64) -> String {
    let f = n as f64;
    if n.abs() < 1000 {
        n.to_string()
    } else if n.abs() < 1_000_000 {
        format!("{:.1}k", f / 1e3)
    } else {
        format!("{:.2}M", f / 1e6)
    }
}

/// `340 ms`, `1.52 s`, `2m 03s`, `1h 05m`; `—` when unknown.
#[must_use]
pub fn duration(ms: Option<f64>) -> String {
    let Some(ms) = ms else { return "—".into() };
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0).round() as i64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0).round() as i64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

/// A score value: up to three decimals, no trailing zeros (`0.9`, `12`, `0.125`).
#[must_use]
pub fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `12.5%`.
#[must_use]
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// The first 8 characters of an id.
#[must_use]
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A query string from pairs, empty values left out (`?a=1&b=x%20y`).
#[must_use]
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    let q = s.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_stays_on_its_axis_whatever_the_figures() {
        assert_eq!(bar(25.0, Some(50.0), 100.0, 0.4), (25.0, 50.0));
        // A run still running that started at the very end (this panicked in `clamp`).
        assert_eq!(bar(100.0, None, 100.0, 0.4), (100.0, 0.4));
        assert_eq!(bar(99.9, Some(5.0), 100.0, 0.4), (99.9, 0.4));
        for (offset, duration, total) in
            [(0.0, None, 0.0), (f64::NAN, Some(1.0), 10.0), (1.0, Some(f64::INFINITY), 10.0)]
        {
            let (left, width) = bar(offset, duration, total, 0.3);
            assert!(left.is_finite() && width.is_finite() && (0.0..=100.0).contains(&left), "{left} {width}");
            assert!(width >= 0.3, "{width}");
        }
    }

    #[test]
    fn figures_read_like_a_dashboard() {
        assert_eq!(cost(0.0), "$0");
        assert_eq!(cost(0.000036), "$0.000036");
        assert_eq!(cost(0.0123), "$0.0123");
        assert_eq!(cost(0.000077), "$0.000077");
        assert_eq!(cost(0.0001), "$0.0001");
        assert_eq!(cost(0.5), "$0.50");
        assert_eq!(cost(0.99999), "$1.00");
        assert_eq!(cost(f64::NAN), "$0");
        assert_eq!(run_cost(0.0, Some("my-local-model")), "unpriced");
        assert_eq!(run_cost(0.0, None), "$0", "no model call: nothing to price");
        assert_eq!(usage_cost(0.0, 1200), "unpriced");
        assert_eq!(usage_cost(0.0, 0), "$0");
        assert_eq!(usage_cost(0.5, 1200), "$0.50");
        assert_eq!(run_cost(0.0123, Some("gpt-4o-mini")), "$0.0123");
        assert_eq!(cost(12.345), "$12.35");
        assert_eq!(count(950), "950");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(4_560_000), "4.56M");
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(340.2)), "340 ms");
        assert_eq!(duration(Some(1520.4)), "1.52 s");
        assert_eq!(duration(Some(123_000.0)), "2m 03s");
        assert_eq!(duration(Some(3_900_000.0)), "1h 05m");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!((number(0.9), number(12.0), number(0.1254)), ("0.9".into(), "12".into(), "0.125".into()));
        assert_eq!(short_id("5b0e1234-aaaa"), "5b0e1234");
        assert_eq!(query(&[("status", "error"), ("q", "a b&c"), ("page", "")]), "?status=error&q=a+b%26c");
        assert_eq!(query(&[("q", "")]), "");
    }
}
