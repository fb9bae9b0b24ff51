//! The seed catalog: a JSON file of integrations with their routes and ingest
//! keys, products, plans and tenants with their subscriptions, which
//! `aforo seed` validates and writes into the catalog table.
//!
//! The file carries plaintext tenant API keys and integration ingest keys so
//! the local demo can send them. Only their SHA-256 hashes reach the table,
//! and [`PlaintextApiKey`] prints a placeholder in `Debug` output so a key
//! cannot end up in a log.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use aforo::catalog::{
    ApiKey, DynamoCatalog, FeatureFlags, GatewayKind, Integration, IntegrationKey, Plan, Product, Quota,
    Route, Status, Subscription, Tenant,
};
use aforo::keys;
use aforo::route::RouteKey;
use aforo::store::StoreError;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Route methods a seed may use: the HTTP methods API Gateway routes, and `ANY`.
const ROUTE_METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

/// A seed that cannot be read, is invalid, or cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The seed file cannot be read.
    #[error("cannot read seed file {path}: {source}")]
    Io {
        /// Seed file path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The text is not JSON of the seed format.
    #[error("seed {origin} is not valid seed JSON: {source}")]
    Parse {
        /// Seed file path, or `text` for a seed given as a string.
        origin: String,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// Two entries of one kind share an id.
    #[error("duplicate {kind} {id}: each {kind} must appear once")]
    Duplicate {
        /// Kind of entry, such as `tenant` or `API key`.
        kind: &'static str,
        /// The repeated id. For API keys and ingest keys it names the second
        /// tenant or integration instead of the key.
        id: String,
    },

    /// A required string is empty.
    #[error("{entry} has an empty {field}")]
    Empty {
        /// The entry, such as `tenant acme`.
        entry: String,
        /// Field name, such as `api_key`.
        field: &'static str,
    },

    /// An entry refers to a product the seed does not declare.
    #[error("{entry} names product {product_id}, which the seed does not declare")]
    UnknownProduct {
        /// The referring entry.
        entry: String,
        /// The unknown product id.
        product_id: String,
    },

    /// A subscription refers to a plan the seed does not declare.
    #[error("{entry} names plan {plan_id}, which the seed does not declare")]
    UnknownPlan {
        /// The subscription.
        entry: String,
        /// The unknown plan id.
        plan_id: String,
    },

    /// A subscription uses a plan that belongs to another product.
    #[error("{entry} uses plan {plan_id} of product {plan_product_id}: choose a plan of the subscribed product")]
    PlanOfOtherProduct {
        /// The subscription.
        entry: String,
        /// The plan id.
        plan_id: String,
        /// The product the plan belongs to.
        plan_product_id: String,
    },

    /// An entry breaks another rule of the seed format.
    #[error("{entry} is invalid: {reason}")]
    Invalid {
        /// The entry.
        entry: String,
        /// The rule the entry breaks and how to fix it.
        reason: String,
    },

    /// Writing an entry to the catalog table failed.
    #[error("writing {entry} to the catalog failed: {source}")]
    Store {
        /// The entry being written.
        entry: String,
        /// The storage error.
        #[source]
        source: StoreError,
    },
}

/// A plaintext tenant API key or integration ingest key from the seed file.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct PlaintextApiKey(String);

impl PlaintextApiKey {
    /// Returns the key itself, for a client that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256 of the key, the only form the catalog stores.
    pub fn hash(&self) -> String {
        keys::api_key_hash(&self.0)
    }
}

impl std::fmt::Debug for PlaintextApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaintextApiKey(<redacted>)")
    }
}

/// A seed catalog as read from JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Note for readers of the file, which [`load`] ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// Gateway integrations with their routes.
    pub integrations: Vec<SeedIntegration>,
    /// Products.
    pub products: Vec<SeedProduct>,
    /// Plans of the products.
    pub plans: Vec<SeedPlan>,
    /// Tenants with their API key and subscriptions.
    pub tenants: Vec<SeedTenant>,
}

/// A gateway integration entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIntegration {
    /// Integration id, the `source` of its metering events.
    pub id: String,
    /// Gateway kind, such as `aws-rest`.
    pub kind: GatewayKind,
    /// API Gateway API id, required for the `aws-rest` and `aws-http` kinds.
    #[serde(default)]
    pub api_id: Option<String>,
    /// API Gateway stage name.
    // NOTE: the catalog model has no stage field, so `load` does not store it.
    #[serde(default)]
    pub stage: Option<String>,
    /// Status, `active` when absent.
    #[serde(default = "active")]
    pub status: Status,
    /// Feature flags, the catalog defaults when absent.
    #[serde(default)]
    pub flags: FeatureFlags,
    /// Plaintext key the gateway sends to `POST /v1/ingest`. Absent for an
    /// integration that reports only through access logs.
    #[serde(default)]
    pub ingest_key: Option<PlaintextApiKey>,
    /// Routes of this integration.
    pub routes: Vec<SeedRoute>,
}

/// A route entry of an integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRoute {
    /// HTTP method, or `ANY`.
    pub method: String,
    /// Resource path template such as `/pets/{petId}`, or `$default`.
    pub resource_path: String,
    /// Product that owns the route.
    pub product_id: String,
}

/// A product entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProduct {
    /// Product id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A plan entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPlan {
    /// Plan id.
    pub id: String,
    /// Product the plan belongs to.
    pub product_id: String,
    /// Display name.
    pub name: String,
    /// Request quota. `null` or absent means unlimited.
    #[serde(default)]
    pub quota: Option<Quota>,
}

/// A tenant entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTenant {
    /// Tenant id, as sent in `X-Tenant-Id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Status, `active` when absent.
    #[serde(default = "active")]
    pub status: Status,
    /// The tenant's API key in plaintext.
    pub api_key: PlaintextApiKey,
    /// Subscriptions of the tenant.
    pub subscriptions: Vec<SeedSubscription>,
}

/// A subscription entry of a tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSubscription {
    /// Product subscribed to.
    pub product_id: String,
    /// Plan of that product.
    pub plan_id: String,
    /// Status, `active` when absent.
    #[serde(default = "active")]
    pub status: Status,
    /// First instant the subscription is valid (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// Instant the subscription ends (exclusive), absent for an open-ended subscription.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
}

/// Number of entities written by [`load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedCounts {
    /// Integrations.
    pub integrations: usize,
    /// Routes across all integrations.
    pub routes: usize,
    /// Products.
    pub products: usize,
    /// Plans.
    pub plans: usize,
    /// Tenants.
    pub tenants: usize,
    /// API key records.
    pub api_keys: usize,
    /// Integration ingest key records.
    pub integration_keys: usize,
    /// Subscriptions across all tenants.
    pub subscriptions: usize,
}

fn active() -> Status {
    Status::Active
}

/// Path of `infra/seed/catalog.json` in this checkout.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seed/catalog.json")
}

impl Seed {
    /// Reads and validates a seed file.
    pub fn from_file(path: &Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path.display().to_string())
    }

    /// Reads and validates a seed given as JSON text.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        Self::parse(text, "text".to_owned())
    }

    fn parse(text: &str, origin: String) -> Result<Seed, SeedError> {
        let seed: Seed = serde_json::from_str(text).map_err(|source| SeedError::Parse { origin, source })?;
        seed.validate()?;
        Ok(seed)
    }

    /// Returns the plaintext API key of a tenant, for the demo client.
    pub fn api_key_for(&self, tenant_id: &str) -> Option<&str> {
        self.tenants
            .iter()
            .find(|tenant| tenant.id == tenant_id)
            .map(|tenant| tenant.api_key.expose())
    }

    /// Returns the plaintext ingest key of an integration, for a client of `POST /v1/ingest`.
    pub fn ingest_key_for(&self, integration_id: &str) -> Option<&str> {
        self.integrations
            .iter()
            .find(|integration| integration.id == integration_id)
            .and_then(|integration| integration.ingest_key.as_ref())
            .map(PlaintextApiKey::expose)
    }

    /// Checks that ids are unique and not empty, that every reference
    /// (route to product, plan to product, subscription to product and plan)
    /// names a declared entry, and that every key is unique. Returns the
    /// first problem found.
    pub fn validate(&self) -> Result<(), SeedError> {
        let products = self.validate_products()?;
        let plans = self.validate_plans(&products)?;
        self.validate_integrations(&products)?;
        self.validate_tenants(&products, &plans)?;
        self.validate_ingest_keys()
    }

    fn validate_products(&self) -> Result<HashSet<&str>, SeedError> {
        let mut products = HashSet::new();
        for product in &self.products {
            insert_unique(&mut products, "product", &product.id)?;
            require_text(|| format!("product {}", product.id), "name", &product.name)?;
        }
        Ok(products)
    }

    /// Returns the product of each plan, by plan id.
    fn validate_plans(&self, products: &HashSet<&str>) -> Result<HashMap<&str, &str>, SeedError> {
        let mut ids = HashSet::new();
        let mut plans = HashMap::new();

        for plan in &self.plans {
            insert_unique(&mut ids, "plan", &plan.id)?;
            let entry = || format!("plan {}", plan.id);
            require_text(entry, "name", &plan.name)?;
            require_product(entry, products, &plan.product_id)?;
            plans.insert(plan.id.as_str(), plan.product_id.as_str());
        }
        Ok(plans)
    }

    fn validate_integrations(&self, products: &HashSet<&str>) -> Result<(), SeedError> {
        let mut ids = HashSet::new();
        let mut api_ids = HashSet::new();

        for integration in &self.integrations {
            insert_unique(&mut ids, "integration", &integration.id)?;
            let entry = || format!("integration {}", integration.id);

            let is_api_gateway = matches!(integration.kind, GatewayKind::AwsRest | GatewayKind::AwsHttp);
            match integration.api_id.as_deref() {
                Some(api_id) => {
                    require_text(entry, "api_id", api_id)?;
                    insert_unique(&mut api_ids, "api_id", api_id)?;
                }
                None if is_api_gateway => {
                    return Err(SeedError::Invalid {
                        entry: entry(),
                        reason: "an API Gateway integration needs the api_id that its access logs carry".to_owned(),
                    });
                }
                None => {}
            }

            let mut routes = HashSet::new();
            for route in &integration.routes {
                validate_route(&integration.id, route, products, &mut routes)?;
            }
        }
        Ok(())
    }

    fn validate_tenants(&self, products: &HashSet<&str>, plans: &HashMap<&str, &str>) -> Result<(), SeedError> {
        let mut ids = HashSet::new();
        let mut key_hashes = HashSet::new();

        for tenant in &self.tenants {
            insert_unique(&mut ids, "tenant", &tenant.id)?;
            let entry = || format!("tenant {}", tenant.id);
            require_text(entry, "name", &tenant.name)?;

            require_text(entry, "api_key", tenant.api_key.expose())?;
            // The error names the tenant, so the key itself never reaches a message.
            if !key_hashes.insert(tenant.api_key.hash()) {
                return Err(SeedError::Duplicate {
                    kind: "API key",
                    id: format!("of tenant {}", tenant.id),
                });
            }

            let mut subscribed = HashSet::new();
            for subscription in &tenant.subscriptions {
                validate_subscription(&tenant.id, subscription, products, plans, &mut subscribed)?;
            }
        }
        Ok(())
    }

    /// Checks that ingest keys are not empty, that no two integrations share
    /// one, and that none is also a tenant's API key, so a key always names
    /// one caller. The errors name the integration, never the key.
    fn validate_ingest_keys(&self) -> Result<(), SeedError> {
        let tenant_keys: HashMap<String, &str> = self
            .tenants
            .iter()
            .map(|tenant| (tenant.api_key.hash(), tenant.id.as_str()))
            .collect();
        let mut key_hashes = HashSet::new();

        for integration in &self.integrations {
            let Some(ingest_key) = &integration.ingest_key else {
                continue;
            };
            let entry = || format!("integration {}", integration.id);
            require_text(entry, "ingest_key", ingest_key.expose())?;

            let key_hash = ingest_key.hash();
            if let Some(tenant_id) = tenant_keys.get(&key_hash) {
                return Err(SeedError::Invalid {
                    entry: entry(),
                    reason: format!(
                        "ingest_key is also the API key of tenant {tenant_id}: give the integration a key of its own"
                    ),
                });
            }
            if !key_hashes.insert(key_hash) {
                return Err(SeedError::Duplicate {
                    kind: "ingest key",
                    id: format!("of integration {}", integration.id),
                });
            }
        }
        Ok(())
    }
}

fn insert_unique<'a>(seen: &mut HashSet<&'a str>, kind: &'static str, id: &'a str) -> Result<(), SeedError> {
    require_text(|| kind.to_owned(), "id", id)?;
    if !seen.insert(id) {
        return Err(SeedError::Duplicate {
            kind,
            id: id.to_owned(),
        });
    }
    Ok(())
}

fn require_text(entry: impl Fn() -> String, field: &'static str, value: &str) -> Result<(), SeedError> {
    if value.trim().is_empty() {
        return Err(SeedError::Empty { entry: entry(), field });
    }
    Ok(())
}

fn require_product(entry: impl Fn() -> String, products: &HashSet<&str>, product_id: &str) -> Result<(), SeedError> {
    if !products.contains(product_id) {
        return Err(SeedError::UnknownProduct {
            entry: entry(),
            product_id: product_id.to_owned(),
        });
    }
    Ok(())
}

fn validate_route(
    integration_id: &str,
    route: &SeedRoute,
    products: &HashSet<&str>,
    seen: &mut HashSet<RouteKey>,
) -> Result<(), SeedError> {
    let key = RouteKey::new(&route.method, &route.resource_path);
    let entry = || format!("route {key} of integration {integration_id}");

    if !ROUTE_METHODS.contains(&key.method.as_str()) {
        return Err(SeedError::Invalid {
            entry: entry(),
            reason: format!("method must be one of {}", ROUTE_METHODS.join(", ")),
        });
    }
    if !(key.resource_path.starts_with('/') || key.resource_path == "$default") {
        return Err(SeedError::Invalid {
            entry: entry(),
            reason: "resource_path must start with / or be $default".to_owned(),
        });
    }
    require_product(entry, products, &route.product_id)?;

    if !seen.insert(key.clone()) {
        return Err(SeedError::Duplicate {
            kind: "route",
            id: entry(),
        });
    }
    Ok(())
}

fn validate_subscription<'a>(
    tenant_id: &str,
    subscription: &'a SeedSubscription,
    products: &HashSet<&str>,
    plans: &HashMap<&str, &str>,
    subscribed: &mut HashSet<&'a str>,
) -> Result<(), SeedError> {
    let entry = || format!("subscription of tenant {tenant_id} to product {}", subscription.product_id);

    require_product(entry, products, &subscription.product_id)?;
    let Some(plan_product_id) = plans.get(subscription.plan_id.as_str()) else {
        return Err(SeedError::UnknownPlan {
            entry: entry(),
            plan_id: subscription.plan_id.clone(),
        });
    };
    if *plan_product_id != subscription.product_id {
        return Err(SeedError::PlanOfOtherProduct {
            entry: entry(),
            plan_id: subscription.plan_id.clone(),
            plan_product_id: (*plan_product_id).to_owned(),
        });
    }

    if subscription.ends_at.is_some_and(|ends_at| ends_at <= subscription.starts_at) {
        return Err(SeedError::Invalid {
            entry: entry(),
            reason: "ends_at must be later than starts_at".to_owned(),
        });
    }

    // The catalog keys a subscription by tenant and product, so a second one would overwrite the first.
    if !subscribed.insert(&subscription.product_id) {
        return Err(SeedError::Duplicate {
            kind: "subscription",
            id: entry(),
        });
    }
    Ok(())
}

fn store_error(entry: String) -> impl FnOnce(StoreError) -> SeedError {
    move |source| SeedError::Store { entry, source }
}

/// Validates `seed` and writes every entity into the catalog: products,
/// plans, integrations with their ingest key (hashed) and routes, then
/// tenants with their API key (hashed) and subscriptions.
///
/// Loading again overwrites the same items, but items of entries removed
/// from the seed stay in the table.
pub async fn load(catalog: &DynamoCatalog, seed: &Seed) -> Result<SeedCounts, SeedError> {
    seed.validate()?;
    let mut counts = SeedCounts::default();

    load_products(catalog, seed, &mut counts).await?;

    load_plans(catalog, seed, &mut counts).await?;

    load_integrations(catalog, seed, &mut counts).await?;

    load_tenants(catalog, seed, &mut counts).await?;

    tracing::info!(
        integrations = counts.integrations,
        routes = counts.routes,
        products = counts.products,
        plans = counts.plans,
        tenants = counts.tenants,
        api_keys = counts.api_keys,
        integration_keys = counts.integration_keys,
        subscriptions = counts.subscriptions,
        "seed catalog loaded"
    );
    Ok(counts)
}

async fn load_products(catalog: &DynamoCatalog, seed: &Seed, counts: &mut SeedCounts) -> Result<(), SeedError> {
    for product in &seed.products {
        let record = Product {
            id: product.id.clone(),
            name: product.name.clone(),
        };
        catalog
            .put_product(&record)
            .await
            .map_err(store_error(format!("product {}", product.id)))?;
        counts.products += 1;
    }
    Ok(())
}

async fn load_plans(catalog: &DynamoCatalog, seed: &Seed, counts: &mut SeedCounts) -> Result<(), SeedError> {
    for plan in &seed.plans {
        let record = Plan {
            id: plan.id.clone(),
            product_id: plan.product_id.clone(),
            name: plan.name.clone(),
            quota: plan.quota,
        };
        catalog
            .put_plan(&record)
            .await
            .map_err(store_error(format!("plan {}", plan.id)))?;
        counts.plans += 1;
    }
    Ok(())
}

async fn load_integrations(catalog: &DynamoCatalog, seed: &Seed, counts: &mut SeedCounts) -> Result<(), SeedError> {
    for integration in &seed.integrations {
        let record = Integration {
            id: integration.id.clone(),
            kind: integration.kind,
            api_id: integration.api_id.clone(),
            status: integration.status,
            flags: integration.flags,
        };
        catalog
            .put_integration(&record)
            .await
            .map_err(store_error(format!("integration {}", integration.id)))?;
        counts.integrations += 1;

        if let Some(ingest_key) = &integration.ingest_key {
            // The key stays active even when the integration is not, so the
            // ingest API can tell a known but disabled integration (403) from
            // an unknown key (401).
            let record = IntegrationKey {
                key_hash: ingest_key.hash(),
                integration_id: integration.id.clone(),
                status: Status::Active,
            };
            catalog
                .put_integration_key(&record)
                .await
                .map_err(store_error(format!("ingest key of integration {}", integration.id)))?;
            counts.integration_keys += 1;
        }

        for route in &integration.routes {
            let record = Route {
                integration_id: integration.id.clone(),
                route: RouteKey::new(&route.method, &route.resource_path),
                product_id: route.product_id.clone(),
            };
            let entry = format!("route {} of integration {}", record.route, integration.id);
            catalog.put_route(&record).await.map_err(store_error(entry))?;
            counts.routes += 1;
        }
    }
    Ok(())
}

async fn load_tenants(catalog: &DynamoCatalog, seed: &Seed, counts: &mut SeedCounts) -> Result<(), SeedError> {
    for tenant in &seed.tenants {
        let record = Tenant {
            id: tenant.id.clone(),
            name: tenant.name.clone(),
            status: tenant.status,
        };
        catalog
            .put_tenant(&record)
            .await
            .map_err(store_error(format!("tenant {}", tenant.id)))?;
        counts.tenants += 1;

        let api_key = ApiKey {
            key_hash: tenant.api_key.hash(),
            tenant_id: tenant.id.clone(),
            status: Status::Active,
        };
        catalog
            .put_api_key(&api_key)
            .await
            .map_err(store_error(format!("API key of tenant {}", tenant.id)))?;
        counts.api_keys += 1;

        for subscription in &tenant.subscriptions {
            let record = Subscription {
                tenant_id: tenant.id.clone(),
                product_id: subscription.product_id.clone(),
                plan_id: subscription.plan_id.clone(),
                status: subscription.status,
                starts_at: subscription.starts_at,
                ends_at: subscription.ends_at,
            };
            let entry = format!("subscription of tenant {} to product {}", tenant.id, subscription.product_id);
            catalog.put_subscription(&record).await.map_err(store_error(entry))?;
            counts.subscriptions += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_seed_is_valid() {
        let seed = Seed::from_file(&default_path()).unwrap();
        assert_eq!(seed.tenants.len(), 4);
        assert_eq!(seed.api_key_for("acme"), Some("ak_acme_4f1c2e9b7d0a"));
    }

    #[test]
    fn project_seed_has_ingest_keys() {
        let seed = Seed::from_file(&default_path()).unwrap();
        assert_eq!(seed.integrations.len(), 6);
        assert_eq!(seed.ingest_key_for("kong-edge"), Some("ik_kong_5d2a8c41e7f9"));
        assert_eq!(seed.ingest_key_for("aws-rest-petstore"), None);
    }

    #[test]
    fn plaintext_key_debug_is_redacted() {
        let seed = Seed::from_file(&default_path()).unwrap();
        let printed = format!("{seed:?}");
        assert!(!printed.contains("ak_acme_4f1c2e9b7d0a"));
        assert!(!printed.contains("ik_kong_5d2a8c41e7f9"));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn api_key_for_unknown_tenant_is_none() {
        let seed = Seed::from_file(&default_path()).unwrap();
        assert_eq!(seed.api_key_for("nobody"), None);
    }
}
