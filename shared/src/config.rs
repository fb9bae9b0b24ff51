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
        /// Expected content of the variable.
        hint: &'static str,
    },

    /// A variable is set but its value is invalid.
    #[error("invalid environment variable {name}={value:?}: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// The value as found.
        value: String,
        /// Reason it was rejected.
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

/// Default of `BILLABLE_STATUS_CLASSES`: 2xx, 3xx and 4xx are billed, 5xx is not.
pub const DEFAULT_BILLABLE_STATUS_CLASSES: [u16; 3] = [2, 3, 4];

/// Parses a list such as `2xx,3xx,4xx` into hundreds digits (`[2, 3, 4]`),
/// ignoring spaces, case and repeats.
/// The log decoder and the ingest API both read `BILLABLE_STATUS_CLASSES`
/// with it, so every gateway bills the same statuses.
pub fn parse_status_classes(value: &str) -> Result<Vec<u16>, ConfigError> {
    let mut classes = Vec::new();

    for item in value.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let class = item
            .strip_suffix("xx")
            .or_else(|| item.strip_suffix("XX"))
            .and_then(|digit| digit.parse::<u16>().ok())
            .filter(|digit| (1..=5).contains(digit))
            .ok_or_else(|| {
                invalid(
                    "BILLABLE_STATUS_CLASSES",
                    value,
                    &format!("{item:?} is not a status class; expected a comma-separated list such as 2xx,3xx,4xx"),
                )
            })?;
        if !classes.contains(&class) {
            classes.push(class);
        }
    }

    if classes.is_empty() {
        return Err(invalid(
            "BILLABLE_STATUS_CLASSES",
            value,
            "expected at least one class, such as 2xx",
        ));
    }
    Ok(classes)
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_parse_default_form() {
        assert_eq!(parse_status_classes("2xx,3xx,4xx").unwrap(), vec![2, 3, 4]);
    }

    #[test]
    fn status_classes_accept_spaces_and_case() {
        assert_eq!(parse_status_classes(" 2XX , 5xx ").unwrap(), vec![2, 5]);
    }

    #[test]
    fn status_classes_drop_repeats() {
        assert_eq!(parse_status_classes("2xx,2xx").unwrap(), vec![2]);
    }

    #[test]
    fn status_classes_reject_bare_code() {
        let error = parse_status_classes("200").unwrap_err();
        assert!(error.to_string().contains("BILLABLE_STATUS_CLASSES"));
    }

    #[test]
    fn status_classes_reject_class_six() {
        assert!(parse_status_classes("6xx").is_err());
    }

    #[test]
    fn status_classes_reject_empty_list() {
        assert!(parse_status_classes(" , ").is_err());
    }
}
