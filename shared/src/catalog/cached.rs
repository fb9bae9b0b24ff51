//! A TTL cache in front of any catalog store, kept per Lambda container.

use std::time::Duration;

use super::{ApiKey, CatalogStore, Integration, IntegrationKey, Plan, Route, Subscription, Tenant};
use crate::cache::TtlCache;
use crate::store::StoreError;

/// Caches every catalog lookup for a short TTL, misses included, so a burst
/// of requests with an unknown key does not reach DynamoDB each time.
/// Errors are not cached.
pub struct CachedCatalog<S> {
    inner: S,
    api_keys: TtlCache<String, Option<ApiKey>>,
    tenants: TtlCache<String, Option<Tenant>>,
    integrations: TtlCache<String, Option<Integration>>,
    integrations_by_api: TtlCache<String, Option<Integration>>,
    routes: TtlCache<String, Vec<Route>>,
    subscriptions: TtlCache<String, Vec<Subscription>>,
    plans: TtlCache<String, Option<Plan>>,
    integration_keys: TtlCache<String, Option<IntegrationKey>>,
}

impl<S: CatalogStore> CachedCatalog<S> {
    /// Wraps `inner`; a zero `ttl` turns caching off.
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            api_keys: TtlCache::new(ttl),
            tenants: TtlCache::new(ttl),
            integrations: TtlCache::new(ttl),
            integrations_by_api: TtlCache::new(ttl),
            routes: TtlCache::new(ttl),
            subscriptions: TtlCache::new(ttl),
            plans: TtlCache::new(ttl),
            integration_keys: TtlCache::new(ttl),
        }
    }

    /// Returns the wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

async fn cached<V, F>(cache: &TtlCache<String, V>, key: &str, load: F) -> Result<V, StoreError>
where
    V: Clone,
    F: std::future::Future<Output = Result<V, StoreError>>,
{
    if let Some(value) = cache.get(&key.to_owned()) {
        return Ok(value);
    }
    let value = load.await?;
    cache.insert(key.to_owned(), value.clone());
    Ok(value)
}

impl<S: CatalogStore> CatalogStore for CachedCatalog<S> {
    async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        cached(&self.api_keys, key_hash, self.inner.api_key(key_hash)).await
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        cached(&self.tenants, tenant_id, self.inner.tenant(tenant_id)).await
    }

    async fn integration(&self, integration_id: &str) -> Result<Option<Integration>, StoreError> {
        cached(&self.integrations, integration_id, self.inner.integration(integration_id)).await
    }

    async fn integration_for_api(&self, api_id: &str) -> Result<Option<Integration>, StoreError> {
        cached(&self.integrations_by_api, api_id, self.inner.integration_for_api(api_id)).await
    }

    async fn routes(&self, integration_id: &str) -> Result<Vec<Route>, StoreError> {
        cached(&self.routes, integration_id, self.inner.routes(integration_id)).await
    }

    async fn subscriptions(&self, tenant_id: &str) -> Result<Vec<Subscription>, StoreError> {
        cached(&self.subscriptions, tenant_id, self.inner.subscriptions(tenant_id)).await
    }

    async fn plan(&self, plan_id: &str) -> Result<Option<Plan>, StoreError> {
        cached(&self.plans, plan_id, self.inner.plan(plan_id)).await
    }

    async fn integration_key(&self, key_hash: &str) -> Result<Option<IntegrationKey>, StoreError> {
        cached(&self.integration_keys, key_hash, self.inner.integration_key(key_hash)).await
    }
}
