//! Request bodies: the two batch formats, gzip, and the content-derived
//! `Idempotency-Key`.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ClientError;
use crate::model::IngestEvent;

/// `schema` value of an `aforo.ingest.v1` body.
pub const INGEST_SCHEMA: &str = "aforo.ingest.v1";

/// Content type of an `aforo.ingest.v1` body.
pub const INGEST_CONTENT_TYPE: &str = "application/json";

/// Content type of a CloudEvents 1.0 JSON batch.
pub const CLOUDEVENTS_BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// Longest `Idempotency-Key` the server accepts.
const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;

/// One request ready to send: the body as it goes on the wire and its headers.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    pub content_type: String,
    pub body: Vec<u8>,
    pub gzip: bool,
    pub idempotency_key: String,
}

#[derive(Serialize)]
struct IngestBatch<'a> {
    schema: &'static str,
    events: &'a [IngestEvent],
}

/// Derives an `Idempotency-Key` from a request's content: hex SHA-256 of the
/// content type, a newline and the uncompressed body.
///
/// This is also how the server fingerprints a request, so the same input sent
/// again, compressed or not, gets the same key and matches the stored request.
pub fn derive_idempotency_key(content_type: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(content_type.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Checks a caller's `Idempotency-Key`: 1 to 255 printable ASCII characters.
pub(crate) fn validate_idempotency_key(key: &str) -> Result<(), ClientError> {
    let printable = key.bytes().all(|byte| byte.is_ascii_graphic() || byte == b' ');
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LENGTH || !printable {
        return Err(ClientError::InvalidIdempotencyKey { length: key.len() });
    }
    Ok(())
}

/// Encodes events as an `aforo.ingest.v1` body.
pub(crate) fn ingest_body(events: &[IngestEvent]) -> Result<Vec<u8>, ClientError> {
    let batch = IngestBatch {
        schema: INGEST_SCHEMA,
        events,
    };
    serde_json::to_vec(&batch).map_err(ClientError::Encode)
}

/// Encodes CloudEvents as a JSON array body.
pub(crate) fn cloudevents_body(events: &[serde_json::Value]) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(events).map_err(ClientError::Encode)
}

/// Builds the request for an uncompressed body, compressing it when `gzip` is
/// set and deriving the idempotency key unless the caller gave one.
pub(crate) fn prepare(
    content_type: &str,
    body: Vec<u8>,
    gzip: bool,
    idempotency_key: Option<&str>,
) -> Result<PreparedRequest, ClientError> {
    let idempotency_key = match idempotency_key {
        Some(key) => {
            validate_idempotency_key(key)?;
            key.to_owned()
        }
        None => derive_idempotency_key(content_type, &body),
    };

    let body = if gzip { gzip_bytes(&body)? } else { body };

    Ok(PreparedRequest {
        content_type: content_type.to_owned(),
        body,
        gzip,
        idempotency_key,
    })
}

/// Compresses `bytes` into one gzip member.
pub(crate) fn gzip_bytes(bytes: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).map_err(ClientError::Compress)?;
    encoder.finish().map_err(ClientError::Compress)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    fn event(id: &str) -> IngestEvent {
        IngestEvent {
            id: id.to_owned(),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: "/pets/42".to_owned(),
            status: 200,
            response_bytes: Some(512),
            latency_ms: Some(35),
            timestamp: "2026-12-01T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn ingest_body_has_schema_and_events() {
        let body = ingest_body(&[event("r-1")]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["schema"], "aforo.ingest.v1");
        assert_eq!(json["events"][0]["id"], "r-1");
        assert_eq!(json["events"][0]["latency_ms"], 35);
    }

    #[test]
    fn derived_key_is_stable_for_same_content() {
        let first = prepare(INGEST_CONTENT_TYPE, ingest_body(&[event("r-1")]).unwrap(), true, None).unwrap();
        let second = prepare(INGEST_CONTENT_TYPE, ingest_body(&[event("r-1")]).unwrap(), false, None).unwrap();
        assert_eq!(first.idempotency_key, second.idempotency_key);
        assert_eq!(first.idempotency_key.len(), 64);
    }

    #[test]
    fn derived_key_differs_for_other_content() {
        let first = derive_idempotency_key(INGEST_CONTENT_TYPE, &ingest_body(&[event("r-1")]).unwrap());
        let second = derive_idempotency_key(INGEST_CONTENT_TYPE, &ingest_body(&[event("r-2")]).unwrap());
        assert_ne!(first, second);
    }

    #[test]
    fn derived_key_depends_on_content_type() {
        let body = b"[]";
        assert_ne!(
            derive_idempotency_key(INGEST_CONTENT_TYPE, body),
            derive_idempotency_key(CLOUDEVENTS_BATCH_CONTENT_TYPE, body)
        );
    }

    #[test]
    fn prepare_gzip_round_trips() {
        let body = ingest_body(&[event("r-1")]).unwrap();
        let prepared = prepare(INGEST_CONTENT_TYPE, body.clone(), true, None).unwrap();

        let mut decompressed = Vec::new();
        GzDecoder::new(prepared.body.as_slice())
            .read_to_end(&mut decompressed)
            .unwrap();
        assert_eq!(decompressed, body);
        assert!(prepared.gzip);
    }

    #[test]
    fn prepare_keeps_caller_key() {
        let prepared = prepare("application/json", b"{}".to_vec(), false, Some("batch-7")).unwrap();
        assert_eq!(prepared.idempotency_key, "batch-7");
    }

    #[test]
    fn caller_key_rejected_when_invalid() {
        let too_long = "k".repeat(256);
        for key in ["", "tab\there", "é", too_long.as_str()] {
            let result = prepare("application/json", b"{}".to_vec(), false, Some(key));
            assert!(
                matches!(result, Err(ClientError::InvalidIdempotencyKey { .. })),
                "{key:?} was accepted"
            );
        }
    }

    #[test]
    fn caller_key_of_255_characters_accepted() {
        let key = "k".repeat(255);
        assert!(validate_idempotency_key(&key).is_ok());
    }
}
