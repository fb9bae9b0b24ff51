//! The handler: one CloudWatch Logs subscription delivery in, metering
//! records out to SQS.

use aforo::catalog::{find_route, CatalogStore, Integration};
use aforo::cwl::{self, LogEvent, LogsData, SubscriptionEvent};
use aforo::envelope::{self, EnvelopeError};
use aforo::event::{MeteringRecord, RejectReason};
use aforo::sqs::SqsSender;
use aforo::store::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::access_log::{parse_line, AccessLogLine, LineRejection};
use crate::record::{access_record, non_billable, rejected_record, CatalogFacts, NonBillable};
use crate::{Config, DecoderError};

/// `messageType` of a payload with log events.
const DATA_MESSAGE: &str = "DATA_MESSAGE";

/// `messageType` of the payload CloudWatch Logs sends to check that the destination is reachable.
const CONTROL_MESSAGE: &str = "CONTROL_MESSAGE";

/// Counts of one delivery. `lines` is the sum of `usage`, `unattributed`,
/// `rejected`, `non_billable` and `not_metered`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DecodeSummary {
    /// Log events in the delivery.
    pub lines: usize,
    /// Billable usage records sent.
    pub usage: usize,
    /// Unattributed records sent.
    pub unattributed: usize,
    /// Rejected-line records sent.
    pub rejected: usize,
    /// Lines skipped as not billable (authorizer rejections, unbilled status classes).
    pub non_billable: usize,
    /// Lines skipped because their integration has metering turned off.
    pub not_metered: usize,
    /// SQS messages sent.
    pub messages_sent: usize,
    /// Optional metric values (`responseLength`, `responseLatency`) that were
    /// invalid and left out of the records sent.
    pub invalid_metrics: usize,
}

/// Outcome of one log line.
enum LineOutcome {
    Record {
        record: Box<MeteringRecord>,
        /// Optional metric fields of the line whose values were left out.
        invalid_metrics: Vec<&'static str>,
    },
    NonBillable,
    NotMetered,
}

/// The log decoder: the catalog to attribute lines and the sender to the metering queue.
pub struct Decoder<C: CatalogStore> {
    catalog: C,
    sender: SqsSender,
    billable_status_classes: Vec<u16>,
    max_message_bytes: usize,
}

impl<C: CatalogStore> Decoder<C> {
    /// Creates a decoder; `config` supplies the billable status classes and the message size.
    pub fn new(catalog: C, sender: SqsSender, config: &Config) -> Self {
        Self {
            catalog,
            sender,
            billable_status_classes: config.billable_status_classes.clone(),
            max_message_bytes: config.max_message_bytes,
        }
    }

    /// Decodes one subscription delivery (the raw event JSON
    /// `{"awslogs":{"data":...}}`), sends the records to SQS and returns counts.
    ///
    /// Fails when the payload cannot be decoded (not base64, not gzip,
    /// corrupt, not the subscription JSON), when its `messageType` is neither
    /// `DATA_MESSAGE` nor `CONTROL_MESSAGE`, when a catalog lookup fails, or
    /// when records still cannot be sent after retries. Lambda then retries
    /// the asynchronous invocation and finally sends the event to the
    /// function's on-failure destination. The idempotency keys make records
    /// sent again harmless.
    pub async fn handle(&self, event: serde_json::Value) -> Result<DecodeSummary, DecoderError> {
        self.decode_delivery(event).await.inspect_err(|err| {
            tracing::error!(
                error_kind = err.kind(),
                error = %err,
                "failed to decode the subscription delivery"
            );
        })
    }

    async fn decode_delivery(&self, event: serde_json::Value) -> Result<DecodeSummary, DecoderError> {
        let event: SubscriptionEvent = serde_json::from_value(event).map_err(DecoderError::InvalidEvent)?;
        let logs = cwl::decode(&event.awslogs.data)?;
        match logs.message_type.as_str() {
            DATA_MESSAGE => {}
            CONTROL_MESSAGE => {
                tracing::info!(log_group = %logs.log_group, "received CloudWatch Logs control message");
                return Ok(DecodeSummary::default());
            }
            other => return Err(DecoderError::unknown_message_type(other)),
        }

        // Stands in for a CloudWatch Logs timestamp out of range.
        let received_at = Utc::now();
        let mut summary = DecodeSummary {
            lines: logs.log_events.len(),
            ..DecodeSummary::default()
        };
        let mut records = Vec::new();

        for log_event in &logs.log_events {
            let outcome = self
                .decode_line(&logs, log_event, received_at)
                .await
                .map_err(|error| DecoderError::Catalog {
                    log_event_id: log_event.id.clone(),
                    error,
                })?;

            match outcome {
                LineOutcome::Record {
                    record,
                    invalid_metrics,
                } => {
                    log_invalid_metrics(log_event, &invalid_metrics);
                    summary.invalid_metrics += invalid_metrics.len();

                    let record = self.checked(*record, &logs, log_event, received_at)?;
                    count_record(&mut summary, &record);
                    records.push(record);
                }
                LineOutcome::NonBillable => summary.non_billable += 1,
                LineOutcome::NotMetered => summary.not_metered += 1,
            }
        }

        let bodies = envelope::pack(&records, self.max_message_bytes)?;
        summary.messages_sent = self.sender.send(&bodies).await?;

        log_summary(&logs, &summary);
        Ok(summary)
    }

    /// Returns `record`, or a rejected line in its place when it fails
    /// validation or does not fit into one message. Fails only when the
    /// rejected line does not fit either.
    ///
    /// The line parser bounds every field, so this guard is a last resort.
    /// A rejected line that fails validation is kept, because ingest records
    /// an invalid record as rejected input too.
    fn checked(
        &self,
        record: MeteringRecord,
        logs: &LogsData,
        log_event: &LogEvent,
        received_at: DateTime<Utc>,
    ) -> Result<MeteringRecord, DecoderError> {
        let record = match record.validate() {
            Err(detail) if !matches!(record, MeteringRecord::Rejected(_)) => {
                replace_with_rejected(&record, detail, logs, log_event, received_at)
            }
            _ => record,
        };

        let detail = match envelope::check_record_size(&record, self.max_message_bytes) {
            Ok(()) => return Ok(record),
            Err(EnvelopeError::RecordTooLarge { size, limit, .. }) => {
                format!("metering record is {size} bytes, over the {limit}-byte message limit")
            }
            Err(source) => {
                return Err(DecoderError::RecordTooLarge {
                    log_event_id: log_event.id.clone(),
                    source,
                })
            }
        };

        let replacement = replace_with_rejected(&record, detail, logs, log_event, received_at);
        envelope::check_record_size(&replacement, self.max_message_bytes).map_err(|source| {
            DecoderError::RecordTooLarge {
                log_event_id: log_event.id.clone(),
                source,
            }
        })?;
        Ok(replacement)
    }

    /// Decodes one line into its outcome.
    async fn decode_line(
        &self,
        logs: &LogsData,
        log_event: &LogEvent,
        received_at: DateTime<Utc>,
    ) -> Result<LineOutcome, StoreError> {
        let line = match parse_line(&log_event.message) {
            Ok(line) => line,
            Err(rejection) => {
                let integration = self.integration(rejection.api_id.as_deref()).await?;
                if integration.as_ref().is_some_and(|found| !found.flags.metering) {
                    return Ok(LineOutcome::NotMetered);
                }

                tracing::warn!(
                    log_group = %logs.log_group,
                    log_stream = %logs.log_stream,
                    log_event_id = %log_event.id,
                    reason = rejection.reason.as_str(),
                    detail = %rejection.detail,
                    "rejected log line"
                );
                let integration_id = integration.as_ref().map(|found| found.id.as_str());
                let record = rejected_record(
                    &rejection,
                    integration_id,
                    &logs.log_group,
                    &logs.log_stream,
                    log_event,
                    received_at,
                );
                return Ok(LineOutcome::Record {
                    record: Box::new(record),
                    invalid_metrics: Vec::new(),
                });
            }
        };

        let integration = self.integration(line.api_id.as_deref()).await?;
        if integration.as_ref().is_some_and(|found| !found.flags.metering) {
            return Ok(LineOutcome::NotMetered);
        }

        if let Some(reason) = non_billable(&line, &self.billable_status_classes) {
            log_non_billable(&line, &reason);
            return Ok(LineOutcome::NonBillable);
        }

        let facts = self.facts(&line, integration).await?;
        let record = access_record(&line, &facts, &logs.log_group);
        if let MeteringRecord::Unattributed(event) = &record {
            tracing::debug!(
                source = %event.source,
                correlation_id = %event.correlation_id,
                reason = event.reason.as_str(),
                "unattributed request"
            );
        }
        Ok(LineOutcome::Record {
            record: Box::new(record),
            invalid_metrics: line.invalid_metrics,
        })
    }

    async fn integration(&self, api_id: Option<&str>) -> Result<Option<Integration>, StoreError> {
        match api_id {
            Some(api_id) => self.catalog.integration_for_api(api_id).await,
            None => Ok(None),
        }
    }

    /// Looks up only what the attribution still needs: the tenant once the
    /// integration is known, the route once the tenant is known.
    async fn facts(
        &self,
        line: &AccessLogLine,
        integration: Option<Integration>,
    ) -> Result<CatalogFacts, StoreError> {
        let Some(integration) = integration else {
            return Ok(CatalogFacts::default());
        };
        let mut facts = CatalogFacts {
            integration_id: Some(integration.id.clone()),
            ..CatalogFacts::default()
        };

        let Some(tenant_id) = &line.tenant_id else {
            return Ok(facts);
        };
        facts.tenant_known = self.catalog.tenant(tenant_id).await?.is_some();
        if !facts.tenant_known {
            return Ok(facts);
        }

        if let (Some(method), Some(route)) = (&line.method, &line.route) {
            let routes = self.catalog.routes(&integration.id).await?;
            facts.product_id = find_route(&routes, method, route).map(|found| found.product_id.clone());
        }
        Ok(facts)
    }
}

/// Builds a rejected line (`invalid_field`) in place of `record`, under the same source.
fn replace_with_rejected(
    record: &MeteringRecord,
    detail: String,
    logs: &LogsData,
    log_event: &LogEvent,
    received_at: DateTime<Utc>,
) -> MeteringRecord {
    tracing::warn!(
        log_group = %logs.log_group,
        log_event_id = %log_event.id,
        detail = %detail,
        "metering record replaced by a rejected line"
    );

    let rejection = LineRejection {
        reason: RejectReason::InvalidField,
        detail,
        api_id: None,
    };
    // A source is an integration id or `loggroup:<name>`, and either comes out unchanged.
    rejected_record(
        &rejection,
        Some(record.source()),
        &logs.log_group,
        &logs.log_stream,
        log_event,
        received_at,
    )
}

fn log_invalid_metrics(log_event: &LogEvent, fields: &[&'static str]) {
    for field in fields {
        tracing::warn!(
            log_event_id = %log_event.id,
            field = *field,
            "left out an invalid optional metric and billed the request"
        );
    }
}

fn count_record(summary: &mut DecodeSummary, record: &MeteringRecord) {
    match record {
        MeteringRecord::Usage(_) => summary.usage += 1,
        MeteringRecord::Unattributed(_) => summary.unattributed += 1,
        MeteringRecord::Rejected(_) => summary.rejected += 1,
    }
}

fn log_non_billable(line: &AccessLogLine, reason: &NonBillable) {
    match reason {
        NonBillable::AuthorizerRejection(error_type) => tracing::debug!(
            correlation_id = %line.correlation_id,
            error_response_type = %error_type,
            "request not billable: rejected by the authorizer"
        ),
        NonBillable::StatusClass(class) => tracing::debug!(
            correlation_id = %line.correlation_id,
            status = line.status,
            status_class = class,
            "request not billable: status class not billed"
        ),
    }
}

fn log_summary(logs: &LogsData, summary: &DecodeSummary) {
    tracing::info!(
        log_group = %logs.log_group,
        log_stream = %logs.log_stream,
        lines = summary.lines,
        usage = summary.usage,
        unattributed = summary.unattributed,
        rejected = summary.rejected,
        non_billable = summary.non_billable,
        not_metered = summary.not_metered,
        messages_sent = summary.messages_sent,
        invalid_metrics = summary.invalid_metrics,
        "decoded subscription delivery"
    );
}
