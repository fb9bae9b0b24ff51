//! The decoder's settings, read once from the environment at start-up.

use std::time::Duration;

pub use aforo::config::parse_status_classes;
use aforo::config::{self, ConfigError, DEFAULT_BILLABLE_STATUS_CLASSES};
use aforo::envelope::DEFAULT_MAX_MESSAGE_BYTES;
use aforo::sqs::MAX_BATCH_BYTES;

/// Smallest accepted `MAX_MESSAGE_BYTES`: room for the envelope and a few records.
const MIN_MESSAGE_BYTES: usize = 1024;

/// Settings of the log decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Catalog table name (`CATALOG_TABLE`).
    pub catalog_table: String,
    /// Metering queue URL (`METERING_QUEUE_URL`).
    pub queue_url: String,
    /// How long catalog lookups are cached (`CATALOG_CACHE_TTL_SECONDS`, default 30 s).
    pub cache_ttl: Duration,
    /// Billable status classes as hundreds digits, such as `[2, 3, 4]` for
    /// `BILLABLE_STATUS_CLASSES=2xx,3xx,4xx` (the default).
    pub billable_status_classes: Vec<u16>,
    /// Largest SQS message body in bytes (`MAX_MESSAGE_BYTES`, default 262144).
    pub max_message_bytes: usize,
    /// Attempts per message before a delivery fails (`SEND_MAX_ATTEMPTS`, default 5).
    pub send_max_attempts: u32,
}

impl Config {
    /// Reads the configuration; a missing or invalid variable fails with its name.
    pub fn from_env() -> Result<Self, ConfigError> {
        let catalog_table = config::required("CATALOG_TABLE", "the catalog DynamoDB table name")?;
        let queue_url = config::required("METERING_QUEUE_URL", "the metering SQS queue URL")?;
        let cache_ttl = config::seconds_or("CATALOG_CACHE_TTL_SECONDS", Duration::from_secs(30))?;

        let billable_status_classes = match std::env::var("BILLABLE_STATUS_CLASSES") {
            Ok(value) if !value.trim().is_empty() => parse_status_classes(&value)?,
            _ => DEFAULT_BILLABLE_STATUS_CLASSES.to_vec(),
        };

        let max_message_bytes = config::parsed_or("MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)?;
        check_message_bytes(max_message_bytes)?;

        let send_max_attempts = config::parsed_or("SEND_MAX_ATTEMPTS", 5u32)?;
        if send_max_attempts == 0 {
            return Err(invalid("SEND_MAX_ATTEMPTS", "0", "expected at least 1 attempt"));
        }

        Ok(Self {
            catalog_table,
            queue_url,
            cache_ttl,
            billable_status_classes,
            max_message_bytes,
            send_max_attempts,
        })
    }
}


/// Checks that a message limit fits one SendMessageBatch call and a few records.
fn check_message_bytes(max_message_bytes: usize) -> Result<(), ConfigError> {
    if (MIN_MESSAGE_BYTES..=MAX_BATCH_BYTES).contains(&max_message_bytes) {
        return Ok(());
    }
    Err(invalid(
        "MAX_MESSAGE_BYTES",
        &max_message_bytes.to_string(),
        &format!("expected between {MIN_MESSAGE_BYTES} and {MAX_BATCH_BYTES} bytes"),
    ))
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bytes_accept_sqs_limit() {
        assert!(check_message_bytes(262_144).is_ok());
    }

    #[test]
    fn message_bytes_reject_over_batch_limit() {
        assert!(check_message_bytes(262_145).is_err());
    }

    #[test]
    fn message_bytes_reject_tiny_limit() {
        assert!(check_message_bytes(100).is_err());
    }
}
