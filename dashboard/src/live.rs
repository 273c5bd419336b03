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

/// Writes closer together than this reach a page as one event.
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
    pub(crate) outlines: std::sync::Arc<OutlineCache>,
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
    let stream = futures_util::stream::unfold((changes, state.outlines), move |(mut changes, outlines)| async move {
        let wanted = |c: &Change| c.project == project && run.is_none_or(|r| c.touches(r));
        // The first change for this page, then whatever else arrives within COALESCE.
        let mut runs = loop {
            match changes.recv().await {
                Ok(c) if wanted(&c) => break c.runs,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => break None,
                Err(RecvError::Closed) => return None,
            }
        };
        let until = tokio::time::Instant::now() + COALESCE;
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
        // The page will read again: the outlines it reads must not be older than the change.
        outlines.forget(runs.as_deref());
        let data = match &runs {
            None => "*".to_owned(),
            Some(runs) => {
                let mut ids: Vec<String> = runs.iter().map(Uuid::to_string).collect();
                ids.sort_unstable();
                ids.dedup();
                ids.join(" ")
            }
        };
        Some((Ok::<_, std::convert::Infallible>(Event::default().event("change").data(data)), (changes, outlines)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
