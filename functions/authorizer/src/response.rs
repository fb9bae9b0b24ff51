//! Puts a [`Decision`] into the response form that matches the event.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Map, Value};

use crate::decision::Decision;
use crate::request::PayloadFormat;

const POLICY_VERSION: &str = "2012-10-17";
const INVOKE_ACTION: &str = "execute-api:Invoke";

/// Renders `decision` for an event of `format`: an IAM policy response for
/// REST and HTTP API 1.0 events, and for 2.0 events either a simple response
/// (when `simple_responses`) or an IAM policy response.
pub fn render(format: PayloadFormat, simple_responses: bool, decision: &Decision) -> Result<Value, serde_json::Error> {
    match format {
        PayloadFormat::RestToken | PayloadFormat::RestRequest => {
            let mut response = ApiGatewayCustomAuthorizerResponse::<Map<String, Value>>::default();
            response.principal_id = Some(decision.principal_id().to_owned());
            response.policy_document = policy(decision);
            response.context = context(decision);
            serde_json::to_value(response)
        }
        PayloadFormat::HttpV2 if simple_responses => {
            // NOTE: a simple response cannot list routes, so API Gateway's
            // authorizer cache must include $context.routeKey in the identity
            // sources. Otherwise one route's result is reused for every route.
            let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Map<String, Value>>::default();
            response.is_authorized = decision.authorized;
            response.context = context(decision);
            serde_json::to_value(response)
        }
        PayloadFormat::HttpV1 | PayloadFormat::HttpV2 => {
            let mut response = ApiGatewayV2CustomAuthorizerIamPolicyResponse::<Map<String, Value>>::default();
            response.principal_id = Some(decision.principal_id().to_owned());
            response.policy_document = policy(decision);
            response.context = context(decision);
            serde_json::to_value(response)
        }
    }
}

/// Builds one Allow statement for `decision.allow` and one Deny statement for
/// `decision.deny`, each left out when empty.
fn policy(decision: &Decision) -> ApiGatewayCustomAuthorizerPolicy {
    let mut statements = Vec::new();
    if !decision.allow.is_empty() {
        statements.push(statement(IamPolicyEffect::Allow, &decision.allow));
    }
    if !decision.deny.is_empty() {
        statements.push(statement(IamPolicyEffect::Deny, &decision.deny));
    }
    // A policy needs a statement; with none, deny everything rather than send an empty one.
    if statements.is_empty() {
        statements.push(statement(IamPolicyEffect::Deny, &["*".to_owned()]));
    }

    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some(POLICY_VERSION.to_owned());
    policy.statement = statements;
    policy
}

fn statement(effect: IamPolicyEffect, resources: &[String]) -> IamPolicyStatement {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec![INVOKE_ACTION.to_owned()];
    statement.effect = effect;
    statement.resource = resources.to_vec();
    statement
}

/// Builds the authorizer context from identity-level values only (`tenantId`,
/// `reason`, `failOpen`). It never names the route's product or plan, because
/// API Gateway may reuse a cached context for every route of the API.
fn context(decision: &Decision) -> Map<String, Value> {
    let mut context = Map::new();
    if let Some(tenant_id) = &decision.tenant_id {
        context.insert("tenantId".to_owned(), Value::from(tenant_id.as_str()));
    }
    if let Some(reason) = decision.reason {
        context.insert("reason".to_owned(), Value::from(reason));
    }
    if decision.fail_open {
        context.insert("failOpen".to_owned(), Value::from("true"));
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/orders";
    const PETS: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets";

    fn denied() -> Decision {
        Decision::deny(Some("acme"), "not_subscribed", ARN, vec![PETS.to_owned()])
    }

    #[test]
    fn rest_policy_lists_allow_and_deny() {
        let response = render(PayloadFormat::RestRequest, false, &denied()).unwrap();
        let statements = &response["policyDocument"]["Statement"];
        assert_eq!(response["principalId"], "acme");
        assert_eq!(response["policyDocument"]["Version"], POLICY_VERSION);
        assert_eq!(statements[0]["Effect"], "Allow");
        assert_eq!(statements[0]["Action"][0], INVOKE_ACTION);
        assert_eq!(statements[0]["Resource"][0], PETS);
        assert_eq!(statements[1]["Effect"], "Deny");
        assert_eq!(statements[1]["Resource"][0], ARN);
    }

    #[test]
    fn rest_context_has_tenant_and_reason() {
        let response = render(PayloadFormat::RestToken, false, &denied()).unwrap();
        let context = response["context"].as_object().unwrap();
        assert_eq!(context.len(), 2);
        assert_eq!(context["tenantId"], "acme");
        assert_eq!(context["reason"], "not_subscribed");
    }

    #[test]
    fn allow_policy_has_no_deny_statement() {
        let decision = Decision::allow("acme", vec![PETS.to_owned()]);
        let response = render(PayloadFormat::HttpV1, false, &decision).unwrap();
        let statements = response["policyDocument"]["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Effect"], "Allow");
        assert_eq!(response["context"]["tenantId"], "acme");
        assert!(response["context"].get("reason").is_none());
    }

    #[test]
    fn anonymous_principal_without_tenant() {
        let decision = Decision::deny(None, "unauthorized", ARN, Vec::new());
        let response = render(PayloadFormat::HttpV2, false, &decision).unwrap();
        assert_eq!(response["principalId"], "anonymous");
        assert!(response["context"].get("tenantId").is_none());
        assert_eq!(response["context"]["reason"], "unauthorized");
    }

    #[test]
    fn simple_response_for_v2_when_configured() {
        let response = render(PayloadFormat::HttpV2, true, &denied()).unwrap();
        assert_eq!(response["isAuthorized"], false);
        assert_eq!(response["context"]["reason"], "not_subscribed");
        assert!(response.get("policyDocument").is_none());
    }

    #[test]
    fn simple_responses_ignored_for_v1() {
        let response = render(PayloadFormat::HttpV1, true, &denied()).unwrap();
        assert!(response.get("isAuthorized").is_none());
        assert!(response.get("policyDocument").is_some());
    }

    #[test]
    fn empty_policy_denies_everything() {
        let mut decision = Decision::allow("acme", Vec::new());
        decision.authorized = false;
        let response = render(PayloadFormat::RestRequest, false, &decision).unwrap();
        let statements = &response["policyDocument"]["Statement"];
        assert_eq!(statements[0]["Effect"], "Deny");
        assert_eq!(statements[0]["Resource"][0], "*");
    }

    #[test]
    fn fail_open_flag_in_context() {
        let mut decision = Decision::allow("acme", vec![ARN.to_owned()]);
        decision.fail_open = true;
        let response = render(PayloadFormat::RestRequest, false, &decision).unwrap();
        assert_eq!(response["context"]["failOpen"], "true");
    }
}
