//! Reading aggregated usage: quota checks and reports.

use std::future::Future;

use aws_sdk_dynamodb::Client;

use crate::keys;
use crate::period::Granularity;
use crate::store::{number, s, string, Item, StoreError};

/// One aggregate item of the usage table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    /// Partition key: `TENANT#…`, `UNATTRIBUTED#…` or `REJECTED#…`.
    pub pk: String,
    /// Period length.
    pub granularity: Granularity,
    /// Period start as in keys, e.g. `2026-12`.
    pub period_start: String,
    /// Product id, or the reason for unattributed and rejected rows.
    pub subject: String,
    /// Metric name.
    pub metric: String,
    /// Aggregated value.
    pub value: u64,
}

impl AggregateRow {
    /// Parses an aggregate item; `None` for items of another shape.
    pub fn from_item(item: &Item) -> Option<Self> {
        let pk = string(item, "pk")?;
        let sk = string(item, "sk")?;
        let rest = sk.strip_prefix(keys::USAGE_SK_PREFIX)?;

        let mut parts = rest.splitn(4, '#');
        let granularity = parts.next()?.parse().ok()?;
        let period_start = parts.next()?.to_owned();
        let subject = parts.next()?.to_owned();
        let metric = parts.next()?.to_owned();

        Some(Self {
            pk,
            granularity,
            period_start,
            subject,
            metric,
            value: number(item, "value").unwrap_or(0),
        })
    }
}

/// Reads aggregates for quota checks.
pub trait UsageStore: Send + Sync {
    /// Reads the aggregated value of one metric of a tenant's product in one period;
    /// zero when nothing was recorded.
    fn aggregate(
        &self,
        tenant_id: &str,
        product_id: &str,
        granularity: Granularity,
        period_start: &str,
        metric: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The usage table through the AWS SDK.
#[derive(Debug, Clone)]
pub struct DynamoUsage {
    client: Client,
    table: String,
}

impl DynamoUsage {
    /// Uses `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Reads all aggregate rows under one partition key, such as `TENANT#acme`.
    pub async fn rows(&self, pk: &str) -> Result<Vec<AggregateRow>, StoreError> {
        let mut rows = Vec::new();
        let mut start_key = None;

        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(keys::USAGE_SK_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("Query", &self.table, err))?;

            rows.extend(output.items().iter().filter_map(AggregateRow::from_item));
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(rows);
            }
        }
    }

    /// Scans every aggregate row of the table; for operator reports, not hot paths.
    pub async fn scan_all(&self) -> Result<Vec<AggregateRow>, StoreError> {
        let mut rows = Vec::new();
        let mut start_key = None;

        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("Scan", &self.table, err))?;

            rows.extend(output.items().iter().filter_map(AggregateRow::from_item));
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                rows.sort_by(|a, b| (&a.pk, &a.period_start, &a.subject).cmp(&(&b.pk, &b.period_start, &b.subject)));
                return Ok(rows);
            }
        }
    }
}

impl UsageStore for DynamoUsage {
    async fn aggregate(
        &self,
        tenant_id: &str,
        product_id: &str,
        granularity: Granularity,
        period_start: &str,
        metric: &str,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::usage_pk(tenant_id)))
            .key(
                "sk",
                s(keys::usage_sk(granularity.as_str(), period_start, product_id, metric)),
            )
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("GetItem", &self.table, err))?;

        Ok(output.item.as_ref().and_then(|item| number(item, "value")).unwrap_or(0))
    }
}
