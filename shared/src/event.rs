//! Metering records: what the decoder (and later gateways) send to ingest.
//!
//! A record is one of three kinds. Billable usage names a tenant and product.
//! Unattributed usage is a real request that could not be tied to a tenant or
//! product; it is kept per source so an operator can see it. A rejected line is
//! input that could not be read as a request at all.

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

/// Why a request could not be attributed.
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
    /// Why the request is unattributed.
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

/// Why a line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The line is not JSON (for example a Lambda `REPORT` line).
    NotJson,
    /// The line is JSON but not an API Gateway access-log record.
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
    /// Why the line was rejected.
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
