//! The log decoder: turns API Gateway access-log lines, delivered by a
//! CloudWatch Logs subscription filter, into metering records on SQS.
//!
//! Each line becomes billable usage, an unattributed request, or a rejected
//! line. Lines that are not billed, and lines of integrations with metering
//! turned off, are only counted. Each record is validated and checked against
//! the message size limit. A record that fails is replaced by a rejected line,
//! so a bad line does not fail the delivery unless even that rejected line is
//! too large. The records are packed into envelopes and sent with
//! [`aforo::sqs::SqsSender`].
#![warn(missing_docs)]

pub mod access_log;
mod config;
mod decoder;
mod error;
pub mod record;

use aforo::catalog::{CachedCatalog, DynamoCatalog};
use aforo::sqs::SqsSender;

pub use config::{parse_status_classes, Config};
pub use decoder::{DecodeSummary, Decoder};
pub use error::DecoderError;

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
