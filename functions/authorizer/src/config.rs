//! The authorizer's configuration, read once from the environment at start-up.

use std::time::Duration;

use aforo::config::{flag_or, required, seconds_or, ConfigError};

/// Settings of the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Catalog table name (`CATALOG_TABLE`).
    pub catalog_table: String,
    /// Usage table name (`USAGE_TABLE`).
    pub usage_table: String,
    /// How long catalog lookups and quota reads are cached per container
    /// (`CATALOG_CACHE_TTL_SECONDS`, default 30 s; 0 turns caching off).
    pub cache_ttl: Duration,
    /// Allow a request when DynamoDB cannot be reached (`FAIL_OPEN`, default false).
    pub fail_open: bool,
    /// Whether HTTP API payload 2.0 events get simple responses instead of IAM
    /// policies (`SIMPLE_RESPONSES`, default false).
    pub simple_responses: bool,
}

impl Config {
    /// Reads the configuration from environment variables; a missing table
    /// name or an unparsable value fails with the variable's name.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            catalog_table: required("CATALOG_TABLE", "the name of the catalog DynamoDB table")?,
            usage_table: required("USAGE_TABLE", "the name of the usage DynamoDB table")?,
            cache_ttl: seconds_or("CATALOG_CACHE_TTL_SECONDS", Duration::from_secs(30))?,
            fail_open: flag_or("FAIL_OPEN", false)?,
            simple_responses: flag_or("SIMPLE_RESPONSES", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tests run in parallel, so this must stay the only test in the crate that
    // changes the process environment.
    #[test]
    fn config_reads_env_and_defaults() {
        std::env::remove_var("CATALOG_TABLE");
        std::env::set_var("USAGE_TABLE", "usage");
        let missing = Config::from_env().unwrap_err().to_string();
        assert!(missing.contains("CATALOG_TABLE"), "{missing}");

        std::env::set_var("CATALOG_TABLE", "catalog");
        std::env::remove_var("CATALOG_CACHE_TTL_SECONDS");
        std::env::remove_var("FAIL_OPEN");
        std::env::set_var("SIMPLE_RESPONSES", "true");
        let config = Config::from_env().unwrap();
        assert_eq!(config.catalog_table, "catalog");
        assert_eq!(config.usage_table, "usage");
        assert_eq!(config.cache_ttl, Duration::from_secs(30));
        assert!(!config.fail_open);
        assert!(config.simple_responses);

        std::env::set_var("FAIL_OPEN", "maybe");
        let invalid = Config::from_env().unwrap_err().to_string();
        assert!(invalid.contains("FAIL_OPEN"), "{invalid}");
    }
}
