//! What every server function starts with (server side only): the project it works in, opened
//! once ([`ProjectScope`]: the store, the project, the user and their role in it), and the one
//! error type of the dashboard's server side ([`PageError`]), which carries the HTTP status that
//! says whose fault a failure is and the message a person can act on, never database text.

use axum::http::StatusCode;
use leptos::prelude::*;
use northstar_store::{AnyStore, Project, Role, Store, StoreError, User};
use uuid::Uuid;

use crate::model::ProjectItem;

/// A failure of a server function: its status and what the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// The same answer for what does not exist and for what belongs to a project the user
    /// cannot see.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
}

impl From<StoreError> for PageError {
    /// 404 and 400 are the person's, 503 the database's for a moment, never a 500 for those.
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            StoreError::Invalid(m) => Self::bad_request(m),
            StoreError::InvalidData(_) | StoreError::InvalidReference(_) => {
                Self::bad_request("a value cannot be stored")
            }
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, "dashboard query: database unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable; try again shortly")
            }
            other => {
                tracing::error!(error = %other, "dashboard query failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (details are in the server log)")
            }
        }
    }
}

impl axum::response::IntoResponse for PageError {
    fn into_response(self) -> axum::response::Response {
        (self.status, self.message).into_response()
    }
}

impl From<PageError> for ServerFnError {
    /// Sets the status of the response being produced (page or server function) on the way.
    fn from(err: PageError) -> Self {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(err.status);
        }
        ServerFnError::new(err.message)
    }
}

/// A store error as a server function's error.
pub(crate) fn fail(err: StoreError) -> ServerFnError {
    PageError::from(err).into()
}

/// 404 "not found", as a server function's error.
pub(crate) fn not_found() -> ServerFnError {
    PageError::not_found().into()
}

/// An id from a URL; one that does not parse is a 404, like one that is not there.
pub(crate) fn uuid(text: &str) -> Result<Uuid, ServerFnError> {
    text.parse().map_err(|_| PageError::not_found().into())
}

/// The store the server mounted the dashboard with.
pub(crate) fn store() -> Result<AnyStore, ServerFnError> {
    use_context::<AnyStore>().ok_or_else(|| ServerFnError::new("the dashboard has no store"))
}

/// The logged-in user (the server's login layer put them on the request).
pub(crate) fn current_user() -> Result<User, ServerFnError> {
    use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<User>().cloned())
        .ok_or_else(|| PageError::new(StatusCode::UNAUTHORIZED, "login required").into())
}

/// The current user, if a server admin; otherwise 403.
pub(crate) fn server_admin() -> Result<User, ServerFnError> {
    let user = current_user()?;
    if !user.is_admin {
        return Err(PageError::forbidden("only server admins can manage users").into());
    }
    Ok(user)
}

/// The project a server function works in, opened once per call.
pub(crate) struct ProjectScope {
    pub(crate) store: AnyStore,
    pub(crate) id: Uuid,
    pub(crate) project: Project,
    pub(crate) role: Role,
    pub(crate) user: User,
}

impl ProjectScope {
    /// The project `id` (as the URL has it), if the logged-in user may open it; otherwise 404
    /// "project not found", whether it exists or not.
    pub(crate) async fn open(id: &str) -> Result<Self, ServerFnError> {
        let store = store()?;
        let user = current_user()?;
        let missing = || PageError::new(StatusCode::NOT_FOUND, "project not found");
        let id: Uuid = id.parse().map_err(|_| missing())?;
        let (project, role) = store.project_for(&user, id).await.map_err(fail)?.ok_or_else(missing)?;
        Ok(Self { store, id, project, role, user })
    }

    /// [`ProjectScope::open`], for what only the project's admins may do; 403 for a member.
    pub(crate) async fn admin(id: &str) -> Result<Self, ServerFnError> {
        let scope = Self::open(id).await?;
        if scope.role != Role::Admin {
            return Err(PageError::forbidden("only the project's admins can do that").into());
        }
        Ok(scope)
    }

    /// The project as the pages show it.
    pub(crate) fn item(&self) -> ProjectItem {
        crate::convert::project(self.project.clone(), self.role)
    }
}
