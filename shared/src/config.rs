//! Typed reading of environment variables, once at start-up.

use std::str::FromStr;
use std::time::Duration;

/// A configuration value that is missing or cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is not set.
    #[error("missing environment variable {name}: set it to {hint}")]
    Missing {
        /// Variable name.
        name: &'static str,
        /// What the variable should contain.
        hint: &'static str,
    },

    /// A variable is set but its value is invalid.
    #[error("invalid environment variable {name}={value:?}: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// The value as found.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
}

/// Reads a required, non-empty variable.
pub fn required(name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { name, hint }),
    }
}

/// Reads an optional variable and parses it, falling back to `default` when unset.
pub fn parsed_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|err: T::Err| ConfigError::Invalid {
                name,
                value,
                reason: err.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// Reads an optional duration given in whole seconds.
pub fn seconds_or(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    parsed_or(name, default.as_secs()).map(Duration::from_secs)
}

/// Reads an optional boolean (`true`/`false`, `1`/`0`, `yes`/`no`).
pub fn flag_or(name: &'static str, default: bool) -> Result<bool, ConfigError> {
    let Ok(value) = std::env::var(name) else {
        return Ok(default);
    };

    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            value,
            reason: "expected true or false".to_owned(),
        }),
    }
}
