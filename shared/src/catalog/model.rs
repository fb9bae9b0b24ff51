//! Catalog entities.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::period::Granularity;
use crate::route::RouteKey;

/// Whether an entity may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In use.
    Active,
    /// Temporarily blocked by an operator.
    Suspended,
    /// Ended for good.
    Cancelled,
}

impl Status {
    /// Name stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "active" => Ok(Status::Active),
            "suspended" => Ok(Status::Suspended),
            "cancelled" => Ok(Status::Cancelled),
            other => Err(format!("unknown status {other:?}: expected active, suspended or cancelled")),
        }
    }
}

/// A customer of the platform team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Tenant id, as sent in `X-Tenant-Id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether the tenant may call APIs at all.
    pub status: Status,
}

/// An API key, known only by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// Tenant that owns the key.
    pub tenant_id: String,
    /// Whether the key may be used.
    pub status: Status,
}

/// The kind of gateway an integration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayKind {
    /// AWS API Gateway REST API.
    AwsRest,
    /// AWS API Gateway HTTP API.
    AwsHttp,
    /// Kong Gateway.
    Kong,
    /// Google Apigee.
    Apigee,
    /// Azure API Management.
    AzureApim,
    /// MuleSoft Anypoint.
    Mulesoft,
}

/// Switches stored per integration and honoured by every function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureFlags {
    /// Meter this integration's traffic.
    pub metering: bool,
    /// Check entitlements in the authorizer.
    pub entitlement: bool,
    /// Capture gateway configuration.
    pub config_capture: bool,
}

impl Default for FeatureFlags {
    fn default() -> Self {
        Self {
            metering: true,
            entitlement: true,
            config_capture: false,
        }
    }
}

/// One gateway deployment that reports usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// Integration id; also the `source` of its events.
    pub id: String,
    /// Gateway kind.
    pub kind: GatewayKind,
    /// API Gateway API id, for AWS integrations.
    pub api_id: Option<String>,
    /// Whether the integration is enabled.
    pub status: Status,
    /// Feature flags.
    pub flags: FeatureFlags,
}

/// The API key a gateway integration uses to send events to `POST /v1/ingest`,
/// known only by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationKey {
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// Integration the key authenticates; also the `source` of its events.
    pub integration_id: String,
    /// Whether the key may be used.
    pub status: Status,
}

/// A product: the unit tenants subscribe to and are billed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Product id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A route of one integration, owned by one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Integration the route is on.
    pub integration_id: String,
    /// Method and resource path template.
    pub route: RouteKey,
    /// Product that owns the route.
    pub product_id: String,
}

/// A request quota per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Requests allowed per period.
    pub requests: u64,
    /// Period the quota resets on.
    pub period: Granularity,
}

/// A plan of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Plan id.
    pub id: String,
    /// Product the plan belongs to.
    pub product_id: String,
    /// Display name.
    pub name: String,
    /// Request quota; `None` means unlimited.
    pub quota: Option<Quota>,
}

/// A tenant's subscription to a product on a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Subscribing tenant.
    pub tenant_id: String,
    /// Product subscribed to.
    pub product_id: String,
    /// Plan of the subscription.
    pub plan_id: String,
    /// Whether the subscription is in force.
    pub status: Status,
    /// First instant the subscription is valid.
    pub starts_at: DateTime<Utc>,
    /// Instant the subscription ends (exclusive); `None` for open-ended.
    pub ends_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Checks whether the subscription is active and `at` lies inside its dates.
    pub fn is_in_force_at(&self, at: DateTime<Utc>) -> bool {
        let started = self.starts_at <= at;
        let not_ended = self.ends_at.is_none_or(|ends_at| at < ends_at);
        self.status == Status::Active && started && not_ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn subscription(status: Status, ends_at: Option<DateTime<Utc>>) -> Subscription {
        Subscription {
            tenant_id: "t".to_owned(),
            product_id: "p".to_owned(),
            plan_id: "plan".to_owned(),
            status,
            starts_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            ends_at,
        }
    }

    #[test]
    fn subscription_in_force_inside_dates() {
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert!(subscription(Status::Active, None).is_in_force_at(at));
    }

    #[test]
    fn subscription_not_in_force_before_start() {
        let at = Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap();
        assert!(!subscription(Status::Active, None).is_in_force_at(at));
    }

    #[test]
    fn subscription_end_is_exclusive() {
        let end = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        assert!(!subscription(Status::Active, Some(end)).is_in_force_at(end));
    }

    #[test]
    fn suspended_subscription_not_in_force() {
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert!(!subscription(Status::Suspended, None).is_in_force_at(at));
    }
}
