//! Reading the dedupe table that ingest writes, to report events counted
//! before as duplicates.
//!
//! A dedupe record has partition key `pk` = the idempotency key and the TTL
//! attribute `expires_at` (epoch seconds). DynamoDB deletes expired items
//! lazily, so a record with `expires_at` before now counts as absent, as it
//! does for ingest's conditional put.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use aforo::store::{number, s, string, StoreError};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

/// Maximum number of keys in one `BatchGetItem` call (a DynamoDB limit).
const MAX_BATCH_KEYS: usize = 100;

/// `BatchGetItem` calls per chunk before unprocessed keys fail the lookup.
const MAX_ATTEMPTS: u32 = 5;

/// Backoff before the second call for unprocessed keys; it doubles after each call.
const BASE_DELAY: Duration = Duration::from_millis(50);

/// Read access to the dedupe table.
#[derive(Debug, Clone)]
pub(crate) struct DedupeReader {
    client: Client,
    table: String,
}

impl DedupeReader {
    /// Reads `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Returns the keys among `keys` that have a live dedupe record at `now`,
    /// read with strongly consistent reads.
    pub async fn live_keys(&self, keys: &[String], now: DateTime<Utc>) -> Result<HashSet<String>, StoreError> {
        // BatchGetItem rejects a request that names one key twice.
        let unique: Vec<String> = keys.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();

        let mut live = HashSet::new();
        for chunk in unique.chunks(MAX_BATCH_KEYS) {
            live.extend(self.live_keys_of_chunk(chunk, now.timestamp()).await?);
        }
        Ok(live)
    }

    async fn live_keys_of_chunk(&self, keys: &[String], now: i64) -> Result<Vec<String>, StoreError> {
        let mut pending = Some(self.request(keys)?);
        let mut live = Vec::new();
        let mut attempt = 0;

        while let Some(request) = pending.take() {
            attempt += 1;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|err| StoreError::dynamo("BatchGetItem", &self.table, err))?;

            let items = output.responses.unwrap_or_default().remove(&self.table).unwrap_or_default();
            for item in items {
                let expired = number(&item, "expires_at").is_some_and(|expires_at| (expires_at as i64) < now);
                if let (Some(pk), false) = (string(&item, "pk"), expired) {
                    live.push(pk);
                }
            }

            pending = unprocessed(output.unprocessed_keys, &self.table);
            if pending.is_some() {
                if attempt >= MAX_ATTEMPTS {
                    let reason = format!("keys still unprocessed after {MAX_ATTEMPTS} BatchGetItem calls");
                    return Err(StoreError::dynamo("BatchGetItem", &self.table, std::io::Error::other(reason)));
                }
                tokio::time::sleep(BASE_DELAY * 2u32.pow(attempt - 1)).await;
            }
        }
        Ok(live)
    }

    fn request(&self, keys: &[String]) -> Result<KeysAndAttributes, StoreError> {
        let keys = keys.iter().map(|key| HashMap::from([("pk".to_owned(), s(key))])).collect();
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .projection_expression("pk, expires_at")
            .build()
            .map_err(|err| StoreError::dynamo("BatchGetItem", &self.table, err))
    }
}

fn unprocessed(keys: Option<HashMap<String, KeysAndAttributes>>, table: &str) -> Option<KeysAndAttributes> {
    keys?.remove(table).filter(|request| !request.keys().is_empty())
}
