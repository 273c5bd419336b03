//! `GET /api/live?project=…[&run=…]`: the changes a page follows, as server-sent events, fed by
//! the store's change feed (Postgres `LISTEN/NOTIFY`, so a change ingested by any server on the
//! database reaches a page open on any other; SQLite in-process). One `change` event per burst
//! of writes (at most one every [`COALESCE`]): its data is the runs that changed, space
//! separated, or `*` for "read everything again". A page then reads what it shows again.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use northstar_store::{AnyStore, Change, Store, User};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::outline::OutlineCache;

/// Events to one page are at least this far apart; the writes in between are merged.
pub const COALESCE: Duration = Duration::from_millis(200);

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    project: String,
    #[serde(default)]
    run: Option<String>,
}

#[derive(Clone)]
pub(crate) struct LiveState {
    pub(crate) store: AnyStore,
}

pub(crate) async fn handle(
    State(state): State<LiveState>,
    user: Option<axum::Extension<User>>,
    Query(query): Query<LiveQuery>,
) -> Response {
    let Some(axum::Extension(user)) = user else { return StatusCode::UNAUTHORIZED.into_response() };
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    let Ok(project) = query.project.parse::<Uuid>() else { return not_found() };
    let run = match query.run.as_deref().filter(|r| !r.is_empty()).map(str::parse::<Uuid>) {
        None => None,
        Some(Ok(run)) => Some(run),
        Some(Err(_)) => return not_found(),
    };
    match state.store.project_for(&user, project).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(),
        Err(err) => return crate::scope::PageError::from(err).into_response(),
    }
    let changes = state.store.changes().await;
    let start = (changes, tokio::time::Instant::now() - COALESCE);
    let stream = futures_util::stream::unfold(start, move |(mut changes, last_sent)| async move {
        let wanted = |c: &Change| c.project == project && run.is_none_or(|r| c.touches(r));
        // The first change for this page goes out at once; what follows within COALESCE of
        // the last event is merged into the next one.
        let (mut runs, heard) = loop {
            match changes.recv().await {
                Ok(c) if wanted(&c) => break (c.runs, std::time::Instant::now()),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => break (None, std::time::Instant::now()),
                Err(RecvError::Closed) => return None,
            }
        };
        let until = last_sent + COALESCE;
        while let Ok(next) = tokio::time::timeout_at(until, changes.recv()).await {
            match next {
                Ok(c) if wanted(&c) => match (&mut runs, c.runs) {
                    (Some(all), Some(more)) => all.extend(more),
                    _ => runs = None,
                },
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => runs = None,
                Err(RecvError::Closed) => break,
            }
        }
        // A run page reads its run's outline again: not more often than building it allows,
        // and then from a fresh build (not older than the change).
        let outlines = OutlineCache::global();
        if let Some(at) = run.and_then(|r| outlines.next_build(r)) {
            tokio::time::sleep_until(at.into()).await;
        }
        outlines.forget(runs.as_deref(), heard);
        let data = match &runs {
            None => "*".to_owned(),
            Some(runs) => {
                let mut ids: Vec<String> = runs.iter().map(Uuid::to_string).collect();
                ids.sort_unstable();
                ids.dedup();
                ids.join(" ")
            }
        };
        let event = Event::default().event("change").data(data);
        Some((Ok::<_, std::convert::Infallible>(event), (changes, tokio::time::Instant::now())))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
