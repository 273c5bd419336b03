//! Contract timestamps.
//!
//! The shape is the original's: `YYYY-MM-DDTHH:MM:SS`, an optional `.` and one or more digits,
//! then `Z` or `±HH:MM` (upper-case `T` and `Z`, no space separator, no `+0000`). Unlike the
//! original, which let impossible dates such as `2024-02-30` through to Postgres and answered 500,
//! the calendar is checked here, so such a value is a 400 with the field's usual message.
//! `24:00:00` (end of day, accepted by the original's parser and by Postgres) means 00:00 of the
//! next day. Values are kept at microsecond precision, as Postgres stores them.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// A validated instant, in UTC, at microsecond precision.
pub type Timestamp = DateTime<Utc>;

/// Parses a contract timestamp; `None` when the shape or the calendar is wrong.
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    // Fixed part: YYYY-MM-DDTHH:MM:SS (19 bytes).
    if b.len() < 20 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let mut n = 0u32;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(c - b'0');
        }
        Some(n)
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(0..4)?;
    let month = digits(5..7)?;
    let day = digits(8..10)?;
    let hour = digits(11..13)?;
    let minute = digits(14..16)?;
    let second = digits(17..19)?;

    // Optional fraction: '.' followed by one or more digits.
    let mut pos = 19;
    let mut nanos: u64 = 0;
    let mut fraction_is_zero = true;
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        let frac = &b[start..pos];
        fraction_is_zero = frac.iter().all(|&c| c == b'0');
        // Round to microseconds (half up), as Postgres keeps six digits.
        let mut micros: u64 = 0;
        for i in 0..6 {
            micros = micros * 10 + frac.get(i).map_or(0, |&c| u64::from(c - b'0'));
        }
        if frac.get(6).is_some_and(|&c| c >= b'5') {
            micros += 1;
        }
        nanos = micros * 1_000;
    }

    // Zone: 'Z' or ±HH:MM, and nothing after it.
    let rest = &b[pos..];
    let offset_minutes: i64 = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (oh, om) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 60 + om;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };

    if !(1..=9999).contains(&year) || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let (date, hour) = match hour {
        0..=23 => (date, hour),
        // End of day: only exactly 24:00:00 with an all-zero fraction.
        24 if minute == 0 && second == 0 && fraction_is_zero => (date.succ_opt()?, 0),
        _ => return None,
    };
    let local = date.and_hms_opt(hour, minute, second)?;
    let utc = Utc.from_utc_datetime(&local) - Duration::minutes(offset_minutes)
        + Duration::nanoseconds(i64::try_from(nanos).ok()?);
    // Keep stored values inside the range both stores represent as four-digit years.
    let year = chrono::Datelike::year(&utc);
    (1..=9999).contains(&year).then_some(utc)
}

/// The canonical text form: RFC 3339 in UTC with exactly six fractional digits and `Z`.
/// Lexical order equals time order, which is what the SQLite store relies on.
#[must_use]
pub fn format_timestamp(ts: &Timestamp) -> String {
    // chrono's RFC 3339 writer prints the same text for four-digit years, digit by digit, at a
    // fraction of the cost of interpreting the format string (a third of the SDK worker's
    // instructions went there).
    if (0..=9999).contains(&chrono::Datelike::year(ts)) {
        ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    } else {
        ts.format(CANONICAL).to_string()
    }
}

/// The canonical form as a chrono format string.
const CANONICAL: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        format_timestamp(&parse_timestamp(text).unwrap_or_else(|| panic!("{text} should parse")))
    }

    #[test]
    fn accepts_the_sdk_shapes() {
        assert_eq!(ok("2025-05-01T10:00:00.000100Z"), "2025-05-01T10:00:00.000100Z");
        assert_eq!(ok("2025-05-01T10:00:00Z"), "2025-05-01T10:00:00.000000Z");
        assert_eq!(ok("2025-05-01T12:30:00+02:30"), "2025-05-01T10:00:00.000000Z");
        assert_eq!(ok("2025-05-01T10:00:00.1234567Z"), "2025-05-01T10:00:00.123457Z");
        assert_eq!(ok("2025-05-01T10:00:00.1-01:00"), "2025-05-01T11:00:00.100000Z");
        assert_eq!(ok("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000000Z");
    }

    #[test]
    fn the_fast_writer_prints_what_the_format_string_printed() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            // Instants spread over years 1..=9999, with sub-microsecond digits to truncate.
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let micros = i64::try_from(state % 315_537_897_600_000_000).unwrap_or(0) - 62_135_596_800_000_000;
            let Some(ts) = chrono::DateTime::from_timestamp_micros(micros) else { continue };
            let ts = ts + Duration::nanoseconds(i64::try_from(state % 1_000).unwrap_or(0));
            assert_eq!(format_timestamp(&ts), ts.format(CANONICAL).to_string());
        }
    }

    #[test]
    fn end_of_day_is_next_midnight() {
        assert_eq!(ok("2024-12-31T24:00:00Z"), "2025-01-01T00:00:00.000000Z");
        assert_eq!(ok("2024-12-31T24:00:00.000Z"), "2025-01-01T00:00:00.000000Z");
        assert!(parse_timestamp("2024-12-31T24:00:00.5Z").is_none());
        assert!(parse_timestamp("2024-12-31T24:01:00Z").is_none());
    }

    #[test]
    fn rejects_what_the_original_rejected() {
        for bad in [
            "not-a-date",
            "2025-05-01 10:00:00Z",
            "2025-05-01t10:00:00Z",
            "2025-05-01T10:00:00z",
            "2025-05-01T10:00:00+0000",
            "2025-05-01T10:00:00+00",
            "2025-05-01T10:00:00",
            "2025-05-01T10:00:00.Z",
            "2025-13-01T10:00:00Z",
            "2025-05-01T23:59:60Z",
            "2025-05-01T10:00:00+25:00",
            "2025-05-01T10:00:00Z ",
            "２025-05-01T10:00:00Z",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad} should be rejected");
        }
    }

    #[test]
    fn rejects_impossible_calendar_dates() {
        assert!(parse_timestamp("2024-02-30T00:00:00Z").is_none());
        assert!(parse_timestamp("2023-02-29T00:00:00Z").is_none());
        assert!(parse_timestamp("2025-04-31T00:00:00Z").is_none());
        assert!(parse_timestamp("0000-01-01T00:00:00Z").is_none());
        assert!(parse_timestamp("2025-00-10T00:00:00Z").is_none());
    }
}
