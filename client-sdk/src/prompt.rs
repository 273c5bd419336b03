//! Prompts from the server's registry: [`prompt`](crate::prompt) (or [`Client::prompt`]) asks
//! for a prompt by slug, a label (`prod` by default) or a version number; [`Prompt::compile`]
//! renders it with variables and, inside a model call, links that span to the version (the
//! batch's `prompt_links`, as the original SDK sends them).
//!
//! A fetched prompt is cached per client for a TTL (60 s by default). A prompt fetch never takes
//! an agent down: while the server is unreachable (or answers 408, 429 or 5xx) the cached version
//! is served, marked [`Prompt::is_stale`], and the server is asked again only after another TTL;
//! with nothing cached, a [`PromptRequest::fallback`] template is served instead.
//!
//! ```no_run
//! # async fn demo() -> Result<(), northstar::PromptError> {
//! let prompt = northstar::prompt("support-answer").label("prod").fallback("Answer: {{ question }}").await?;
//! let llm = northstar::model_call("answer", prompt.model().unwrap_or("gpt-4o-mini"));
//! let compiled = prompt.compile([("question", "How do refunds work?")])?; // links `llm` to the version
//! # let _ = (llm, compiled.text());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use northstar_wire::{PromptLink, SpanKind, prompt as template};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::capture::Captured;
use crate::client::{Client, Inner};
use crate::context::Context;
use crate::span::{Key, SpanHandle, SpanRef};
use crate::worker::Record;

/// How long a fetched prompt is served from the cache before the server is asked again.
pub const DEFAULT_PROMPT_TTL: Duration = Duration::from_secs(60);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Prompts a client keeps (the original SDK's bound).
const CACHE_ENTRIES: usize = 256;

/// Why a prompt could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// The SDK is disabled or has no endpoint and key, and no fallback was given.
    Disabled,
    /// The server has no such prompt, label or version.
    NotFound(String),
    /// The server could not be reached (or failed), nothing was cached and no fallback given.
    Unavailable(String),
    /// The server refused the request (a bad key: 401), or answered what no version is.
    Refused(String),
    /// [`Prompt::compile`] was not given every variable the template names.
    MissingVariables(Vec<String>),
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disabled => f.write_str("NorthStar is disabled and no fallback prompt was given"),
            Self::NotFound(what) => write!(f, "prompt not found: {what}"),
            Self::Unavailable(why) => write!(f, "the prompt registry is unavailable: {why}"),
            Self::Refused(why) => write!(f, "the prompt registry refused the request: {why}"),
            Self::MissingVariables(names) => {
                write!(f, "{}", template::MissingVariables(names.clone()))
            }
        }
    }
}

impl std::error::Error for PromptError {}

/// A version as the server gives it (the original's resolve answer).
#[derive(Debug, Clone, Deserialize, PartialEq)]
struct Version {
    id: Uuid,
    prompt_id: Uuid,
    version_number: i64,
    content: String,
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<i64>,
    content_hash: String,
}

/// A prompt version (or a fallback template), ready to compile.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    slug: Arc<str>,
    /// `None` for a fallback.
    version: Option<Arc<Version>>,
    fallback: Option<Arc<str>>,
    stale: bool,
}

impl Prompt {
    /// The slug asked for.
    #[must_use]
    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The template: `{{ variable }}` or `{variable}`.
    #[must_use]
    pub fn template(&self) -> &str {
        match (&self.version, &self.fallback) {
            (Some(v), _) => &v.content,
            (None, Some(f)) => f,
            (None, None) => "",
        }
    }

    /// The version's id; `None` for a fallback.
    #[must_use]
    pub fn version_id(&self) -> Option<Uuid> {
        self.version.as_ref().map(|v| v.id)
    }

    /// The version's number; `None` for a fallback.
    #[must_use]
    pub fn version_number(&self) -> Option<i64> {
        self.version.as_ref().map(|v| v.version_number)
    }

    /// The prompt's id; `None` for a fallback.
    #[must_use]
    pub fn prompt_id(&self) -> Option<Uuid> {
        self.version.as_ref().map(|v| v.prompt_id)
    }

    /// The model the version names, if any.
    #[must_use]
    pub fn model(&self) -> Option<&str> {
        self.version.as_ref().and_then(|v| v.model.as_deref())
    }

    #[must_use]
    pub fn temperature(&self) -> Option<f64> {
        self.version.as_ref().and_then(|v| v.temperature)
    }

    #[must_use]
    pub fn max_tokens(&self) -> Option<i64> {
        self.version.as_ref().and_then(|v| v.max_tokens)
    }

    /// SHA-256 of the template, hex; `None` for a fallback.
    #[must_use]
    pub fn content_hash(&self) -> Option<&str> {
        self.version.as_ref().map(|v| v.content_hash.as_str())
    }

    /// The variables the template names, sorted.
    #[must_use]
    pub fn variables(&self) -> Vec<String> {
        template::variables(self.template())
    }

    /// Served from the cache because the server could not be asked.
    #[must_use]
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// The fallback template given to the request, not a version of the registry.
    #[must_use]
    pub fn is_fallback(&self) -> bool {
        self.version.is_none()
    }

    /// The template with `variables` in place. Inside a model call (the current span is a
    /// `model` span) that span is linked to this version, with the variables' values; use
    /// [`CompiledPrompt::link`] for another span.
    ///
    /// # Errors
    ///
    /// [`PromptError::MissingVariables`] naming every variable not given.
    pub fn compile<I, K, V>(&self, variables: I) -> Result<CompiledPrompt, PromptError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: ToString,
    {
        let values: HashMap<String, String> =
            variables.into_iter().map(|(k, v)| (k.as_ref().to_owned(), v.to_string())).collect();
        let text = template::render(self.template(), |name| values.get(name).cloned())
            .map_err(|missing| PromptError::MissingVariables(missing.0))?;
        let compiled = CompiledPrompt { text, prompt: self.clone(), values };
        Context::with_current(|entry| {
            if let Some(span) = entry.and_then(|e| e.span()).filter(|s| s.kind() == SpanKind::Model) {
                compiled.link_state(span);
            }
        });
        Ok(compiled)
    }
}

/// A prompt rendered with its variables.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPrompt {
    text: String,
    prompt: Prompt,
    values: HashMap<String, String>,
}

impl CompiledPrompt {
    /// The rendered text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The prompt it was compiled from.
    #[must_use]
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// The variables' values.
    #[must_use]
    pub fn variables(&self) -> &HashMap<String, String> {
        &self.values
    }

    /// Links `span` to this version (a fallback links nothing).
    pub fn link(&self, span: &SpanHandle) {
        if let Some(state) = &span.state {
            self.link_state(state);
        }
    }

    fn link_state(&self, span: &SpanRef) {
        let Some(version) = &self.prompt.version else { return };
        // As the original SDK marks a bound span.
        span.set_attribute(
            Key::Borrowed("prompt.compile.requested"),
            Captured::of(&json!({"prompt_version_id": version.id, "content_hash": version.content_hash})),
        );
        let variable_values: Map<String, Value> =
            self.values.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        span.run().client().send(Record::PromptLink(Box::new(PromptLink {
            trace_id: span.run().id,
            span_id: span.id,
            prompt_version_id: version.id,
            variable_values: Value::Object(variable_values),
        })));
    }
}

/// A prompt fetch: set a label, a version, a TTL or a fallback, then `.await` it.
#[derive(Debug, Clone)]
#[must_use = "a prompt request does nothing until it is awaited"]
pub struct PromptRequest {
    client: Client,
    slug: String,
    label: String,
    version: Option<u32>,
    ttl: Duration,
    fallback: Option<String>,
}

impl PromptRequest {
    pub(crate) fn new(client: Client, slug: &str) -> Self {
        Self {
            client,
            slug: slug.to_owned(),
            label: "prod".into(),
            version: None,
            ttl: DEFAULT_PROMPT_TTL,
            fallback: None,
        }
    }

    /// The label whose version to give (`prod` by default; `latest` is the newest version).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// A version by number (the label is then not used).
    pub fn version(mut self, version: u32) -> Self {
        self.version = Some(version);
        self
    }

    /// How long the answer is served from the cache ([`DEFAULT_PROMPT_TTL`]).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// A template to serve when the registry cannot give the prompt and nothing is cached
    /// (it links no span).
    pub fn fallback(mut self, template: impl Into<String>) -> Self {
        self.fallback = Some(template.into());
        self
    }

    /// The prompt.
    ///
    /// # Errors
    ///
    /// [`PromptError::NotFound`] when the server has no such prompt; [`PromptError::Unavailable`]
    /// or [`PromptError::Disabled`] when nothing could be given (no cache, no fallback).
    pub async fn get(self) -> Result<Prompt, PromptError> {
        let fallback = |err: PromptError, request: &Self| match &request.fallback {
            Some(f) => Ok(Prompt {
                slug: request.slug.as_str().into(),
                version: None,
                fallback: Some(f.as_str().into()),
                stale: false,
            }),
            None => Err(err),
        };
        let Some(inner) = self.client.inner.clone() else { return fallback(PromptError::Disabled, &self) };
        let Some(url) = inner.prompts.url.clone() else { return fallback(PromptError::Disabled, &self) };
        let key = (self.slug.clone(), self.label.clone(), self.version);
        let cached = inner.prompts.cached(&key);
        let prompt = |version: Arc<Version>, stale: bool| Prompt {
            slug: self.slug.as_str().into(),
            version: Some(version),
            fallback: None,
            stale,
        };
        if let Some((version, at)) = &cached
            && at.elapsed() < self.ttl
        {
            return Ok(prompt(version.clone(), false));
        }
        match fetch(&inner, &url, &self).await {
            Ok(version) => {
                let version = Arc::new(version);
                inner.prompts.put(key, version.clone());
                Ok(prompt(version, false))
            }
            Err(Fetch::Unavailable(why)) => match cached {
                Some((version, _)) => {
                    inner.counters.warn(&format!("serving the cached prompt {}: {why}", self.slug));
                    // Asked again after another TTL, not on every call while the server is away.
                    inner.prompts.put(key, version.clone());
                    Ok(prompt(version, true))
                }
                None => fallback(PromptError::Unavailable(why), &self),
            },
            Err(Fetch::NotFound) => fallback(PromptError::NotFound(self.slug.clone()), &self),
            Err(Fetch::Refused(why)) => fallback(PromptError::Refused(why), &self),
        }
    }
}

impl IntoFuture for PromptRequest {
    type Output = Result<Prompt, PromptError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.get())
    }
}

enum Fetch {
    Unavailable(String),
    NotFound,
    Refused(String),
}

async fn fetch(inner: &Inner, url: &str, request: &PromptRequest) -> Result<Version, Fetch> {
    let body = json!({"slug": request.slug, "label": request.label, "version": request.version});
    let response = inner
        .prompts
        .http
        .post(url)
        .bearer_auth(&inner.prompts.key)
        .json(&body)
        .send()
        .await
        .map_err(|err| Fetch::Unavailable(err.to_string()))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|err| Fetch::Unavailable(err.to_string()))?;
    match status {
        200 => {
            #[derive(Deserialize)]
            struct Answer {
                prompt_version: Version,
            }
            serde_json::from_str::<Answer>(&text)
                .map(|a| a.prompt_version)
                .map_err(|err| Fetch::Unavailable(format!("the server answered what is not a prompt version: {err}")))
        }
        404 => Err(Fetch::NotFound),
        408 | 429 | 500..=599 => Err(Fetch::Unavailable(format!("the server answered {status}"))),
        _ => Err(Fetch::Refused(format!("{status}: {}", text.chars().take(200).collect::<String>()))),
    }
}

/// What a prompt is cached by: slug, label, version number.
type CacheKey = (String, String, Option<u32>);

/// A client's prompt cache and where it asks.
pub(crate) struct Prompts {
    /// The resolve URL; `None` without an endpoint (a memory transport).
    url: Option<String>,
    key: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<CacheKey, (Arc<Version>, Instant)>>,
}

impl Prompts {
    pub(crate) fn new(options: &crate::Options) -> Self {
        let active = options.active();
        let url = active.as_ref().map(|(_, endpoint)| resolve_url(endpoint));
        let http = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().unwrap_or_default();
        Self { url, key: active.map(|(key, _)| key).unwrap_or_default(), http, cache: Mutex::new(HashMap::new()) }
    }

    fn cached(&self, key: &CacheKey) -> Option<(Arc<Version>, Instant)> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: CacheKey, version: Arc<Version>) {
        let Ok(mut cache) = self.cache.lock() else { return };
        if cache.len() >= CACHE_ENTRIES
            && !cache.contains_key(&key)
            && let Some(oldest) = cache.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key, (version, Instant::now()));
    }
}

/// The resolve URL for an ingest endpoint: beside the ingest path when the endpoint is one of the
/// server's ingest URLs (behind any prefix a proxy adds), else under the endpoint.
fn resolve_url(endpoint: &str) -> String {
    let base = ["/functions/v1/ingest-traces", "/api/v1/ingest"]
        .iter()
        .find_map(|path| endpoint.strip_suffix(path))
        .unwrap_or(endpoint);
    format!("{base}/functions/v1/prompts/resolve")
}

impl Client {
    /// A prompt of the registry by slug: `.label(…)`, `.version(…)`, `.fallback(…)`, then `.await`.
    pub fn prompt(&self, slug: &str) -> PromptRequest {
        PromptRequest::new(self.clone(), slug)
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_url;

    #[test]
    fn the_resolve_url_sits_beside_the_ingest_path() {
        assert_eq!(
            resolve_url("http://h:8080/functions/v1/ingest-traces"),
            "http://h:8080/functions/v1/prompts/resolve"
        );
        assert_eq!(resolve_url("https://h/ns/api/v1/ingest"), "https://h/ns/functions/v1/prompts/resolve");
        assert_eq!(resolve_url("http://h:8080"), "http://h:8080/functions/v1/prompts/resolve");
    }
}
