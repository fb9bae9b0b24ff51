//! In-memory catalog and usage stores for unit tests, filled with a copy of
//! the seed catalog.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aforo::catalog::{
    ApiKey, CatalogStore, FeatureFlags, GatewayKind, Integration, Plan, Quota, Route, Status, Subscription,
    Tenant,
};
use aforo::keys;
use aforo::period::Granularity;
use aforo::route::RouteKey;
use aforo::store::StoreError;
use aforo::usage::UsageStore;
use chrono::{DateTime, TimeZone, Utc};

pub const API_ID: &str = "a1b2c3d4e5";
pub const INTEGRATION_ID: &str = "aws-rest-petstore";
pub const ACME_KEY: &str = "ak_acme_4f1c2e9b7d0a";
pub const GLOBEX_KEY: &str = "ak_globex_8a3d5f1e2c6b";

fn unreachable_error() -> StoreError {
    StoreError::Dynamo {
        operation: "GetItem",
        table: "fake".to_owned(),
        unavailable: true,
        detail: "dispatch failure: connection refused".to_owned(),
        cause: Box::new(std::io::Error::other("connection refused")),
    }
}

fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).single().unwrap_or_default()
}

/// A catalog held in maps; `unreachable` makes every call fail like an outage.
#[derive(Default)]
pub struct FakeCatalog {
    pub api_keys: HashMap<String, ApiKey>,
    pub tenants: HashMap<String, Tenant>,
    pub integrations: HashMap<String, Integration>,
    pub routes: Vec<Route>,
    pub subscriptions: Vec<Subscription>,
    pub plans: HashMap<String, Plan>,
    pub unreachable: AtomicBool,
}

impl FakeCatalog {
    /// The seed catalog: integration, routes, plans, tenants, keys, subscriptions.
    pub fn seed() -> Self {
        let mut catalog = Self::default();
        catalog.integrations.insert(
            API_ID.to_owned(),
            Integration {
                id: INTEGRATION_ID.to_owned(),
                kind: GatewayKind::AwsRest,
                api_id: Some(API_ID.to_owned()),
                status: Status::Active,
                flags: FeatureFlags::default(),
            },
        );

        for (product, resource) in [("pets", "/pets"), ("orders", "/orders")] {
            let item = format!("{resource}/{{{}Id}}", product.trim_end_matches('s'));
            for (method, path) in [("GET", resource), ("POST", resource), ("GET", item.as_str())] {
                catalog.routes.push(Route {
                    integration_id: INTEGRATION_ID.to_owned(),
                    route: RouteKey::new(method, path),
                    product_id: product.to_owned(),
                });
            }
        }

        let plans = [
            ("pets-basic", "pets", Some((1000, Granularity::Month))),
            ("pets-pro", "pets", None),
            ("orders-trial", "orders", Some((20, Granularity::Day))),
            ("orders-standard", "orders", Some((10000, Granularity::Month))),
        ];
        for (id, product, quota) in plans {
            let plan = Plan {
                id: id.to_owned(),
                product_id: product.to_owned(),
                name: id.to_owned(),
                quota: quota.map(|(requests, period)| Quota { requests, period }),
            };
            catalog.plans.insert(id.to_owned(), plan);
        }

        for (tenant, key) in [
            ("acme", ACME_KEY),
            ("globex", GLOBEX_KEY),
            ("initech", "ak_initech_6b9e4c2a1f3d"),
            ("hooli", "ak_hooli_2c7f9a1b5e8d"),
        ] {
            catalog.add_tenant(tenant, key, Status::Active);
        }

        let start = at(2026, 1, 1);
        catalog.subscribe("acme", "pets", "pets-pro", start, None);
        catalog.subscribe("acme", "orders", "orders-standard", start, None);
        catalog.subscribe("globex", "pets", "pets-basic", start, None);
        catalog.subscribe("initech", "orders", "orders-trial", start, None);
        catalog.subscribe("initech", "pets", "pets-basic", start, Some(at(2026, 6, 30)));
        catalog.subscribe("hooli", "pets", "pets-basic", at(2027, 1, 1), None);
        catalog
    }

    pub fn add_tenant(&mut self, tenant_id: &str, api_key: &str, status: Status) {
        let key_hash = keys::api_key_hash(api_key);
        self.api_keys.insert(
            key_hash.clone(),
            ApiKey {
                key_hash,
                tenant_id: tenant_id.to_owned(),
                status: Status::Active,
            },
        );
        self.tenants.insert(
            tenant_id.to_owned(),
            Tenant {
                id: tenant_id.to_owned(),
                name: tenant_id.to_owned(),
                status,
            },
        );
    }

    pub fn subscribe(
        &mut self,
        tenant_id: &str,
        product_id: &str,
        plan_id: &str,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    ) {
        self.subscriptions.push(Subscription {
            tenant_id: tenant_id.to_owned(),
            product_id: product_id.to_owned(),
            plan_id: plan_id.to_owned(),
            status: Status::Active,
            starts_at,
            ends_at,
        });
    }

    fn check_reachable(&self) -> Result<(), StoreError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(unreachable_error());
        }
        Ok(())
    }
}

impl CatalogStore for FakeCatalog {
    async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.check_reachable()?;
        Ok(self.api_keys.get(key_hash).cloned())
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        self.check_reachable()?;
        Ok(self.tenants.get(tenant_id).cloned())
    }

    async fn integration(&self, integration_id: &str) -> Result<Option<Integration>, StoreError> {
        self.check_reachable()?;
        Ok(self.integrations.values().find(|i| i.id == integration_id).cloned())
    }

    async fn integration_for_api(&self, api_id: &str) -> Result<Option<Integration>, StoreError> {
        self.check_reachable()?;
        Ok(self.integrations.get(api_id).cloned())
    }

    async fn routes(&self, integration_id: &str) -> Result<Vec<Route>, StoreError> {
        self.check_reachable()?;
        Ok(self.routes.iter().filter(|r| r.integration_id == integration_id).cloned().collect())
    }

    async fn subscriptions(&self, tenant_id: &str) -> Result<Vec<Subscription>, StoreError> {
        self.check_reachable()?;
        Ok(self.subscriptions.iter().filter(|s| s.tenant_id == tenant_id).cloned().collect())
    }

    async fn plan(&self, plan_id: &str) -> Result<Option<Plan>, StoreError> {
        self.check_reachable()?;
        Ok(self.plans.get(plan_id).cloned())
    }
}

/// Usage aggregates held in a map, counting reads.
#[derive(Default)]
pub struct FakeUsage {
    pub values: HashMap<(String, String, Granularity, String), u64>,
    pub reads: AtomicUsize,
}

impl FakeUsage {
    pub fn with(tenant_id: &str, product_id: &str, period: Granularity, period_start: &str, value: u64) -> Self {
        let mut usage = Self::default();
        usage.values.insert(
            (tenant_id.to_owned(), product_id.to_owned(), period, period_start.to_owned()),
            value,
        );
        usage
    }
}

impl UsageStore for FakeUsage {
    async fn aggregate(
        &self,
        tenant_id: &str,
        product_id: &str,
        granularity: Granularity,
        period_start: &str,
        _metric: &str,
    ) -> Result<u64, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let key = (tenant_id.to_owned(), product_id.to_owned(), granularity, period_start.to_owned());
        Ok(self.values.get(&key).copied().unwrap_or(0))
    }
}
