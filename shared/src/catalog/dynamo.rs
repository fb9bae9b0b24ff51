//! The catalog in one DynamoDB table (`pk`, `sk`), read and written here.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::{
    ApiKey, CatalogStore, FeatureFlags, GatewayKind, Integration, IntegrationKey, Plan, Product, Quota, Route,
    Status, Subscription, Tenant,
};
use crate::keys;
use crate::route::RouteKey;
use crate::store::{boolean, n, number, s, string, Item, StoreError};

/// `entity` attribute of integration items.
const INTEGRATION_ENTITY: &str = "integration";

/// The catalog table through the AWS SDK.
#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    client: Client,
    table: String,
}

impl DynamoCatalog {
    /// Uses `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("GetItem", &self.table, err))?;
        Ok(output.item)
    }

    async fn query_prefix(&self, pk: String, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;

        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":prefix", s(sk_prefix))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("Query", &self.table, err))?;

            items.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
        }
    }

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("PutItem", &self.table, err))?;
        Ok(())
    }

    fn invalid(&self, item: &Item, reason: impl Into<String>) -> StoreError {
        StoreError::InvalidItem {
            table: self.table.clone(),
            pk: string(item, "pk").unwrap_or_default(),
            sk: string(item, "sk").unwrap_or_default(),
            reason: reason.into(),
        }
    }

    fn required(&self, item: &Item, name: &str) -> Result<String, StoreError> {
        string(item, name).ok_or_else(|| self.invalid(item, format!("missing string attribute {name}")))
    }

    fn status(&self, item: &Item) -> Result<Status, StoreError> {
        self.required(item, "status")?
            .parse()
            .map_err(|reason: String| self.invalid(item, reason))
    }

    fn time(&self, item: &Item, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(value) = string(item, name) else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(&value)
            .map(|time| Some(time.with_timezone(&Utc)))
            .map_err(|err| self.invalid(item, format!("{name} is not RFC 3339: {err}")))
    }

    /// Writes a tenant.
    pub async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.put(Item::from([
            ("pk".to_owned(), s(keys::tenant_pk(&tenant.id))),
            ("sk".to_owned(), s(keys::PROFILE_SK)),
            ("entity".to_owned(), s("tenant")),
            ("tenant_id".to_owned(), s(&tenant.id)),
            ("name".to_owned(), s(&tenant.name)),
            ("status".to_owned(), s(tenant.status.as_str())),
        ]))
        .await
    }

    /// Writes an API key record (hash only).
    pub async fn put_api_key(&self, api_key: &ApiKey) -> Result<(), StoreError> {
        self.put(Item::from([
            ("pk".to_owned(), s(keys::api_key_pk(&api_key.key_hash))),
            ("sk".to_owned(), s(keys::PROFILE_SK)),
            ("entity".to_owned(), s("api_key")),
            ("tenant_id".to_owned(), s(&api_key.tenant_id)),
            ("status".to_owned(), s(api_key.status.as_str())),
        ]))
        .await
    }

    /// Writes an integration and, for AWS ones, the API id mapping to it.
    pub async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        let kind = serde_json::to_value(integration.kind)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();

        let mut item = Item::from([
            ("pk".to_owned(), s(keys::integration_pk(&integration.id))),
            ("sk".to_owned(), s(keys::PROFILE_SK)),
            ("entity".to_owned(), s(INTEGRATION_ENTITY)),
            ("integration_id".to_owned(), s(&integration.id)),
            ("kind".to_owned(), s(kind)),
            ("status".to_owned(), s(integration.status.as_str())),
            ("metering".to_owned(), AttributeValue::Bool(integration.flags.metering)),
            ("entitlement".to_owned(), AttributeValue::Bool(integration.flags.entitlement)),
            ("config_capture".to_owned(), AttributeValue::Bool(integration.flags.config_capture)),
        ]);
        if let Some(api_id) = &integration.api_id {
            item.insert("api_id".to_owned(), s(api_id));
        }
        self.put(item).await?;

        if let Some(api_id) = &integration.api_id {
            self.put(Item::from([
                ("pk".to_owned(), s(keys::api_gateway_pk(api_id))),
                ("sk".to_owned(), s(keys::PROFILE_SK)),
                ("entity".to_owned(), s("api_mapping")),
                ("integration_id".to_owned(), s(&integration.id)),
            ]))
            .await?;
        }
        Ok(())
    }

    /// Writes an integration's ingest API key record (hash only).
    pub async fn put_integration_key(&self, key: &IntegrationKey) -> Result<(), StoreError> {
        self.put(Item::from([
            ("pk".to_owned(), s(keys::integration_key_pk(&key.key_hash))),
            ("sk".to_owned(), s(keys::PROFILE_SK)),
            ("entity".to_owned(), s("integration_key")),
            ("integration_id".to_owned(), s(&key.integration_id)),
            ("status".to_owned(), s(key.status.as_str())),
        ]))
        .await
    }

    /// Writes a product.
    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.put(Item::from([
            ("pk".to_owned(), s(keys::product_pk(&product.id))),
            ("sk".to_owned(), s(keys::PROFILE_SK)),
            ("entity".to_owned(), s("product")),
            ("product_id".to_owned(), s(&product.id)),
            ("name".to_owned(), s(&product.name)),
        ]))
        .await
    }

    /// Writes a route of an integration.
    pub async fn put_route(&self, route: &Route) -> Result<(), StoreError> {
        self.put(Item::from([
            ("pk".to_owned(), s(keys::integration_pk(&route.integration_id))),
            (
                "sk".to_owned(),
                s(keys::route_sk(&route.route.method, &route.route.resource_path)),
            ),
            ("entity".to_owned(), s("route")),
            ("method".to_owned(), s(&route.route.method)),
            ("resource_path".to_owned(), s(&route.route.resource_path)),
            ("product_id".to_owned(), s(&route.product_id)),
        ]))
        .await
    }

    /// Writes a plan.
    pub async fn put_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        let mut item = Item::from([
            ("pk".to_owned(), s(keys::plan_pk(&plan.id))),
            ("sk".to_owned(), s(keys::PROFILE_SK)),
            ("entity".to_owned(), s("plan")),
            ("plan_id".to_owned(), s(&plan.id)),
            ("product_id".to_owned(), s(&plan.product_id)),
            ("name".to_owned(), s(&plan.name)),
        ]);
        if let Some(quota) = plan.quota {
            item.insert("quota_requests".to_owned(), n(quota.requests));
            item.insert("quota_period".to_owned(), s(quota.period.as_str()));
        }
        self.put(item).await
    }

    /// Writes a subscription.
    pub async fn put_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let mut item = Item::from([
            ("pk".to_owned(), s(keys::tenant_pk(&subscription.tenant_id))),
            ("sk".to_owned(), s(keys::subscription_sk(&subscription.product_id))),
            ("entity".to_owned(), s("subscription")),
            ("tenant_id".to_owned(), s(&subscription.tenant_id)),
            ("product_id".to_owned(), s(&subscription.product_id)),
            ("plan_id".to_owned(), s(&subscription.plan_id)),
            ("status".to_owned(), s(subscription.status.as_str())),
            ("starts_at".to_owned(), s(subscription.starts_at.to_rfc3339())),
        ]);
        if let Some(ends_at) = subscription.ends_at {
            item.insert("ends_at".to_owned(), s(ends_at.to_rfc3339()));
        }
        self.put(item).await
    }

    /// Lists every integration in the catalog, in no particular order.
    ///
    /// Scans the whole table, so it suits operator tools, not request paths.
    pub async fn integrations(&self) -> Result<Vec<Integration>, StoreError> {
        let mut integrations = Vec::new();
        let mut start_key = None;

        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("entity = :entity")
                .expression_attribute_values(":entity", s(INTEGRATION_ENTITY))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("Scan", &self.table, err))?;

            for item in output.items.unwrap_or_default() {
                integrations.push(self.integration_from(&item)?);
            }

            // A page can be empty after filtering and still have a next page.
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(integrations);
            }
        }
    }

    /// Replaces the feature flags of an existing integration.
    ///
    /// Fails with [`StoreError::NotFound`] when the catalog has no such
    /// integration, so a mistyped id never creates a stray item.
    pub async fn set_flags(&self, integration_id: &str, flags: FeatureFlags) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::integration_pk(integration_id)))
            .key("sk", s(keys::PROFILE_SK))
            .update_expression(
                "SET metering = :metering, entitlement = :entitlement, config_capture = :config_capture",
            )
            .condition_expression("entity = :entity")
            .expression_attribute_values(":metering", AttributeValue::Bool(flags.metering))
            .expression_attribute_values(":entitlement", AttributeValue::Bool(flags.entitlement))
            .expression_attribute_values(":config_capture", AttributeValue::Bool(flags.config_capture))
            .expression_attribute_values(":entity", s(INTEGRATION_ENTITY))
            .send()
            .await;

        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound {
                    table: self.table.clone(),
                    entity: INTEGRATION_ENTITY,
                    id: integration_id.to_owned(),
                })
            }
            Err(err) => Err(StoreError::from_sdk("UpdateItem", &self.table, err)),
        }
    }

    fn integration_from(&self, item: &Item) -> Result<Integration, StoreError> {
        let kind_name = self.required(item, "kind")?;
        let kind: GatewayKind = serde_json::from_value(serde_json::Value::String(kind_name.clone()))
            .map_err(|_| self.invalid(item, format!("unknown gateway kind {kind_name:?}")))?;
        let defaults = FeatureFlags::default();

        Ok(Integration {
            id: self.required(item, "integration_id")?,
            kind,
            api_id: string(item, "api_id"),
            status: self.status(item)?,
            flags: FeatureFlags {
                metering: boolean(item, "metering").unwrap_or(defaults.metering),
                entitlement: boolean(item, "entitlement").unwrap_or(defaults.entitlement),
                config_capture: boolean(item, "config_capture").unwrap_or(defaults.config_capture),
            },
        })
    }
}

impl CatalogStore for DynamoCatalog {
    async fn integration_key(&self, key_hash: &str) -> Result<Option<IntegrationKey>, StoreError> {
        let Some(item) = self.get(keys::integration_key_pk(key_hash), keys::PROFILE_SK).await? else {
            return Ok(None);
        };
        Ok(Some(IntegrationKey {
            key_hash: key_hash.to_owned(),
            integration_id: self.required(&item, "integration_id")?,
            status: self.status(&item)?,
        }))
    }

    async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let Some(item) = self.get(keys::api_key_pk(key_hash), keys::PROFILE_SK).await? else {
            return Ok(None);
        };
        Ok(Some(ApiKey {
            key_hash: key_hash.to_owned(),
            tenant_id: self.required(&item, "tenant_id")?,
            status: self.status(&item)?,
        }))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        let Some(item) = self.get(keys::tenant_pk(tenant_id), keys::PROFILE_SK).await? else {
            return Ok(None);
        };
        Ok(Some(Tenant {
            id: tenant_id.to_owned(),
            name: string(&item, "name").unwrap_or_default(),
            status: self.status(&item)?,
        }))
    }

    async fn integration(&self, integration_id: &str) -> Result<Option<Integration>, StoreError> {
        let item = self
            .get(keys::integration_pk(integration_id), keys::PROFILE_SK)
            .await?;
        item.map(|item| self.integration_from(&item)).transpose()
    }

    async fn integration_for_api(&self, api_id: &str) -> Result<Option<Integration>, StoreError> {
        let Some(mapping) = self.get(keys::api_gateway_pk(api_id), keys::PROFILE_SK).await? else {
            return Ok(None);
        };
        let integration_id = self.required(&mapping, "integration_id")?;
        self.integration(&integration_id).await
    }

    async fn routes(&self, integration_id: &str) -> Result<Vec<Route>, StoreError> {
        let items = self
            .query_prefix(keys::integration_pk(integration_id), keys::ROUTE_SK_PREFIX)
            .await?;
        items
            .iter()
            .map(|item| {
                Ok(Route {
                    integration_id: integration_id.to_owned(),
                    route: RouteKey::new(
                        &self.required(item, "method")?,
                        &self.required(item, "resource_path")?,
                    ),
                    product_id: self.required(item, "product_id")?,
                })
            })
            .collect()
    }

    async fn subscriptions(&self, tenant_id: &str) -> Result<Vec<Subscription>, StoreError> {
        let items = self
            .query_prefix(keys::tenant_pk(tenant_id), keys::SUBSCRIPTION_SK_PREFIX)
            .await?;
        items
            .iter()
            .map(|item| {
                Ok(Subscription {
                    tenant_id: tenant_id.to_owned(),
                    product_id: self.required(item, "product_id")?,
                    plan_id: self.required(item, "plan_id")?,
                    status: self.status(item)?,
                    starts_at: self
                        .time(item, "starts_at")?
                        .ok_or_else(|| self.invalid(item, "missing starts_at"))?,
                    ends_at: self.time(item, "ends_at")?,
                })
            })
            .collect()
    }

    async fn plan(&self, plan_id: &str) -> Result<Option<Plan>, StoreError> {
        let Some(item) = self.get(keys::plan_pk(plan_id), keys::PROFILE_SK).await? else {
            return Ok(None);
        };

        let quota = match (number(&item, "quota_requests"), string(&item, "quota_period")) {
            (Some(requests), Some(period)) => Some(Quota {
                requests,
                period: period.parse().map_err(|reason: String| self.invalid(&item, reason))?,
            }),
            (None, None) => None,
            _ => return Err(self.invalid(&item, "quota_requests and quota_period must be set together")),
        };

        Ok(Some(Plan {
            id: plan_id.to_owned(),
            product_id: self.required(&item, "product_id")?,
            name: string(&item, "name").unwrap_or_default(),
            quota,
        }))
    }
}

