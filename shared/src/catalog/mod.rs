//! The product catalog: tenants, API keys, gateway integrations, products and
//! their routes, plans with quotas, and subscriptions.

mod cached;
mod dynamo;
mod model;

use std::future::Future;

pub use cached::CachedCatalog;
pub use dynamo::DynamoCatalog;
pub use model::*;

use crate::store::StoreError;

/// Read access to the catalog. The DynamoDB adapter is the real
/// implementation; [`CachedCatalog`] wraps any implementation with a TTL cache.
pub trait CatalogStore: Send + Sync {
    /// Finds an API key by the SHA-256 hash of the key.
    fn api_key(&self, key_hash: &str) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// Finds a tenant.
    fn tenant(&self, tenant_id: &str) -> impl Future<Output = Result<Option<Tenant>, StoreError>> + Send;

    /// Finds a gateway integration by id.
    fn integration(
        &self,
        integration_id: &str,
    ) -> impl Future<Output = Result<Option<Integration>, StoreError>> + Send;

    /// Finds the integration that an API Gateway API id belongs to.
    fn integration_for_api(
        &self,
        api_id: &str,
    ) -> impl Future<Output = Result<Option<Integration>, StoreError>> + Send;

    /// Lists the routes of an integration with the product that owns each.
    fn routes(&self, integration_id: &str) -> impl Future<Output = Result<Vec<Route>, StoreError>> + Send;

    /// Lists a tenant's subscriptions, whatever their status.
    fn subscriptions(
        &self,
        tenant_id: &str,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;

    /// Finds a plan.
    fn plan(&self, plan_id: &str) -> impl Future<Output = Result<Option<Plan>, StoreError>> + Send;

    /// Finds an integration's ingest API key by the SHA-256 hash of the key.
    /// Stores without ingest keys find none.
    fn integration_key(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = Result<Option<IntegrationKey>, StoreError>> + Send {
        let _ = key_hash;
        async { Ok(None) }
    }
}

/// Finds the route of an integration that serves `method` on `path`.
///
/// An exact template match wins over a parameter match, so `/pets/mine` is
/// preferred to `/pets/{petId}` when both exist.
pub fn find_route<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|route| route.route.matches(method, path))
        .max_by_key(|route| {
            let exact_path = route.route.resource_path == path;
            let exact_method = route.route.method != "ANY";
            (exact_path, exact_method)
        })
}
