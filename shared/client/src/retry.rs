//! Retry rules: which responses are retried, how long to wait, and
//! `Retry-After` parsing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::StatusCode;

/// Retry class of a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 2xx: read the body as an ingest response.
    Success,
    /// 5xx, 429 (throttled) and 409 (the same `Idempotency-Key` is in progress): try again.
    Retryable,
    /// Any other status: retrying the same request cannot succeed.
    Final,
}

/// Classifies a response status.
pub(crate) fn classify(status: StatusCode) -> StatusClass {
    if status.is_success() {
        StatusClass::Success
    } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::CONFLICT {
        StatusClass::Retryable
    } else {
        StatusClass::Final
    }
}

/// Exponential backoff with full jitter: before attempt `n + 1` the wait is
/// uniform in `[0, min(max_delay, base_delay * 2^(n - 1))]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Backoff {
    /// Upper bound of the wait after `failed_attempts` failures (at least 1).
    pub fn cap(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Returns a random wait in `[0, cap]`.
    pub fn delay(&self, failed_attempts: u32) -> Duration {
        let cap = u64::try_from(self.cap(failed_attempts).as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rand::rng().random_range(0..=cap))
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (RFC 9110).
/// A date in the past gives a zero wait; an unreadable value gives `None`.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }

    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }

    #[test]
    fn classify_retries_server_errors() {
        assert_eq!(classify(StatusCode::INTERNAL_SERVER_ERROR), StatusClass::Retryable);
        assert_eq!(classify(StatusCode::SERVICE_UNAVAILABLE), StatusClass::Retryable);
        assert_eq!(classify(StatusCode::GATEWAY_TIMEOUT), StatusClass::Retryable);
    }

    #[test]
    fn classify_retries_throttling_and_conflict() {
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS), StatusClass::Retryable);
        assert_eq!(classify(StatusCode::CONFLICT), StatusClass::Retryable);
    }

    #[test]
    fn classify_never_retries_other_client_errors() {
        for status in [400, 401, 403, 404, 408, 413, 415, 422] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(classify(status), StatusClass::Final, "{status} is retried");
        }
    }

    #[test]
    fn classify_accepts_success() {
        assert_eq!(classify(StatusCode::OK), StatusClass::Success);
    }

    #[test]
    fn backoff_cap_doubles_per_attempt() {
        assert_eq!(backoff().cap(1), Duration::from_millis(200));
        assert_eq!(backoff().cap(2), Duration::from_millis(400));
        assert_eq!(backoff().cap(3), Duration::from_millis(800));
    }

    #[test]
    fn backoff_cap_stops_at_max_delay() {
        assert_eq!(backoff().cap(7), Duration::from_secs(10));
        assert_eq!(backoff().cap(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn backoff_delay_stays_within_cap() {
        for attempt in 1..=8 {
            assert!(backoff().delay(attempt) <= backoff().cap(attempt));
        }
    }

    #[test]
    fn retry_after_reads_seconds() {
        let now = Utc::now();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_reads_http_date() {
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let wait = parse_retry_after("Tue, 01 Dec 2026 10:00:05 GMT", now);
        assert_eq!(wait, Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_past_date_is_zero() {
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let wait = parse_retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now);
        assert_eq!(wait, Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ignores_garbage() {
        assert_eq!(parse_retry_after("soon", Utc::now()), None);
        assert_eq!(parse_retry_after("-1", Utc::now()), None);
    }
}
