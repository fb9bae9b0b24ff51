//! A local HTTP endpoint in front of the ingest API function.
//!
//! Each request to `POST /v1/ingest` becomes the API Gateway HTTP API event
//! (payload format 2.0) that the deployed function receives, and the function's
//! response is written back the way API Gateway writes it. Gateways, the
//! `aforo send` command and tests can then call the real function over HTTP
//! without AWS. Any other method or path gets API Gateway's 404, because the
//! HTTP API has no other route.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aforo::catalog::CatalogStore;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, USER_AGENT};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ingest_api::IngestApi;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// The only route of the ingest HTTP API.
pub const ROUTE_KEY: &str = "POST /v1/ingest";

/// Path of the ingest route.
pub const INGEST_PATH: &str = "/v1/ingest";

/// Largest request body API Gateway HTTP APIs accept (10 MB); the function
/// applies its own, smaller limits after that.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Account id in `requestContext`: the emulator's default account.
const LOCAL_ACCOUNT_ID: &str = "123456789012";

/// API id in `requestContext` of local requests.
const LOCAL_API_ID: &str = "local";

/// Pause after a failed `accept`, so a persistent error such as too many open files does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The local endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listener is bound to an address other hosts can reach.
    #[error("the local endpoint listens on {0}, but it must listen on a loopback address such as 127.0.0.1")]
    NotLoopback(SocketAddr),

    /// The listener's address could not be read.
    #[error("failed to read the listener's address")]
    LocalAddr(#[source] io::Error),
}

/// Binds a listener on 127.0.0.1; port 0 picks a free port.
pub async fn bind_local(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
}

/// Serves `POST /v1/ingest` with `api` on `listener` until the task is dropped.
///
/// Returns an error only when the listener is not on a loopback address, so
/// the endpoint is never reachable from other hosts. Connection errors are
/// logged and the server goes on.
pub async fn serve<C>(listener: TcpListener, api: Arc<IngestApi<C>>) -> Result<(), ServeError>
where
    C: CatalogStore + 'static,
{
    let local_addr = listener.local_addr().map_err(ServeError::LocalAddr)?;
    if !local_addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(local_addr));
    }
    tracing::info!(address = %local_addr, route = ROUTE_KEY, "local ingest endpoint listening");

    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "failed to accept a connection");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };

        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = service_fn(move |request| respond(Arc::clone(&api), request, peer));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(peer = %peer, error = %err, "connection closed with an error");
            }
        });
    }
}

/// Routes one request, as API Gateway would, and invokes the function for the ingest route.
async fn respond<C: CatalogStore>(
    api: Arc<IngestApi<C>>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST || request.uri().path() != INGEST_PATH {
        return Ok(gateway_message(StatusCode::NOT_FOUND, "Not Found"));
    }

    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Ok(gateway_message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
            ));
        }
        Err(err) => {
            tracing::warn!(peer = %peer, error = %err, "failed to read the request body");
            return Ok(gateway_message(StatusCode::BAD_REQUEST, "Bad Request"));
        }
    };

    let context = RequestContext {
        request_id: new_request_id(),
        received_at: Utc::now(),
        source_ip: peer.ip().to_string(),
    };
    let event = api_gateway_event(&parts, &body, &context);

    let response = api.handle(event).await;
    let http_response = http_response(&response);
    tracing::info!(
        request_id = %context.request_id,
        status = http_response.status().as_u16(),
        "local ingest request served"
    );
    Ok(http_response)
}

/// Facts of a request that API Gateway adds to `requestContext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// `requestContext.requestId`.
    pub request_id: String,
    /// When the request arrived; `requestContext.time` and `timeEpoch`.
    pub received_at: DateTime<Utc>,
    /// `requestContext.http.sourceIp`.
    pub source_ip: String,
}

/// Builds the API Gateway HTTP API event (payload format 2.0) of a request.
///
/// Header names are lower case and repeated headers are joined with commas;
/// `Cookie` headers move to `cookies`. A body that is not UTF-8, such as gzip,
/// is base64-encoded with `isBase64Encoded: true`; an empty body is left out.
pub fn api_gateway_event(parts: &http::request::Parts, body: &[u8], context: &RequestContext) -> Value {
    let (headers, cookies) = event_headers(&parts.headers);
    let header = |name: &str| headers.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let path = parts.uri.path();

    let http = json!({
        "method": parts.method.as_str(),
        "path": path,
        "protocol": format!("{:?}", parts.version),
        "sourceIp": context.source_ip,
        "userAgent": header(USER_AGENT.as_str()),
    });
    let domain_name = header(HOST.as_str());
    let domain_prefix = domain_name.split('.').next().unwrap_or_default().to_owned();
    let request_context = json!({
        "accountId": LOCAL_ACCOUNT_ID,
        "apiId": LOCAL_API_ID,
        "domainName": domain_name,
        "domainPrefix": domain_prefix,
        "http": http,
        "requestId": context.request_id,
        "routeKey": ROUTE_KEY,
        "stage": "$default",
        "time": context.received_at.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": context.received_at.timestamp_millis(),
    });

    let mut event = json!({
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": path,
        // NOTE: queryStringParameters (decoded and comma-joined) is not built, because the ingest route reads no query.
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }

    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(BASE64.encode(body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// Lower-cased headers with repeated values joined by commas, and the cookies apart.
fn event_headers(headers: &http::HeaderMap) -> (Map<String, Value>, Vec<String>) {
    let mut joined = Map::new();
    let mut cookies = Vec::new();

    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();

        if name == COOKIE {
            let pairs = values.iter().flat_map(|value| value.split(';'));
            cookies.extend(pairs.map(str::trim).filter(|pair| !pair.is_empty()).map(str::to_owned));
            continue;
        }
        // `HeaderName` is always lower case, as HTTP APIs deliver header names.
        joined.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    (joined, cookies)
}

/// Writes a function response back as API Gateway does: status, `headers`,
/// `cookies` as `Set-Cookie`, and the body, base64-decoded when flagged.
///
/// The response goes through its JSON form, as it does between Lambda and API
/// Gateway. A response API Gateway could not read becomes its 500.
pub fn http_response(response: &ApiGatewayV2httpResponse) -> Response<Full<Bytes>> {
    match serde_json::to_value(response) {
        Ok(value) => match response_from_json(&value) {
            Some(response) => response,
            None => {
                tracing::error!("the function returned a response API Gateway cannot read");
                gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        },
        Err(err) => {
            tracing::error!(error = %err, "failed to serialize the function response");
            gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

fn response_from_json(value: &Value) -> Option<Response<Full<Bytes>>> {
    let status = u16::try_from(value.get("statusCode")?.as_i64()?).ok()?;
    let status = StatusCode::from_u16(status).ok()?;

    let body = match value.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if value.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            BASE64.decode(text).ok()?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(_) => return None,
    };

    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;

    if let Some(Value::Object(headers)) = value.get("headers") {
        for (name, header_value) in headers {
            let text = match header_value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => header_value.to_string(),
                _ => continue,
            };
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            response.headers_mut().insert(name, HeaderValue::from_str(&text).ok()?);
        }
    }

    let cookies = value.get("cookies").and_then(Value::as_array).into_iter().flatten();
    for cookie in cookies.filter_map(Value::as_str) {
        response
            .headers_mut()
            .append(SET_COOKIE, HeaderValue::from_str(cookie).ok()?);
    }
    Some(response)
}

/// Builds a response that API Gateway writes itself: `{"message": ...}` as JSON.
fn gateway_message(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = json!({ "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Returns a random request id: 16 bytes in hex.
fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::encodings::Body;

    use super::*;

    fn parts(request: Request<()>) -> http::request::Parts {
        request.into_parts().0
    }

    fn context() -> RequestContext {
        RequestContext {
            request_id: "req-1".to_owned(),
            received_at: "2026-12-01T10:00:00.123Z".parse().unwrap(),
            source_ip: "127.0.0.1".to_owned(),
        }
    }

    fn ingest_request() -> http::request::Builder {
        Request::post("/v1/ingest?dry=1").header("Host", "127.0.0.1:8080")
    }

    async fn body_bytes(response: Response<Full<Bytes>>) -> Vec<u8> {
        response.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[test]
    fn event_has_payload_v2_fields() {
        let request = ingest_request().body(()).unwrap();
        let event = api_gateway_event(&parts(request), b"{}", &context());

        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /v1/ingest");
        assert_eq!(event["rawPath"], "/v1/ingest");
        assert_eq!(event["rawQueryString"], "dry=1");
        assert_eq!(event["requestContext"]["requestId"], "req-1");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["requestContext"]["timeEpoch"], 1_796_119_200_123_i64);
        assert_eq!(event["requestContext"]["time"], "01/Dec/2026:10:00:00 +0000");
    }

    #[test]
    fn event_joins_repeated_headers() {
        let request = ingest_request()
            .header("X-Forwarded-For", "10.0.0.1")
            .header("X-Forwarded-For", "10.0.0.2")
            .body(())
            .unwrap();
        let event = api_gateway_event(&parts(request), b"", &context());
        assert_eq!(event["headers"]["x-forwarded-for"], "10.0.0.1,10.0.0.2");
    }

    #[test]
    fn event_lower_cases_header_names() {
        let request = ingest_request().header("Idempotency-Key", "k-1").body(()).unwrap();
        let event = api_gateway_event(&parts(request), b"", &context());
        assert_eq!(event["headers"]["idempotency-key"], "k-1");
        assert!(event["headers"].get("Idempotency-Key").is_none());
    }

    #[test]
    fn event_moves_cookies_out_of_headers() {
        let request = ingest_request().header("Cookie", "a=1; b=2").body(()).unwrap();
        let event = api_gateway_event(&parts(request), b"", &context());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert!(event["headers"].get("cookie").is_none());
    }

    #[test]
    fn event_keeps_utf8_body_as_text() {
        let request = ingest_request().body(()).unwrap();
        let event = api_gateway_event(&parts(request), br#"{"schema":"aforo.ingest.v1"}"#, &context());
        assert_eq!(event["body"], r#"{"schema":"aforo.ingest.v1"}"#);
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn event_base64_encodes_binary_body() {
        let gzip_magic = [0x1f, 0x8b, 0x08, 0x00, 0xff];
        let request = ingest_request().body(()).unwrap();
        let event = api_gateway_event(&parts(request), &gzip_magic, &context());
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], BASE64.encode(gzip_magic));
    }

    #[test]
    fn event_leaves_out_empty_body() {
        let request = ingest_request().body(()).unwrap();
        let event = api_gateway_event(&parts(request), b"", &context());
        assert!(event.get("body").is_none());
    }

    #[tokio::test]
    async fn response_copies_status_headers_body() {
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = 409;
        response.headers.insert("retry-after", HeaderValue::from_static("7"));
        response.body = Some(Body::Text("{\"status\":409}".to_owned()));

        let written = http_response(&response);
        assert_eq!(written.status(), StatusCode::CONFLICT);
        assert_eq!(written.headers()["retry-after"], "7");
        assert_eq!(body_bytes(written).await, b"{\"status\":409}");
    }

    #[tokio::test]
    async fn response_decodes_base64_body() {
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = 200;
        response.body = Some(Body::Text(BASE64.encode([0u8, 159, 146, 150])));
        response.is_base64_encoded = true;

        let written = http_response(&response);
        assert_eq!(body_bytes(written).await, vec![0u8, 159, 146, 150]);
    }

    #[test]
    fn response_writes_cookies_as_set_cookie() {
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = 200;
        response.cookies = vec!["a=1".to_owned(), "b=2".to_owned()];

        let written = http_response(&response);
        let set_cookies: Vec<_> = written.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(set_cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn response_with_invalid_status_is_500() {
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = 42;

        let written = http_response(&response);
        assert_eq!(written.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
