//! Query parameters as the API reads them (repeatable ones, such as `metadata=key:value`,
//! included) and the opaque cursor of its lists.

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use base64::Engine;
use chrono::{DateTime, Utc};
use northstar_store::TimeRange;
use uuid::Uuid;

use super::ApiError;

/// Most rows a list answers with.
pub(crate) const MAX_LIMIT: u32 = 1000;
/// Rows a list answers with when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 50;

/// The request's query parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state).await.unwrap_or(RawQuery(None));
        Ok(Self::parse(query.as_deref().unwrap_or("")))
    }
}

impl Params {
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    pub(crate) fn parse(query: &str) -> Self {
        // NUL as the stores keep it (U+FFFD): a filter on it finds what was stored, on both.
        let clean = |t: std::borrow::Cow<'_, str>| northstar_wire::without_nul(&t).into_owned();
        Self(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (clean(k), clean(v))).collect())
    }

    /// The one value of `name`, if given (given twice: 400).
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!("`{name}` is given more than once")));
        }
        Ok(first)
    }

    /// A non-empty text value.
    pub(crate) fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(self.one(name)?.filter(|v| !v.is_empty()).map(str::to_owned))
    }

    /// A value parsed by `parse`, with `what` naming what it should be.
    pub(crate) fn parsed<T>(
        &self,
        name: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| ApiError::bad_request(format!("`{name}` must be {what}"))),
        }
    }

    pub(crate) fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.parsed(name, "a UUID", |v| Uuid::parse_str(v).ok())
    }

    /// A finite number.
    pub(crate) fn number(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.parsed(name, "a finite number", |v| v.parse::<f64>().ok().filter(|n| n.is_finite()))
    }

    /// An RFC 3339 time.
    pub(crate) fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.parsed(name, "an RFC 3339 time such as 2026-01-31T00:00:00Z", |v| {
            DateTime::parse_from_rfc3339(v).ok().map(|t| t.with_timezone(&Utc))
        })
    }

    /// `from` and `to` (half-open).
    pub(crate) fn range(&self) -> Result<TimeRange, ApiError> {
        // `from` after `to` is an empty range, not an error.
        Ok(TimeRange { from: self.time("from")?, to: self.time("to")? })
    }

    /// `limit`, 1 to [`MAX_LIMIT`].
    pub(crate) fn limit(&self) -> Result<u32, ApiError> {
        let what = format!("a whole number from 1 to {MAX_LIMIT}");
        Ok(self
            .parsed("limit", &what, |v| v.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)))?
            .unwrap_or(DEFAULT_LIMIT))
    }

    /// `cursor`: where the previous page ended.
    pub(crate) fn cursor(&self) -> Result<Option<(DateTime<Utc>, Uuid)>, ApiError> {
        match self.one("cursor")? {
            None | Some("") => Ok(None),
            Some(c) => decode_cursor(c)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request("`cursor` must be a next_cursor of a previous page")),
        }
    }

    /// Every `name=key:value` as (key, value), and every `name=key` as (key, any value);
    /// empty ones are ignored.
    pub(crate) fn pairs(&self, name: &str) -> Vec<(String, Option<String>)> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| match v.split_once(':') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (v.clone(), None),
            })
            .collect()
    }
}

/// The cursor of a page that ended at (`at`, `id`).
pub(crate) fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    let text = format!("{}|{id}", at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once('|')?;
    Some((DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc), Uuid::parse_str(id).ok()?))
}

/// The next page's cursor: after the last row, when the page is full.
pub(crate) fn next_cursor<T>(rows: &[T], limit: u32, key: impl Fn(&T) -> (DateTime<Utc>, Uuid)) -> Option<String> {
    (rows.len() >= limit as usize).then(|| rows.last().map(key)).flatten().map(|(at, id)| encode_cursor(at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_row_it_was_made_from() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T12:00:00.123456Z").expect("time").with_timezone(&Utc);
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn repeated_and_malformed_parameters_are_told_apart() {
        let p = Params::parse("metadata=user:ann&metadata=tier:gold&limit=5&limit=6&x=%00");
        assert_eq!(
            p.pairs("metadata"),
            vec![("user".to_owned(), Some("ann".to_owned())), ("tier".to_owned(), Some("gold".to_owned()))]
        );
        assert!(p.limit().is_err(), "limit given twice");
        assert!(Params::parse("limit=0").limit().is_err());
        assert!(Params::parse("limit=1001").limit().is_err());
        assert_eq!(Params::parse("").limit().expect("default"), DEFAULT_LIMIT);
        assert_eq!(Params::parse("metadata=tier&metadata=").pairs("metadata"), vec![("tier".to_owned(), None)]);
        assert!(Params::parse("to=").time("to").is_err(), "an empty time is not a time");
        assert!(Params::parse("min_cost=NaN").number("min_cost").is_err());
    }
}
