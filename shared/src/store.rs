//! Errors and attribute helpers common to the DynamoDB adapters.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A DynamoDB item as the SDK returns it.
pub type Item = HashMap<String, AttributeValue>;

/// A storage call that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The DynamoDB call itself failed (network, throttling, service error).
    #[error("DynamoDB {operation} on table {table} failed: {source}")]
    Dynamo {
        /// SDK operation name, such as `GetItem`.
        operation: &'static str,
        /// Table name.
        table: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// Wraps an SDK error with the operation and table it came from.
    pub fn dynamo<E>(operation: &'static str, table: &str, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        StoreError::Dynamo {
            operation,
            table: table.to_owned(),
            source: Box::new(source),
        }
    }
}

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

/// A string attribute value.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
