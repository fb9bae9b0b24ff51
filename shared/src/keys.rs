//! Hashes and DynamoDB key layouts.
//!
//! Every table uses a string partition key `pk` (and, except the dedupe table,
//! a string sort key `sk`). The prefixes below are the only place that layout
//! is spelled out, so readers and writers cannot drift apart.

use sha2::{Digest, Sha256};

/// Idempotency key of an event: hex SHA-256 of its source (the gateway
/// integration) and the gateway's correlation id, separated by a NUL byte so
/// `("a", "bc")` and `("ab", "c")` differ.
pub fn idempotency_key(source: &str, correlation_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0u8]);
    hasher.update(correlation_id.as_bytes());
    hex::encode(hasher.finalize())
}

/// Hex SHA-256 of an API key. The catalog stores only this hash.
///
/// A plain hash is enough here because API keys are long random strings, not
/// passwords chosen by people.
pub fn api_key_hash(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}

/// Catalog partition key of a tenant.
pub fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

/// Catalog partition key of an API key, by hash.
pub fn api_key_pk(key_hash: &str) -> String {
    format!("APIKEY#{key_hash}")
}

/// Catalog partition key of an integration's ingest API key, by hash.
pub fn integration_key_pk(key_hash: &str) -> String {
    format!("INGESTKEY#{key_hash}")
}

/// Catalog partition key of a gateway integration.
pub fn integration_pk(integration_id: &str) -> String {
    format!("INTEGRATION#{integration_id}")
}

/// Catalog partition key that maps an API Gateway API id to its integration.
pub fn api_gateway_pk(api_id: &str) -> String {
    format!("APIGW#{api_id}")
}

/// Catalog partition key of a product.
pub fn product_pk(product_id: &str) -> String {
    format!("PRODUCT#{product_id}")
}

/// Catalog partition key of a plan.
pub fn plan_pk(plan_id: &str) -> String {
    format!("PLAN#{plan_id}")
}

/// Sort key of the main item of an entity.
pub const PROFILE_SK: &str = "PROFILE";

/// Sort key prefix of the routes of an integration.
pub const ROUTE_SK_PREFIX: &str = "ROUTE#";

/// Sort key prefix of the subscriptions of a tenant.
pub const SUBSCRIPTION_SK_PREFIX: &str = "SUB#";

/// Catalog sort key of a route (`ROUTE#GET /pets/{petId}`).
pub fn route_sk(method: &str, resource_path: &str) -> String {
    format!("{ROUTE_SK_PREFIX}{method} {resource_path}")
}

/// Catalog sort key of a tenant's subscription to a product.
pub fn subscription_sk(product_id: &str) -> String {
    format!("{SUBSCRIPTION_SK_PREFIX}{product_id}")
}

/// Usage-table partition key of a tenant's billable usage.
pub fn usage_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

/// Usage-table partition key of unattributed usage seen on one source.
pub fn unattributed_pk(source: &str) -> String {
    format!("UNATTRIBUTED#{source}")
}

/// Usage-table partition key of rejected lines seen on one source.
pub fn rejected_pk(source: &str) -> String {
    format!("REJECTED#{source}")
}

/// Usage-table sort key prefix of aggregates.
pub const USAGE_SK_PREFIX: &str = "USAGE#";

/// Usage-table sort key of one aggregate:
/// `USAGE#<granularity>#<period start>#<subject>#<metric>`, where the subject
/// is the product for billable usage and the reason for unattributed usage.
pub fn usage_sk(granularity: &str, period_start: &str, subject: &str, metric: &str) -> String {
    format!("{USAGE_SK_PREFIX}{granularity}#{period_start}#{subject}#{metric}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_separates_fields() {
        assert_ne!(idempotency_key("a", "bc"), idempotency_key("ab", "c"));
    }

    #[test]
    fn idempotency_key_is_stable() {
        assert_eq!(idempotency_key("src", "id-1"), idempotency_key("src", "id-1"));
        assert_eq!(idempotency_key("src", "id-1").len(), 64);
    }

    #[test]
    fn api_key_hash_hides_key() {
        let hash = api_key_hash("secret-key");
        assert!(!hash.contains("secret"));
        assert_eq!(hash.len(), 64);
    }
}
