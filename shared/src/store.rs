//! Errors and attribute helpers common to the DynamoDB adapters.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

/// A DynamoDB item as the SDK returns it.
pub type Item = HashMap<String, AttributeValue>;

/// A storage call that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The DynamoDB call itself failed (network, throttling, service error).
    #[error("DynamoDB {operation} on table {table} failed: {detail}")]
    Dynamo {
        /// SDK operation name, such as `GetItem`.
        operation: &'static str,
        /// Table name.
        table: String,
        /// Whether DynamoDB could not be reached or was overloaded (connection
        /// failure, timeout, throttling, 5xx), as opposed to rejecting the
        /// request (missing table, access denied, invalid request).
        unavailable: bool,
        /// The SDK error with its causes, such as `ResourceNotFoundException: ...`.
        detail: String,
        /// The SDK error. It is not the error's `source()` because `detail`
        /// already carries its causes, and reports would repeat them.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An item exists but does not have the expected shape.
    #[error("item {pk}/{sk} in table {table} is invalid: {reason}")]
    InvalidItem {
        /// Table name.
        table: String,
        /// Partition key of the item.
        pk: String,
        /// Sort key of the item (empty when the table has none).
        sk: String,
        /// The problem found.
        reason: String,
    },

    /// A conditional write found no item to change.
    #[error("{entity} {id} not found in table {table}")]
    NotFound {
        /// Table name.
        table: String,
        /// Kind of item, such as `integration`.
        entity: &'static str,
        /// Id of the missing item.
        id: String,
    },
}

impl StoreError {
    /// Wraps an error of a DynamoDB call that is not an [`SdkError`], such as
    /// a request that could not be built. Such an error never counts as
    /// unavailable.
    pub fn dynamo<E>(operation: &'static str, table: &str, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        StoreError::Dynamo {
            operation,
            table: table.to_owned(),
            unavailable: false,
            detail: DisplayErrorContext(&source).to_string(),
            cause: Box::new(source),
        }
    }

    /// Wraps an SDK error with the operation and table it came from, and
    /// records whether it means DynamoDB was unavailable.
    pub fn from_sdk<E, R>(operation: &'static str, table: &str, source: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let unavailable = match &source {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(context) => {
                let code = context.err().code().unwrap_or_default();
                THROTTLING_CODES.contains(&code) || code.starts_with("InternalServer")
                    || code == "ServiceUnavailable"
            }
            _ => false,
        };

        StoreError::Dynamo {
            operation,
            table: table.to_owned(),
            unavailable,
            detail: sdk_error_detail(&source),
            cause: Box::new(source),
        }
    }

    /// Returns whether DynamoDB could not be reached or was overloaded,
    /// rather than rejecting the request or returning invalid data.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Dynamo { unavailable: true, .. })
    }
}

/// Describes an SDK error in one line: the service's error code and message,
/// or the transport failure with its causes.
fn sdk_error_detail<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or("unknown error code");
            let message = context.err().message().unwrap_or("no message");
            format!("{code}: {message}")
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

/// DynamoDB error codes that mean the request was throttled.
const THROTTLING_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// Reads a string attribute.
pub fn string(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

/// Reads a number attribute as `u64`.
pub fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// Reads a number attribute as `i64`.
pub fn signed_number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// Reads a boolean attribute.
pub fn boolean(item: &Item, name: &str) -> Option<bool> {
    item.get(name)?.as_bool().ok().copied()
}

/// Builds a string attribute value.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Builds a number attribute value.
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
