//! Quota reads from the usage table, cached per container.

use std::time::Duration;

use aforo::cache::TtlCache;
use aforo::catalog::Quota;
use aforo::period::Granularity;
use aforo::store::StoreError;
use aforo::usage::UsageStore;
use chrono::{DateTime, Utc};

/// Metric that request quotas count.
pub const REQUESTS_METRIC: &str = "requests";

/// Tenant, product, period length and period start of one usage read.
type QuotaKey = (String, String, Granularity, String);

/// Reads how much of a quota is used, caching each read for the catalog TTL.
///
/// NOTE: a cached read lets a tenant exceed its quota by the requests served
/// within one TTL; the aggregate itself also lags behind the access logs.
pub struct QuotaReader<U> {
    usage: U,
    used: TtlCache<QuotaKey, u64>,
}

impl<U: UsageStore> QuotaReader<U> {
    /// Reads through `usage`; a zero `ttl` turns caching off.
    pub fn new(usage: U, ttl: Duration) -> Self {
        Self {
            usage,
            used: TtlCache::new(ttl),
        }
    }

    /// Checks whether the requests counted in the quota period holding `at` have
    /// reached `quota.requests`.
    pub async fn is_exhausted(
        &self,
        tenant_id: &str,
        product_id: &str,
        quota: Quota,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let period_start = quota.period.period_start(at);
        let key = (tenant_id.to_owned(), product_id.to_owned(), quota.period, period_start);

        let used = match self.used.get(&key) {
            Some(used) => used,
            None => {
                let used = self
                    .usage
                    .aggregate(tenant_id, product_id, quota.period, &key.3, REQUESTS_METRIC)
                    .await?;
                self.used.insert(key, used);
                used
            }
        };
        Ok(used >= quota.requests)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use chrono::TimeZone;

    use super::*;
    use crate::testing::FakeUsage;

    fn quota() -> Quota {
        Quota {
            requests: 20,
            period: Granularity::Day,
        }
    }

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn quota_read_uses_request_period() {
        let reader = QuotaReader::new(FakeUsage::with("t", "p", Granularity::Day, "2026-12-04", 20), Duration::ZERO);
        assert!(reader.is_exhausted("t", "p", quota(), noon()).await.unwrap());

        let next_day = noon() + chrono::Duration::days(1);
        assert!(!reader.is_exhausted("t", "p", quota(), next_day).await.unwrap());
    }

    #[tokio::test]
    async fn quota_read_cached_within_ttl() {
        let reader = QuotaReader::new(FakeUsage::default(), Duration::from_secs(60));
        reader.is_exhausted("t", "p", quota(), noon()).await.unwrap();
        reader.is_exhausted("t", "p", quota(), noon()).await.unwrap();
        assert_eq!(reader.usage.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn quota_read_uncached_with_zero_ttl() {
        let reader = QuotaReader::new(FakeUsage::default(), Duration::ZERO);
        reader.is_exhausted("t", "p", quota(), noon()).await.unwrap();
        reader.is_exhausted("t", "p", quota(), noon()).await.unwrap();
        assert_eq!(reader.usage.reads.load(Ordering::SeqCst), 2);
    }
}
