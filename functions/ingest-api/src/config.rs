//! The ingest API's settings, read once from the environment at start-up.

use std::time::Duration;

pub use aforo::config::{parse_status_classes, DEFAULT_BILLABLE_STATUS_CLASSES};
use aforo::config::{self, ConfigError};

/// Maximum request body size before decompression when `MAX_BODY_BYTES` is unset (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1_048_576;

/// Maximum request body size after decompression when `MAX_DECOMPRESSED_BYTES` is unset (8 MiB).
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 8_388_608;

/// Maximum number of events in one request when `MAX_EVENTS` is unset.
pub const DEFAULT_MAX_EVENTS: usize = 1_000;

/// Lease of an in-progress `Idempotency-Key` record when `IDEMPOTENCY_LEASE_SECONDS` is unset.
pub const DEFAULT_IDEMPOTENCY_LEASE: Duration = Duration::from_secs(30);

/// How long a completed `Idempotency-Key` record is kept when `IDEMPOTENCY_TTL_HOURS` is unset.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * SECONDS_PER_HOUR);

/// Catalog cache lifetime when `CATALOG_CACHE_TTL_SECONDS` is unset.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// SendMessageBatch attempts per message when `SEND_MAX_ATTEMPTS` is unset.
pub const DEFAULT_SEND_MAX_ATTEMPTS: u32 = 5;

const SECONDS_PER_HOUR: u64 = 3_600;

/// Settings of the ingest API function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Catalog table name (`CATALOG_TABLE`).
    pub catalog_table: String,
    /// Dedupe table name (`DEDUPE_TABLE`), read to report duplicates.
    pub dedupe_table: String,
    /// Table of `Idempotency-Key` records (`IDEMPOTENCY_TABLE`).
    pub idempotency_table: String,
    /// Metering queue URL (`METERING_QUEUE_URL`).
    pub queue_url: String,
    /// How long catalog lookups are cached (`CATALOG_CACHE_TTL_SECONDS`, default 30 s).
    pub cache_ttl: Duration,
    /// Maximum request body size in bytes before decompression (`MAX_BODY_BYTES`, default 1048576).
    pub max_body_bytes: usize,
    /// Maximum request body size in bytes after decompression (`MAX_DECOMPRESSED_BYTES`, default 8388608).
    pub max_decompressed_bytes: usize,
    /// Maximum number of events in one request (`MAX_EVENTS`, default 1000).
    pub max_events: usize,
    /// Lease of an in-progress `Idempotency-Key` record (`IDEMPOTENCY_LEASE_SECONDS`, default 30 s).
    /// A record whose lease has run out is taken over by the next request with the same key.
    pub idempotency_lease: Duration,
    /// How long a completed response is kept for replay (`IDEMPOTENCY_TTL_HOURS`, default 24 h).
    pub idempotency_ttl: Duration,
    /// SendMessageBatch attempts per message before the request fails with 503
    /// (`SEND_MAX_ATTEMPTS`, default 5).
    pub send_max_attempts: u32,
    /// Billable status classes as hundreds digits, such as `[2, 3, 4]` for
    /// `BILLABLE_STATUS_CLASSES=2xx,3xx,4xx` (the default). An event whose status
    /// is in another class is reported as not billable and is not sent.
    pub billable_status_classes: Vec<u16>,
}

impl Config {
    /// Reads the configuration. A missing or invalid variable fails with its name.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = Self::with_names(
            config::required("CATALOG_TABLE", "the catalog DynamoDB table name")?,
            config::required("DEDUPE_TABLE", "the dedupe DynamoDB table name")?,
            config::required("IDEMPOTENCY_TABLE", "the Idempotency-Key DynamoDB table name")?,
            config::required("METERING_QUEUE_URL", "the metering SQS queue URL")?,
        );

        config.cache_ttl = config::seconds_or("CATALOG_CACHE_TTL_SECONDS", DEFAULT_CACHE_TTL)?;
        config.max_body_bytes = at_least_one("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        config.max_decompressed_bytes = at_least_one("MAX_DECOMPRESSED_BYTES", DEFAULT_MAX_DECOMPRESSED_BYTES)?;
        config.max_events = at_least_one("MAX_EVENTS", DEFAULT_MAX_EVENTS)?;

        let lease_seconds = at_least_one("IDEMPOTENCY_LEASE_SECONDS", DEFAULT_IDEMPOTENCY_LEASE.as_secs())?;
        config.idempotency_lease = Duration::from_secs(lease_seconds);

        let ttl_hours = at_least_one("IDEMPOTENCY_TTL_HOURS", DEFAULT_IDEMPOTENCY_TTL.as_secs() / SECONDS_PER_HOUR)?;
        let ttl_seconds = ttl_hours
            .checked_mul(SECONDS_PER_HOUR)
            .ok_or_else(|| invalid("IDEMPOTENCY_TTL_HOURS", ttl_hours, "the number of hours is too large"))?;
        config.idempotency_ttl = Duration::from_secs(ttl_seconds);

        config.send_max_attempts = at_least_one("SEND_MAX_ATTEMPTS", DEFAULT_SEND_MAX_ATTEMPTS)?;

        if let Ok(value) = std::env::var("BILLABLE_STATUS_CLASSES") {
            if !value.trim().is_empty() {
                config.billable_status_classes = parse_status_classes(&value)?;
            }
        }

        if config.max_decompressed_bytes < config.max_body_bytes {
            return Err(invalid(
                "MAX_DECOMPRESSED_BYTES",
                config.max_decompressed_bytes,
                "expected at least MAX_BODY_BYTES, because an uncompressed body counts against both limits",
            ));
        }
        Ok(config)
    }

    /// Names the tables and the queue; every other setting takes its default
    /// (the limits and durations documented on each field).
    pub fn with_names(
        catalog_table: impl Into<String>,
        dedupe_table: impl Into<String>,
        idempotency_table: impl Into<String>,
        queue_url: impl Into<String>,
    ) -> Self {
        Self {
            catalog_table: catalog_table.into(),
            dedupe_table: dedupe_table.into(),
            idempotency_table: idempotency_table.into(),
            queue_url: queue_url.into(),
            cache_ttl: DEFAULT_CACHE_TTL,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_events: DEFAULT_MAX_EVENTS,
            idempotency_lease: DEFAULT_IDEMPOTENCY_LEASE,
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
            send_max_attempts: DEFAULT_SEND_MAX_ATTEMPTS,
            billable_status_classes: DEFAULT_BILLABLE_STATUS_CLASSES.to_vec(),
        }
    }
}

/// Reads an optional positive number, falling back to `default` when unset.
fn at_least_one<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + From<u8> + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let value = config::parsed_or(name, default)?;
    if value < T::from(1) {
        return Err(invalid(name, value, "expected a number from 1 up"));
    }
    Ok(value)
}

fn invalid(name: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 4] = ["CATALOG_TABLE", "DEDUPE_TABLE", "IDEMPOTENCY_TABLE", "METERING_QUEUE_URL"];

    #[test]
    fn with_names_uses_documented_defaults() {
        let config = Config::with_names("catalog", "dedupe", "idempotency", "queue");

        assert_eq!(config.idempotency_table, "idempotency");
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.max_decompressed_bytes, 8_388_608);
        assert_eq!(config.max_events, 1_000);
        assert_eq!(config.idempotency_lease, Duration::from_secs(30));
        assert_eq!(config.idempotency_ttl, Duration::from_secs(86_400));
        assert_eq!(config.cache_ttl, Duration::from_secs(30));
        assert_eq!(config.send_max_attempts, 5);
        assert_eq!(config.billable_status_classes, vec![2, 3, 4]);
    }

    // The only test in this crate that touches the environment, so parallel
    // tests cannot see its variables.
    #[test]
    fn from_env_reads_environment() {
        for name in NAMES {
            std::env::set_var(name, format!("{name}-value"));
        }
        std::env::remove_var("IDEMPOTENCY_TABLE");
        let missing = Config::from_env().unwrap_err();
        assert!(missing.to_string().contains("IDEMPOTENCY_TABLE"));

        std::env::set_var("IDEMPOTENCY_TABLE", "idempotency");
        let defaults = Config::from_env().unwrap();
        assert_eq!(defaults, Config::with_names(
            "CATALOG_TABLE-value",
            "DEDUPE_TABLE-value",
            "idempotency",
            "METERING_QUEUE_URL-value",
        ));

        std::env::set_var("MAX_EVENTS", "0");
        let zero_events = Config::from_env().unwrap_err();
        assert!(zero_events.to_string().contains("MAX_EVENTS"));
        std::env::remove_var("MAX_EVENTS");

        std::env::set_var("MAX_DECOMPRESSED_BYTES", "1000");
        let below_body_limit = Config::from_env().unwrap_err();
        assert!(below_body_limit.to_string().contains("MAX_DECOMPRESSED_BYTES"));
        std::env::remove_var("MAX_DECOMPRESSED_BYTES");

        std::env::set_var("IDEMPOTENCY_TTL_HOURS", "2");
        std::env::set_var("IDEMPOTENCY_LEASE_SECONDS", "5");
        let custom = Config::from_env().unwrap();
        assert_eq!(custom.idempotency_ttl, Duration::from_secs(7_200));
        assert_eq!(custom.idempotency_lease, Duration::from_secs(5));

        std::env::set_var("BILLABLE_STATUS_CLASSES", "2xx,5xx");
        let billable = Config::from_env().unwrap();
        assert_eq!(billable.billable_status_classes, vec![2, 5]);

        std::env::set_var("BILLABLE_STATUS_CLASSES", "5xx,oops");
        let invalid_classes = Config::from_env().unwrap_err();
        assert!(invalid_classes.to_string().contains("BILLABLE_STATUS_CLASSES"));
        std::env::remove_var("BILLABLE_STATUS_CLASSES");
    }
}
