//! Errors of the ingest function.

/// A batch or a message that ingest could not handle.
///
/// [`crate::Ingest::handle`] returns only [`IngestError::InvalidEvent`] and
/// [`IngestError::MissingMessageId`], which fail the whole invocation. The
/// other variants fail one message, which is reported in `batchItemFailures`.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The event is not an SQS event with a `Records` array.
    #[error("event is not an SQS event: {0}")]
    InvalidEvent(String),

    /// A record failed and has no `messageId`, so its failure cannot be
    /// reported on its own and the whole batch must be retried.
    #[error("record {index} of the batch failed and has no messageId: {reason}")]
    MissingMessageId {
        /// Position of the record in `Records`.
        index: usize,
        /// Error that made the record fail.
        #[source]
        reason: Box<IngestError>,
    },

    /// The record is not a valid SQS message, for example an attribute with
    /// invalid base64.
    #[error("record is not a valid SQS message: {0}")]
    InvalidMessage(#[source] serde_json::Error),

    /// The message has no body.
    #[error("message has no body")]
    MissingBody,

    /// The body is not a metering envelope.
    #[error(transparent)]
    InvalidBody(#[from] aforo::envelope::EnvelopeError),

    /// A record of the envelope does not match the schema or fails
    /// validation. Only a message without an id fails for this, because
    /// otherwise the record is recorded as rejected input.
    #[error("record {index} of the message is invalid: {reason}")]
    InvalidRecord {
        /// Position of the record in the envelope's `records`.
        index: usize,
        /// Description of the problem, without the record's values.
        reason: String,
    },

    /// Some records of the message could not be committed to the ledger.
    #[error("{failed} of the message's records could not be committed: {reason}")]
    CommitFailed {
        /// Number of records that failed.
        failed: usize,
        /// Reason the first of them failed.
        reason: String,
    },
}

impl IngestError {
    /// Short name of the variant, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            IngestError::InvalidEvent(_) => "InvalidEvent",
            IngestError::MissingMessageId { .. } => "MissingMessageId",
            IngestError::InvalidMessage(_) => "InvalidMessage",
            IngestError::MissingBody => "MissingBody",
            IngestError::InvalidBody(_) => "InvalidBody",
            IngestError::InvalidRecord { .. } => "InvalidRecord",
            IngestError::CommitFailed { .. } => "CommitFailed",
        }
    }
}

impl From<IngestError> for lambda_runtime::Diagnostic {
    fn from(error: IngestError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}
