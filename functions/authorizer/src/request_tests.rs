use serde_json::json;

use super::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/public/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
    serde_json::from_str(&text).unwrap()
}

fn parse(event: Value) -> AuthorizerRequest {
    let format = PayloadFormat::detect(&event).unwrap();
    AuthorizerRequest::parse(format, event).unwrap()
}

fn rest_request() -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets/42",
        "resource": "/pets/{petId}",
        "path": "/pets/42",
        "httpMethod": "GET",
        "headers": {"X-Tenant-Id": "acme", "x-api-key": "key"},
        "multiValueHeaders": {"X-Tenant-Id": ["acme"], "x-api-key": ["key"]},
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {"petId": "42"},
        "stageVariables": {},
        "requestContext": {"apiId": "a1b2c3d4e5", "stage": "prod", "requestTimeEpoch": 1796400000000_i64}
    })
}

fn http_v1() -> Value {
    json!({
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets",
        "identitySource": "acme,key",
        "resource": "/pets",
        "path": "/pets",
        "httpMethod": "GET",
        "headers": {"x-tenant-id": "acme", "x-api-key": "key"},
        "queryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {"apiId": "a1b2c3d4e5", "httpMethod": "GET", "identity": {}, "timeEpoch": 1796400000000_i64}
    })
}

fn http_v2() -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets/42",
        "identitySource": ["acme", "key"],
        "routeKey": "GET /pets/{petId}",
        "rawPath": "/prod/pets/42",
        "cookies": [],
        "headers": {"x-tenant-id": "acme", "x-api-key": "key"},
        "queryStringParameters": {},
        "pathParameters": {"petId": "42"},
        "stageVariables": {},
        "requestContext": {
            "apiId": "a1b2c3d4e5",
            "http": {"method": "GET", "path": "/prod/pets/42"},
            "routeKey": "GET /pets/{petId}",
            "timeEpoch": 1796400000000_i64
        }
    })
}

fn headers_credentials() -> Result<Credentials, CredentialsError> {
    Ok(Credentials::Headers {
        tenant_id: "acme".to_owned(),
        api_key: "key".to_owned(),
    })
}

#[test]
fn fixture_rest_token_dispatches() {
    let request = parse(fixture("authz_rest_token_aws_lambda_events.json"));
    assert_eq!(request.format, PayloadFormat::RestToken);
    assert_eq!(request.credentials, Ok(Credentials::Token { api_key: "allow".to_owned() }));
    assert_eq!(request.api.api_id, "ymy8tbxw7b");
    assert_eq!(request.target, RouteTarget::new("GET", "/"));
    assert_eq!(request.request_time, None);
}

#[test]
fn fixture_rest_request_dispatches() {
    let request = parse(fixture("authz_rest_request_aws_lambda_events.json"));
    assert_eq!(request.format, PayloadFormat::RestRequest);
    assert_eq!(request.credentials, Err(CredentialsError::MissingTenant));
    assert_eq!(request.api.api_id, "s4x3opwd6i");
    assert_eq!(request.api.stage, "test");
    assert_eq!(request.target, RouteTarget::new("GET", "/request"));
}

#[test]
fn fixture_http_v1_dispatches() {
    let request = parse(fixture("authz_httpapi_payload_v1_aws_lambda_events.json"));
    assert_eq!(request.format, PayloadFormat::HttpV1);
    assert_eq!(request.credentials, Err(CredentialsError::MissingTenant));
    assert_eq!(request.api.api_id, "abcdef123");
    assert_eq!(request.target, RouteTarget::new("GET", "/request"));
    assert_eq!(request.request_time, DateTime::from_timestamp_millis(1583348638390));
}

#[test]
fn fixture_http_v2_dispatches() {
    let request = parse(fixture("authz_httpapi_payload_v2_aws_lambda_events.json"));
    assert_eq!(request.format, PayloadFormat::HttpV2);
    assert_eq!(request.credentials, Err(CredentialsError::MissingTenant));
    assert_eq!(request.api.api_id, "abcdef123");
    // The fixture's route key is $default, so the request's own method and path count.
    assert_eq!(request.target, RouteTarget::new("POST", "/my/path"));
    assert_eq!(request.request_time, DateTime::from_timestamp_millis(1583348638390));
}

#[test]
fn unknown_shapes_not_detected() {
    for event in [
        json!("TOKEN"),
        json!({}),
        json!({"type": "JWT"}),
        json!({"version": "3.0", "type": "REQUEST"}),
        json!({"version": 2, "type": "REQUEST"}),
    ] {
        assert_eq!(PayloadFormat::detect(&event), None, "{event}");
    }
}

#[test]
fn rest_request_reads_template_and_time() {
    let request = parse(rest_request());
    assert_eq!(request.credentials, headers_credentials());
    assert_eq!(request.target, RouteTarget::new("GET", "/pets/{petId}"));
    assert_eq!(request.request_time, DateTime::from_timestamp_millis(1796400000000));
}

#[test]
fn http_v1_reads_resource() {
    let request = parse(http_v1());
    assert_eq!(request.credentials, headers_credentials());
    assert_eq!(request.target, RouteTarget::new("GET", "/pets"));
}

#[test]
fn http_v1_default_resource_uses_path() {
    let mut event = http_v1();
    event["resource"] = json!("$default");
    event["requestContext"]["routeKey"] = json!("$default");
    event["path"] = json!("/pets/7");
    assert_eq!(parse(event).target, RouteTarget::new("GET", "/pets/7"));
}

#[test]
fn http_v1_route_key_without_resource() {
    let mut event = http_v1();
    event.as_object_mut().unwrap().remove("resource");
    event["requestContext"]["routeKey"] = json!("POST /orders");
    assert_eq!(parse(event).target, RouteTarget::new("POST", "/orders"));
}

#[test]
fn http_v2_reads_route_key() {
    let request = parse(http_v2());
    assert_eq!(request.credentials, headers_credentials());
    assert_eq!(request.target, RouteTarget::new("GET", "/pets/{petId}"));
    assert_eq!(request.method_arn, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets/42");
}

#[test]
fn http_v2_default_route_uses_raw_path() {
    let mut event = http_v2();
    event["routeKey"] = json!("$default");
    event["requestContext"]["routeKey"] = json!("$default");
    event["rawPath"] = json!("/orders/9");
    event["requestContext"]["http"]["method"] = json!("POST");
    assert_eq!(parse(event).target, RouteTarget::new("POST", "/orders/9"));
}

#[test]
fn missing_target_falls_back_to_arn() {
    let mut event = http_v2();
    let object = event.as_object_mut().unwrap();
    object.remove("routeKey");
    object.remove("rawPath");
    object.insert("requestContext".to_owned(), Value::Null);
    assert_eq!(parse(event).target, RouteTarget::new("GET", "/pets/42"));
}

/// Optional parts of each request format, set to null and then removed.
const OPTIONAL_PARTS: &[&str] = &[
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "identitySource",
    "cookies",
    "resource",
    "path",
    "httpMethod",
    "routeKey",
    "rawPath",
];

const OPTIONAL_CONTEXT_PARTS: &[&str] = &[
    "identity",
    "http",
    "authentication",
    "authorizer",
    "apiId",
    "httpMethod",
    "resourcePath",
    "routeKey",
    "requestTimeEpoch",
    "timeEpoch",
];

#[test]
fn null_or_absent_parts_parse() {
    for (label, event) in [("rest", rest_request()), ("v1", http_v1()), ("v2", http_v2())] {
        for part in OPTIONAL_PARTS {
            let mut null = event.clone();
            null[*part] = Value::Null;
            let format = PayloadFormat::detect(&null).unwrap();
            assert!(AuthorizerRequest::parse(format, null).is_ok(), "{label}: {part} null");

            let mut absent = event.clone();
            absent.as_object_mut().unwrap().remove(*part);
            assert!(AuthorizerRequest::parse(format, absent).is_ok(), "{label}: {part} absent");
        }

        for part in OPTIONAL_CONTEXT_PARTS {
            let mut null = event.clone();
            null["requestContext"][*part] = Value::Null;
            let format = PayloadFormat::detect(&null).unwrap();
            assert!(AuthorizerRequest::parse(format, null).is_ok(), "{label}: requestContext.{part} null");

            let mut absent = event.clone();
            absent["requestContext"].as_object_mut().unwrap().remove(*part);
            assert!(AuthorizerRequest::parse(format, absent).is_ok(), "{label}: requestContext.{part} absent");
        }
    }
}

#[test]
fn null_headers_mean_missing_tenant() {
    let mut event = http_v2();
    event["headers"] = Value::Null;
    assert_eq!(parse(event).credentials, Err(CredentialsError::MissingTenant));
}

#[test]
fn token_null_or_absent_parts_parse() {
    let event = fixture("authz_rest_token_aws_lambda_events.json");
    let mut null = event.clone();
    null["authorizationToken"] = Value::Null;
    assert_eq!(parse(null).credentials, Err(CredentialsError::MissingApiKey));

    let mut absent = event;
    absent.as_object_mut().unwrap().remove("authorizationToken");
    assert_eq!(parse(absent).credentials, Err(CredentialsError::MissingApiKey));
}

#[test]
fn missing_arn_is_malformed() {
    let mut event = rest_request();
    event.as_object_mut().unwrap().remove("methodArn");
    assert_eq!(AuthorizerRequest::parse(PayloadFormat::RestRequest, event), Err(MalformedEvent));

    let mut event = http_v2();
    event["routeArn"] = json!("not-an-arn");
    assert_eq!(AuthorizerRequest::parse(PayloadFormat::HttpV2, event), Err(MalformedEvent));
}

#[test]
fn wrong_field_type_is_malformed() {
    let mut event = rest_request();
    event["headers"] = json!(["X-Tenant-Id", "acme"]);
    assert_eq!(AuthorizerRequest::parse(PayloadFormat::RestRequest, event), Err(MalformedEvent));
}

#[test]
fn raw_arn_read_without_parsing() {
    let event = json!({"version": "2.0", "routeArn": "arn:x", "headers": 5});
    assert_eq!(raw_method_arn(&event), Some("arn:x".to_owned()));
}

#[test]
fn bearer_prefix_stripped() {
    assert_eq!(strip_bearer("Bearer abc"), "abc");
    assert_eq!(strip_bearer("bearer  abc "), "abc");
    assert_eq!(strip_bearer("abc"), "abc");
    assert_eq!(strip_bearer("Bearer "), "");
    assert_eq!(strip_bearer("Bearer"), "");
    assert_eq!(strip_bearer("Bearerabc"), "Bearerabc");
    assert_eq!(strip_bearer("ñandú"), "ñandú");
}

#[test]
fn token_bearer_only_is_missing_key() {
    let mut event = fixture("authz_rest_token_aws_lambda_events.json");
    event["authorizationToken"] = json!("Bearer ");
    assert_eq!(parse(event).credentials, Err(CredentialsError::MissingApiKey));
}

#[test]
fn epoch_accepts_number_or_string() {
    let expected = DateTime::from_timestamp_millis(1796400000000);
    assert_eq!(epoch_millis(&json!(1796400000000_i64)), expected);
    assert_eq!(epoch_millis(&json!("1796400000000")), expected);
    assert_eq!(epoch_millis(&json!("-")), None);
    assert_eq!(epoch_millis(&json!(0)), None);
}

#[test]
fn repeated_rest_header_rejected() {
    let mut event = rest_request();
    event["multiValueHeaders"]["X-Tenant-Id"] = json!(["acme", "globex"]);
    assert_eq!(
        parse(event).credentials,
        Err(CredentialsError::InvalidTenantHeader(HeaderError::Repeated))
    );
}

#[test]
fn joined_api_key_rejected() {
    let mut event = http_v2();
    event["headers"]["x-api-key"] = json!("key,other");
    assert_eq!(
        parse(event).credentials,
        Err(CredentialsError::InvalidApiKeyHeader(HeaderError::Joined))
    );
}
