//! `template.yaml` passes cfn-lint and `sam validate --lint`, and keeps the
//! properties the pipeline relies on: cargo-lambda builds, partial batch
//! responses, the access-log format the decoder parses, and IAM statements
//! limited to exact resources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};

use aforo_tests::{endpoint_url, workspace_root};
use serde_yaml::Value;

/// The access-log format of the sample REST API stage, as the log decoder expects it.
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId","requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","path":"$context.path","status":"$context.status","responseLength":"$context.responseLength","responseLatency":"$context.responseLatency","tenantId":"$context.authorizer.tenantId","apiId":"$context.apiId","stage":"$context.stage","errorResponseType":"$context.error.responseType"}"#;

const FUNCTIONS: [&str; 4] = ["AuthorizerFunction", "LogDecoderFunction", "IngestFunction", "IngestApiFunction"];

/// API Gateway ends an HTTP API integration after 30 seconds.
const HTTP_API_INTEGRATION_TIMEOUT_SECONDS: u64 = 30;

fn template_path() -> PathBuf {
    workspace_root().join("template.yaml")
}

fn template() -> Value {
    let text = std::fs::read_to_string(template_path()).expect("template.yaml is readable");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resource<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    template
        .get("Resources")
        .and_then(|resources| resources.get(logical_id))
        .unwrap_or_else(|| panic!("template.yaml declares no resource {logical_id}"))
}

fn properties<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    resource(template, logical_id)
        .get("Properties")
        .unwrap_or_else(|| panic!("{logical_id} has no Properties"))
}

/// Returns the `Name.Attribute` of a `!GetAtt` or the name of a `!Ref`,
/// when `value` carries `tag`.
fn intrinsic_target(value: &Value, tag: &str) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => tagged.value.as_str().map(str::to_owned),
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Sequence(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Runs a tool from the project's `.venv` at the workspace root, with the
/// same dummy credentials, region and emulator endpoint as `infra/env.sh`.
fn run_venv_tool(tool: &str, args: &[&str]) -> Output {
    let program = workspace_root().join(".venv/bin").join(tool);
    assert!(
        program.exists(),
        "{} not found: run infra/test.sh, which installs cfn-lint and aws-sam-cli into .venv",
        program.display()
    );

    Command::new(&program)
        .args(args)
        .current_dir(workspace_root())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint_url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SAM_CLI_TELEMETRY", "0")
        // SAM CLI 1.170 checks PyPI for a newer version once a week, so a
        // closed local proxy port keeps that request on this machine.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()))
}

fn output_text(output: &Output) -> String {
    format!(
        "exit status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn cfn_lint_passes_on_template() {
    // Informational findings pass, but warnings and errors fail.
    let output = run_venv_tool("cfn-lint", &["--non-zero-exit-code", "warning", "template.yaml"]);
    assert!(output.status.success(), "cfn-lint reported problems:\n{}", output_text(&output));
}

#[test]
fn sam_validate_lint_passes() {
    let output = run_venv_tool(
        "sam",
        &["validate", "--lint", "--template-file", "template.yaml", "--region", "us-east-1"],
    );
    assert!(output.status.success(), "sam validate --lint failed:\n{}", output_text(&output));
}

#[test]
fn functions_build_with_cargo_lambda() {
    let template = template();
    let code_uris = [
        ("AuthorizerFunction", "functions/authorizer"),
        ("LogDecoderFunction", "functions/log-decoder"),
        ("IngestFunction", "functions/ingest"),
        ("IngestApiFunction", "functions/ingest-api"),
    ];

    for (function, code_uri) in code_uris {
        let build_method = resource(&template, function)
            .get("Metadata")
            .and_then(|metadata| metadata.get("BuildMethod"))
            .and_then(Value::as_str);
        assert_eq!(build_method, Some("rust-cargolambda"), "{function} BuildMethod");

        let actual = properties(&template, function).get("CodeUri").and_then(Value::as_str);
        assert_eq!(actual, Some(code_uri), "{function} CodeUri");
    }
}

#[test]
fn globals_use_arm64_al2023_bootstrap() {
    let template = template();
    let globals = &template["Globals"]["Function"];

    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(strings(&globals["Architectures"]), ["arm64"]);
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    assert_eq!(globals["Tracing"].as_str(), Some("Active"));
    assert_eq!(globals["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));
}

#[test]
fn ingest_event_source_reports_item_failures() {
    let template = template();
    let mapping = properties(&template, "IngestEventSourceMapping");

    assert_eq!(intrinsic_target(&mapping["EventSourceArn"], "!GetAtt").as_deref(), Some("MeteringQueue.Arn"));
    assert_eq!(intrinsic_target(&mapping["FunctionName"], "!Ref").as_deref(), Some("IngestFunction"));
    assert_eq!(strings(&mapping["FunctionResponseTypes"]), ["ReportBatchItemFailures"]);
    assert_eq!(mapping["BatchSize"].as_u64(), Some(10));
    assert!(mapping["MaximumBatchingWindowInSeconds"].as_u64().is_some());
}

#[test]
fn queue_visibility_covers_ingest_timeout() {
    let template = template();
    let ingest_timeout = properties(&template, "IngestFunction")["Timeout"]
        .as_u64()
        .or_else(|| template["Globals"]["Function"]["Timeout"].as_u64())
        .expect("ingest has a timeout");
    let visibility = properties(&template, "MeteringQueue")["VisibilityTimeout"]
        .as_u64()
        .expect("MeteringQueue has a VisibilityTimeout");

    assert_eq!(ingest_timeout, 30);
    assert!(visibility >= 6 * ingest_timeout, "VisibilityTimeout {visibility} < 6 x {ingest_timeout}");
}

#[test]
fn access_log_format_has_every_field() {
    let template = template();
    let format = properties(&template, "PetstoreApi")["AccessLogSetting"]["Format"]
        .as_str()
        .expect("PetstoreApi has an access-log Format");
    assert!(!format.contains('\n'), "the access-log format must be one line");

    let actual: BTreeMap<String, String> =
        serde_json::from_str(format).expect("the access-log format is JSON of strings");
    let expected: BTreeMap<String, String> = serde_json::from_str(ACCESS_LOG_FORMAT).unwrap();
    for (field, value) in &expected {
        assert_eq!(actual.get(field), Some(value), "access-log field {field}");
    }
    assert_eq!(actual.len(), expected.len(), "access-log fields beyond the agreed format");
}

#[test]
fn access_logs_reach_log_decoder() {
    let template = template();

    let setting = &properties(&template, "PetstoreApi")["AccessLogSetting"];
    assert_eq!(
        intrinsic_target(&setting["DestinationArn"], "!GetAtt").as_deref(),
        Some("AccessLogGroup.Arn")
    );

    let filter = properties(&template, "AccessLogSubscription");
    assert_eq!(intrinsic_target(&filter["LogGroupName"], "!Ref").as_deref(), Some("AccessLogGroup"));
    assert_eq!(
        intrinsic_target(&filter["DestinationArn"], "!GetAtt").as_deref(),
        Some("LogDecoderFunction.Arn")
    );
    assert_eq!(filter["FilterPattern"].as_str(), Some(""));

    let permission = properties(&template, "LogDecoderInvokePermission");
    assert_eq!(permission["Principal"].as_str(), Some("logs.amazonaws.com"));
    assert_eq!(
        intrinsic_target(&permission["SourceArn"], "!GetAtt").as_deref(),
        Some("AccessLogGroup.Arn")
    );
    assert!(permission.get("SourceAccount").is_some(), "permission names SourceAccount");
}

#[test]
fn decoder_failures_reach_dead_letter_queue() {
    let template = template();
    let invoke_config = &properties(&template, "LogDecoderFunction")["EventInvokeConfig"];
    let on_failure = &invoke_config["DestinationConfig"]["OnFailure"];

    assert_eq!(on_failure["Type"].as_str(), Some("SQS"));
    assert_eq!(
        intrinsic_target(&on_failure["Destination"], "!GetAtt").as_deref(),
        Some("DecoderDeadLetterQueue.Arn")
    );
    assert_eq!(resource(&template, "DecoderDeadLetterQueue")["Type"].as_str(), Some("AWS::SQS::Queue"));
}

#[test]
fn api_uses_tenant_authorizer() {
    let template = template();
    let auth = &properties(&template, "PetstoreApi")["Auth"];
    let default_name = auth["DefaultAuthorizer"].as_str().expect("a default authorizer");
    let authorizer = &auth["Authorizers"][default_name];

    assert_eq!(
        intrinsic_target(&authorizer["FunctionArn"], "!GetAtt").as_deref(),
        Some("AuthorizerFunction.Arn")
    );
    assert_eq!(authorizer["FunctionPayloadType"].as_str(), Some("REQUEST"));
    assert_eq!(strings(&authorizer["Identity"]["Headers"]), ["X-Tenant-Id", "x-api-key"]);
    assert_eq!(authorizer["Identity"]["ReauthorizeEvery"].as_u64(), Some(300));
}

#[test]
fn api_mocks_every_seed_route() {
    let template = template();
    let paths = &properties(&template, "PetstoreApi")["DefinitionBody"]["paths"];
    let routes = [
        ("/pets", "get"),
        ("/pets", "post"),
        ("/pets/{petId}", "get"),
        ("/orders", "get"),
        ("/orders", "post"),
        ("/orders/{orderId}", "get"),
    ];

    for (path, method) in routes {
        let integration_type = paths[path][method]["x-amazon-apigateway-integration"]["type"].as_str();
        assert_eq!(integration_type, Some("mock"), "{method} {path}");
    }
}

#[test]
fn functions_set_required_environment() {
    let template = template();
    let required = [
        ("AuthorizerFunction", &["CATALOG_TABLE", "USAGE_TABLE", "CATALOG_CACHE_TTL_SECONDS", "FAIL_OPEN"][..]),
        (
            "LogDecoderFunction",
            &["CATALOG_TABLE", "METERING_QUEUE_URL", "CATALOG_CACHE_TTL_SECONDS", "BILLABLE_STATUS_CLASSES"][..],
        ),
        ("IngestFunction", &["DEDUPE_TABLE", "USAGE_TABLE", "DEDUPE_WINDOW_DAYS"][..]),
        (
            "IngestApiFunction",
            &[
                "CATALOG_TABLE",
                "DEDUPE_TABLE",
                "IDEMPOTENCY_TABLE",
                "METERING_QUEUE_URL",
                "CATALOG_CACHE_TTL_SECONDS",
                "MAX_BODY_BYTES",
                "MAX_DECOMPRESSED_BYTES",
                "MAX_EVENTS",
                "IDEMPOTENCY_LEASE_SECONDS",
                "IDEMPOTENCY_TTL_HOURS",
                "SEND_MAX_ATTEMPTS",
                "BILLABLE_STATUS_CLASSES",
            ][..],
        ),
    ];

    for (function, names) in required {
        let variables = &properties(&template, function)["Environment"]["Variables"];
        for name in names {
            assert!(variables.get(*name).is_some(), "{function} does not set {name}");
        }
    }
}

#[test]
fn billable_classes_share_one_parameter() {
    let template = template();

    for function in ["LogDecoderFunction", "IngestApiFunction"] {
        let value = &properties(&template, function)["Environment"]["Variables"]["BILLABLE_STATUS_CLASSES"];
        assert_eq!(
            intrinsic_target(value, "!Ref").as_deref(),
            Some("BillableStatusClasses"),
            "{function} BILLABLE_STATUS_CLASSES"
        );
    }
}

/// Collects every IAM statement below `value`, with the resource that declares it.
fn iam_statements(value: &Value, owner: &str, found: &mut Vec<(String, Value)>) {
    match value {
        Value::Mapping(mapping) => {
            for (key, child) in mapping {
                if key.as_str() == Some("Statement") {
                    for statement in child.as_sequence().into_iter().flatten() {
                        found.push((owner.to_owned(), statement.clone()));
                    }
                } else {
                    iam_statements(child, owner, found);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| iam_statements(item, owner, found)),
        Value::Tagged(tagged) => iam_statements(&tagged.value, owner, found),
        _ => {}
    }
}

fn all_iam_statements(template: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (logical_id, resource) in template["Resources"].as_mapping().expect("Resources") {
        iam_statements(resource, logical_id.as_str().unwrap_or_default(), &mut found);
    }
    found
}

#[test]
fn iam_statements_avoid_wildcards() {
    let template = template();
    let statements = all_iam_statements(&template);
    assert!(!statements.is_empty(), "the template declares IAM statements");

    for (owner, statement) in statements {
        // Trust policies name a principal and no resource.
        if statement.get("Principal").is_some() {
            continue;
        }

        for action in strings(&statement["Action"]) {
            assert!(!action.contains('*'), "{owner}: action {action} uses a wildcard");
        }

        let resources = match &statement["Resource"] {
            Value::Sequence(items) => items.clone(),
            Value::Null => panic!("{owner}: statement without Resource"),
            single => vec![single.clone()],
        };
        for resource in resources {
            if let Value::String(text) = &resource {
                assert!(!text.contains('*'), "{owner}: resource {text} uses a wildcard");
            }
        }
    }
}

/// Lists the (action, `!GetAtt` target) pairs that a function's policies allow.
fn granted(template: &Value, function: &str) -> BTreeSet<(String, String)> {
    let mut statements = Vec::new();
    iam_statements(&properties(template, function)["Policies"], function, &mut statements);

    let mut pairs = BTreeSet::new();
    for (_, statement) in statements {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{function} statement effect");
        let resources = match &statement["Resource"] {
            Value::Sequence(items) => items.clone(),
            single => vec![single.clone()],
        };
        for action in strings(&statement["Action"]) {
            for resource in &resources {
                let target = intrinsic_target(resource, "!GetAtt")
                    .unwrap_or_else(|| panic!("{function}: resource {resource:?} is not !GetAtt <Resource>.Arn"));
                pairs.insert((action.clone(), target));
            }
        }
    }
    pairs
}

fn pairs(expected: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    expected
        .iter()
        .map(|(action, target)| (action.to_string(), target.to_string()))
        .collect()
}

#[test]
fn authorizer_policy_is_least_privilege() {
    let expected = pairs(&[
        ("dynamodb:GetItem", "CatalogTable.Arn"),
        ("dynamodb:Query", "CatalogTable.Arn"),
        ("dynamodb:GetItem", "UsageTable.Arn"),
    ]);
    assert_eq!(granted(&template(), "AuthorizerFunction"), expected);
}

#[test]
fn decoder_policy_is_least_privilege() {
    let expected = pairs(&[
        ("dynamodb:GetItem", "CatalogTable.Arn"),
        ("dynamodb:Query", "CatalogTable.Arn"),
        ("sqs:SendMessage", "MeteringQueue.Arn"),
    ]);
    assert_eq!(granted(&template(), "LogDecoderFunction"), expected);
}

#[test]
fn ingest_policy_is_least_privilege() {
    let expected = pairs(&[
        ("dynamodb:PutItem", "DedupeTable.Arn"),
        ("dynamodb:UpdateItem", "UsageTable.Arn"),
        ("sqs:ReceiveMessage", "MeteringQueue.Arn"),
        ("sqs:DeleteMessage", "MeteringQueue.Arn"),
        ("sqs:ChangeMessageVisibility", "MeteringQueue.Arn"),
        ("sqs:GetQueueAttributes", "MeteringQueue.Arn"),
    ]);
    assert_eq!(granted(&template(), "IngestFunction"), expected);
}

#[test]
fn ingest_api_policy_is_least_privilege() {
    let expected = pairs(&[
        ("dynamodb:GetItem", "CatalogTable.Arn"),
        ("dynamodb:Query", "CatalogTable.Arn"),
        ("dynamodb:BatchGetItem", "DedupeTable.Arn"),
        ("dynamodb:GetItem", "IdempotencyTable.Arn"),
        ("dynamodb:PutItem", "IdempotencyTable.Arn"),
        ("dynamodb:UpdateItem", "IdempotencyTable.Arn"),
        ("dynamodb:DeleteItem", "IdempotencyTable.Arn"),
        ("sqs:SendMessage", "MeteringQueue.Arn"),
    ]);
    assert_eq!(granted(&template(), "IngestApiFunction"), expected);
}

#[test]
fn ingest_route_invokes_function_with_v2_payload() {
    let template = template();
    let events = properties(&template, "IngestApiFunction")["Events"]
        .as_mapping()
        .expect("IngestApiFunction has Events");
    assert_eq!(events.len(), 1, "IngestApiFunction has one event");
    let event = events.values().next().expect("one event");
    let route = &event["Properties"];

    assert_eq!(event["Type"].as_str(), Some("HttpApi"));
    assert_eq!(intrinsic_target(&route["ApiId"], "!Ref").as_deref(), Some("IngestHttpApi"));
    assert_eq!(route["Method"].as_str(), Some("POST"));
    assert_eq!(route["Path"].as_str(), Some("/v1/ingest"));
    assert_eq!(route["PayloadFormatVersion"].as_str(), Some("2.0"));
    assert!(route.get("Auth").is_none(), "the function authenticates ingest keys itself");
}

#[test]
fn ingest_http_api_is_throttled() {
    let template = template();
    assert_eq!(resource(&template, "IngestHttpApi")["Type"].as_str(), Some("AWS::Serverless::HttpApi"));

    let api = properties(&template, "IngestHttpApi");
    let settings = &api["DefaultRouteSettings"];
    assert!(settings.get("ThrottlingRateLimit").is_some(), "no ThrottlingRateLimit");
    assert!(settings.get("ThrottlingBurstLimit").is_some(), "no ThrottlingBurstLimit");
    assert!(api.get("Auth").is_none(), "IngestHttpApi needs no authorizer");
}

#[test]
fn idempotency_table_expires_by_ttl() {
    let template = template();
    let table = properties(&template, "IdempotencyTable");

    assert_eq!(resource(&template, "IdempotencyTable")["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some("pk"));
    assert_eq!(table["KeySchema"][0]["KeyType"].as_str(), Some("HASH"));
    assert_eq!(table["KeySchema"].as_sequence().map(Vec::len), Some(1));
    assert_eq!(table["AttributeDefinitions"][0]["AttributeType"].as_str(), Some("S"));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some("expires_at"));
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
    assert_eq!(table["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
}

#[test]
fn ingest_api_timeout_fits_lease() {
    let template = template();
    let function = properties(&template, "IngestApiFunction");
    let timeout = function["Timeout"]
        .as_u64()
        .or_else(|| template["Globals"]["Function"]["Timeout"].as_u64())
        .expect("IngestApiFunction has a timeout");
    let lease: u64 = function["Environment"]["Variables"]["IDEMPOTENCY_LEASE_SECONDS"]
        .as_str()
        .and_then(|value| value.parse().ok())
        .expect("IDEMPOTENCY_LEASE_SECONDS is a number in quotes");

    // A lease that ran out while its request still runs would let a retry run twice.
    assert!(timeout < lease, "Timeout {timeout} is not below the {lease} s lease");
    assert!(
        timeout < HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
        "Timeout {timeout} is not below the HTTP API integration timeout"
    );
}

#[test]
fn ingest_url_is_an_output() {
    let template = template();
    let url = &template["Outputs"]["IngestUrl"]["Value"];
    let text = match url {
        Value::Tagged(tagged) if tagged.tag == "!Sub" => tagged.value.as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    };

    assert!(text.contains("${IngestHttpApi}"), "IngestUrl does not name IngestHttpApi: {text:?}");
    assert!(text.ends_with("/v1/ingest"), "IngestUrl does not end with /v1/ingest: {text:?}");
}

#[test]
fn dead_letter_queues_have_alarms() {
    let template = template();
    let mut alarmed = BTreeSet::new();

    for resource in template["Resources"].as_mapping().expect("Resources").values() {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let alarm = &resource["Properties"];
        assert_eq!(alarm["MetricName"].as_str(), Some("ApproximateNumberOfMessagesVisible"));
        assert_eq!(alarm["ComparisonOperator"].as_str(), Some("GreaterThanThreshold"));
        assert_eq!(alarm["Threshold"].as_u64(), Some(0));
        for dimension in alarm["Dimensions"].as_sequence().into_iter().flatten() {
            if let Some(target) = intrinsic_target(&dimension["Value"], "!GetAtt") {
                alarmed.insert(target);
            }
        }
    }

    assert!(alarmed.contains("MeteringDeadLetterQueue.QueueName"), "no alarm on MeteringDeadLetterQueue");
    assert!(alarmed.contains("DecoderDeadLetterQueue.QueueName"), "no alarm on DecoderDeadLetterQueue");
}

#[test]
fn functions_have_arn_outputs() {
    let template = template();
    let outputs = &template["Outputs"];

    for function in FUNCTIONS {
        let arn = format!("{function}.Arn");
        let exported = outputs
            .as_mapping()
            .expect("Outputs")
            .values()
            .any(|output| intrinsic_target(&output["Value"], "!GetAtt").as_deref() == Some(arn.as_str()));
        assert!(exported, "no output with the ARN of {function}");
    }
}
