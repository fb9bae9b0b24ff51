//! Client settings and their defaults.

use std::fmt;
use std::time::Duration;

/// Events per request unless configured otherwise. It is half the server's
/// default limit of 1000 events, which leaves room below the 1 MiB body limit.
pub const DEFAULT_MAX_EVENTS_PER_REQUEST: usize = 500;

/// Attempts per request, including the first.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Backoff cap before the second attempt. The cap doubles with each further attempt.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(200);

/// Maximum wait between two attempts.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);

/// Time limit of one attempt, from connecting to reading the whole response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`crate::Client`].
///
/// `Debug` prints the integration key as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Full URL of the ingest endpoint, such as `https://api.example.com/v1/ingest`.
    pub endpoint: String,
    /// The integration's ingest key, sent as `Authorization: Bearer <key>`.
    pub integration_key: String,
    /// Whether to gzip request bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Events per request; larger inputs are split into several requests.
    pub max_events_per_request: usize,
    /// Attempts per request, including the first; at least 1.
    pub max_attempts: u32,
    /// Backoff cap before the second attempt; the cap doubles with each further attempt.
    pub base_delay: Duration,
    /// Maximum wait between two attempts. A `Retry-After` longer than this ends the retries.
    pub max_delay: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl ClientConfig {
    /// Creates settings with gzip on and the default batch size, attempts, delays and timeout.
    pub fn new(endpoint: impl Into<String>, integration_key: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            integration_key: integration_key.into(),
            gzip: true,
            max_events_per_request: DEFAULT_MAX_EVENTS_PER_REQUEST,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("integration_key", &"<redacted>")
            .field("gzip", &self.gzip)
            .field("max_events_per_request", &self.max_events_per_request)
            .field("max_attempts", &self.max_attempts)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_key() {
        let config = ClientConfig::new("http://127.0.0.1:1/v1/ingest", "ik_secret_value");
        let printed = format!("{config:?}");
        assert!(!printed.contains("ik_secret_value"));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn config_new_sets_defaults() {
        let config = ClientConfig::new("http://127.0.0.1:1/v1/ingest", "key");
        assert!(config.gzip);
        assert_eq!(config.max_events_per_request, 500);
        assert_eq!(config.max_attempts, 5);
        assert_eq!(config.base_delay, Duration::from_millis(200));
        assert_eq!(config.max_delay, Duration::from_secs(10));
        assert_eq!(config.timeout, Duration::from_secs(10));
    }
}
