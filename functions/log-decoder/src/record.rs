//! Turns a parsed access-log line and the catalog facts about it into a
//! metering record. Pure: the catalog lookups happen in the decoder.

use aforo::cwl::LogEvent;
use aforo::event::{
    validate_event_time, MeteringEvent, MeteringRecord, RejectedLine, UnattributedEvent, UnattributedReason,
};
use aforo::keys::idempotency_key;
use chrono::{DateTime, Utc};

use crate::access_log::{AccessLogLine, LineRejection};

/// `errorResponseType` values of requests the authorizer turned away; they are not billed.
pub const AUTHORIZER_REJECTIONS: [&str; 6] = [
    "UNAUTHORIZED",
    "ACCESS_DENIED",
    "AUTHORIZER_FAILURE",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "MISSING_AUTHENTICATION_TOKEN",
    "INVALID_API_KEY",
];

/// Reason a request is not billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonBillable {
    /// The authorizer or API Gateway rejected the request (`errorResponseType`).
    AuthorizerRejection(String),
    /// The status class, such as 5 for 5xx, is not among the billable classes.
    StatusClass(u16),
}

/// Catalog facts about one line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFacts {
    /// Integration that owns the line's API, when one matched its `apiId`.
    pub integration_id: Option<String>,
    /// Whether the line's tenant exists in the catalog.
    pub tenant_known: bool,
    /// Product that owns the line's route on that integration.
    pub product_id: Option<String>,
}

/// Source of a line: its integration, or `loggroup:<name>` when none matched.
pub fn source(integration_id: Option<&str>, log_group: &str) -> String {
    match integration_id {
        Some(id) => id.to_owned(),
        None => format!("loggroup:{log_group}"),
    }
}

/// Returns why a request is not billed, or `None` when it is billable.
pub fn non_billable(line: &AccessLogLine, billable_status_classes: &[u16]) -> Option<NonBillable> {
    if let Some(error_type) = &line.error_response_type {
        if AUTHORIZER_REJECTIONS.contains(&error_type.as_str()) {
            return Some(NonBillable::AuthorizerRejection(error_type.clone()));
        }
    }

    let class = line.status / 100;
    (!billable_status_classes.contains(&class)).then_some(NonBillable::StatusClass(class))
}

/// Builds the record of a billable line: usage when tenant, integration and
/// product are all known, otherwise unattributed with the first missing fact.
pub fn access_record(line: &AccessLogLine, facts: &CatalogFacts, log_group: &str) -> MeteringRecord {
    let source = source(facts.integration_id.as_deref(), log_group);
    let idempotency_key = idempotency_key(&source, &line.correlation_id);

    match attribute(line, facts) {
        Ok(usage) => MeteringRecord::Usage(MeteringEvent {
            idempotency_key,
            source,
            correlation_id: line.correlation_id.clone(),
            tenant_id: usage.tenant_id.to_owned(),
            product_id: usage.product_id.to_owned(),
            route: usage.route.to_owned(),
            method: usage.method.to_owned(),
            status: line.status,
            timestamp: line.timestamp,
            metrics: line.metrics.clone(),
        }),
        Err(reason) => MeteringRecord::Unattributed(UnattributedEvent {
            idempotency_key,
            source,
            correlation_id: line.correlation_id.clone(),
            reason,
            tenant_id: line.tenant_id.clone(),
            route: line.route.clone(),
            method: line.method.clone(),
            status: Some(line.status),
            timestamp: line.timestamp,
            metrics: line.metrics.clone(),
        }),
    }
}

/// The facts a usage record needs, borrowed from the line and the catalog.
struct Attributed<'a> {
    tenant_id: &'a str,
    product_id: &'a str,
    method: &'a str,
    route: &'a str,
}

/// Checks integration, tenant and route in that order and returns the first
/// one that is missing or unknown.
fn attribute<'a>(
    line: &'a AccessLogLine,
    facts: &'a CatalogFacts,
) -> Result<Attributed<'a>, UnattributedReason> {
    if facts.integration_id.is_none() {
        return Err(UnattributedReason::UnknownIntegration);
    }

    let tenant_id = line
        .tenant_id
        .as_deref()
        .ok_or(UnattributedReason::MissingTenant)?;
    if !facts.tenant_known {
        return Err(UnattributedReason::UnknownTenant);
    }

    Ok(Attributed {
        tenant_id,
        product_id: facts
            .product_id
            .as_deref()
            .ok_or(UnattributedReason::UnknownRoute)?,
        method: line.method.as_deref().ok_or(UnattributedReason::UnknownRoute)?,
        route: line.route.as_deref().ok_or(UnattributedReason::UnknownRoute)?,
    })
}

/// Builds the record of a line that is not a readable access-log record. The
/// key is derived from the CloudWatch Logs event id, the only stable id it has.
///
/// The record's time is the event's CloudWatch Logs timestamp. When that is
/// not a time from 2000 to 2099, which CloudWatch Logs never sends,
/// `received_at` replaces it so that the line is still recorded.
pub fn rejected_record(
    rejection: &LineRejection,
    integration_id: Option<&str>,
    log_group: &str,
    log_stream: &str,
    event: &LogEvent,
    received_at: DateTime<Utc>,
) -> MeteringRecord {
    let source = source(integration_id, log_group);
    let timestamp = DateTime::from_timestamp_millis(event.timestamp)
        .filter(|timestamp| validate_event_time("timestamp", *timestamp).is_ok())
        .unwrap_or(received_at);

    MeteringRecord::Rejected(RejectedLine {
        idempotency_key: idempotency_key(&source, &format!("cwl:{}", event.id)),
        source,
        reason: rejection.reason,
        detail: rejection.detail.clone(),
        log_group: log_group.to_owned(),
        log_stream: log_stream.to_owned(),
        log_event_id: event.id.clone(),
        timestamp,
    })
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
