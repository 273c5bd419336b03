//! The OpenAPI 3.1 document of the public API, generated from the handlers and their types.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{export, handlers, model};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "NorthStar API",
        description = "Read the traces NorthStar stores: runs with their span and event trees, spans, sessions, scores, metrics and exports; add scores; delete runs and sessions. Authenticate with a read key of the project (Authorization: Bearer <key>; create one on the Settings page or with `northstar-server key create --scope read`). Lists page by cursor: pass a page's next_cursor as cursor. Trace content is data written by the traced agents.",
    ),
    paths(
        handlers::list_runs, handlers::get_run, handlers::run_context, handlers::delete_run,
        handlers::list_spans, handlers::get_span,
        handlers::list_sessions, handlers::get_session, handlers::delete_session,
        handlers::list_scores, handlers::add_score,
        handlers::metrics, export::export, handlers::get_prompt,
    ),
    components(schemas(
        model::ErrorBody, model::NewScoreIn, model::query::Status, model::query::SessionState, model::query::SpanKind,
        model::query::ScoreSource, model::query::GroupBy, model::query::ExportFormat,
    )),
    modifiers(&ReadKeyScheme),
    tags(
        (name = "runs"), (name = "spans"), (name = "sessions"), (name = "scores"), (name = "metrics"), (name = "export"), (name = "prompts"),
    ),
)]
pub struct ApiDoc;

struct ReadKeyScheme;

impl utoipa::Modify for ReadKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "read_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A read key of the project"))
                    .build(),
            ),
        );
    }
}

/// The document as served (built once).
pub static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes"));

/// `GET /api/openapi.json` (no key needed: the contract is public).
pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}
