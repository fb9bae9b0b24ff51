//! `Idempotency-Key` records in DynamoDB: a request claims its key with a
//! conditional put, stores its response when it completes, and deletes the
//! record when it fails with a server error, so a retry can run.
//!
//! Item layout (partition key `pk` = `<integration id>#<Idempotency-Key>`):
//! `state` (`in_progress` or `completed`), `fingerprint` (hex SHA-256 of the
//! content type, a newline and the decompressed body), `owner` (random id of
//! the request holding the record), `lease_expires_at` (epoch seconds, while
//! in progress), `status_code`, `content_type` and `response_body` (once
//! completed), and the TTL attribute `expires_at` (epoch seconds).
//!
//! DynamoDB deletes TTL-expired items lazily, so a record whose `expires_at`
//! has passed counts as absent. An in-progress record whose lease has run out
//! belongs to a request that crashed or timed out. The next request with the
//! same key and content takes it over.

use std::time::Duration;

use aforo::store::{n, number, s, string, Item, StoreError};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// Times a claim is tried again when the record changed between the failed
/// put and the read that explains it.
const CLAIM_ATTEMPTS: u32 = 3;

/// Maximum `Idempotency-Key` length, in characters.
const MAX_KEY_CHARS: usize = 255;

/// Returns the fingerprint of a request: hex SHA-256 of its content type, a
/// newline and its decompressed body. The same content compressed another way
/// has the same fingerprint.
pub fn fingerprint(content_type: &str, payload: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(content_type.as_bytes());
    hasher.update(b"\n");
    hasher.update(payload);
    hex::encode(hasher.finalize())
}

/// Whether an `Idempotency-Key` value is 1 to 255 printable ASCII characters.
pub(crate) fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|byte| (0x20..=0x7e).contains(&byte))
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// Response body.
    pub body: String,
}

/// A record that this request owns until it completes or releases it.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pk: String,
    owner: String,
}

/// Outcome of a claim on a key.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The key is this request's to process.
    Owned(Lease),
    /// A request with the same content completed; its response is replayed.
    Completed(StoredResponse),
    /// A request with the same content holds a live lease.
    InProgress {
        /// Seconds until the lease runs out, at least 1.
        retry_after: u64,
    },
    /// The key was used with other content.
    Mismatch,
}

/// Result of the conditional put of an in-progress record.
enum PutOutcome {
    /// The record is now this request's.
    Put,
    /// A record blocked the put; `None` when it is gone by the time it was read.
    Blocked(Option<Item>),
}

/// The `Idempotency-Key` table.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyStore {
    client: Client,
    table: String,
    lease: Duration,
    ttl: Duration,
}

impl IdempotencyStore {
    /// Uses `table`; leases last `lease`, completed records are kept for `ttl`.
    pub fn new(client: Client, table: impl Into<String>, lease: Duration, ttl: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            lease,
            ttl,
        }
    }

    /// Claims `key` of `integration_id` for a request with `fingerprint`, or
    /// reports the state of the record that blocks the claim.
    pub async fn claim(&self, integration_id: &str, key: &str, fingerprint: &str) -> Result<Claim, StoreError> {
        let pk = format!("{integration_id}#{key}");

        for _ in 0..CLAIM_ATTEMPTS {
            let now = Utc::now();
            let owner = format!("{:032x}", rand::random::<u128>());

            let existing = match self.put_in_progress(&pk, fingerprint, &owner, now).await? {
                PutOutcome::Put => return Ok(Claim::Owned(Lease { pk, owner })),
                PutOutcome::Blocked(existing) => existing,
            };

            if let Some(claim) = self.read_claim(&existing, fingerprint, now)? {
                return Ok(claim);
            }
            // The record changed between the put and the read: try again.
        }

        Ok(Claim::InProgress { retry_after: 1 })
    }

    /// Puts an in-progress record unless a live one blocks it.
    async fn put_in_progress(
        &self,
        pk: &str,
        fingerprint: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<PutOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("state", s(IN_PROGRESS))
            .item("fingerprint", s(fingerprint))
            .item("owner", s(owner))
            .item("lease_expires_at", n(epoch_after(now, self.lease)))
            .item("expires_at", n(epoch_after(now, self.ttl.max(self.lease))))
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now \
                 OR (#state = :in_progress AND lease_expires_at <= :now AND fingerprint = :fingerprint)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":fingerprint", s(fingerprint))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;

        match result {
            Ok(_) => Ok(PutOutcome::Put),
            Err(SdkError::ServiceError(failure)) => match failure.into_err() {
                // A store that ignores ReturnValuesOnConditionCheckFailure returns no item.
                PutItemError::ConditionalCheckFailedException(conflict) => match conflict.item {
                    Some(item) => Ok(PutOutcome::Blocked(Some(item))),
                    None => Ok(PutOutcome::Blocked(self.get(pk).await?)),
                },
                other => Err(StoreError::dynamo("PutItem", &self.table, other)),
            },
            Err(err) => Err(StoreError::dynamo("PutItem", &self.table, err)),
        }
    }

    /// Reads an existing record into a claim result. Returns `None` when the
    /// record no longer blocks a claim, so the caller tries again.
    fn read_claim(&self, existing: &Option<Item>, fingerprint: &str, now: DateTime<Utc>) -> Result<Option<Claim>, StoreError> {
        let Some(item) = existing else {
            return Ok(None);
        };
        let now = now.timestamp();

        let expired = number(item, "expires_at").is_some_and(|expires_at| (expires_at as i64) < now);
        if expired {
            return Ok(None);
        }
        if string(item, "fingerprint").as_deref() != Some(fingerprint) {
            return Ok(Some(Claim::Mismatch));
        }

        match string(item, "state").as_deref() {
            Some(COMPLETED) => Ok(Some(Claim::Completed(self.stored_response(item)?))),
            Some(IN_PROGRESS) => {
                let lease_expires_at = number(item, "lease_expires_at").unwrap_or_default() as i64;
                if lease_expires_at <= now {
                    return Ok(None);
                }
                let retry_after = u64::try_from(lease_expires_at - now).unwrap_or(1).max(1);
                Ok(Some(Claim::InProgress { retry_after }))
            }
            _ => Err(self.invalid(item, "state is neither in_progress nor completed")),
        }
    }

    fn stored_response(&self, item: &Item) -> Result<StoredResponse, StoreError> {
        let status = number(item, "status_code")
            .and_then(|status| u16::try_from(status).ok())
            .ok_or_else(|| self.invalid(item, "completed record has no valid status_code"))?;
        let body = string(item, "response_body")
            .ok_or_else(|| self.invalid(item, "completed record has no response_body"))?;
        let content_type = string(item, "content_type").unwrap_or_else(|| crate::reply::JSON.to_owned());

        Ok(StoredResponse {
            status,
            content_type,
            body,
        })
    }

    /// Stores the response of the request that owns `lease`. Returns false
    /// when another request took the record over meanwhile, which then keeps it.
    // NOTE: a DynamoDB item is limited to 400 KB. The results of 1000 events
    // stay well below that, but a much larger MAX_EVENTS may not fit.
    pub async fn complete(&self, lease: &Lease, response: &StoredResponse) -> Result<bool, StoreError> {
        let now = Utc::now();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&lease.pk))
            .update_expression(
                "SET #state = :completed, status_code = :status, content_type = :content_type, \
                 response_body = :body, expires_at = :expires_at REMOVE lease_expires_at",
            )
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":status", n(response.status))
            .expression_attribute_values(":content_type", s(&response.content_type))
            .expression_attribute_values(":body", s(&response.body))
            .expression_attribute_values(":expires_at", n(epoch_after(now, self.ttl)))
            .expression_attribute_values(":owner", s(&lease.owner))
            .send()
            .await;

        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(StoreError::dynamo("UpdateItem", &self.table, err)),
        }
    }

    /// Deletes the record of a request that failed, unless another request
    /// took it over meanwhile.
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&lease.pk))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(&lease.owner))
            .send()
            .await;

        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(StoreError::dynamo("DeleteItem", &self.table, err)),
        }
    }

    async fn get(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| StoreError::dynamo("GetItem", &self.table, err))?;
        Ok(output.item)
    }

    fn invalid(&self, item: &Item, reason: &str) -> StoreError {
        StoreError::InvalidItem {
            table: self.table.clone(),
            pk: string(item, "pk").unwrap_or_default(),
            sk: String::new(),
            reason: reason.to_owned(),
        }
    }
}

fn epoch_after(now: DateTime<Utc>, duration: Duration) -> i64 {
    let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    now.timestamp().saturating_add(seconds)
}

fn is_condition_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|service| service.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_hashes_type_newline_body() {
        let expected = hex::encode(Sha256::digest(b"application/json\n{\"a\":1}"));
        assert_eq!(fingerprint("application/json", b"{\"a\":1}"), expected);
    }

    #[test]
    fn fingerprint_depends_on_content_type() {
        assert_ne!(fingerprint("application/json", b"{}"), fingerprint("text/plain", b"{}"));
    }

    #[test]
    fn valid_key_accepts_printable_ascii() {
        assert!(is_valid_key("batch-2026-12-01T10:00:00Z #1"));
    }

    #[test]
    fn valid_key_rejects_empty_and_long() {
        assert!(!is_valid_key(""));
        assert!(!is_valid_key(&"k".repeat(256)));
    }

    #[test]
    fn valid_key_rejects_control_and_non_ascii() {
        assert!(!is_valid_key("a\tb"));
        assert!(!is_valid_key("clé"));
    }
}
