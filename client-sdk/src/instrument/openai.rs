//! async-openai: pass [`openai_http_service`] to `Client::with_http_service`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use reqwest013 as reqwest;

/// The HTTP service async-openai sends its requests through, recording each LLM call:
///
/// ```no_run
/// # #[cfg(feature = "async-openai")] {
/// use async_openai::{Client, config::OpenAIConfig};
///
/// // The argument is your reqwest 0.13 `reqwest::Client` (the version async-openai uses).
/// let client = Client::with_config(OpenAIConfig::default())
///     .with_http_service(northstar::instrument::openai_http_service(Default::default()));
/// # }
/// ```
#[must_use]
pub fn openai_http_service(client: reqwest::Client) -> OpenAiHttpService {
    OpenAiHttpService { client }
}

/// See [`openai_http_service`]. It composes with async-openai's own tower layers (retry,
/// timeout): put those outside it to record every attempt, inside to record one span per call.
#[derive(Debug, Clone)]
pub struct OpenAiHttpService {
    client: reqwest::Client,
}

impl tower::Service<HttpRequestFactory> for OpenAiHttpService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            super::observe(
                request,
                |request| async move { client.execute(request).await.map_err(OpenAIError::Reqwest) },
            )
            .await
        })
    }
}
