//! Errors of the log decoder.

use aforo::store::StoreError;

/// Maximum length of a message type quoted in an error, in characters.
const MAX_QUOTED_MESSAGE_TYPE_CHARS: usize = 64;

/// A delivery the decoder could not handle. The invocation fails, so Lambda
/// retries the asynchronous invocation and then sends the event to the
/// function's on-failure destination.
#[derive(Debug, thiserror::Error)]
pub enum DecoderError {
    /// The event is not `{"awslogs":{"data":"..."}}`.
    #[error("event is not a CloudWatch Logs subscription event: {0}")]
    InvalidEvent(#[source] serde_json::Error),

    /// `awslogs.data` cannot be decoded.
    #[error(transparent)]
    Payload(#[from] aforo::cwl::CwlError),

    /// The payload's `messageType` is neither `DATA_MESSAGE` nor `CONTROL_MESSAGE`.
    #[error("unknown CloudWatch Logs messageType {message_type:?}; expected DATA_MESSAGE or CONTROL_MESSAGE")]
    UnknownMessageType {
        /// The message type found, shortened to 64 characters.
        message_type: String,
    },

    /// A catalog lookup failed, so lines cannot be attributed.
    ///
    /// The message includes the store error and its cause, so the store error
    /// is kept but not returned by `source()`, which would print it again.
    #[error("catalog lookup for log event {log_event_id} failed: {error}")]
    Catalog {
        /// CloudWatch Logs event id of the line being attributed.
        log_event_id: String,
        /// The store error.
        error: StoreError,
    },

    /// The record of a line does not fit into one message, even as a rejected line.
    #[error("metering record of log event {log_event_id} does not fit into one message: {source}")]
    RecordTooLarge {
        /// CloudWatch Logs event id of the line.
        log_event_id: String,
        /// The size check that failed.
        #[source]
        source: aforo::envelope::EnvelopeError,
    },

    /// Records could not be packed into messages.
    #[error("cannot pack metering records: {0}")]
    Pack(#[from] aforo::envelope::EnvelopeError),

    /// Records could not be sent to the metering queue.
    #[error("cannot send metering records: {0}")]
    Send(#[from] aforo::sqs::SendError),
}

impl DecoderError {
    /// Short name of the variant, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            DecoderError::InvalidEvent(_) => "InvalidEvent",
            DecoderError::Payload(_) => "InvalidPayload",
            DecoderError::UnknownMessageType { .. } => "UnknownMessageType",
            DecoderError::Catalog { .. } => "CatalogUnavailable",
            DecoderError::RecordTooLarge { .. } => "RecordTooLarge",
            DecoderError::Pack(_) => "PackFailed",
            DecoderError::Send(_) => "SendFailed",
        }
    }

    /// Builds a [`DecoderError::UnknownMessageType`] that quotes at most 64
    /// characters of `message_type`.
    pub(crate) fn unknown_message_type(message_type: &str) -> Self {
        DecoderError::UnknownMessageType {
            message_type: message_type.chars().take(MAX_QUOTED_MESSAGE_TYPE_CHARS).collect(),
        }
    }
}

impl From<DecoderError> for lambda_runtime::Diagnostic {
    fn from(error: DecoderError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_message_type_is_shortened() {
        let error = DecoderError::unknown_message_type(&"X".repeat(1_000));
        let DecoderError::UnknownMessageType { message_type } = &error else {
            panic!("expected UnknownMessageType, got {error:?}");
        };
        assert_eq!(message_type.len(), 64);
    }

    #[test]
    fn catalog_error_has_no_source() {
        let error = DecoderError::Catalog {
            log_event_id: "1".to_owned(),
            error: StoreError::NotFound {
                table: "catalog".to_owned(),
                entity: "tenant",
                id: "acme".to_owned(),
            },
        };
        assert!(std::error::Error::source(&error).is_none());
        assert_eq!(
            error.to_string(),
            "catalog lookup for log event 1 failed: tenant acme not found in table catalog"
        );
    }
}
