//! Ingest's settings, read once from the environment at start-up.

use std::time::Duration;

use aforo::config::{self, ConfigError};

/// Dedupe window when `DEDUPE_WINDOW_DAYS` is unset: a month of 31 days plus
/// a few days of grace for late redeliveries and bill runs.
const DEFAULT_DEDUPE_WINDOW_DAYS: u64 = 35;

/// Transaction attempts when `WRITE_MAX_ATTEMPTS` is unset.
const DEFAULT_WRITE_MAX_ATTEMPTS: u32 = 8;

const SECONDS_PER_DAY: u64 = 86_400;

/// Settings of the ingest function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Dedupe table name (`DEDUPE_TABLE`).
    pub dedupe_table: String,
    /// Usage table name (`USAGE_TABLE`).
    pub usage_table: String,
    /// How long a dedupe record is kept (`DEDUPE_WINDOW_DAYS`, default 35 days).
    /// A redelivery older than this is counted again.
    pub dedupe_window: Duration,
    /// Attempts per ledger transaction before its messages fail
    /// (`WRITE_MAX_ATTEMPTS`, default 8).
    pub write_max_attempts: u32,
}

impl Config {
    /// Reads the configuration. A missing or invalid variable fails with its name.
    pub fn from_env() -> Result<Self, ConfigError> {
        let dedupe_table = config::required("DEDUPE_TABLE", "the dedupe DynamoDB table name")?;
        let usage_table = config::required("USAGE_TABLE", "the usage DynamoDB table name")?;

        let window_days = config::parsed_or("DEDUPE_WINDOW_DAYS", DEFAULT_DEDUPE_WINDOW_DAYS)?;
        let dedupe_window = window_days
            .checked_mul(SECONDS_PER_DAY)
            .filter(|_| window_days > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| invalid("DEDUPE_WINDOW_DAYS", window_days, "expected a number of days from 1 up"))?;

        let write_max_attempts = config::parsed_or("WRITE_MAX_ATTEMPTS", DEFAULT_WRITE_MAX_ATTEMPTS)?;
        if write_max_attempts == 0 {
            return Err(invalid("WRITE_MAX_ATTEMPTS", write_max_attempts, "expected at least 1 attempt"));
        }

        Ok(Self {
            dedupe_table,
            usage_table,
            dedupe_window,
            write_max_attempts,
        })
    }
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

    // The only test in this crate that touches the environment, so parallel
    // tests cannot see its variables.
    #[test]
    fn config_reads_environment() {
        std::env::remove_var("DEDUPE_TABLE");
        std::env::set_var("USAGE_TABLE", "usage");
        let missing = Config::from_env().unwrap_err();
        assert!(missing.to_string().contains("DEDUPE_TABLE"));

        std::env::set_var("DEDUPE_TABLE", "dedupe");
        let defaults = Config::from_env().unwrap();
        assert_eq!(defaults.dedupe_window, Duration::from_secs(35 * SECONDS_PER_DAY));
        assert_eq!(defaults.write_max_attempts, 8);

        std::env::set_var("DEDUPE_WINDOW_DAYS", "0");
        let zero_window = Config::from_env().unwrap_err();
        assert!(zero_window.to_string().contains("DEDUPE_WINDOW_DAYS"));

        std::env::set_var("DEDUPE_WINDOW_DAYS", "2");
        std::env::set_var("WRITE_MAX_ATTEMPTS", "0");
        let zero_attempts = Config::from_env().unwrap_err();
        assert!(zero_attempts.to_string().contains("WRITE_MAX_ATTEMPTS"));

        std::env::set_var("WRITE_MAX_ATTEMPTS", "3");
        let custom = Config::from_env().unwrap();
        assert_eq!(custom.dedupe_window, Duration::from_secs(2 * SECONDS_PER_DAY));
        assert_eq!(custom.write_max_attempts, 3);
    }
}
