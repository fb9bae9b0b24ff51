//! Metering the events of one authenticated request: attribute each through
//! the catalog, drop duplicates, and send the rest to the metering queue.
//!
//! The first matching rule decides an event's status: an invalid event is
//! rejected, every event of an integration whose metering flag is off is not
//! metered, and an event whose status class is not in `BILLABLE_STATUS_CLASSES`
//! is not billable. This is the rule the log decoder applies to AWS access logs,
//! so a 5xx costs a tenant nothing through any gateway. A not-billable event is
//! never sent, so it is reported as not billable even when its key repeats.
//!
//! Every accepted event is in SQS before the response reports it. When sending
//! fails, the request fails as a whole and reports nothing accepted; events
//! that reached the queue anyway are deduplicated by ingest on the retry.

use std::collections::HashSet;

use aforo::catalog::{CatalogStore, Integration};
use aforo::envelope::{self, DEFAULT_MAX_MESSAGE_BYTES};
use aforo::event::MeteringRecord;
use aforo::gateway::{attribute, GatewayRequest};
use aforo::keys::idempotency_key;
use chrono::Utc;

use crate::formats::EventResults;
use crate::results::{Attribution, EventResult, EventStatus, IngestResponse};
use crate::{IngestApi, IngestApiError};

impl<C: CatalogStore> IngestApi<C> {
    /// Meters parsed events of `integration` and returns the result of each.
    pub(crate) async fn meter(
        &self,
        integration: &Integration,
        events: EventResults,
    ) -> Result<IngestResponse, IngestApiError> {
        if !integration.flags.metering {
            return Ok(not_metered(integration, events));
        }

        let mut results = Vec::with_capacity(events.len());
        let mut records = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            // Ingest drops records that fail these checks, so the response must
            // reject them now instead of reporting them accepted.
            let event = event.and_then(|request| request.validate().map(|()| request));

            match event {
                Ok(request) if !is_billable(request.status, &self.billable_status_classes) => {
                    results.push(EventResult::keyed(index, EventStatus::NotBillable, key(integration, &request)));
                }
                Ok(request) => {
                    let record = attribute(&self.catalog, integration, &request)
                        .await
                        .map_err(IngestApiError::Catalog)?;
                    if let Err(reason) = record.validate() {
                        results.push(EventResult::rejected(index, reason));
                        continue;
                    }
                    results.push(accepted(index, &record));
                    records.push((index, record));
                }
                Err(reason) => results.push(EventResult::rejected(index, reason)),
            }
        }

        let first_seen = self.drop_duplicates(records, &mut results).await?;

        let records: Vec<MeteringRecord> = first_seen.into_iter().map(|(_, record)| record).collect();
        let bodies = envelope::pack(&records, DEFAULT_MAX_MESSAGE_BYTES)?;
        self.sender.send(&bodies).await?;

        Ok(IngestResponse::from_results(results))
    }

    /// Marks repeats within the request and events with a live dedupe record
    /// as duplicates, and returns the records still to send.
    async fn drop_duplicates(
        &self,
        records: Vec<(usize, MeteringRecord)>,
        results: &mut [EventResult],
    ) -> Result<Vec<(usize, MeteringRecord)>, IngestApiError> {
        let mut seen = HashSet::new();
        let mut first_seen = Vec::with_capacity(records.len());
        for (index, record) in records {
            if seen.insert(record.idempotency_key().to_owned()) {
                first_seen.push((index, record));
            } else {
                results[index] = duplicate(index, &record);
            }
        }

        let keys: Vec<String> = first_seen
            .iter()
            .map(|(_, record)| record.idempotency_key().to_owned())
            .collect();
        let live = self
            .dedupe
            .live_keys(&keys, Utc::now())
            .await
            .map_err(IngestApiError::Dedupe)?;

        let (counted, to_send): (Vec<_>, Vec<_>) = first_seen
            .into_iter()
            .partition(|(_, record)| live.contains(record.idempotency_key()));
        for (index, record) in counted {
            results[index] = duplicate(index, &record);
        }
        Ok(to_send)
    }
}

/// Reports every valid event as not metered, and invalid ones as rejected.
fn not_metered(integration: &Integration, events: EventResults) -> IngestResponse {
    let results = events
        .into_iter()
        .enumerate()
        .map(|(index, event)| match event {
            Ok(request) => EventResult::keyed(index, EventStatus::NotMetered, key(integration, &request)),
            Err(reason) => EventResult::rejected(index, reason),
        })
        .collect();
    IngestResponse::from_results(results)
}

/// Checks whether the class of `status` (its hundreds digit) is one of `billable_status_classes`.
fn is_billable(status: u16, billable_status_classes: &[u16]) -> bool {
    billable_status_classes.contains(&(status / 100))
}

fn key(integration: &Integration, request: &GatewayRequest) -> String {
    idempotency_key(&integration.id, &request.correlation_id)
}

fn accepted(index: usize, record: &MeteringRecord) -> EventResult {
    let mut result = EventResult::keyed(index, EventStatus::Accepted, record.idempotency_key().to_owned());
    match record {
        MeteringRecord::Usage(_) => result.attribution = Some(Attribution::Usage),
        MeteringRecord::Unattributed(event) => {
            result.attribution = Some(Attribution::Unattributed);
            result.reason = Some(event.reason.as_str().to_owned());
        }
        // `attribute` never returns a rejected line.
        MeteringRecord::Rejected(_) => {}
    }
    result
}

fn duplicate(index: usize, record: &MeteringRecord) -> EventResult {
    EventResult::keyed(index, EventStatus::Duplicate, record.idempotency_key().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_CLASSES: [u16; 3] = [2, 3, 4];

    #[test]
    fn is_billable_bills_client_errors() {
        assert!(is_billable(404, &DEFAULT_CLASSES));
    }

    #[test]
    fn is_billable_skips_server_errors() {
        assert!(!is_billable(503, &DEFAULT_CLASSES));
    }

    #[test]
    fn is_billable_skips_informational() {
        assert!(!is_billable(101, &DEFAULT_CLASSES));
    }

    #[test]
    fn is_billable_follows_configured_classes() {
        assert!(is_billable(503, &[2, 5]));
    }
}
