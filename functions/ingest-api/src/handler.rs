//! The request handler: it authenticates the gateway, reads the body, honours
//! `Idempotency-Key`, meters the events and builds the response. Each request
//! logs one line.

use aforo::catalog::{CatalogStore, Integration};
use aforo::sqs::SqsSender;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::Value;

use crate::auth::authenticate;
use crate::body::{payload, BodyLimits};
use crate::dedupe::DedupeReader;
use crate::formats::{parse_events, Format};
use crate::idempotency::{fingerprint, is_valid_key, Claim, IdempotencyStore, Lease, StoredResponse};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::results::IngestResponse;
use crate::{Config, IngestApiError};

/// The `POST /v1/ingest` handler over a catalog store.
pub struct IngestApi<C: CatalogStore> {
    pub(crate) catalog: C,
    pub(crate) dedupe: DedupeReader,
    pub(crate) sender: SqsSender,
    pub(crate) billable_status_classes: Vec<u16>,
    idempotency: IdempotencyStore,
    limits: BodyLimits,
    max_events: usize,
}

/// The facts of one request that its log line reports.
#[derive(Debug, Default)]
struct RequestLog {
    integration_id: Option<String>,
    format: Option<Format>,
    counts: Option<Counts>,
    replayed: bool,
    error_kind: Option<&'static str>,
    error: Option<String>,
}

/// The counts of a 200 response, as logged.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    not_metered: usize,
    not_billable: usize,
}

impl RequestLog {
    fn record_error(&mut self, error: &IngestApiError) {
        self.error_kind = Some(error.kind());
        self.error = Some(error.to_string());
    }

    fn record_response(&mut self, response: &IngestResponse) {
        self.counts = Some(Counts {
            accepted: response.accepted,
            duplicates: response.duplicates,
            rejected: response.rejected,
            not_metered: response.not_metered,
            not_billable: response.not_billable,
        });
    }

    fn emit(&self, status: u16) {
        let Counts {
            accepted,
            duplicates,
            rejected,
            not_metered,
            not_billable,
        } = self.counts.unwrap_or_default();
        let integration_id = self.integration_id.as_deref().unwrap_or_default();
        let format = self.format.map(Format::as_str).unwrap_or_default();
        let error_kind = self.error_kind.unwrap_or_default();
        let error = self.error.as_deref().unwrap_or_default();

        if status >= 500 {
            tracing::error!(
                status, integration_id, format, accepted, duplicates, rejected, not_metered, not_billable,
                replayed = self.replayed, error_kind, error, "ingest request failed"
            );
        } else {
            tracing::info!(
                status, integration_id, format, accepted, duplicates, rejected, not_metered, not_billable,
                replayed = self.replayed, error_kind, error, "ingest request handled"
            );
        }
    }
}

impl<C: CatalogStore> IngestApi<C> {
    /// Creates a handler that authenticates and attributes through `catalog`,
    /// reads the dedupe table and writes `Idempotency-Key` records through
    /// `dynamodb`, and queues metering records through `sender`. Events whose
    /// status class is not in `config.billable_status_classes` are not sent.
    pub fn new(catalog: C, dynamodb: aws_sdk_dynamodb::Client, sender: SqsSender, config: &Config) -> Self {
        Self {
            catalog,
            dedupe: DedupeReader::new(dynamodb.clone(), &config.dedupe_table),
            sender,
            billable_status_classes: config.billable_status_classes.clone(),
            idempotency: IdempotencyStore::new(
                dynamodb,
                &config.idempotency_table,
                config.idempotency_lease,
                config.idempotency_ttl,
            ),
            limits: BodyLimits {
                max_body_bytes: config.max_body_bytes,
                max_decompressed_bytes: config.max_decompressed_bytes,
            },
            max_events: config.max_events,
        }
    }

    /// Handles one API Gateway HTTP API (payload 2.0) event; always returns a
    /// response, never an error, whatever the request.
    pub async fn handle(&self, event: Value) -> ApiGatewayV2httpResponse {
        let request = HttpRequest::from_event(&event);
        let mut log = RequestLog::default();

        let reply = match self.respond(&request, &mut log).await {
            Ok(reply) => reply,
            Err(error) => {
                log.record_error(&error);
                Reply::error(&error)
            }
        };

        log.emit(reply.status);
        reply.into_response()
    }

    /// Builds the reply to a request. Errors before the `Idempotency-Key`
    /// claim are returned, and errors after it become the stored reply.
    async fn respond(&self, request: &HttpRequest, log: &mut RequestLog) -> Result<Reply, IngestApiError> {
        if let Some(method) = request.method.as_deref().filter(|method| *method != "POST") {
            return Err(IngestApiError::MethodNotAllowed(method.to_owned()));
        }

        let integration = authenticate(&self.catalog, request).await?;
        log.integration_id = Some(integration.id.clone());

        let payload = payload(request, self.limits)?;
        let content_type = request.header("content-type").unwrap_or_default();

        let Some(key) = request.header("idempotency-key") else {
            return Ok(self.process(&integration, content_type, &payload, log).await);
        };
        if !is_valid_key(key) {
            return Err(IngestApiError::InvalidIdempotencyKey);
        }

        let fingerprint = fingerprint(&content_type.to_ascii_lowercase(), &payload);
        let claim = self
            .idempotency
            .claim(&integration.id, key, &fingerprint)
            .await
            .map_err(IngestApiError::Idempotency)?;
        let lease = match claim {
            Claim::Owned(lease) => lease,
            Claim::Completed(stored) => {
                log.replayed = true;
                return Ok(Reply::replay(stored));
            }
            Claim::InProgress { retry_after } => return Err(IngestApiError::IdempotencyInProgress { retry_after }),
            Claim::Mismatch => return Err(IngestApiError::IdempotencyKeyReused),
        };

        let reply = self.process(&integration, content_type, &payload, log).await;
        self.finish(&integration, &lease, &reply).await;
        Ok(reply)
    }

    /// Reads and meters the events of a payload, and returns the reply.
    async fn process(&self, integration: &Integration, content_type: &str, payload: &[u8], log: &mut RequestLog) -> Reply {
        let content_type = Some(content_type).filter(|value| !value.is_empty());

        let result = match parse_events(content_type, payload, integration.kind, self.max_events) {
            Ok((format, events)) => {
                log.format = Some(format);
                self.meter(integration, events).await
            }
            Err(error) => Err(error),
        };

        match result {
            Ok(response) => {
                log.record_response(&response);
                Reply::json(&response)
            }
            Err(error) => {
                log.record_error(&error);
                Reply::error(&error)
            }
        }
    }

    /// Stores the reply for replay, or releases the key after a server error
    /// so that a retry runs again.
    async fn finish(&self, integration: &Integration, lease: &Lease, reply: &Reply) {
        if reply.status >= 500 {
            if let Err(error) = self.idempotency.release(lease).await {
                tracing::warn!(
                    integration_id = %integration.id,
                    error = %error,
                    "cannot release the Idempotency-Key record; a retry waits until its lease runs out"
                );
            }
            return;
        }

        let stored = StoredResponse {
            status: reply.status,
            content_type: reply.content_type.clone(),
            body: reply.body.clone(),
        };
        match self.idempotency.complete(lease, &stored).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                integration_id = %integration.id,
                "the Idempotency-Key lease ran out and another request took the key over; its response is kept"
            ),
            Err(error) => tracing::warn!(
                integration_id = %integration.id,
                error = %error,
                "cannot store the response for Idempotency-Key replay; a retry after the lease runs out runs again"
            ),
        }
    }
}
