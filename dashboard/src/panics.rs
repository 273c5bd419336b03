//! A panic while a page renders must answer 500, never leave the request hanging.
//!
//! Leptos renders a page partly in tasks it spawns (a `Suspense`'s content runs in an effect's
//! task). A panic there ends that task, and the suspense it was to fill waits forever: the
//! browser shows "Loading…" and the connection never completes. So every task Leptos spawns
//! goes through [`Executor`], which runs it under [`catch_unwind`] and remembers the request
//! it was spawned for (a task-local, carried into every task spawned from it); a panic trips
//! that request's [`Watch`]. [`catch_render_panics`] races the response against the watch:
//! tripped before the headers, the answer is a 500; tripped while the body streams, the body
//! ends with an error, so the connection is closed instead of left open.
//!
//! Panics in the handler's own future are turned into 500s by the server's catch-panic layer.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use any_spawner::{CustomExecutor, PinnedFuture, PinnedLocalFuture};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::watch;

tokio::task_local! {
    /// The watch of the request the current task works for.
    static REQUEST: Arc<Watch>;
}

/// Tripped by a panic in any task of one request.
#[derive(Debug)]
struct Watch {
    panicked: watch::Sender<bool>,
}

impl Watch {
    fn new() -> Arc<Self> {
        Arc::new(Self { panicked: watch::channel(false).0 })
    }

    fn trip(&self) {
        self.panicked.send_replace(true);
    }

    /// Resolves once tripped.
    fn tripped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.panicked.subscribe();
        async move {
            // Only an error when the sender is gone, which outlives every receiver here.
            let _ = rx.wait_for(|p| *p).await;
        }
    }
}

/// The executor Leptos spawns its tasks on: tokio's, with panics caught and reported.
#[derive(Debug, Clone, Copy)]
struct Executor;

impl CustomExecutor for Executor {
    fn spawn(&self, fut: PinnedFuture<()>) {
        let watch = REQUEST.try_with(Arc::clone).ok();
        let guarded = async move {
            if let Err(panic) = AssertUnwindSafe(fut).catch_unwind().await {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %message, "a task rendering a dashboard page panicked; answering 500");
                if let Ok(watch) = REQUEST.try_with(Arc::clone) {
                    watch.trip();
                }
            }
        };
        match watch {
            Some(watch) => tokio::spawn(REQUEST.scope(watch, guarded)),
            None => tokio::spawn(guarded),
        };
    }

    fn spawn_local(&self, fut: PinnedLocalFuture<()>) {
        tokio::task::spawn_local(fut);
    }

    fn poll_local(&self) {}
}

/// Installs [`Executor`] for Leptos (before Leptos installs plain tokio; later calls do nothing).
pub(crate) fn install() {
    let _ = any_spawner::Executor::init_custom_executor(Executor);
}

/// Middleware in front of the dashboard's pages and server functions (see the module docs).
pub async fn catch_render_panics(req: Request, next: Next) -> Response {
    let watch = Watch::new();
    let response = tokio::select! {
        response = REQUEST.scope(watch.clone(), next.run(req)) => response,
        () = watch.tripped() => return internal_error(),
    };
    let (parts, body) = response.into_parts();
    let body = Watched { inner: Box::pin(body.into_data_stream()), tripped: Box::pin(watch.tripped()), watch };
    Response::from_parts(parts, Body::from_stream(body))
}

fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Internal server error")
        .into_response()
}

/// A response body polled under its request's watch, ending in an error once it trips.
struct Watched {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>,
    tripped: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    watch: Arc<Watch>,
}

impl Stream for Watched {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.tripped.poll_unpin(cx).is_ready() {
            return Poll::Ready(Some(Err(std::io::Error::other("a task rendering this page panicked"))));
        }
        let watch = self.watch.clone();
        let next = REQUEST.sync_scope(watch, || self.inner.poll_next_unpin(cx));
        next.map(|item| item.map(|chunk| chunk.map_err(std::io::Error::other)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// What a `Suspense` whose effect panicked does: spawn the work, then wait for it forever.
    async fn page_whose_task_panics() -> &'static str {
        any_spawner::Executor::spawn(async { panic!("deliberately, while rendering") });
        std::future::pending().await
    }

    #[tokio::test]
    async fn a_panic_in_a_task_spawned_while_rendering_is_a_500_not_a_hang() {
        install();
        let app = Router::new()
            .route("/panics", get(page_whose_task_panics))
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(catch_render_panics));
        let request = |path: &str| axum::http::Request::get(path).body(Body::empty()).expect("request");
        let response = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(request("/panics")))
            .await
            .expect("answered, not hung")
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = app.oneshot(request("/fine")).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "other requests are not affected");
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("body");
        assert_eq!(&body[..], b"fine");
    }
}
