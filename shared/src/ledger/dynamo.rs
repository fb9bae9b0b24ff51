//! The ledger in DynamoDB: an entry's dedupe record and its aggregate
//! increments are written in one `TransactWriteItems` call, so the entry is
//! counted exactly once or not at all.
//!
//! A dedupe record is put with the condition
//! `attribute_not_exists(pk) OR expires_at < :now`. DynamoDB deletes
//! TTL-expired items lazily, so an expired record that still exists counts as
//! absent. A transaction may touch an item only once, so the increments of all
//! entries in one transaction are merged per aggregate item. Entries are
//! grouped greedily into transactions of at most 100 actions.
//!
//! A cancelled transaction is read reason by reason. `ConditionalCheckFailed`
//! on a dedupe put means the entry was counted before: it is dropped and the
//! rest is resubmitted at once. Conflicts, throttling and unknown or missing
//! reasons are retried with backoff and never taken for a duplicate.
//!
//! DynamoDB rejects a whole transaction with a `ValidationException` when one
//! item is invalid, without naming it. Such a group is committed again one
//! entry per transaction, so only the invalid entries fail.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;

use super::{CommitOutcome, LedgerEntry, LedgerStore};
use crate::store::{n, s, string};

/// Maximum number of actions in one `TransactWriteItems` call (a DynamoDB limit).
const MAX_TRANSACTION_ACTIONS: usize = 100;

/// Backoff ceiling before the first retry, in milliseconds. It doubles with each retry.
const BACKOFF_BASE_MS: u64 = 50;

/// Largest backoff ceiling, in milliseconds.
const BACKOFF_CAP_MS: u64 = 2_000;

/// Cancellation reason codes that a later resubmission can clear.
const RETRYABLE_REASONS: [&str; 4] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// Error codes of a failed call that a later resubmission can clear.
const RETRYABLE_ERRORS: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "TransactionInProgressException",
    "ServiceUnavailable",
];

/// The ledger in the dedupe and usage tables, through the AWS SDK.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    dedupe_table: String,
    usage_table: String,
    dedupe_window: Duration,
    max_attempts: u32,
}

impl DynamoLedger {
    /// Writes dedupe records to `dedupe_table` and aggregates to `usage_table`.
    ///
    /// Dedupe records expire `dedupe_window` after they are written. A
    /// transaction that fails with a retryable error is sent at most
    /// `max_attempts` times in all (at least once). The SDK's own retries are
    /// turned off for these calls, so `max_attempts` is the whole budget.
    pub fn new(
        client: Client,
        dedupe_table: impl Into<String>,
        usage_table: impl Into<String>,
        dedupe_window: Duration,
        max_attempts: u32,
    ) -> Self {
        Self {
            client,
            dedupe_table: dedupe_table.into(),
            usage_table: usage_table.into(),
            dedupe_window,
            max_attempts: max_attempts.max(1),
        }
    }
}

impl LedgerStore for DynamoLedger {
    async fn commit(&self, entries: &[LedgerEntry]) -> Vec<CommitOutcome> {
        // An entry that no step below settles by mistake must be retried, never acknowledged.
        let mut outcomes =
            vec![CommitOutcome::Failed("entry was not committed".to_owned()); entries.len()];

        let (firsts, repeats) = split_repeats(entries);
        let (groups, oversized) = group_by_actions(entries, &firsts);

        for index in oversized {
            outcomes[index] = CommitOutcome::Failed(format!(
                "entry needs more than {MAX_TRANSACTION_ACTIONS} transaction actions, so it cannot be written atomically"
            ));
        }

        let mut queue: VecDeque<Group> = groups.into_iter().map(Group::new).collect();
        while let Some(group) = queue.pop_front() {
            let committed = self.commit_group(entries, group).await;
            for (index, outcome) in committed.settled {
                outcomes[index] = outcome;
            }
            queue.extend(committed.narrowed);
        }

        for (index, first) in repeats {
            outcomes[index] = match &outcomes[first] {
                CommitOutcome::Failed(reason) => CommitOutcome::Failed(reason.clone()),
                CommitOutcome::Accepted | CommitOutcome::Duplicate => CommitOutcome::Duplicate,
            };
        }
        outcomes
    }
}

/// Entries committed together in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    /// Indices into the entries passed to [`DynamoLedger::commit`].
    entries: Vec<usize>,
    /// Marks the group's dedupe records, so a retry can tell its own earlier
    /// commit (whose response was lost) from a true duplicate.
    commit_id: String,
}

impl Group {
    fn new(entries: Vec<usize>) -> Self {
        Self {
            entries,
            commit_id: format!("{:032x}", rand::random::<u128>()),
        }
    }
}

/// Outcome of one group.
#[derive(Debug, Default)]
struct GroupOutcome {
    /// Entries with a final outcome, by index.
    settled: Vec<(usize, CommitOutcome)>,
    /// Single-entry groups to commit instead, after DynamoDB rejected the
    /// whole transaction as invalid.
    narrowed: Vec<Group>,
}

impl DynamoLedger {
    /// Commits one group of entries that fits into one transaction and returns
    /// the outcome of each, by index into `entries`.
    ///
    /// DynamoDB rejects a whole transaction with a `ValidationException` when
    /// one of its items is invalid (an empty or oversized key, for example),
    /// and does not say which. The entries of such a group come back as
    /// single-entry groups, so that only the invalid entries fail. They keep
    /// the group's commit id, because an earlier attempt of the group may have
    /// been written before its response was lost.
    async fn commit_group(&self, entries: &[LedgerEntry], group: Group) -> GroupOutcome {
        let Group { entries: mut pending, commit_id } = group;
        let mut outcomes = Vec::new();
        let mut narrowed = Vec::new();
        let mut failed_attempts = 0;

        while !pending.is_empty() {
            let transaction = match self.transaction(entries, &pending, Utc::now(), &commit_id) {
                Ok(transaction) => transaction,
                Err(err) => {
                    outcomes.extend(fail_all(&mut pending, &format!("invalid transaction: {err}")));
                    break;
                }
            };

            let retry_reason = match self.send(transaction.items).await {
                Ok(()) => {
                    outcomes.extend(pending.drain(..).map(|index| (index, CommitOutcome::Accepted)));
                    break;
                }
                Err(SendError::Cancelled(reasons)) => {
                    let verdict = read_reasons(&transaction.actions, &reasons, &commit_id);
                    pending.retain(|index| !verdict.settled.iter().any(|(settled, _)| settled == index));
                    outcomes.extend(verdict.settled);
                    match verdict.retry {
                        Some(reason) => reason,
                        None => continue,
                    }
                }
                Err(SendError::Retryable(reason)) => reason,
                Err(SendError::Invalid(reason)) if pending.len() > 1 => {
                    tracing::warn!(
                        entries = pending.len(),
                        error = %reason,
                        "ledger transaction rejected as invalid, so its entries are committed one by one"
                    );
                    narrowed = single_entry_groups(&mut pending, &commit_id);
                    break;
                }
                Err(SendError::Invalid(reason) | SendError::Fatal(reason)) => {
                    outcomes.extend(fail_all(&mut pending, &reason));
                    break;
                }
            };

            failed_attempts += 1;
            if failed_attempts >= self.max_attempts {
                tracing::warn!(
                    attempts = failed_attempts,
                    entries = pending.len(),
                    error = %retry_reason,
                    "ledger transaction failed on every attempt"
                );
                let reason = format!("failed after {failed_attempts} attempts: {retry_reason}");
                outcomes.extend(fail_all(&mut pending, &reason));
                break;
            }

            let delay = backoff(failed_attempts);
            tracing::warn!(
                attempt = failed_attempts,
                max_attempts = self.max_attempts,
                delay_ms = delay.as_millis() as u64,
                entries = pending.len(),
                error = %retry_reason,
                "ledger transaction failed, retrying"
            );
            tokio::time::sleep(delay).await;
        }
        GroupOutcome {
            settled: outcomes,
            narrowed,
        }
    }

    /// Builds the transaction for the `pending` entries: one dedupe put per
    /// entry, then one update per distinct aggregate item.
    fn transaction(
        &self,
        entries: &[LedgerEntry],
        pending: &[usize],
        now: DateTime<Utc>,
        commit_id: &str,
    ) -> Result<Transaction, BuildError> {
        let mut items = Vec::new();
        let mut actions = Vec::new();

        for &index in pending {
            let put = self.dedupe_put(&entries[index], now, commit_id)?;
            items.push(TransactWriteItem::builder().put(put).build());
            actions.push(Action::Dedupe(index));
        }

        for ((pk, sk), (delta, owners)) in merge_increments(entries, pending) {
            let update = self.aggregate_update(pk, sk, delta)?;
            items.push(TransactWriteItem::builder().update(update).build());
            actions.push(Action::Aggregate(owners));
        }

        Ok(Transaction { items, actions })
    }

    fn dedupe_put(&self, entry: &LedgerEntry, now: DateTime<Utc>, commit_id: &str) -> Result<Put, BuildError> {
        let window = i64::try_from(self.dedupe_window.as_secs()).unwrap_or(i64::MAX);
        let expires_at = now.timestamp().saturating_add(window);

        Put::builder()
            .table_name(&self.dedupe_table)
            .item("pk", s(&entry.idempotency_key))
            .item("kind", s(entry.kind))
            .item("source", s(&entry.source))
            .item("event_time", s(entry.event_time.to_rfc3339_opts(SecondsFormat::Millis, true)))
            .item("first_seen_at", s(now.to_rfc3339_opts(SecondsFormat::Millis, true)))
            .item("expires_at", n(expires_at))
            .item("commit_id", s(commit_id))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
    }

    fn aggregate_update(&self, pk: &str, sk: &str, delta: u64) -> Result<Update, BuildError> {
        // `value` is a DynamoDB reserved word, so it needs a name placeholder.
        Update::builder()
            .table_name(&self.usage_table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("ADD #value :delta")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":delta", n(delta))
            .build()
    }

    async fn send(&self, items: Vec<TransactWriteItem>) -> Result<(), SendError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .customize()
            .config_override(aws_sdk_dynamodb::config::Builder::new().retry_config(RetryConfig::disabled()))
            .send()
            .await
            .map(|_| ())
            .map_err(SendError::from_sdk)
    }
}

/// A transaction's write items and, aligned with them, the entries each one writes for.
struct Transaction {
    items: Vec<TransactWriteItem>,
    actions: Vec<Action>,
}

/// The entries one transaction action writes for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// The dedupe put of one entry.
    Dedupe(usize),
    /// An aggregate update with the merged increments of these entries.
    Aggregate(Vec<usize>),
}

impl Action {
    fn entries(&self) -> &[usize] {
        match self {
            Action::Dedupe(index) => std::slice::from_ref(index),
            Action::Aggregate(indices) => indices,
        }
    }
}

/// Failure of a `TransactWriteItems` call.
#[derive(Debug)]
enum SendError {
    /// The transaction was cancelled, with the cancellation reasons as returned (possibly none).
    Cancelled(Vec<CancellationReason>),
    /// The call failed in a way that a later resubmission can clear.
    Retryable(String),
    /// DynamoDB rejected the request as invalid (`ValidationException`),
    /// possibly because of only one of its items.
    Invalid(String),
    /// The call can never succeed as built.
    Fatal(String),
}

impl SendError {
    fn from_sdk(error: SdkError<TransactWriteItemsError, HttpResponse>) -> Self {
        if let SdkError::ServiceError(context) = &error {
            if let TransactWriteItemsError::TransactionCanceledException(cancelled) = context.err() {
                return SendError::Cancelled(cancelled.cancellation_reasons().to_vec());
            }
        }

        let retryable = match &error {
            SdkError::ServiceError(context) => {
                let status = context.raw().status();
                status.is_server_error()
                    || status.as_u16() == 429
                    || context.err().code().is_some_and(|code| RETRYABLE_ERRORS.contains(&code))
            }
            SdkError::ConstructionFailure(_) => false,
            SdkError::DispatchFailure(failure) => !failure.is_user(),
            // Timeouts and unreadable responses leave the outcome unknown. A
            // resubmission is safe because the dedupe condition decides.
            _ => true,
        };

        let invalid = matches!(
            &error,
            SdkError::ServiceError(context) if context.err().code() == Some("ValidationException")
        );

        let message = match &error {
            SdkError::ServiceError(context) => format!(
                "{}: {}",
                context.err().code().unwrap_or("unknown error code"),
                context.err().message().unwrap_or("no message")
            ),
            other => error_chain(other),
        };
        if retryable {
            SendError::Retryable(message)
        } else if invalid {
            SendError::Invalid(message)
        } else {
            SendError::Fatal(message)
        }
    }
}

/// Joins the messages of an error and its sources, such as `dispatch failure:
/// io error: ...`. A source whose message repeats the one before is skipped,
/// because the SDK's operation errors print their inner exception's message
/// and then return that exception as their source.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut current = Some(error);

    while let Some(error) = current {
        let message = error.to_string();
        if messages.last() != Some(&message) {
            messages.push(message);
        }
        current = error.source();
    }
    messages.join(": ")
}

/// Result of reading the cancellation reasons of a transaction.
#[derive(Debug, Default, PartialEq, Eq)]
struct Verdict {
    /// Entries with a final outcome, which leave the transaction.
    settled: Vec<(usize, CommitOutcome)>,
    /// Reason the remaining entries wait for a retry with backoff. With `None`
    /// they are resubmitted at once.
    retry: Option<String>,
}

/// Reads the cancellation reasons of a transaction, aligned with its actions.
fn read_reasons(actions: &[Action], reasons: &[CancellationReason], commit_id: &str) -> Verdict {
    // Without one reason per action nothing can be attributed, so nothing is
    // taken for a duplicate.
    if reasons.len() != actions.len() {
        return Verdict {
            settled: Vec::new(),
            retry: Some(format!(
                "transaction cancelled with {} cancellation reasons for {} actions",
                reasons.len(),
                actions.len()
            )),
        };
    }

    let mut settled = BTreeMap::new();
    let mut invalid = Vec::new();
    let mut retry = None;

    for (action, reason) in actions.iter().zip(reasons) {
        let code = reason.code().unwrap_or("None");
        let message = reason.message().unwrap_or("no message");
        match (code, action) {
            ("None", _) => {}
            ("ConditionalCheckFailed", Action::Dedupe(index)) => {
                let outcome = if written_by(reason, commit_id) {
                    CommitOutcome::Accepted
                } else {
                    CommitOutcome::Duplicate
                };
                settled.insert(*index, outcome);
            }
            ("ValidationError", _) => invalid.push((action, message)),
            // Retryable codes, unknown codes, and a failed condition on an
            // update (which carries none) all wait for a retry.
            (code, _) => {
                let kind = if RETRYABLE_REASONS.contains(&code) { "" } else { "unexpected " };
                retry.get_or_insert_with(|| format!("{kind}cancellation reason {code}: {message}"));
            }
        }
    }

    // An entry that is a duplicate stays one, even when an update it shares is invalid.
    for (action, message) in invalid {
        for index in action.entries() {
            settled
                .entry(*index)
                .or_insert_with(|| CommitOutcome::Failed(format!("ValidationError: {message}")));
        }
    }

    if settled.is_empty() && retry.is_none() {
        retry = Some("transaction cancelled without a cancellation reason".to_owned());
    }

    Verdict {
        settled: settled.into_iter().collect(),
        retry,
    }
}

/// Checks whether the existing dedupe record, returned with a failed
/// condition, was written by this group's own earlier attempt.
fn written_by(reason: &CancellationReason, commit_id: &str) -> bool {
    reason
        .item()
        .and_then(|item| string(item, "commit_id"))
        .is_some_and(|found| found == commit_id)
}

/// Moves the `pending` entries into groups of one entry each, with the same commit id.
fn single_entry_groups(pending: &mut Vec<usize>, commit_id: &str) -> Vec<Group> {
    pending
        .drain(..)
        .map(|index| Group {
            entries: vec![index],
            commit_id: commit_id.to_owned(),
        })
        .collect()
}

fn fail_all(pending: &mut Vec<usize>, reason: &str) -> Vec<(usize, CommitOutcome)> {
    pending
        .drain(..)
        .map(|index| (index, CommitOutcome::Failed(reason.to_owned())))
        .collect()
}

/// Splits entry indices into the first occurrence of each idempotency key and
/// the later repeats, each paired with the index of its first occurrence.
fn split_repeats(entries: &[LedgerEntry]) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut first_by_key: HashMap<&str, usize> = HashMap::new();
    let mut firsts = Vec::new();
    let mut repeats = Vec::new();

    for (index, entry) in entries.iter().enumerate() {
        match first_by_key.get(entry.idempotency_key.as_str()) {
            Some(&first) => repeats.push((index, first)),
            None => {
                first_by_key.insert(&entry.idempotency_key, index);
                firsts.push(index);
            }
        }
    }
    (firsts, repeats)
}

/// Groups entries in order into transactions of at most
/// [`MAX_TRANSACTION_ACTIONS`] actions: one put per entry plus one update per
/// distinct aggregate item. Entries that need more actions than that on their
/// own are returned separately.
fn group_by_actions(entries: &[LedgerEntry], indices: &[usize]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut groups = Vec::new();
    let mut oversized = Vec::new();
    let mut group = Vec::new();
    let mut items: HashSet<(&str, &str)> = HashSet::new();

    for &index in indices {
        let own: HashSet<(&str, &str)> = entries[index]
            .increments
            .iter()
            .map(|increment| (increment.pk.as_str(), increment.sk.as_str()))
            .collect();
        if 1 + own.len() > MAX_TRANSACTION_ACTIONS {
            oversized.push(index);
            continue;
        }

        let added = own.difference(&items).count();
        if group.len() + items.len() + 1 + added > MAX_TRANSACTION_ACTIONS {
            groups.push(std::mem::take(&mut group));
            items.clear();
        }

        group.push(index);
        items.extend(own);
    }

    if !group.is_empty() {
        groups.push(group);
    }
    (groups, oversized)
}

/// Sums the increments of the `pending` entries per aggregate item, keeping
/// which entries contributed to each.
fn merge_increments<'a>(
    entries: &'a [LedgerEntry],
    pending: &[usize],
) -> BTreeMap<(&'a str, &'a str), (u64, Vec<usize>)> {
    let mut merged: BTreeMap<(&str, &str), (u64, Vec<usize>)> = BTreeMap::new();

    for &index in pending {
        for increment in &entries[index].increments {
            let (delta, owners) = merged
                .entry((increment.pk.as_str(), increment.sk.as_str()))
                .or_default();
            *delta = delta.saturating_add(increment.delta);
            if owners.last() != Some(&index) {
                owners.push(index);
            }
        }
    }
    merged
}

/// Picks a full-jitter backoff delay before retry number `failed_attempts`:
/// uniform between zero and a ceiling that doubles per retry up to [`BACKOFF_CAP_MS`].
fn backoff(failed_attempts: u32) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(20);
    let ceiling_ms = (BACKOFF_BASE_MS << exponent).min(BACKOFF_CAP_MS);
    Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Increment;
    use crate::store::Item;

    fn entry(key: &str, items: &[(&str, &str, u64)]) -> LedgerEntry {
        LedgerEntry {
            idempotency_key: key.to_owned(),
            kind: "usage",
            source: "aws-rest-petstore".to_owned(),
            event_time: DateTime::UNIX_EPOCH,
            increments: items
                .iter()
                .map(|(pk, sk, delta)| Increment {
                    pk: (*pk).to_owned(),
                    sk: (*sk).to_owned(),
                    delta: *delta,
                })
                .collect(),
        }
    }

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).message("test").build()
    }

    fn reason_with_commit_id(code: &str, commit_id: &str) -> CancellationReason {
        let item = Item::from([("commit_id".to_owned(), s(commit_id))]);
        CancellationReason::builder()
            .code(code)
            .set_item(Some(item))
            .build()
    }

    #[test]
    fn split_repeats_keeps_first_occurrence() {
        let entries = [entry("a", &[]), entry("b", &[]), entry("a", &[]), entry("a", &[])];
        let (firsts, repeats) = split_repeats(&entries);
        assert_eq!(firsts, [0, 1]);
        assert_eq!(repeats, [(2, 0), (3, 0)]);
    }

    #[test]
    fn group_by_actions_respects_limit() {
        let entries: Vec<_> = (0..150)
            .map(|i| entry(&format!("k{i}"), &[("TENANT#a", "x", 1), ("TENANT#a", "y", 1)]))
            .collect();
        let indices: Vec<_> = (0..150).collect();

        let (groups, oversized) = group_by_actions(&entries, &indices);

        assert!(oversized.is_empty());
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 98);
        assert_eq!(groups[1].len(), 52);
        assert_eq!(groups.concat(), indices);
    }

    #[test]
    fn group_by_actions_counts_distinct_items() {
        let entries: Vec<_> = (0..60)
            .map(|i| entry(&format!("k{i}"), &[("TENANT#a", format!("item-{i}").as_str(), 1)]))
            .collect();
        let indices: Vec<_> = (0..60).collect();

        let (groups, _) = group_by_actions(&entries, &indices);

        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 50);
    }

    #[test]
    fn group_by_actions_sets_aside_oversized_entry() {
        let sort_keys: Vec<String> = (0..MAX_TRANSACTION_ACTIONS).map(|i| format!("sk-{i}")).collect();
        let items: Vec<_> = sort_keys.iter().map(|sk| ("TENANT#a", sk.as_str(), 1)).collect();
        let entries = [entry("big", &items), entry("small", &[("TENANT#a", "sk-0", 1)])];

        let (groups, oversized) = group_by_actions(&entries, &[0, 1]);

        assert_eq!(oversized, [0]);
        assert_eq!(groups, [vec![1]]);
    }

    #[test]
    fn merge_increments_sums_shared_items() {
        let entries = [
            entry("a", &[("TENANT#a", "x", 2), ("TENANT#a", "y", 5)]),
            entry("b", &[("TENANT#a", "x", 3)]),
        ];

        let merged = merge_increments(&entries, &[0, 1]);

        assert_eq!(merged[&("TENANT#a", "x")], (5, vec![0, 1]));
        assert_eq!(merged[&("TENANT#a", "y")], (5, vec![0]));
    }

    #[test]
    fn read_reasons_marks_failed_condition_duplicate() {
        let actions = [Action::Dedupe(4), Action::Dedupe(7), Action::Aggregate(vec![4, 7])];
        let reasons = [reason("None"), reason("ConditionalCheckFailed"), reason("None")];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert_eq!(verdict.settled, [(7, CommitOutcome::Duplicate)]);
        assert_eq!(verdict.retry, None);
    }

    #[test]
    fn read_reasons_recognises_own_commit() {
        let actions = [Action::Dedupe(0), Action::Aggregate(vec![0])];
        let reasons = [reason_with_commit_id("ConditionalCheckFailed", "mine"), reason("None")];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert_eq!(verdict.settled, [(0, CommitOutcome::Accepted)]);
    }

    #[test]
    fn read_reasons_retries_conflict() {
        let actions = [Action::Dedupe(0), Action::Aggregate(vec![0])];
        let reasons = [reason("None"), reason("TransactionConflict")];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert!(verdict.settled.is_empty());
        assert!(verdict.retry.is_some_and(|reason| reason.contains("TransactionConflict")));
    }

    #[test]
    fn read_reasons_keeps_duplicate_beside_conflict() {
        let actions = [Action::Dedupe(0), Action::Dedupe(1), Action::Aggregate(vec![0, 1])];
        let reasons = [reason("ConditionalCheckFailed"), reason("None"), reason("ThrottlingError")];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert_eq!(verdict.settled, [(0, CommitOutcome::Duplicate)]);
        assert!(verdict.retry.is_some());
    }

    #[test]
    fn read_reasons_retries_missing_reasons() {
        let actions = [Action::Dedupe(0), Action::Aggregate(vec![0])];

        let verdict = read_reasons(&actions, &[], "mine");

        assert!(verdict.settled.is_empty());
        assert!(verdict.retry.is_some());
    }

    #[test]
    fn read_reasons_retries_reasons_without_codes() {
        let actions = [Action::Dedupe(0)];
        let reasons = [CancellationReason::builder().build()];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert!(verdict.settled.is_empty());
        assert!(verdict.retry.is_some());
    }

    #[test]
    fn read_reasons_retries_condition_on_update() {
        let actions = [Action::Dedupe(0), Action::Aggregate(vec![0])];
        let reasons = [reason("None"), reason("ConditionalCheckFailed")];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert!(verdict.settled.is_empty());
        assert!(verdict.retry.is_some_and(|reason| reason.contains("unexpected")));
    }

    #[test]
    fn read_reasons_fails_entries_of_invalid_update() {
        let actions = [
            Action::Dedupe(0),
            Action::Dedupe(1),
            Action::Dedupe(2),
            Action::Aggregate(vec![0, 1]),
        ];
        let reasons = [
            reason("ConditionalCheckFailed"),
            reason("None"),
            reason("None"),
            reason("ValidationError"),
        ];

        let verdict = read_reasons(&actions, &reasons, "mine");

        assert_eq!(verdict.settled.len(), 2);
        assert_eq!(verdict.settled[0], (0, CommitOutcome::Duplicate));
        assert!(matches!(&verdict.settled[1], (1, CommitOutcome::Failed(reason)) if reason.contains("ValidationError")));
        assert_eq!(verdict.retry, None);
    }

    /// An error with a message and an optional source, like the SDK's.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|source| source as _)
        }
    }

    #[test]
    fn error_chain_names_repeated_cause_once() {
        let cause = Layer("ValidationException: key too long", None);
        let operation = Layer("ValidationException: key too long", Some(Box::new(cause)));
        let error = Layer("service error", Some(Box::new(operation)));

        assert_eq!(error_chain(&error), "service error: ValidationException: key too long");
    }

    #[test]
    fn backoff_stays_under_cap() {
        for attempt in [1, 2, 5, 30, u32::MAX] {
            assert!(backoff(attempt) <= Duration::from_millis(BACKOFF_CAP_MS));
        }
        assert!(backoff(1) <= Duration::from_millis(BACKOFF_BASE_MS));
    }
}
