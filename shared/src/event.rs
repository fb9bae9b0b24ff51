//! Metering records: what the log decoder and the HTTP ingest API send to
//! ingest.
//!
//! A record is one of three kinds. Billable usage names a tenant and product.
//! Unattributed usage is a real request that could not be tied to a tenant or
//! product, so it is kept per source where an operator can see it. A rejected
//! line is input that could not be read as a request at all.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Metric counted once per request.
pub const METRIC_REQUESTS: &str = "requests";
/// Metric holding the response body size in bytes.
pub const METRIC_RESPONSE_BYTES: &str = "response_bytes";
/// Metric holding the summed response latency in milliseconds.
pub const METRIC_LATENCY_MS: &str = "latency_ms";
/// Metric counting rejected lines.
pub const METRIC_LINES: &str = "lines";

/// Metrics that usage and unattributed records may carry.
pub const REQUEST_METRICS: [&str; 3] = [METRIC_REQUESTS, METRIC_RESPONSE_BYTES, METRIC_LATENCY_MS];

/// Maximum value of one metric in one record.
///
/// NOTE: the bound keeps one record far from `u64::MAX` (about 1.8e19), but an
/// aggregate that sums more than 18,000 records at the bound can still exceed
/// what readers parse as `u64`.
pub const MAX_METRIC_VALUE: u64 = 1_000_000_000_000_000;

/// Maximum length of a source in bytes. CloudWatch Logs group names have at
/// most 512 characters, so the `loggroup:` source of a group name over 503
/// bytes does not fit.
pub const MAX_SOURCE_BYTES: usize = 512;

/// Maximum length of a tenant or product id in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Maximum length of a route template or path in bytes.
pub const MAX_ROUTE_BYTES: usize = 2048;

/// Maximum length of an HTTP method in bytes.
pub const MAX_METHOD_BYTES: usize = 16;

/// Maximum length of a correlation id (or CloudWatch Logs event id) in bytes.
pub const MAX_CORRELATION_ID_BYTES: usize = 1024;

/// Maximum length of the detail of a rejected line in bytes.
pub const MAX_DETAIL_BYTES: usize = 1024;

/// Earliest event time accepted, 2000-01-01T00:00:00Z, in seconds since the Unix epoch.
pub const EVENT_TIME_START_SECS: i64 = 946_684_800;

/// First event time no longer accepted, 2100-01-01T00:00:00Z, in seconds
/// since the Unix epoch. Usage keys write the year with four digits.
pub const EVENT_TIME_END_SECS: i64 = 4_102_444_800;

/// One record on the metering queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MeteringRecord {
    /// Billable usage of a tenant.
    Usage(MeteringEvent),
    /// A request that could not be attributed to a tenant or product.
    Unattributed(UnattributedEvent),
    /// A line that could not be read as a request.
    Rejected(RejectedLine),
}

impl MeteringRecord {
    /// Idempotency key of the record, whatever its kind.
    pub fn idempotency_key(&self) -> &str {
        match self {
            MeteringRecord::Usage(event) => &event.idempotency_key,
            MeteringRecord::Unattributed(event) => &event.idempotency_key,
            MeteringRecord::Rejected(line) => &line.idempotency_key,
        }
    }

    /// Source (gateway integration or log group) of the record.
    pub fn source(&self) -> &str {
        match self {
            MeteringRecord::Usage(event) => &event.source,
            MeteringRecord::Unattributed(event) => &event.source,
            MeteringRecord::Rejected(line) => &line.source,
        }
    }

    /// Checks that the record fits the ledger's keys and sums. The error names
    /// the first invalid field but never quotes its value.
    ///
    /// The idempotency key must be 64 lowercase hex characters, and each field
    /// must fit its `MAX_*` length. Tenant and product ids must not contain `#`
    /// (the separator of usage keys) or control characters. Metrics must be
    /// [`REQUEST_METRICS`] of at most [`MAX_METRIC_VALUE`], and times must lie
    /// from 2000-01-01 up to, but not including, 2100-01-01 (UTC).
    pub fn validate(&self) -> Result<(), String> {
        validate_idempotency_key(self.idempotency_key())?;
        validate_length("source", self.source(), 1, MAX_SOURCE_BYTES)?;

        match self {
            MeteringRecord::Usage(event) => event.validate(),
            MeteringRecord::Unattributed(event) => event.validate(),
            MeteringRecord::Rejected(line) => line.validate(),
        }
    }
}

/// A billable request of one tenant to one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeteringEvent {
    /// [`crate::keys::idempotency_key`] of `source` and `correlation_id`.
    pub idempotency_key: String,
    /// Gateway integration id that saw the request.
    pub source: String,
    /// The gateway's own request id.
    pub correlation_id: String,
    /// Tenant that made the request.
    pub tenant_id: String,
    /// Product that owns the route.
    pub product_id: String,
    /// Route template, such as `/pets/{petId}`.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// HTTP status returned to the client.
    pub status: u16,
    /// When the gateway received the request (UTC).
    pub timestamp: DateTime<Utc>,
    /// Metric name to value, such as `requests = 1`.
    pub metrics: BTreeMap<String, u64>,
}

/// Reason a request could not be attributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnattributedReason {
    /// The request carried no tenant id.
    MissingTenant,
    /// The tenant id names no known tenant.
    UnknownTenant,
    /// No catalog integration matches the API that served the request.
    UnknownIntegration,
    /// No product owns the route.
    UnknownRoute,
}

impl UnattributedReason {
    /// Name used in keys and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            UnattributedReason::MissingTenant => "missing_tenant",
            UnattributedReason::UnknownTenant => "unknown_tenant",
            UnattributedReason::UnknownIntegration => "unknown_integration",
            UnattributedReason::UnknownRoute => "unknown_route",
        }
    }
}

/// A request that could not be tied to a tenant or a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnattributedEvent {
    /// [`crate::keys::idempotency_key`] of `source` and `correlation_id`.
    pub idempotency_key: String,
    /// Gateway integration id, or `loggroup:<name>` when no integration matched.
    pub source: String,
    /// The gateway's own request id.
    pub correlation_id: String,
    /// Reason the request is unattributed.
    pub reason: UnattributedReason,
    /// Tenant id as sent, when there was one.
    pub tenant_id: Option<String>,
    /// Route template or path as logged, when there was one.
    pub route: Option<String>,
    /// HTTP method, when logged.
    pub method: Option<String>,
    /// HTTP status, when logged.
    pub status: Option<u16>,
    /// When the gateway received the request (UTC).
    pub timestamp: DateTime<Utc>,
    /// Metric name to value.
    pub metrics: BTreeMap<String, u64>,
}

/// Reason a line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The line is not JSON (for example a Lambda `REPORT` line).
    NotJson,
    /// The line is JSON but not an API Gateway access-log record, or it is
    /// longer than any access-log line and was not parsed.
    NotAccessLog,
    /// A field is present but its value is invalid.
    InvalidField,
    /// A required field is missing or `-`.
    MissingField,
}

impl RejectReason {
    /// Name used in keys and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotJson => "not_json",
            RejectReason::NotAccessLog => "not_access_log",
            RejectReason::InvalidField => "invalid_field",
            RejectReason::MissingField => "missing_field",
        }
    }
}

/// A log line that could not be read as a request.
///
/// The line itself is not kept because arbitrary log lines may hold secrets;
/// the log group, stream and event id locate it in CloudWatch Logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    /// [`crate::keys::idempotency_key`] of `source` and the log event id.
    pub idempotency_key: String,
    /// Gateway integration id, or `loggroup:<name>`.
    pub source: String,
    /// Reason the line was rejected.
    pub reason: RejectReason,
    /// Human-readable detail, such as the field that was invalid.
    pub detail: String,
    /// CloudWatch Logs group of the line.
    pub log_group: String,
    /// CloudWatch Logs stream of the line.
    pub log_stream: String,
    /// CloudWatch Logs event id of the line.
    pub log_event_id: String,
    /// CloudWatch Logs ingestion timestamp of the line (UTC).
    pub timestamp: DateTime<Utc>,
}

impl MeteringEvent {
    fn validate(&self) -> Result<(), String> {
        validate_length("correlation_id", &self.correlation_id, 1, MAX_CORRELATION_ID_BYTES)?;
        validate_id("tenant_id", &self.tenant_id)?;
        validate_id("product_id", &self.product_id)?;
        validate_length("route", &self.route, 1, MAX_ROUTE_BYTES)?;
        validate_length("method", &self.method, 1, MAX_METHOD_BYTES)?;
        validate_event_time("timestamp", self.timestamp)?;
        validate_metrics(&self.metrics)
    }
}

impl UnattributedEvent {
    fn validate(&self) -> Result<(), String> {
        validate_length("correlation_id", &self.correlation_id, 1, MAX_CORRELATION_ID_BYTES)?;
        if let Some(tenant_id) = &self.tenant_id {
            validate_id("tenant_id", tenant_id)?;
        }
        if let Some(route) = &self.route {
            validate_length("route", route, 1, MAX_ROUTE_BYTES)?;
        }
        if let Some(method) = &self.method {
            validate_length("method", method, 1, MAX_METHOD_BYTES)?;
        }
        validate_event_time("timestamp", self.timestamp)?;
        validate_metrics(&self.metrics)
    }
}

impl RejectedLine {
    fn validate(&self) -> Result<(), String> {
        validate_length("detail", &self.detail, 0, MAX_DETAIL_BYTES)?;
        validate_length("log_group", &self.log_group, 0, MAX_SOURCE_BYTES)?;
        validate_length("log_stream", &self.log_stream, 0, MAX_SOURCE_BYTES)?;
        validate_length("log_event_id", &self.log_event_id, 0, MAX_CORRELATION_ID_BYTES)?;
        validate_event_time("timestamp", self.timestamp)
    }
}

/// Checks that `value` of `field` is `min..=max` bytes long. The error gives
/// the length, never the value.
pub fn validate_length(field: &str, value: &str, min: usize, max: usize) -> Result<(), String> {
    let length = value.len();
    if length < min {
        return Err(format!("{field} is empty"));
    }
    if length > max {
        return Err(format!("{field} is {length} bytes, over the {max}-byte limit"));
    }
    Ok(())
}

/// Checks a tenant or product id: 1 to [`MAX_ID_BYTES`] bytes, without `#`
/// (the separator of usage keys) and without control characters.
pub fn validate_id(field: &str, value: &str) -> Result<(), String> {
    validate_length(field, value, 1, MAX_ID_BYTES)?;
    if value.contains('#') {
        return Err(format!("{field} contains '#', which separates the parts of usage keys"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains a control character"));
    }
    Ok(())
}

/// Checks that `at` lies from 2000-01-01T00:00:00Z up to, but not including,
/// 2100-01-01T00:00:00Z.
pub fn validate_event_time(field: &str, at: DateTime<Utc>) -> Result<(), String> {
    if (EVENT_TIME_START_SECS..EVENT_TIME_END_SECS).contains(&at.timestamp()) {
        return Ok(());
    }
    Err(format!(
        "{field} is outside 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
    ))
}

fn validate_idempotency_key(key: &str) -> Result<(), String> {
    let is_hex = key.len() == 64 && key.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    if is_hex {
        return Ok(());
    }
    Err("idempotency_key is not 64 lowercase hexadecimal characters".to_owned())
}

fn validate_metrics(metrics: &BTreeMap<String, u64>) -> Result<(), String> {
    for (name, value) in metrics {
        let Some(known) = REQUEST_METRICS.iter().find(|known| **known == name.as_str()) else {
            return Err(format!(
                "metrics contains an unknown metric name; expected {}",
                REQUEST_METRICS.join(", ")
            ));
        };
        if *value > MAX_METRIC_VALUE {
            return Err(format!("metric {known} is {value}, over the maximum of {MAX_METRIC_VALUE}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn usage() -> MeteringEvent {
        MeteringEvent {
            idempotency_key: KEY.to_owned(),
            source: "aws-rest-petstore".to_owned(),
            correlation_id: "Q3mZ8HkPoAMFWqA=".to_owned(),
            tenant_id: "acme".to_owned(),
            product_id: "pets".to_owned(),
            route: "/pets/{petId}".to_owned(),
            method: "GET".to_owned(),
            status: 200,
            timestamp: Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap(),
            metrics: BTreeMap::from([
                (METRIC_REQUESTS.to_owned(), 1),
                (METRIC_RESPONSE_BYTES.to_owned(), 512),
                (METRIC_LATENCY_MS.to_owned(), 37),
            ]),
        }
    }

    fn unattributed() -> UnattributedEvent {
        UnattributedEvent {
            idempotency_key: KEY.to_owned(),
            source: "loggroup:/aforo/api-access".to_owned(),
            correlation_id: "req-1".to_owned(),
            reason: UnattributedReason::UnknownTenant,
            tenant_id: Some("umbrella".to_owned()),
            route: Some("/pets".to_owned()),
            method: Some("GET".to_owned()),
            status: Some(200),
            timestamp: Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap(),
            metrics: BTreeMap::from([(METRIC_REQUESTS.to_owned(), 1)]),
        }
    }

    fn rejected() -> RejectedLine {
        RejectedLine {
            idempotency_key: KEY.to_owned(),
            source: "loggroup:/aforo/api-access".to_owned(),
            reason: RejectReason::NotJson,
            detail: "line is not JSON".to_owned(),
            log_group: "/aforo/api-access".to_owned(),
            log_stream: "stream-1".to_owned(),
            log_event_id: "38172249568174324".to_owned(),
            timestamp: Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap(),
        }
    }

    fn usage_error(change: impl FnOnce(&mut MeteringEvent)) -> String {
        let mut event = usage();
        change(&mut event);
        MeteringRecord::Usage(event).validate().unwrap_err()
    }

    #[test]
    fn validate_accepts_each_kind() {
        assert_eq!(MeteringRecord::Usage(usage()).validate(), Ok(()));
        assert_eq!(MeteringRecord::Unattributed(unattributed()).validate(), Ok(()));
        assert_eq!(MeteringRecord::Rejected(rejected()).validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_empty_idempotency_key() {
        let error = usage_error(|event| event.idempotency_key.clear());
        assert!(error.contains("idempotency_key"), "{error}");
    }

    #[test]
    fn validate_rejects_uppercase_idempotency_key() {
        let error = usage_error(|event| event.idempotency_key = KEY.to_uppercase());
        assert!(error.contains("idempotency_key"), "{error}");
    }

    #[test]
    fn validate_rejects_long_tenant() {
        let error = usage_error(|event| event.tenant_id = "t".repeat(3_000));
        assert_eq!(error, "tenant_id is 3000 bytes, over the 128-byte limit");
    }

    #[test]
    fn validate_accepts_tenant_at_limit() {
        let mut event = usage();
        event.tenant_id = "t".repeat(MAX_ID_BYTES);
        assert_eq!(MeteringRecord::Usage(event).validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_empty_tenant() {
        assert_eq!(usage_error(|event| event.tenant_id.clear()), "tenant_id is empty");
    }

    #[test]
    fn validate_rejects_separator_in_product() {
        let error = usage_error(|event| event.product_id = "pets#requests".to_owned());
        assert!(error.starts_with("product_id contains '#'"), "{error}");
    }

    #[test]
    fn validate_rejects_control_character_in_tenant() {
        let error = usage_error(|event| event.tenant_id = "ac\nme".to_owned());
        assert_eq!(error, "tenant_id contains a control character");
    }

    #[test]
    fn validate_rejects_long_source() {
        let error = usage_error(|event| event.source = "s".repeat(MAX_SOURCE_BYTES + 1));
        assert!(error.starts_with("source is 513 bytes"), "{error}");
    }

    #[test]
    fn validate_rejects_long_route() {
        let error = usage_error(|event| event.route = "/".repeat(MAX_ROUTE_BYTES + 1));
        assert!(error.starts_with("route is"), "{error}");
    }

    #[test]
    fn validate_rejects_long_method() {
        let error = usage_error(|event| event.method = "GET".repeat(6));
        assert!(error.starts_with("method is"), "{error}");
    }

    #[test]
    fn validate_rejects_long_correlation_id() {
        let error = usage_error(|event| event.correlation_id = "c".repeat(MAX_CORRELATION_ID_BYTES + 1));
        assert!(error.starts_with("correlation_id is"), "{error}");
    }

    #[test]
    fn validate_rejects_unknown_metric() {
        let error = usage_error(|event| {
            event.metrics.insert("secret_metric".to_owned(), 1);
        });
        assert!(error.contains("unknown metric"), "{error}");
        assert!(!error.contains("secret_metric"), "{error}");
    }

    #[test]
    fn validate_rejects_metric_over_bound() {
        let error = usage_error(|event| {
            event.metrics.insert(METRIC_RESPONSE_BYTES.to_owned(), MAX_METRIC_VALUE + 1);
        });
        assert!(error.starts_with("metric response_bytes is 1000000000000001"), "{error}");
    }

    #[test]
    fn validate_accepts_metric_at_bound() {
        let mut event = usage();
        event.metrics.insert(METRIC_LATENCY_MS.to_owned(), MAX_METRIC_VALUE);
        assert_eq!(MeteringRecord::Usage(event).validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_times_outside_range() {
        let outside = [
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
        ];
        for at in outside {
            let error = usage_error(|event| event.timestamp = at);
            assert!(error.starts_with("timestamp is outside"), "{at}: {error}");
        }
    }

    #[test]
    fn validate_accepts_times_at_range_ends() {
        let inside = [
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2099, 12, 31, 23, 59, 59).unwrap(),
        ];
        for at in inside {
            let mut event = usage();
            event.timestamp = at;
            assert_eq!(MeteringRecord::Usage(event).validate(), Ok(()), "{at}");
        }
    }

    #[test]
    fn validate_checks_unattributed_tenant() {
        let mut event = unattributed();
        event.tenant_id = Some("x".repeat(300_000));
        let error = MeteringRecord::Unattributed(event).validate().unwrap_err();
        assert_eq!(error, "tenant_id is 300000 bytes, over the 128-byte limit");
    }

    #[test]
    fn validate_accepts_unattributed_without_optionals() {
        let event = UnattributedEvent {
            tenant_id: None,
            route: None,
            method: None,
            status: None,
            ..unattributed()
        };
        assert_eq!(MeteringRecord::Unattributed(event).validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_rejected_line_at_epoch() {
        let line = RejectedLine {
            timestamp: DateTime::UNIX_EPOCH,
            ..rejected()
        };
        let error = MeteringRecord::Rejected(line).validate().unwrap_err();
        assert!(error.starts_with("timestamp is outside"), "{error}");
    }

    #[test]
    fn validate_error_leaves_out_value() {
        let error = usage_error(|event| event.tenant_id = format!("{}sk_live_123", "t".repeat(200)));
        assert!(!error.contains("sk_live_123"), "{error}");
    }
}
