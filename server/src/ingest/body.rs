//! Reading the request body under the size limit, with `Content-Encoding: gzip` support.
//!
//! The limit applies to the bytes received *and* to the decoded bytes, so a small gzip body
//! cannot expand past it.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use flate2::read::GzDecoder;
use http_body_util::LengthLimitError;

use super::response::IngestError;

/// How long [`discard`] reads at most.
const DISCARD_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and drops a body that a refusal did not need (the request was answered before its body
/// was read: a bad key, a full server), up to `limit` bytes and for at most [`DISCARD_FOR`], one
/// frame at a time. A client still sending then reads the answer and keeps its connection; a
/// body left unread made the server close the connection under it, which clients report as a
/// broken pipe instead of the 401 or 429 they were sent.
pub(crate) async fn discard(body: Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut read = 0usize;
    let _ = tokio::time::timeout(DISCARD_FOR, async {
        while let Some(Ok(frame)) = body.frame().await {
            read = read.saturating_add(frame.data_ref().map_or(0, Bytes::len));
            if read > limit {
                break;
            }
        }
    })
    .await;
}

pub(crate) async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, IngestError> {
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().map(str::trim)) {
        None => false,
        Some(Ok(e)) if e.is_empty() || e.eq_ignore_ascii_case("identity") => false,
        Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => true,
        Some(_) => return Err(IngestError::UnsupportedEncoding),
    };

    let raw = axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .any(|e| e.is::<LengthLimitError>());
        if too_large {
            IngestError::PayloadTooLarge { limit }
        } else {
            // The client went away or sent a broken body: nothing to parse.
            IngestError::Contract(northstar_wire::ContractError::InvalidJson)
        }
    })?;
    if !gzip {
        return Ok(raw);
    }

    let mut decoded = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(raw.as_ref()).take(cap).read_to_end(&mut decoded).map_err(|_| IngestError::InvalidGzip)?;
    if decoded.len() > limit {
        return Err(IngestError::PayloadTooLarge { limit });
    }
    Ok(Bytes::from(decoded))
}
