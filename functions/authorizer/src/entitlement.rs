//! Whether a tenant is entitled to a product at a given time.

use aforo::catalog::{CatalogStore, Subscription};
use aforo::store::StoreError;
use aforo::usage::UsageStore;
use chrono::{DateTime, Utc};

use crate::decision::DenyReason;
use crate::quota::QuotaReader;

/// A tenant's access to one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// In-force subscription and quota left.
    Entitled,
    /// Denied for the reason given.
    Denied(DenyReason),
}

/// Checks a tenant's access to `product_id` at `at`: an in-force subscription
/// to the product, and the plan's quota not yet used up.
pub async fn product_access<C: CatalogStore, U: UsageStore>(
    catalog: &C,
    quotas: &QuotaReader<U>,
    subscriptions: &[Subscription],
    product_id: &str,
    at: DateTime<Utc>,
) -> Result<Access, StoreError> {
    let mut for_product = subscriptions.iter().filter(|s| s.product_id == product_id).peekable();
    if for_product.peek().is_none() {
        return Ok(Access::Denied(DenyReason::NotSubscribed));
    }
    let Some(subscription) = for_product.find(|s| s.is_in_force_at(at)) else {
        return Ok(Access::Denied(DenyReason::SubscriptionInactive));
    };

    let Some(plan) = catalog.plan(&subscription.plan_id).await? else {
        tracing::error!(
            tenant_id = %subscription.tenant_id,
            product_id,
            plan_id = %subscription.plan_id,
            "plan of the subscription not found in the catalog, so the product is denied; add the plan or fix the subscription"
        );
        return Ok(Access::Denied(DenyReason::EntitlementUnavailable));
    };

    // A plan without a quota is unlimited.
    let Some(quota) = plan.quota else {
        return Ok(Access::Entitled);
    };
    if quotas.is_exhausted(&subscription.tenant_id, product_id, quota, at).await? {
        return Ok(Access::Denied(DenyReason::QuotaExhausted));
    }
    Ok(Access::Entitled)
}
