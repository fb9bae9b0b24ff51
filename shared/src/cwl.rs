//! CloudWatch Logs subscription payloads: `{"awslogs":{"data": base64(gzip(json))}}`.
//!
//! The payload is decoded here rather than by `aws_lambda_events`' own
//! deserializer so that a payload which is not gzip yields a clear error of
//! ours instead of a failed deserialization of the whole event.

use std::io::Read;

use base64::Engine;
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

/// Largest decompressed payload accepted. CloudWatch Logs delivers at most
/// about 1 MiB compressed per invocation; the limit only stops a runaway input.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// The raw event a subscription filter invokes the function with.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SubscriptionEvent {
    /// Wrapper object.
    pub awslogs: AwsLogs,
}

/// The `awslogs` object of a subscription event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AwsLogs {
    /// base64 of the gzip-compressed JSON payload.
    pub data: String,
}

/// The decoded subscription payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsData {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    pub message_type: String,
    /// AWS account id that owns the log group.
    #[serde(default)]
    pub owner: String,
    /// Log group name.
    #[serde(default)]
    pub log_group: String,
    /// Log stream name.
    #[serde(default)]
    pub log_stream: String,
    /// Names of the subscription filters that matched.
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    /// The log events; empty for a control message.
    #[serde(default)]
    pub log_events: Vec<LogEvent>,
}

impl LogsData {
    /// Checks whether this is the control message CloudWatch Logs sends to check that
    /// the destination is reachable.
    pub fn is_control_message(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

/// One log event (one access-log line).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LogEvent {
    /// CloudWatch Logs event id, unique per event.
    pub id: String,
    /// Ingestion timestamp in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log line.
    pub message: String,
}

/// A subscription payload that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CwlError {
    /// `awslogs.data` is not valid base64.
    #[error("awslogs.data is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),

    /// The decoded bytes do not start with the gzip magic bytes.
    #[error("awslogs.data is not gzip (first bytes {first_bytes}); CloudWatch Logs subscriptions deliver gzip")]
    NotGzip {
        /// Hex of the first two bytes, e.g. `789c` for zlib.
        first_bytes: String,
    },

    /// The gzip stream is corrupt or truncated.
    #[error("awslogs.data is corrupt gzip: {0}")]
    Gzip(#[source] std::io::Error),

    /// The payload decompresses to more than [`MAX_DECOMPRESSED_BYTES`].
    #[error("awslogs.data decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes")]
    TooLarge,

    /// The decompressed payload is not the subscription JSON.
    #[error("awslogs.data is not a CloudWatch Logs subscription payload: {0}")]
    Json(#[from] serde_json::Error),
}

/// Decodes `awslogs.data`: base64, then gzip, then JSON.
pub fn decode(data: &str) -> Result<LogsData, CwlError> {
    let compressed = base64::engine::general_purpose::STANDARD.decode(data.trim())?;
    if !compressed.starts_with(&[0x1f, 0x8b]) {
        let first_bytes = hex::encode(&compressed[..compressed.len().min(2)]);
        return Err(CwlError::NotGzip { first_bytes });
    }

    let mut json = Vec::new();
    MultiGzDecoder::new(compressed.as_slice())
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(CwlError::Gzip)?;
    if json.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(CwlError::TooLarge);
    }

    Ok(serde_json::from_slice(&json)?)
}

/// Encodes a payload the way CloudWatch Logs does; used by the demo and tests.
pub fn encode(data: &LogsData) -> String {
    use std::io::Write;

    let json = serde_json::to_vec(data).expect("LogsData always serializes");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&json).expect("writing to a Vec cannot fail");
    let compressed = encoder.finish().expect("writing to a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_round_trips_encode() {
        let data = LogsData {
            message_type: "DATA_MESSAGE".to_owned(),
            owner: "1".to_owned(),
            log_group: "g".to_owned(),
            log_stream: "s".to_owned(),
            subscription_filters: vec!["f".to_owned()],
            log_events: vec![LogEvent {
                id: "1".to_owned(),
                timestamp: 5,
                message: "line".to_owned(),
            }],
        };
        assert_eq!(decode(&encode(&data)).unwrap(), data);
    }

    #[test]
    fn decode_rejects_invalid_base64() {
        assert!(matches!(decode("not base64!"), Err(CwlError::Base64(_))));
    }

    #[test]
    fn decode_rejects_truncated_gzip() {
        let full = base64::engine::general_purpose::STANDARD
            .decode(encode(&LogsData {
                message_type: "DATA_MESSAGE".to_owned(),
                owner: String::new(),
                log_group: String::new(),
                log_stream: String::new(),
                subscription_filters: vec![],
                log_events: vec![],
            }))
            .unwrap();
        let truncated = base64::engine::general_purpose::STANDARD.encode(&full[..full.len() / 2]);
        assert!(matches!(decode(&truncated), Err(CwlError::Gzip(_))));
    }
}
