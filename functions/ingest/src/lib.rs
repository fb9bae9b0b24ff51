//! Ingest: the SQS-triggered function that commits metering records to the
//! ledger, exactly once per record.
//!
//! Each message of a batch is read on its own, so an invalid message fails
//! alone. Each record of a message is read and validated on its own too: a
//! record that fails is written as rejected input under `REJECTED#ingest`,
//! and the message's other records are still committed. Every record becomes
//! a [`LedgerEntry`](aforo::ledger::LedgerEntry) committed by a
//! [`LedgerStore`](aforo::ledger::LedgerStore). The handler
//! returns a partial-batch response (`ReportBatchItemFailures`) listing only
//! the messages that must be redelivered. Records of such a message that were
//! committed come back as duplicates, so totals stay exact.
#![warn(missing_docs)]

mod batch;
mod config;
mod error;
mod handler;

use aforo::ledger::DynamoLedger;

pub use config::Config;
pub use error::IngestError;
pub use handler::{Ingest, IngestSummary};

/// Builds a handler on the dedupe and usage tables named in `config`.
pub fn from_sdk(sdk: &aws_config::SdkConfig, config: &Config) -> Ingest<DynamoLedger> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    Ingest::new(DynamoLedger::new(
        client,
        &config.dedupe_table,
        &config.usage_table,
        config.dedupe_window,
        config.write_max_attempts,
    ))
}
