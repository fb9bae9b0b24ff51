//! The body of a 200 response: counts and one result per event, by index.

use serde::{Deserialize, Serialize};

/// Outcome of one event of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Sent to the metering queue.
    Accepted,
    /// Counted before, or repeated earlier in the same request. A duplicate is a success.
    Duplicate,
    /// Invalid; see `reason`.
    Rejected,
    /// The integration's metering flag is off, so nothing was sent.
    NotMetered,
    /// The response status is in a class that is not billed
    /// (`BILLABLE_STATUS_CLASSES`, by default 5xx), so nothing was sent.
    NotBillable,
}

/// Whether an accepted event is billable usage of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Billable usage of a tenant and product.
    Usage,
    /// A request that could not be tied to a tenant or product; see `reason`.
    Unattributed,
}

/// The result of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResult {
    /// Position of the event in the request.
    pub index: usize,
    /// Outcome of the event.
    pub status: EventStatus,
    /// Idempotency key of the event; absent for a rejected event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Attribution of an accepted event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    /// Reason an event was rejected, or reason an accepted event is unattributed
    /// (`missing_tenant`, `unknown_tenant`, `unknown_route`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl EventResult {
    /// Builds the result of a rejected event.
    pub fn rejected(index: usize, reason: String) -> Self {
        Self {
            index,
            status: EventStatus::Rejected,
            idempotency_key: None,
            attribution: None,
            reason: Some(reason),
        }
    }

    /// Builds the result of an event with its idempotency key and no attribution.
    pub fn keyed(index: usize, status: EventStatus, idempotency_key: String) -> Self {
        Self {
            index,
            status,
            idempotency_key: Some(idempotency_key),
            attribution: None,
            reason: None,
        }
    }
}

/// The body of a 200 response to `POST /v1/ingest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Events sent to the metering queue.
    pub accepted: usize,
    /// Events counted before or repeated within the request.
    pub duplicates: usize,
    /// Invalid events.
    pub rejected: usize,
    /// Events of an integration whose metering is off.
    pub not_metered: usize,
    /// Events whose status class is not billable.
    pub not_billable: usize,
    /// One result per event, in request order.
    pub results: Vec<EventResult>,
}

impl IngestResponse {
    /// Counts the results by status.
    pub fn from_results(results: Vec<EventResult>) -> Self {
        let count = |status: EventStatus| results.iter().filter(|result| result.status == status).count();
        Self {
            accepted: count(EventStatus::Accepted),
            duplicates: count(EventStatus::Duplicate),
            rejected: count(EventStatus::Rejected),
            not_metered: count(EventStatus::NotMetered),
            not_billable: count(EventStatus::NotBillable),
            results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_serializes_like_contract() {
        let mut accepted = EventResult::keyed(0, EventStatus::Accepted, "k0".to_owned());
        accepted.attribution = Some(Attribution::Unattributed);
        accepted.reason = Some("missing_tenant".to_owned());
        let results = vec![
            accepted,
            EventResult::keyed(1, EventStatus::Duplicate, "k1".to_owned()),
            EventResult::rejected(2, "status must be an integer from 100 to 599".to_owned()),
            EventResult::keyed(3, EventStatus::NotBillable, "k3".to_owned()),
        ];

        let value = serde_json::to_value(IngestResponse::from_results(results)).unwrap();

        assert_eq!(
            value,
            json!({"accepted": 1, "duplicates": 1, "rejected": 1, "not_metered": 0, "not_billable": 1, "results": [
                {"index": 0, "status": "accepted", "idempotency_key": "k0", "attribution": "unattributed",
                 "reason": "missing_tenant"},
                {"index": 1, "status": "duplicate", "idempotency_key": "k1"},
                {"index": 2, "status": "rejected", "reason": "status must be an integer from 100 to 599"},
                {"index": 3, "status": "not_billable", "idempotency_key": "k3"}
            ]})
        );
    }
}
