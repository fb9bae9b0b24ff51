//! Deterministic API traffic for the demo: requests of several tenants to the
//! seed catalog's sample REST API, the authorizer events API Gateway would send
//! for them, and the access-log lines it would write afterwards.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// API id of the seed catalog's sample REST API.
pub const API_ID: &str = "a1b2c3d4e5";
/// Stage of the sample REST API.
pub const STAGE: &str = "prod";
/// Account id used in the method ARNs.
pub const ACCOUNT_ID: &str = "123456789012";

/// Resource paths of the sample API with the methods they serve.
const ROUTES: [(&str, &str); 6] = [
    ("GET", "/pets"),
    ("POST", "/pets"),
    ("GET", "/pets/{petId}"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/{orderId}"),
];

/// Sender of a request and the credentials it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Value of `X-Tenant-Id`, if sent.
    pub tenant_header: Option<String>,
    /// Value of `x-api-key`, if sent.
    pub api_key: Option<String>,
}

/// One client request to the sample API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `$context.requestId`.
    pub request_id: String,
    /// `$context.extendedRequestId`, the correlation id on REST APIs.
    pub extended_request_id: String,
    /// Caller credentials.
    pub caller: Caller,
    /// HTTP method.
    pub method: &'static str,
    /// Resource path template.
    pub resource: &'static str,
    /// Concrete request path.
    pub path: String,
    /// When API Gateway received the request.
    pub at: DateTime<Utc>,
    /// Status the backend returns when the request is allowed.
    pub backend_status: u16,
    /// Response body size when allowed.
    pub response_length: u64,
    /// Response latency in milliseconds when allowed.
    pub latency_ms: u64,
}

/// The authorizer's verdict as API Gateway applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Policy allows the method ARN; the context's tenant id.
    Allow {
        /// `tenantId` from the authorizer context.
        tenant_id: String,
    },
    /// Policy denies the method ARN (403).
    Deny {
        /// `tenantId` from the authorizer context, when present.
        tenant_id: Option<String>,
        /// `reason` from the authorizer context.
        reason: String,
    },
    /// The authorizer returned `Unauthorized` (401).
    Unauthorized,
}

/// How many requests each caller sends in the demo.
pub struct Mix {
    /// `(tenant, api key, product route prefix, request count)`.
    pub callers: Vec<(Caller, &'static str, usize)>,
}

impl Mix {
    /// Builds the demo's traffic: four seed tenants on their products and on
    /// products they lack, a key sent with another tenant's id, and requests
    /// without a tenant.
    pub fn demo(keys: &dyn Fn(&str) -> Option<String>) -> Self {
        let tenant = |id: &str| Caller {
            tenant_header: Some(id.to_owned()),
            api_key: keys(id),
        };

        Self {
            callers: vec![
                (tenant("acme"), "/pets", 90),
                (tenant("acme"), "/orders", 60),
                (tenant("globex"), "/pets", 70),
                (tenant("globex"), "/orders", 6),
                (tenant("initech"), "/orders", 45),
                (tenant("initech"), "/pets", 5),
                (tenant("hooli"), "/pets", 8),
                (
                    Caller {
                        tenant_header: Some("globex".to_owned()),
                        api_key: keys("acme"),
                    },
                    "/pets",
                    4,
                ),
                (
                    Caller {
                        tenant_header: None,
                        api_key: keys("acme"),
                    },
                    "/pets",
                    3,
                ),
            ],
        }
    }
}

/// Generates the requests of `mix`, interleaved and in time order, from a
/// fixed seed so every run produces the same input.
pub fn generate(mix: &Mix, seed: u64) -> Vec<Request> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut remaining: Vec<usize> = mix.callers.iter().map(|(_, _, count)| *count).collect();
    let mut at = Utc.with_ymd_and_hms(2026, 11, 30, 22, 0, 0).single().unwrap_or_default();
    let mut requests = Vec::new();

    while remaining.iter().any(|count| *count > 0) {
        let open: Vec<usize> = (0..remaining.len()).filter(|i| remaining[*i] > 0).collect();
        let pick = open[rng.random_range(0..open.len())];
        remaining[pick] -= 1;

        let (caller, prefix, _) = &mix.callers[pick];
        let routes: Vec<_> = ROUTES.iter().filter(|(_, r)| r.starts_with(prefix)).collect();
        let (method, resource) = *routes[rng.random_range(0..routes.len())];
        at += Duration::milliseconds(rng.random_range(5_000..60_000));

        requests.push(Request {
            request_id: uuid_like(&mut rng),
            extended_request_id: format!("{}=", base32_like(&mut rng, 15)),
            caller: caller.clone(),
            method,
            resource,
            path: concrete_path(resource, &mut rng),
            at,
            backend_status: backend_status(method, &mut rng),
            response_length: rng.random_range(40..20_000),
            latency_ms: rng.random_range(8..400),
        });
    }
    requests
}

fn backend_status(method: &str, rng: &mut StdRng) -> u16 {
    match rng.random_range(0..100) {
        0..=2 => 500,
        3..=7 => 404,
        _ if method == "POST" => 201,
        _ => 200,
    }
}

fn concrete_path(resource: &str, rng: &mut StdRng) -> String {
    resource
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                rng.random_range(1..5_000).to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn uuid_like(rng: &mut StdRng) -> String {
    let bytes: [u8; 16] = rng.random();
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn base32_like(rng: &mut StdRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The method ARN API Gateway puts into the authorizer event.
pub fn method_arn(request: &Request) -> String {
    format!(
        "arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{API_ID}/{STAGE}/{}{}",
        request.method, request.path
    )
}

/// Builds the REST API `REQUEST` authorizer event for `request`.
pub fn authorizer_event(request: &Request) -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert("Host".to_owned(), json!(format!("{API_ID}.execute-api.us-east-1.amazonaws.com")));
    headers.insert("User-Agent".to_owned(), json!("aforo-demo/1.0"));
    if let Some(tenant) = &request.caller.tenant_header {
        headers.insert("X-Tenant-Id".to_owned(), json!(tenant));
    }
    if let Some(key) = &request.caller.api_key {
        headers.insert("x-api-key".to_owned(), json!(key));
    }
    let multi_value_headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.clone(), json!([value])))
        .collect();

    json!({
        "type": "REQUEST",
        "methodArn": method_arn(request),
        "resource": request.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "path": format!("/{STAGE}{}", request.path),
            "accountId": ACCOUNT_ID,
            "resourceId": "r3s0urc3",
            "stage": STAGE,
            "requestId": request.request_id,
            "extendedRequestId": request.extended_request_id,
            "requestTimeEpoch": request.at.timestamp_millis(),
            "identity": { "sourceIp": "198.51.100.7", "userAgent": "aforo-demo/1.0" },
            "resourcePath": request.resource,
            "httpMethod": request.method,
            "apiId": API_ID,
        },
    })
}

/// Applies an authorizer response the way API Gateway does: an explicit deny
/// of the method ARN wins, otherwise an allow statement must cover it.
pub fn decision(request: &Request, response: &Value) -> Decision {
    let context = &response["context"];
    let tenant_id = context["tenantId"].as_str().map(str::to_owned);
    let reason = context["reason"].as_str().unwrap_or("not allowed").to_owned();

    if let Some(authorized) = response["isAuthorized"].as_bool() {
        return match (authorized, tenant_id) {
            (true, Some(tenant_id)) => Decision::Allow { tenant_id },
            (_, tenant_id) => Decision::Deny { tenant_id, reason },
        };
    }

    let arn = method_arn(request);
    let statements = response["policyDocument"]["Statement"].as_array().cloned().unwrap_or_default();
    let covers = |effect: &str| {
        statements.iter().any(|statement| {
            statement["Effect"] == effect
                && resources(&statement["Resource"]).iter().any(|pattern| glob_matches(pattern, &arn))
        })
    };

    match (covers("Deny"), covers("Allow"), tenant_id) {
        (false, true, Some(tenant_id)) => Decision::Allow { tenant_id },
        (_, _, tenant_id) => Decision::Deny { tenant_id, reason },
    }
}

fn resources(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// IAM resource matching: `*` matches any run of characters, `?` one.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);

    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(star_at) = star {
            pi = star_at + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Builds the access-log line API Gateway writes for `request`, in the template's format.
pub fn access_log_line(request: &Request, decision: &Decision) -> String {
    let (status, length, latency, tenant, error_type) = match decision {
        Decision::Allow { tenant_id } => (
            request.backend_status,
            request.response_length.to_string(),
            request.latency_ms.to_string(),
            tenant_id.clone(),
            "-".to_owned(),
        ),
        Decision::Deny { tenant_id, .. } => (
            403,
            "60".to_owned(),
            "12".to_owned(),
            tenant_id.clone().unwrap_or_else(|| "-".to_owned()),
            "ACCESS_DENIED".to_owned(),
        ),
        Decision::Unauthorized => (401, "26".to_owned(), "9".to_owned(), "-".to_owned(), "UNAUTHORIZED".to_owned()),
    };

    json!({
        "requestId": request.request_id,
        "extendedRequestId": request.extended_request_id,
        "requestTimeEpoch": request.at.timestamp_millis().to_string(),
        "httpMethod": request.method,
        "resourcePath": request.resource,
        "path": request.path,
        "status": status.to_string(),
        "responseLength": length,
        "responseLatency": latency,
        "tenantId": tenant,
        "apiId": API_ID,
        "stage": STAGE,
        "errorResponseType": error_type,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_is_deterministic() {
        let keys = |tenant: &str| Some(format!("key-{tenant}"));
        let mix = Mix::demo(&keys);
        assert_eq!(generate(&mix, 7), generate(&mix, 7));
    }

    #[test]
    fn generate_sends_every_request_of_mix() {
        let keys = |tenant: &str| Some(format!("key-{tenant}"));
        let mix = Mix::demo(&keys);
        let expected: usize = mix.callers.iter().map(|(_, _, count)| count).sum();
        assert_eq!(generate(&mix, 7).len(), expected);
    }

    #[test]
    fn glob_matches_iam_wildcards() {
        assert!(glob_matches("arn:x:api/prod/GET/pets/*", "arn:x:api/prod/GET/pets/42"));
        assert!(glob_matches("arn:x:api/prod/*/*", "arn:x:api/prod/POST/orders"));
        assert!(!glob_matches("arn:x:api/prod/GET/pets", "arn:x:api/prod/GET/pets/42"));
    }

    #[test]
    fn decision_explicit_deny_wins() {
        let request = generate(&Mix::demo(&|_| Some("k".to_owned())), 1).remove(0);
        let response = json!({
            "principalId": "acme",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/*"]},
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [method_arn(&request)]}
            ]},
            "context": {"tenantId": "acme", "reason": "quota_exhausted"}
        });
        assert!(matches!(decision(&request, &response), Decision::Deny { .. }));
    }
}
