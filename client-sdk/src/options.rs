//! Configuration: [`Options`] in code, the `NORTHSTAR_*` environment variables for whatever the
//! code leaves unset. Code wins over the environment.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::worker::transport::{HttpTransport, Transport};
use northstar_pricing::{Price, PriceTable};

/// A callback that may rewrite any captured payload (inputs, outputs, metadata, attributes,
/// event content) after key-based redaction, e.g. to mask e-mail addresses inside strings.
pub type Mask = Arc<dyn Fn(&mut Value) + Send + Sync>;

/// Keys whose values are always replaced by `"[REDACTED]"`, compared case-insensitively at any
/// depth of a captured payload.
pub const DEFAULT_REDACT_KEYS: [&str; 8] =
    ["api_key", "authorization", "cookie", "password", "secret", "token", "bearer", "x-api-key"];

/// How the SDK is configured. Fields left `None` are read from the environment at [`crate::init`].
///
/// ```
/// let options = northstar::Options::default()
///     .endpoint("http://127.0.0.1:8080/functions/v1/ingest-traces")
///     .api_key("ns_…")
///     .project("support-bot")
///     .batch_size(100);
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct Options {
    /// `NORTHSTAR_API_KEY`.
    pub api_key: Option<String>,
    /// Full ingest URL, `NORTHSTAR_ENDPOINT`, e.g. `http://127.0.0.1:8080/functions/v1/ingest-traces`.
    pub endpoint: Option<String>,
    /// Copied into every run's `metadata.project`; `NORTHSTAR_PROJECT`.
    pub project: Option<String>,
    /// Copied into every run's `metadata.environment`; `NORTHSTAR_ENVIRONMENT`.
    pub environment: Option<String>,
    /// `NORTHSTAR_ENABLED` (default true). Disabled means every call is a no-op.
    pub enabled: Option<bool>,
    /// `NORTHSTAR_DEBUG` (default false): SDK warnings go to stderr, prefixed `[NorthStar] `.
    pub debug: Option<bool>,
    /// Records per request, and the number pending that triggers a flush (default 50).
    pub batch_size: usize,
    /// Longest time a record waits before it is sent (default 5 s).
    pub flush_interval: Duration,
    /// Records that may wait in memory; beyond it new records are dropped and counted (default 1000).
    pub max_queue_size: usize,
    /// Record trace/observed inputs and model input messages (default true).
    pub capture_inputs: bool,
    /// Record trace/observed outputs and model output messages (default true).
    pub capture_outputs: bool,
    /// Keys redacted in addition to [`DEFAULT_REDACT_KEYS`].
    pub redact_keys: Vec<String>,
    /// Applied to every captured payload after redaction.
    pub mask: Option<Mask>,
    /// Timeout of one HTTP attempt (default 10 s).
    pub request_timeout: Duration,
    /// How long dropping the [`crate::Guard`] waits for the last records to be sent (default 5 s).
    pub shutdown_timeout: Duration,
    /// Attempts per batch for retryable failures (default 3).
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, with jitter (default 200 ms).
    pub retry_base_delay: Duration,
    /// Model prices added to or overriding the bundled table.
    pub prices: Vec<(String, Price)>,
    /// Where batches go instead of the server at `endpoint` (then no key or endpoint is
    /// needed): a [`crate::Transport`] of your own, or, in tests, a
    /// `northstar::MemoryTransport` (feature `test-util`).
    pub transport: Option<Arc<dyn Transport>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_key: None,
            endpoint: None,
            project: None,
            environment: None,
            enabled: None,
            debug: None,
            batch_size: 50,
            flush_interval: Duration::from_secs(5),
            max_queue_size: 1000,
            capture_inputs: true,
            capture_outputs: true,
            redact_keys: Vec::new(),
            mask: None,
            request_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            max_attempts: 3,
            retry_base_delay: Duration::from_millis(200),
            prices: Vec::new(),
            transport: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("enabled", &self.enabled)
            .field("debug", &self.debug)
            .field("batch_size", &self.batch_size)
            .field("flush_interval", &self.flush_interval)
            .field("max_queue_size", &self.max_queue_size)
            .field("capture_inputs", &self.capture_inputs)
            .field("capture_outputs", &self.capture_outputs)
            .field("redact_keys", &self.redact_keys)
            .field("transport", &self.transport.as_ref().map(|_| "custom"))
            .finish_non_exhaustive()
    }
}

/// A configuration the SDK refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $field:ident;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $ty) -> Self {
            self.$field = value.into();
            self
        }
    )*};
}

impl Options {
    /// Options whose environment-backed fields are read now.
    ///
    /// # Errors
    ///
    /// `NORTHSTAR_ENABLED` or `NORTHSTAR_DEBUG` set to something that is not a boolean
    /// (`1/true/yes/on`, `0/false/no/off`, any case).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::default().with_env()
    }

    /// Sets the API key.
    #[must_use]
    pub fn api_key(mut self, value: impl Into<String>) -> Self {
        self.api_key = Some(value.into());
        self
    }

    /// Sends batches through `transport` instead of HTTP to the endpoint.
    #[must_use]
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Sets the full ingest URL.
    #[must_use]
    pub fn endpoint(mut self, value: impl Into<String>) -> Self {
        self.endpoint = Some(value.into());
        self
    }

    /// Sets the project name recorded in run metadata.
    #[must_use]
    pub fn project(mut self, value: impl Into<String>) -> Self {
        self.project = Some(value.into());
        self
    }

    /// Sets the environment name recorded in run metadata.
    #[must_use]
    pub fn environment(mut self, value: impl Into<String>) -> Self {
        self.environment = Some(value.into());
        self
    }

    setters! {
        /// Enables or disables the SDK.
        enabled: bool => enabled;
        /// Turns SDK warnings on stderr on or off.
        debug: bool => debug;
        /// Sets the batch size.
        batch_size: usize => batch_size;
        /// Sets the flush interval.
        flush_interval: Duration => flush_interval;
        /// Sets the queue bound.
        max_queue_size: usize => max_queue_size;
        /// Turns input capture on or off.
        capture_inputs: bool => capture_inputs;
        /// Turns output capture on or off.
        capture_outputs: bool => capture_outputs;
        /// Sets the shutdown timeout.
        shutdown_timeout: Duration => shutdown_timeout;
        /// Sets the per-attempt HTTP timeout.
        request_timeout: Duration => request_timeout;
        /// Sets the number of attempts per batch.
        max_attempts: u32 => max_attempts;
        /// Sets the first retry delay.
        retry_base_delay: Duration => retry_base_delay;
    }

    /// Adds a key to redact.
    #[must_use]
    pub fn redact_key(mut self, key: impl Into<String>) -> Self {
        self.redact_keys.push(key.into());
        self
    }

    /// Sets the mask callback.
    #[must_use]
    pub fn mask(mut self, mask: impl Fn(&mut Value) + Send + Sync + 'static) -> Self {
        self.mask = Some(Arc::new(mask));
        self
    }

    /// Adds or overrides the price of a model (matched like the bundled table).
    #[must_use]
    pub fn price(mut self, model: impl Into<String>, price: Price) -> Self {
        self.prices.push((model.into(), price));
        self
    }

    /// Fills every field left `None` from the environment.
    pub(crate) fn with_env(mut self) -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        self.api_key = self.api_key.or_else(|| var("NORTHSTAR_API_KEY"));
        self.endpoint = self.endpoint.or_else(|| var("NORTHSTAR_ENDPOINT"));
        self.project = self.project.or_else(|| var("NORTHSTAR_PROJECT"));
        self.environment = self.environment.or_else(|| var("NORTHSTAR_ENVIRONMENT"));
        if self.enabled.is_none() {
            self.enabled = var("NORTHSTAR_ENABLED").map(|v| parse_bool("NORTHSTAR_ENABLED", &v)).transpose()?;
        }
        if self.debug.is_none() {
            self.debug = var("NORTHSTAR_DEBUG").map(|v| parse_bool("NORTHSTAR_DEBUG", &v)).transpose()?;
        }
        Ok(self)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 || self.max_queue_size == 0 || self.flush_interval.is_zero() || self.max_attempts == 0 {
            return Err(ConfigError(
                "batch_size, max_queue_size, flush_interval and max_attempts must be greater than zero".into(),
            ));
        }
        Ok(())
    }

    /// The configuration the SDK runs with, or `None` when it must be a no-op: disabled, or no
    /// API key or endpoint.
    pub(crate) fn active(&self) -> Option<(String, String)> {
        if self.enabled == Some(false) {
            return None;
        }
        let key = self.api_key.clone()?;
        let endpoint = self.endpoint.as_deref()?.trim_end_matches('/').to_owned();
        Some((key, endpoint))
    }

    /// Where the client's batches go: the transport set, else HTTP to the endpoint with the key;
    /// `None` (a no-op client) when disabled, or when neither is configured.
    pub(crate) fn delivery(&self) -> Option<Arc<dyn Transport>> {
        if self.enabled == Some(false) {
            return None;
        }
        if let Some(transport) = &self.transport {
            return Some(transport.clone());
        }
        let (key, endpoint) = self.active()?;
        Some(Arc::new(HttpTransport::new(endpoint, key, self.request_timeout)))
    }

    pub(crate) fn price_table(&self) -> PriceTable {
        let mut table = PriceTable::bundled();
        for (model, price) in &self.prices {
            table.set(model, *price);
        }
        table
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError(format!("{name} must be a boolean"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_parse_like_the_original() {
        for v in ["1", "TRUE", "yes", " on "] {
            assert_eq!(parse_bool("X", v), Ok(true));
        }
        for v in ["0", "False", "NO", "off"] {
            assert_eq!(parse_bool("X", v), Ok(false));
        }
        assert_eq!(
            parse_bool("NORTHSTAR_ENABLED", "maybe"),
            Err(ConfigError("NORTHSTAR_ENABLED must be a boolean".into()))
        );
    }

    #[test]
    fn inactive_without_key_or_endpoint_or_when_disabled() {
        let full = Options::default().api_key("k").endpoint("http://h/x/");
        assert_eq!(full.active(), Some(("k".into(), "http://h/x".into())));
        assert_eq!(Options::default().endpoint("http://h").active(), None);
        assert_eq!(Options::default().api_key("k").active(), None);
        assert_eq!(full.enabled(false).active(), None);
    }

    #[test]
    fn zero_sizes_are_refused() {
        assert!(Options::default().batch_size(0).validate().is_err());
        assert!(Options::default().validate().is_ok());
    }

    #[test]
    fn prices_given_in_code_add_to_and_override_the_table() {
        use northstar_pricing::Usage;
        let table = Options::default()
            .price("in-house-llm", Price::new(1.0, 2.0))
            .price("gpt-4o", Price::new(0.5, 0.5))
            .price_table();
        assert_eq!(table.cost("in-house-llm", &Usage::new(1_000_000, 1_000_000), None), Some(3.0));
        assert_eq!(
            table.cost("gpt-4o-2024-08-06", &Usage::new(1_000_000, 0), None),
            Some(0.5),
            "snapshots match overrides too"
        );
        assert!(table.cost("gpt-4o-mini", &Usage::new(1, 1), None).is_some(), "the bundled table is still there");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let text = format!("{:?}", Options::default().api_key("ns_secret"));
        assert!(!text.contains("ns_secret"));
    }
}
