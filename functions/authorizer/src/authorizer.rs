//! The authorization pipeline: credentials, tenant, integration, route and
//! entitlement, then the response in the event's form.

use std::collections::BTreeMap;

use aforo::catalog::{find_route, CatalogStore, Integration, Route, Status, Tenant};
use aforo::keys;
use aforo::route::ApiStage;
use aforo::store::StoreError;
use aforo::usage::UsageStore;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::decision::{Decision, DenyReason, Rejection, UNAUTHORIZED_REASON};
use crate::entitlement::{product_access, Access};
use crate::error::AuthorizerError;
use crate::quota::QuotaReader;
use crate::request::{self, AuthorizerRequest, Credentials, PayloadFormat};
use crate::response;

/// Decides whether a tenant may call an API Gateway route.
pub struct Authorizer<C: CatalogStore, U: UsageStore> {
    catalog: C,
    quotas: QuotaReader<U>,
    fail_open: bool,
    simple_responses: bool,
}

/// Reason the pipeline stopped before building a full policy.
enum Halt {
    Unauthorized(Rejection),
    Deny(DenyReason),
    Unavailable(StoreError),
}

impl From<StoreError> for Halt {
    fn from(error: StoreError) -> Self {
        Halt::Unavailable(error)
    }
}

/// The result of one event before it is rendered.
enum Outcome {
    Decided(Decision),
    Unauthorized(Rejection),
}

impl<C: CatalogStore, U: UsageStore> Authorizer<C, U> {
    /// Creates an authorizer over `catalog` and `usage`. Wrap the catalog in a
    /// `CachedCatalog` to cache lookups. Quota reads are cached for `config.cache_ttl`.
    pub fn new(catalog: C, usage: U, config: &Config) -> Self {
        Self {
            catalog,
            quotas: QuotaReader::new(usage, config.cache_ttl),
            fail_open: config.fail_open,
            simple_responses: config.simple_responses,
        }
    }

    /// Decides on one authorizer event of any of the four formats.
    ///
    /// Returns the response JSON in the form matching the event, or
    /// [`AuthorizerError::Unauthorized`] for a REST event whose caller is not
    /// identified, which API Gateway turns into 401.
    pub async fn handle(&self, event: Value) -> Result<Value, AuthorizerError> {
        let Some(format) = PayloadFormat::detect(&event) else {
            log_unauthorized(Rejection::UnknownEventShape, None, None);
            return Err(AuthorizerError::Unauthorized);
        };
        let raw_method_arn = request::raw_method_arn(&event);

        let (outcome, route, claimed_tenant) = match AuthorizerRequest::parse(format, event) {
            Ok(request) => (
                self.decide(&request).await,
                Some(request.target.to_string()),
                request.claimed_tenant().map(str::to_owned),
            ),
            Err(_) => (Outcome::Unauthorized(Rejection::MalformedEvent), None, None),
        };

        let decision = match outcome {
            Outcome::Decided(decision) => {
                log_decision(&decision, route.as_deref());
                decision
            }
            Outcome::Unauthorized(rejection) => {
                log_unauthorized(rejection, claimed_tenant.as_deref(), route.as_deref());
                if !format.is_http_api() {
                    return Err(AuthorizerError::Unauthorized);
                }
                // NOTE: HTTP APIs return 500 when a Lambda authorizer returns an
                // error, so an unidentified caller gets a deny (403) instead. API
                // Gateway itself returns 401 when the configured identity sources
                // are missing, before the authorizer runs.
                let method_arn = raw_method_arn.as_deref().unwrap_or("*");
                Decision::deny(None, UNAUTHORIZED_REASON, method_arn, Vec::new())
            }
        };

        response::render(format, self.simple_responses, &decision)
            .map_err(|source| AuthorizerError::Response { source })
    }

    async fn decide(&self, request: &AuthorizerRequest) -> Outcome {
        let tenant = match self.authenticate(request).await {
            Ok(tenant) => tenant,
            Err(halt) => return self.resolve_halt(request, None, halt),
        };

        match self.authorize(request, &tenant).await {
            Ok(decision) => Outcome::Decided(decision),
            Err(halt) => self.resolve_halt(request, Some(&tenant.id), halt),
        }
    }

    /// Verifies the API key and returns the tenant it belongs to.
    async fn authenticate(&self, request: &AuthorizerRequest) -> Result<Tenant, Halt> {
        let credentials = request
            .credentials
            .clone()
            .map_err(|error| Halt::Unauthorized(Rejection::Credentials(error)))?;
        let (claimed_tenant, api_key) = match credentials {
            Credentials::Token { api_key } => (None, api_key),
            Credentials::Headers { tenant_id, api_key } => (Some(tenant_id), api_key),
        };

        let Some(key) = self.catalog.api_key(&keys::api_key_hash(&api_key)).await? else {
            return Err(Halt::Unauthorized(Rejection::UnknownApiKey));
        };
        if key.status != Status::Active {
            return Err(Halt::Unauthorized(Rejection::InactiveApiKey));
        }
        if claimed_tenant.is_some_and(|tenant_id| tenant_id != key.tenant_id) {
            return Err(Halt::Unauthorized(Rejection::ApiKeyOfOtherTenant));
        }

        self.catalog
            .tenant(&key.tenant_id)
            .await?
            .ok_or(Halt::Unauthorized(Rejection::UnknownTenant))
    }

    /// Builds the policy for a verified tenant.
    async fn authorize(&self, request: &AuthorizerRequest, tenant: &Tenant) -> Result<Decision, Halt> {
        if tenant.status != Status::Active {
            return Err(Halt::Deny(DenyReason::TenantSuspended));
        }

        let integration = self.integration(&request.api).await?;
        if !integration.flags.entitlement {
            // Entitlement checks are off for this integration: any route of the
            // API stage is open to a known tenant with a valid key.
            return Ok(Decision::allow(&tenant.id, vec![stage_wildcard(&request.api)]));
        }

        let routes = self.catalog.routes(&integration.id).await?;
        let at = request.request_time.unwrap_or_else(Utc::now);
        let access = self.access_by_product(&tenant.id, &routes, at).await?;
        let allow = entitled_route_arns(&routes, &access, &request.api);

        let target = &request.target;
        let Some(route) = find_route(&routes, &target.method, &target.path) else {
            return Ok(Decision::deny(
                Some(&tenant.id),
                DenyReason::UnknownRoute.as_str(),
                &request.method_arn,
                allow,
            ));
        };

        match access.get(route.product_id.as_str()) {
            Some(Access::Entitled) => Ok(Decision::allow(&tenant.id, allow)),
            Some(Access::Denied(reason)) => {
                Ok(Decision::deny(Some(&tenant.id), reason.as_str(), &request.method_arn, allow))
            }
            // Cannot happen: access_by_product checked the product of every route.
            None => Err(Halt::Deny(DenyReason::EntitlementUnavailable)),
        }
    }

    /// Finds the active integration that owns the API.
    async fn integration(&self, api: &ApiStage) -> Result<Integration, Halt> {
        let Some(integration) = self.catalog.integration_for_api(&api.api_id).await? else {
            return Err(Halt::Deny(DenyReason::UnknownApi));
        };
        if integration.status != Status::Active {
            return Err(Halt::Deny(DenyReason::IntegrationDisabled));
        }
        Ok(integration)
    }

    /// Checks the tenant's access to every product that owns a route of the
    /// API, so the policy can list all routes the tenant may call.
    async fn access_by_product<'a>(
        &self,
        tenant_id: &str,
        routes: &'a [Route],
        at: DateTime<Utc>,
    ) -> Result<BTreeMap<&'a str, Access>, StoreError> {
        let subscriptions = self.catalog.subscriptions(tenant_id).await?;
        let mut access = BTreeMap::new();

        for route in routes {
            let product_id = route.product_id.as_str();
            if access.contains_key(product_id) {
                continue;
            }
            let product = product_access(&self.catalog, &self.quotas, &subscriptions, product_id, at).await?;
            access.insert(product_id, product);
        }
        Ok(access)
    }

    /// Turns a halt into the outcome, failing open or closed when DynamoDB
    /// cannot be read.
    fn resolve_halt(&self, request: &AuthorizerRequest, tenant_id: Option<&str>, halt: Halt) -> Outcome {
        match halt {
            Halt::Unauthorized(rejection) => Outcome::Unauthorized(rejection),
            Halt::Deny(reason) => {
                Outcome::Decided(Decision::deny(tenant_id, reason.as_str(), &request.method_arn, Vec::new()))
            }
            Halt::Unavailable(error) => Outcome::Decided(self.unavailable(request, tenant_id, &error)),
        }
    }

    fn unavailable(&self, request: &AuthorizerRequest, tenant_id: Option<&str>, error: &StoreError) -> Decision {
        // Only an outage opens access. A missing table, denied access or an item
        // of the wrong shape is a configuration or catalog bug, so it never does.
        let unreachable = error.is_unavailable();

        if self.fail_open && unreachable {
            tracing::warn!(
                tenant_id,
                route = %request.target,
                error = %error,
                "DynamoDB is unreachable, so this method ARN is allowed because FAIL_OPEN is true"
            );
            // NOTE: the API key may not have been verified yet, so the context
            // names a tenant only when it was, and the call is metered as
            // unattributed otherwise.
            return Decision::fail_open(tenant_id, &request.method_arn);
        }

        tracing::error!(
            tenant_id,
            route = %request.target,
            error = %error,
            "failed to read the catalog or usage table, so the request is denied"
        );
        Decision::deny(
            tenant_id,
            DenyReason::EntitlementUnavailable.as_str(),
            &request.method_arn,
            Vec::new(),
        )
    }
}

/// Builds the ARN pattern for every method and path of one API stage.
fn stage_wildcard(api: &ApiStage) -> String {
    format!("{}:{}/{}/*/*", api.arn_prefix, api.api_id, api.stage)
}

/// Lists the ARN patterns of the routes whose product the tenant is entitled
/// to, sorted and without duplicates.
///
/// NOTE: `*` in an IAM resource also matches `/`, so the pattern of
/// `/pets/{petId}` also covers `/pets/1/toys`. When two products own nested
/// routes like these, a cached policy can let a call through to the inner one.
fn entitled_route_arns(routes: &[Route], access: &BTreeMap<&str, Access>, api: &ApiStage) -> Vec<String> {
    let mut arns: Vec<String> = routes
        .iter()
        .filter(|route| access.get(route.product_id.as_str()) == Some(&Access::Entitled))
        .map(|route| route.route.method_arn(api))
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

fn log_decision(decision: &Decision, route: Option<&str>) {
    let outcome = if decision.authorized { "allow" } else { "deny" };
    tracing::info!(
        tenant_id = decision.tenant_id.as_deref(),
        decision = outcome,
        reason = decision.reason,
        route,
        fail_open = decision.fail_open,
        "authorization decision"
    );
}

/// Logs a rejected caller. `claimed_tenant` is the unverified `X-Tenant-Id`.
fn log_unauthorized(rejection: Rejection, claimed_tenant: Option<&str>, route: Option<&str>) {
    tracing::info!(
        tenant_id = claimed_tenant,
        decision = "unauthorized",
        reason = rejection.as_str(),
        header_problem = rejection.header_problem(),
        route,
        "authorization decision"
    );
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
