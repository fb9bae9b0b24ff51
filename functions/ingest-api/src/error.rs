//! Errors of the ingest API, each with the HTTP status of its response.

use aforo::adapters::AdapterError;
use aforo::envelope::EnvelopeError;
use aforo::sqs::SendError;
use aforo::store::StoreError;

/// A request that gets an error response.
///
/// Client errors (4xx) say what to fix in the detail sent back. Server errors
/// (5xx) send a generic detail, because their source names tables and queues,
/// and are logged with the source instead.
#[derive(Debug, thiserror::Error)]
pub enum IngestApiError {
    /// The request used another method than `POST`.
    #[error("method {0} is not allowed; send POST")]
    MethodNotAllowed(String),

    /// Neither `Authorization: Bearer` nor `x-api-key` carries a key.
    #[error("missing ingest key: send Authorization: Bearer <integration ingest key>")]
    MissingKey,

    /// The key is unknown or revoked, or names no integration.
    #[error("invalid ingest key: the key is unknown or not active")]
    InvalidKey,

    /// The key's integration is suspended or cancelled.
    #[error("integration {integration_id} is not active, so its events are not accepted")]
    IntegrationInactive {
        /// The integration the key belongs to.
        integration_id: String,
    },

    /// `isBase64Encoded` is set but the body is not base64.
    #[error("body is flagged as base64 but is not valid base64: {0}")]
    InvalidBase64(#[source] base64::DecodeError),

    /// `Content-Encoding` names a coding other than gzip or identity.
    #[error("Content-Encoding {0:?} is not supported; send gzip or no encoding")]
    UnsupportedEncoding(String),

    /// The body starts like gzip but does not inflate.
    #[error("body is not valid gzip: {0}")]
    CorruptGzip(#[source] std::io::Error),

    /// The body as sent is over the limit.
    #[error("body exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// `MAX_BODY_BYTES`.
        limit: usize,
    },

    /// The body after decompression is over the limit.
    #[error("decompressed body exceeds the {limit}-byte limit")]
    DecompressedTooLarge {
        /// `MAX_DECOMPRESSED_BYTES`.
        limit: usize,
    },

    /// The request carries more events than allowed.
    #[error("request has {count} events, over the {limit}-event limit; split it into smaller requests")]
    TooManyEvents {
        /// Number of events in the request.
        count: usize,
        /// `MAX_EVENTS`.
        limit: usize,
    },

    /// The `Idempotency-Key` header is empty, too long or not printable ASCII.
    #[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
    InvalidIdempotencyKey,

    /// The `Idempotency-Key` was used before with another body or content type.
    #[error("Idempotency-Key was already used with a different request body; use a new key for new content")]
    IdempotencyKeyReused,

    /// A request with the same `Idempotency-Key` is still being processed.
    #[error("a request with this Idempotency-Key is still in progress; retry after {retry_after} seconds")]
    IdempotencyInProgress {
        /// Seconds until its lease runs out, at least 1.
        retry_after: u64,
    },

    /// The payload is not JSON.
    #[error("body is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),

    /// The payload is JSON but not a supported batch.
    #[error("{0}")]
    InvalidBody(String),

    /// The payload is not the integration's native log format.
    #[error(transparent)]
    Adapter(#[from] AdapterError),

    /// A catalog lookup failed.
    #[error("catalog lookup failed: {0}")]
    Catalog(#[source] StoreError),

    /// The dedupe table could not be read.
    #[error("dedupe lookup failed: {0}")]
    Dedupe(#[source] StoreError),

    /// The `Idempotency-Key` record could not be read or written.
    #[error("Idempotency-Key record failed: {0}")]
    Idempotency(#[source] StoreError),

    /// Records could not be packed into queue messages.
    #[error("cannot pack metering records: {0}")]
    Pack(#[from] EnvelopeError),

    /// Records could not be sent to the metering queue.
    #[error("cannot send metering records: {0}")]
    Send(#[from] SendError),
}

impl IngestApiError {
    /// HTTP status code of the response.
    pub fn status(&self) -> u16 {
        match self {
            IngestApiError::MissingKey | IngestApiError::InvalidKey => 401,
            IngestApiError::IntegrationInactive { .. } => 403,
            IngestApiError::MethodNotAllowed(_) => 405,
            IngestApiError::IdempotencyInProgress { .. } => 409,
            IngestApiError::BodyTooLarge { .. }
            | IngestApiError::DecompressedTooLarge { .. }
            | IngestApiError::TooManyEvents { .. } => 413,
            IngestApiError::UnsupportedEncoding(_) => 415,
            IngestApiError::IdempotencyKeyReused => 422,
            IngestApiError::InvalidBase64(_)
            | IngestApiError::CorruptGzip(_)
            | IngestApiError::InvalidIdempotencyKey
            | IngestApiError::InvalidJson(_)
            | IngestApiError::InvalidBody(_)
            | IngestApiError::Adapter(_) => 400,
            IngestApiError::Pack(_) => 500,
            IngestApiError::Catalog(_)
            | IngestApiError::Dedupe(_)
            | IngestApiError::Idempotency(_)
            | IngestApiError::Send(_) => 503,
        }
    }

    /// Text for the problem detail sent to the client.
    pub fn detail(&self) -> String {
        match self {
            IngestApiError::Catalog(_) | IngestApiError::Dedupe(_) | IngestApiError::Idempotency(_) => {
                "a storage dependency is unavailable; retry the request later".to_owned()
            }
            IngestApiError::Send(_) => {
                "events could not be queued and none were accepted; retry the request later".to_owned()
            }
            IngestApiError::Pack(_) => "events could not be packed into queue messages".to_owned(),
            client_error => client_error.to_string(),
        }
    }

    /// Short name of the variant, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            IngestApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            IngestApiError::MissingKey => "MissingKey",
            IngestApiError::InvalidKey => "InvalidKey",
            IngestApiError::IntegrationInactive { .. } => "IntegrationInactive",
            IngestApiError::InvalidBase64(_) => "InvalidBase64",
            IngestApiError::UnsupportedEncoding(_) => "UnsupportedEncoding",
            IngestApiError::CorruptGzip(_) => "CorruptGzip",
            IngestApiError::BodyTooLarge { .. } => "BodyTooLarge",
            IngestApiError::DecompressedTooLarge { .. } => "DecompressedTooLarge",
            IngestApiError::TooManyEvents { .. } => "TooManyEvents",
            IngestApiError::InvalidIdempotencyKey => "InvalidIdempotencyKey",
            IngestApiError::IdempotencyKeyReused => "IdempotencyKeyReused",
            IngestApiError::IdempotencyInProgress { .. } => "IdempotencyInProgress",
            IngestApiError::InvalidJson(_) => "InvalidJson",
            IngestApiError::InvalidBody(_) => "InvalidBody",
            IngestApiError::Adapter(_) => "InvalidNativePayload",
            IngestApiError::Catalog(_) => "CatalogUnavailable",
            IngestApiError::Dedupe(_) => "DedupeUnavailable",
            IngestApiError::Idempotency(_) => "IdempotencyUnavailable",
            IngestApiError::Pack(_) => "PackFailed",
            IngestApiError::Send(_) => "SendFailed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompressed_limit_detail_names_limit() {
        let error = IngestApiError::DecompressedTooLarge { limit: 8_388_608 };
        assert_eq!(error.detail(), "decompressed body exceeds the 8388608-byte limit");
        assert_eq!(error.status(), 413);
    }

    #[test]
    fn server_error_detail_hides_source() {
        let source = StoreError::InvalidItem {
            table: "secret-table".to_owned(),
            pk: "pk".to_owned(),
            sk: String::new(),
            reason: "broken".to_owned(),
        };
        let error = IngestApiError::Dedupe(source);

        assert_eq!(error.status(), 503);
        assert!(!error.detail().contains("secret-table"));
    }
}
