//! Request and response bodies of `POST /v1/ingest`, and the report of a send.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One request as the `aforo.ingest.v1` format describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestEvent {
    /// The gateway's request id (1 to 256 characters). With the integration it
    /// forms the event's idempotency key, so the same id is counted once.
    pub id: String,
    /// Tenant from the request's `X-Tenant-Id`; `None` is sent as `null` and
    /// recorded as unattributed usage.
    pub tenant_id: Option<String>,
    /// HTTP method in upper case.
    pub method: String,
    /// Route template (`/pets/{petId}`) or the concrete request path (`/pets/42`).
    pub path: String,
    /// HTTP status returned to the caller (100 to 599).
    pub status: u16,
    /// Response body size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<u64>,
    /// Total latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// When the gateway received the request; decides the usage period.
    pub timestamp: DateTime<Utc>,
}

/// Body of a 200 response: counts and one result per event of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Events accepted and durable in the metering queue.
    pub accepted: u64,
    /// Events already counted, by an earlier request or earlier in the same request.
    pub duplicates: u64,
    /// Events that could not be read; the others of the request still count.
    pub rejected: u64,
    /// Events of an integration whose metering flag is off; nothing was recorded.
    pub not_metered: u64,
    /// Events whose response status class is not billed (5xx by default);
    /// nothing was recorded. Servers older than this field omit it, which reads as 0.
    #[serde(default)]
    pub not_billable: u64,
    /// Result of each event, in request order.
    pub results: Vec<EventResult>,
}

/// Result of one event of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResult {
    /// Position of the event in the request.
    pub index: usize,
    /// Outcome of the event.
    pub status: EventStatus,
    /// Hex SHA-256 idempotency key of the event; absent for rejected events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Attribution of an accepted event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    /// Reason for a rejected event, or for an unattributed one (`missing_tenant`,
    /// `unknown_tenant`, `unknown_route`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Outcome of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Accepted and queued for aggregation.
    Accepted,
    /// Already counted; a duplicate is success.
    Duplicate,
    /// Invalid; see the reason.
    Rejected,
    /// Not recorded because metering is off for the integration.
    NotMetered,
    /// Not recorded because the response status class is not billed (5xx by default).
    NotBillable,
}

/// Attribution of an accepted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Billable usage of a tenant and product.
    Usage,
    /// Usage that could not be billed to a tenant and product; see the reason.
    Unattributed,
}

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Problem {
    /// Problem type URI; `about:blank` when the status alone describes the problem.
    #[serde(rename = "type", default)]
    pub problem_type: Option<String>,
    /// Short summary, the reason phrase of the status.
    #[serde(default)]
    pub title: Option<String>,
    /// HTTP status code.
    #[serde(default)]
    pub status: Option<u16>,
    /// Explanation of the problem with this request.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Outcome of one request of a [`SendReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// Position of the batch's first event in the input.
    pub first_index: usize,
    /// Number of events in the batch.
    pub events: usize,
    /// `Idempotency-Key` sent with every attempt of the batch.
    pub idempotency_key: String,
    /// Attempts made, including the successful one.
    pub attempts: u32,
    /// Whether the server replayed a stored response (`Idempotent-Replayed: true`)
    /// because an earlier run already sent this batch.
    pub replayed: bool,
    /// The server's response.
    pub response: IngestResponse,
}

/// Outcome of a send: every batch's response and the counts summed over them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendReport {
    /// Sum of [`IngestResponse::accepted`].
    pub accepted: u64,
    /// Sum of [`IngestResponse::duplicates`].
    pub duplicates: u64,
    /// Sum of [`IngestResponse::rejected`].
    pub rejected: u64,
    /// Sum of [`IngestResponse::not_metered`].
    pub not_metered: u64,
    /// Sum of [`IngestResponse::not_billable`].
    pub not_billable: u64,
    /// One entry per request, in input order.
    pub batches: Vec<BatchReport>,
}

impl SendReport {
    /// Adds a batch's response to the report.
    pub fn push(&mut self, batch: BatchReport) {
        self.accepted += batch.response.accepted;
        self.duplicates += batch.response.duplicates;
        self.rejected += batch.response.rejected;
        self.not_metered += batch.response.not_metered;
        self.not_billable += batch.response.not_billable;
        self.batches.push(batch);
    }

    /// Results of every event with its position in the whole input (not in its batch).
    pub fn results(&self) -> impl Iterator<Item = (usize, &EventResult)> {
        self.batches.iter().flat_map(|batch| {
            batch
                .response
                .results
                .iter()
                .map(move |result| (batch.first_index + result.index, result))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"{"accepted":2,"duplicates":1,"rejected":1,"not_metered":0,"results":[
        {"index":0,"status":"accepted","idempotency_key":"aa","attribution":"usage"},
        {"index":1,"status":"accepted","idempotency_key":"bb","attribution":"unattributed","reason":"missing_tenant"},
        {"index":2,"status":"duplicate","idempotency_key":"cc"},
        {"index":3,"status":"rejected","reason":"status must be an integer from 100 to 599"}]}"#;

    const NOT_BILLABLE_RESPONSE: &str = r#"{"accepted":1,"duplicates":0,"rejected":0,"not_metered":0,"not_billable":1,
        "results":[
        {"index":0,"status":"accepted","idempotency_key":"aa","attribution":"usage"},
        {"index":1,"status":"not_billable","idempotency_key":"bb"}]}"#;

    fn batch(first_index: usize) -> BatchReport {
        BatchReport {
            first_index,
            events: 4,
            idempotency_key: "key".to_owned(),
            attempts: 1,
            replayed: false,
            response: serde_json::from_str(RESPONSE).unwrap(),
        }
    }

    #[test]
    fn response_parses_protocol_example() {
        let response: IngestResponse = serde_json::from_str(RESPONSE).unwrap();
        assert_eq!(response.accepted, 2);
        assert_eq!(response.results[1].attribution, Some(Attribution::Unattributed));
        assert_eq!(response.results[1].reason.as_deref(), Some("missing_tenant"));
        assert_eq!(response.results[2].status, EventStatus::Duplicate);
        assert_eq!(response.results[3].idempotency_key, None);
    }

    #[test]
    fn report_sums_batches() {
        let mut report = SendReport::default();
        report.push(batch(0));
        report.push(batch(4));
        assert_eq!(report.accepted, 4);
        assert_eq!(report.duplicates, 2);
        assert_eq!(report.rejected, 2);
        assert_eq!(report.not_metered, 0);
    }

    #[test]
    fn response_without_not_billable_reads_zero() {
        let response: IngestResponse = serde_json::from_str(RESPONSE).unwrap();
        assert_eq!(response.not_billable, 0);
    }

    #[test]
    fn response_parses_not_billable_result() {
        let response: IngestResponse = serde_json::from_str(NOT_BILLABLE_RESPONSE).unwrap();
        assert_eq!(response.not_billable, 1);
        assert_eq!(response.results[1].status, EventStatus::NotBillable);
        assert_eq!(response.results[1].idempotency_key.as_deref(), Some("bb"));
    }

    #[test]
    fn report_sums_not_billable() {
        let mut report = SendReport::default();
        report.push(batch(0));
        let mut not_billable = batch(4);
        not_billable.response = serde_json::from_str(NOT_BILLABLE_RESPONSE).unwrap();
        report.push(not_billable.clone());
        report.push(not_billable);
        assert_eq!(report.not_billable, 2);
        assert_eq!(report.accepted, 4);
    }

    #[test]
    fn report_results_use_input_positions() {
        let mut report = SendReport::default();
        report.push(batch(0));
        report.push(batch(4));
        let positions: Vec<usize> = report.results().map(|(position, _)| position).collect();
        assert_eq!(positions, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn event_omits_absent_metrics() {
        let event = IngestEvent {
            id: "r-1".to_owned(),
            tenant_id: None,
            method: "GET".to_owned(),
            path: "/pets".to_owned(),
            status: 200,
            response_bytes: None,
            latency_ms: None,
            timestamp: "2026-12-01T10:00:00Z".parse().unwrap(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get("response_bytes").is_none());
        assert_eq!(json["tenant_id"], serde_json::Value::Null);
        assert_eq!(json["timestamp"], "2026-12-01T10:00:00Z");
    }
}
