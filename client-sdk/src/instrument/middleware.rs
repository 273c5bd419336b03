//! Plain reqwest: add [`LlmMiddleware`] to a `reqwest-middleware` client.

use reqwest_middleware::{Middleware, Next};
use reqwest013 as reqwest;

/// Records LLM calls made through a `reqwest_middleware::ClientWithMiddleware`:
///
/// ```no_run
/// # #[cfg(feature = "reqwest-middleware")] {
/// // `reqwest_middleware::reqwest` is the reqwest (0.13) it is built on: your own `reqwest::Client`.
/// let http = reqwest_middleware::ClientBuilder::new(reqwest_middleware::reqwest::Client::new())
///     .with(northstar::instrument::LlmMiddleware)
///     .build();
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LlmMiddleware;

#[async_trait::async_trait]
impl Middleware for LlmMiddleware {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        super::observe(request, |request| next.run(request, extensions)).await
    }
}
