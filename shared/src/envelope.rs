//! The SQS message body format of the metering queue.
//!
//! One message carries many records, so a busy log delivery becomes a few
//! messages rather than one per request:
//! `{"schema":"aforo.metering.v1","records":[...]}`.

use serde::{Deserialize, Serialize};

use crate::event::MeteringRecord;

/// Schema name written into every message body.
pub const SCHEMA: &str = "aforo.metering.v1";

/// SQS's default maximum message size in bytes (256 KiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;

/// A message body of the metering queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The records carried by this message.
    pub records: Vec<MeteringRecord>,
}

/// A message body that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is not valid JSON of the expected shape.
    #[error("message body is not a metering envelope: {0}")]
    Malformed(#[from] serde_json::Error),

    /// The body names a schema this code does not know.
    #[error("unsupported schema {found:?}, expected {SCHEMA:?}")]
    UnsupportedSchema {
        /// The schema found in the body.
        found: String,
    },

    /// A single record does not fit into one message.
    #[error("record {idempotency_key} is {size} bytes, over the {limit}-byte message limit")]
    RecordTooLarge {
        /// Idempotency key of the record.
        idempotency_key: String,
        /// Serialized size of the record in bytes.
        size: usize,
        /// The message size limit in bytes.
        limit: usize,
    },
}

/// Parses and checks a message body.
pub fn decode(body: &str) -> Result<Envelope, EnvelopeError> {
    let envelope: Envelope = serde_json::from_str(body)?;
    check_schema(envelope.schema.clone())?;
    Ok(envelope)
}

/// A message body whose records are still raw JSON.
#[derive(Deserialize)]
struct RawEnvelope {
    schema: String,
    records: Vec<serde_json::Value>,
}

/// Parses a message body and checks its schema, but leaves each record as
/// raw JSON, so that the caller can read (and reject) the records one by one.
pub fn decode_raw(body: &str) -> Result<Vec<serde_json::Value>, EnvelopeError> {
    let envelope: RawEnvelope = serde_json::from_str(body)?;
    check_schema(envelope.schema)?;
    Ok(envelope.records)
}

fn check_schema(schema: String) -> Result<(), EnvelopeError> {
    if schema == SCHEMA {
        return Ok(());
    }
    Err(EnvelopeError::UnsupportedSchema { found: schema })
}

/// Checks that `record` fits into one message body of at most `max_bytes`,
/// envelope included, as [`pack`] requires.
pub fn check_record_size(record: &MeteringRecord, max_bytes: usize) -> Result<(), EnvelopeError> {
    serialize_record(record, max_bytes).map(|_| ())
}

fn serialize_record(record: &MeteringRecord, max_bytes: usize) -> Result<String, EnvelopeError> {
    let json = serde_json::to_string(record)?;
    if ENVELOPE_OVERHEAD + json.len() > max_bytes {
        return Err(EnvelopeError::RecordTooLarge {
            idempotency_key: record.idempotency_key().to_owned(),
            size: json.len(),
            limit: max_bytes,
        });
    }
    Ok(json)
}

/// Packs records into as few message bodies as fit within `max_bytes` each.
pub fn pack(records: &[MeteringRecord], max_bytes: usize) -> Result<Vec<String>, EnvelopeError> {
    let header = envelope_header();
    let mut bodies = Vec::new();
    let mut current = String::new();

    for record in records {
        let json = serialize_record(record, max_bytes)?;

        // One more byte for the comma between records.
        let separator = usize::from(!current.is_empty());
        if !current.is_empty() && ENVELOPE_OVERHEAD + current.len() + separator + json.len() > max_bytes {
            bodies.push(format!("{header}{current}{ENVELOPE_FOOTER}"));
            current.clear();
        }

        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(&json);
    }

    if !current.is_empty() {
        bodies.push(format!("{header}{current}{ENVELOPE_FOOTER}"));
    }
    Ok(bodies)
}

/// Text of a message body before its first record.
fn envelope_header() -> String {
    format!("{{\"schema\":\"{SCHEMA}\",\"records\":[")
}

/// Text of a message body after its last record.
const ENVELOPE_FOOTER: &str = "]}";

/// Bytes of a message body that are not records: the header and the footer.
const ENVELOPE_OVERHEAD: usize =
    r#"{"schema":""#.len() + SCHEMA.len() + r#"","records":["#.len() + ENVELOPE_FOOTER.len();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{RejectReason, RejectedLine};

    fn rejected(n: usize) -> MeteringRecord {
        MeteringRecord::Rejected(RejectedLine {
            idempotency_key: format!("key-{n}"),
            source: "loggroup:test".to_owned(),
            reason: RejectReason::NotJson,
            detail: "line is not JSON".to_owned(),
            log_group: "test".to_owned(),
            log_stream: "stream".to_owned(),
            log_event_id: n.to_string(),
            timestamp: chrono::DateTime::UNIX_EPOCH,
        })
    }

    #[test]
    fn pack_round_trips_records() {
        let records: Vec<_> = (0..5).map(rejected).collect();
        let bodies = pack(&records, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
        assert_eq!(bodies.len(), 1);
        assert_eq!(decode(&bodies[0]).unwrap().records, records);
    }

    #[test]
    fn pack_splits_at_size_limit() {
        let records: Vec<_> = (0..50).map(rejected).collect();
        let bodies = pack(&records, 2_000).unwrap();
        assert!(bodies.len() > 1);
        assert!(bodies.iter().all(|body| body.len() <= 2_000));

        let unpacked: Vec<_> = bodies
            .iter()
            .flat_map(|body| decode(body).unwrap().records)
            .collect();
        assert_eq!(unpacked, records);
    }

    #[test]
    fn pack_rejects_oversized_record() {
        let error = pack(&[rejected(1)], 50).unwrap_err();
        assert!(matches!(error, EnvelopeError::RecordTooLarge { .. }));
    }

    #[test]
    fn envelope_overhead_matches_header() {
        assert_eq!(ENVELOPE_OVERHEAD, envelope_header().len() + ENVELOPE_FOOTER.len());
    }

    #[test]
    fn check_record_size_accepts_record_that_packs() {
        let record = rejected(1);
        let size = pack(std::slice::from_ref(&record), DEFAULT_MAX_MESSAGE_BYTES).unwrap()[0].len();

        assert!(check_record_size(&record, size).is_ok());
        assert!(pack(std::slice::from_ref(&record), size).is_ok());
    }

    #[test]
    fn check_record_size_rejects_one_byte_less() {
        let record = rejected(1);
        let size = pack(std::slice::from_ref(&record), DEFAULT_MAX_MESSAGE_BYTES).unwrap()[0].len();

        let error = check_record_size(&record, size - 1).unwrap_err();
        assert!(matches!(error, EnvelopeError::RecordTooLarge { idempotency_key, .. } if idempotency_key == "key-1"));
    }

    #[test]
    fn decode_raw_keeps_unparsable_records() {
        let body = format!(
            r#"{{"schema":"{SCHEMA}","records":[{},{{"type":"usage","status":"abc"}}]}}"#,
            serde_json::to_string(&rejected(1)).unwrap()
        );

        let records = decode_raw(&body).unwrap();

        assert_eq!(records.len(), 2);
        assert_eq!(serde_json::from_value::<MeteringRecord>(records[0].clone()).unwrap(), rejected(1));
        assert!(serde_json::from_value::<MeteringRecord>(records[1].clone()).is_err());
    }

    #[test]
    fn decode_raw_rejects_unknown_schema() {
        let error = decode_raw(r#"{"schema":"other","records":[]}"#).unwrap_err();
        assert!(matches!(error, EnvelopeError::UnsupportedSchema { .. }));
    }

    #[test]
    fn decode_raw_rejects_plain_text() {
        assert!(matches!(decode_raw("Test message."), Err(EnvelopeError::Malformed(_))));
    }

    #[test]
    fn decode_rejects_unknown_schema() {
        let error = decode(r#"{"schema":"other","records":[]}"#).unwrap_err();
        assert!(matches!(error, EnvelopeError::UnsupportedSchema { .. }));
    }

    #[test]
    fn decode_rejects_plain_text() {
        assert!(matches!(decode("Test message."), Err(EnvelopeError::Malformed(_))));
    }
}
