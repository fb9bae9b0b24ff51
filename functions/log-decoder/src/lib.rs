//! The log decoder: turns API Gateway access-log lines, delivered by a
//! CloudWatch Logs subscription filter, into metering records on SQS.
//!
//! Each line becomes billable usage, an unattributed request, or a rejected
//! line. Lines that are not billed, and lines of integrations with metering
//! turned off, are only counted. The records are packed into
//! envelopes and sent with [`aforo::sqs::SqsSender`].
#![warn(missing_docs)]

pub mod access_log;
mod config;
mod decoder;
pub mod record;

use aforo::catalog::{CachedCatalog, DynamoCatalog};
use aforo::sqs::SqsSender;

pub use config::{parse_status_classes, Config};
pub use decoder::{DecodeSummary, Decoder};

/// A delivery the decoder could not handle; the invocation fails and
/// CloudWatch Logs delivers the payload again.
#[derive(Debug, thiserror::Error)]
pub enum DecoderError {
    /// The event is not `{"awslogs":{"data":"..."}}`.
    #[error("event is not a CloudWatch Logs subscription event: {0}")]
    InvalidEvent(#[source] serde_json::Error),

    /// `awslogs.data` cannot be decoded.
    #[error(transparent)]
    Payload(#[from] aforo::cwl::CwlError),

    /// A catalog lookup failed, so lines cannot be attributed.
    #[error("catalog lookup failed: {0}")]
    Catalog(#[from] aforo::store::StoreError),

    /// A record does not fit into one message of the configured size.
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
            DecoderError::Catalog(_) => "CatalogUnavailable",
            DecoderError::Pack(_) => "RecordTooLarge",
            DecoderError::Send(_) => "SendFailed",
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

/// Builds a decoder on the catalog table and metering queue named in `config`,
/// with the catalog cached for `config.cache_ttl`.
pub fn from_sdk(sdk: &aws_config::SdkConfig, config: &Config) -> Decoder<CachedCatalog<DynamoCatalog>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let catalog = CachedCatalog::new(
        DynamoCatalog::new(dynamodb, &config.catalog_table),
        config.cache_ttl,
    );
    let sender = SqsSender::new(
        aws_sdk_sqs::Client::new(sdk),
        &config.queue_url,
        config.send_max_attempts,
    );
    Decoder::new(catalog, sender, config)
}
