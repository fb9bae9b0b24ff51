//! The ingest client against a scripted HTTP server on 127.0.0.1: retries,
//! `Retry-After`, timeouts, the `Idempotency-Key` of each batch, gzip bodies and
//! batch splitting. The server replies from a script and records every request.

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aforo_cli::send::{self, SendArgs, SendFormat};
use aforo_client::{AttemptError, Client, ClientConfig, ClientError, EventStatus, IngestEvent};
use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One scripted reply.
#[derive(Debug, Clone)]
enum Step {
    /// Reply with this status, headers and body.
    Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Wait, then reply like [`Step::Accept`]; longer than the client's timeout, it times out.
    Stall(Duration),
    /// Close the connection without a response.
    Hangup,
    /// Accept every event of the request (also the reply once the script is used up).
    Accept,
}

/// A request as the server received it.
#[derive(Debug, Clone)]
struct Recorded {
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Returns the body, decompressed when `Content-Encoding: gzip`.
    fn decoded_body(&self) -> Vec<u8> {
        if self.header("content-encoding") != Some("gzip") {
            return self.body.clone();
        }
        let mut decoded = Vec::new();
        MultiGzDecoder::new(self.body.as_slice())
            .read_to_end(&mut decoded)
            .expect("gzip body decodes");
        decoded
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.decoded_body()).expect("body is JSON")
    }
}

#[derive(Default)]
struct ServerState {
    script: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The scripted server; dropped with the test's runtime.
struct ScriptedServer {
    address: SocketAddr,
    state: Arc<ServerState>,
}

impl ScriptedServer {
    async fn start(script: Vec<Step>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(ServerState {
            script: Mutex::new(script.into()),
            requests: Mutex::new(Vec::new()),
        });

        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| respond(Arc::clone(&state), request));
                    // A hang-up step ends the connection with an error on purpose.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        Self { address, state }
    }

    fn endpoint(&self) -> String {
        format!("http://{}/v1/ingest", self.address)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

#[derive(Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted hang-up")
    }
}

impl std::error::Error for HangUp {}

async fn respond(state: Arc<ServerState>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, HangUp> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| HangUp)?.to_bytes().to_vec();
    let recorded = Recorded {
        headers: parts.headers,
        body,
    };
    state.requests.lock().unwrap().push(recorded.clone());

    let step = state.script.lock().unwrap().pop_front().unwrap_or(Step::Accept);
    match step {
        Step::Reply { status, headers, body } => Ok(reply(status, &headers, body)),
        Step::Stall(delay) => {
            tokio::time::sleep(delay).await;
            Ok(accept_all(&recorded))
        }
        Step::Hangup => Err(HangUp),
        Step::Accept => Ok(accept_all(&recorded)),
    }
}

fn reply(status: u16, headers: &[(&'static str, String)], body: String) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

/// Builds a 200 that accepts every event: the `events` of a batch, or the elements of an array.
fn accept_all(request: &Recorded) -> Response<Full<Bytes>> {
    let body = request.json();
    let count = match &body {
        Value::Array(items) => items.len(),
        Value::Object(batch) => batch.get("events").and_then(Value::as_array).map_or(1, Vec::len),
        _ => 0,
    };
    let results: Vec<Value> = (0..count)
        .map(|index| {
            json!({"index": index, "status": "accepted", "idempotency_key": format!("{index:064x}"),
                   "attribution": "usage"})
        })
        .collect();
    let response = json!({"accepted": count, "duplicates": 0, "rejected": 0, "not_metered": 0, "results": results});
    reply(
        200,
        &[("content-type", "application/json".to_owned())],
        response.to_string(),
    )
}

fn problem(status: u16, title: &str, detail: &str) -> String {
    json!({"type": "about:blank", "title": title, "status": status, "detail": detail}).to_string()
}

fn status_step(status: u16, retry_after: Option<&str>) -> Step {
    let mut headers = vec![("content-type", "application/problem+json".to_owned())];
    if let Some(seconds) = retry_after {
        headers.push(("retry-after", seconds.to_owned()));
    }
    Step::Reply {
        status,
        headers,
        body: problem(status, "Error", "scripted failure"),
    }
}

fn config(server: &ScriptedServer) -> ClientConfig {
    let mut config = ClientConfig::new(server.endpoint(), "ik_kong_5d2a8c41e7f9");
    config.base_delay = Duration::from_millis(1);
    config.max_delay = Duration::from_secs(2);
    config.timeout = Duration::from_secs(5);
    config
}

fn client(config: ClientConfig) -> Client {
    Client::new(config).unwrap()
}

fn events(count: usize) -> Vec<IngestEvent> {
    (0..count)
        .map(|index| IngestEvent {
            id: format!("kong-req-{index}"),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: format!("/pets/{index}"),
            status: 200,
            response_bytes: Some(512),
            latency_ms: Some(35),
            timestamp: "2026-12-01T10:00:00Z".parse().unwrap(),
        })
        .collect()
}

#[tokio::test]
async fn client_retries_503_and_429() {
    let server = ScriptedServer::start(vec![status_step(503, None), status_step(429, Some("1"))]).await;

    let report = client(config(&server)).send_events(&events(2)).await.unwrap();

    assert_eq!(report.accepted, 2);
    assert_eq!(report.batches.len(), 1);
    assert_eq!(report.batches[0].attempts, 3);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn client_retries_409_in_progress() {
    let server = ScriptedServer::start(vec![status_step(409, Some("1"))]).await;

    let report = client(config(&server)).send_events(&events(1)).await.unwrap();

    assert_eq!(report.accepted, 1);
    assert_eq!(report.batches[0].attempts, 2);
}

#[tokio::test]
async fn client_does_not_retry_400() {
    let server = ScriptedServer::start(vec![Step::Reply {
        status: 400,
        headers: vec![("content-type", "application/problem+json".to_owned())],
        body: problem(400, "Bad Request", "body is not valid gzip"),
    }])
    .await;

    let error = client(config(&server)).send_events(&events(1)).await.unwrap_err();

    let ClientError::BatchFailed { source, .. } = error else {
        panic!("expected BatchFailed, got {error:?}");
    };
    let ClientError::Rejected(failure) = *source else {
        panic!("expected Rejected, got {source:?}");
    };
    assert_eq!(failure.status, 400);
    assert_eq!(
        failure.problem.and_then(|problem| problem.detail).as_deref(),
        Some("body is not valid gzip")
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn client_does_not_retry_other_4xx() {
    for status in [401, 403, 404, 413, 415, 422] {
        let server = ScriptedServer::start(vec![status_step(status, None)]).await;

        let result = client(config(&server))
            .send_raw("application/json", b"{}".to_vec(), None)
            .await;

        assert!(
            matches!(&result, Err(ClientError::Rejected(failure)) if failure.status == status),
            "status {status}: {result:?}"
        );
        assert_eq!(server.requests().len(), 1, "status {status} was retried");
    }
}

#[tokio::test]
async fn client_retries_timeout() {
    let server = ScriptedServer::start(vec![Step::Stall(Duration::from_secs(3))]).await;
    let mut config = config(&server);
    config.timeout = Duration::from_millis(300);

    let report = client(config).send_events(&events(1)).await.unwrap();

    assert_eq!(report.accepted, 1);
    assert_eq!(report.batches[0].attempts, 2);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn client_retries_dropped_connection() {
    let server = ScriptedServer::start(vec![Step::Hangup]).await;

    let report = client(config(&server)).send_events(&events(1)).await.unwrap();

    assert_eq!(report.accepted, 1);
    assert_eq!(report.batches[0].attempts, 2);
}

#[tokio::test]
async fn client_gives_up_after_max_attempts() {
    let server = ScriptedServer::start(vec![status_step(500, None); 10]).await;
    let mut config = config(&server);
    config.max_attempts = 3;

    let result = client(config).send_raw("application/json", b"{}".to_vec(), None).await;

    let Err(ClientError::RetriesExhausted { attempts, last }) = result else {
        panic!("expected RetriesExhausted, got {result:?}");
    };
    assert_eq!(attempts, 3);
    assert!(matches!(*last, AttemptError::Status(ref failure) if failure.status == 500));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn client_gives_up_on_unreachable_endpoint() {
    // Bind and drop a listener to get a local port that refuses connections.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}/v1/ingest"), "ik_test");
    config.base_delay = Duration::from_millis(1);
    config.max_attempts = 2;

    let result = client(config).send_raw("application/json", b"{}".to_vec(), None).await;

    let Err(ClientError::RetriesExhausted { attempts, last }) = result else {
        panic!("expected RetriesExhausted, got {result:?}");
    };
    assert_eq!(attempts, 2);
    assert!(matches!(*last, AttemptError::Transport(_)));
}

#[tokio::test]
async fn client_stops_on_long_retry_after() {
    let server = ScriptedServer::start(vec![status_step(503, Some("60"))]).await;

    let result = client(config(&server))
        .send_raw("application/json", b"{}".to_vec(), None)
        .await;

    let Err(ClientError::RetryAfterTooLong {
        retry_after, attempts, ..
    }) = result
    else {
        panic!("expected RetryAfterTooLong, got {result:?}");
    };
    assert_eq!(retry_after, Duration::from_secs(60));
    assert_eq!(attempts, 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retries_reuse_idempotency_key() {
    let server = ScriptedServer::start(vec![status_step(503, None), status_step(502, None)]).await;

    let report = client(config(&server)).send_events(&events(3)).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let expected = report.batches[0].idempotency_key.as_str();
    for request in &requests {
        assert_eq!(request.header("idempotency-key"), Some(expected));
    }
}

#[tokio::test]
async fn rerun_reuses_batch_keys() {
    let server = ScriptedServer::start(Vec::new()).await;
    let mut config = config(&server);
    config.max_events_per_request = 2;
    let client = client(config);

    let first = client.send_events(&events(5)).await.unwrap();
    let second = client.send_events(&events(5)).await.unwrap();

    let keys = |report: &aforo_client::SendReport| -> Vec<String> {
        report
            .batches
            .iter()
            .map(|batch| batch.idempotency_key.clone())
            .collect()
    };
    assert_eq!(keys(&first), keys(&second));
    assert_eq!(keys(&first).len(), 3);
}

#[tokio::test]
async fn gzip_body_decodes_to_events() {
    let server = ScriptedServer::start(Vec::new()).await;
    let sent = events(3);

    client(config(&server)).send_events(&sent).await.unwrap();

    let requests = server.requests();
    let request = &requests[0];
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(&request.body[..2], &[0x1f, 0x8b]);

    let body = request.json();
    assert_eq!(body["schema"], "aforo.ingest.v1");
    let received: Vec<IngestEvent> = serde_json::from_value(body["events"].clone()).unwrap();
    assert_eq!(received, sent);
}

#[tokio::test]
async fn plain_body_without_gzip() {
    let server = ScriptedServer::start(Vec::new()).await;
    let mut config = config(&server);
    config.gzip = false;

    client(config).send_events(&events(1)).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests[0].header("content-encoding"), None);
    assert_eq!(requests[0].json()["events"][0]["id"], "kong-req-0");
}

#[tokio::test]
async fn batches_split_at_max_events() {
    let server = ScriptedServer::start(Vec::new()).await;
    let mut config = config(&server);
    config.max_events_per_request = 3;

    let report = client(config).send_events(&events(7)).await.unwrap();

    let sizes: Vec<usize> = server
        .requests()
        .iter()
        .map(|request| request.json()["events"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![3, 3, 1]);
    assert_eq!(report.accepted, 7);
    let first_indexes: Vec<usize> = report.batches.iter().map(|batch| batch.first_index).collect();
    assert_eq!(first_indexes, vec![0, 3, 6]);
    let positions: Vec<usize> = report.results().map(|(position, _)| position).collect();
    assert_eq!(positions, (0..7).collect::<Vec<_>>());
}

#[tokio::test]
async fn batches_get_distinct_keys() {
    let server = ScriptedServer::start(Vec::new()).await;
    let mut config = config(&server);
    config.max_events_per_request = 2;

    client(config).send_events(&events(4)).await.unwrap();

    let requests = server.requests();
    assert_ne!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
}

#[tokio::test]
async fn failed_batch_reports_completed_batches() {
    let server = ScriptedServer::start(vec![Step::Accept, status_step(413, None)]).await;
    let mut config = config(&server);
    config.max_events_per_request = 2;

    let error = client(config).send_events(&events(5)).await.unwrap_err();

    let ClientError::BatchFailed {
        batch,
        batches,
        first_index,
        completed,
        ..
    } = error
    else {
        panic!("expected BatchFailed, got {error:?}");
    };
    assert_eq!(batch, 1);
    assert_eq!(batches, 3);
    assert_eq!(first_index, 2);
    assert_eq!(completed.accepted, 2);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn requests_carry_bearer_key() {
    let server = ScriptedServer::start(Vec::new()).await;

    client(config(&server)).send_events(&events(1)).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests[0].header("authorization"), Some("Bearer ik_kong_5d2a8c41e7f9"));
}

#[tokio::test]
async fn cloudevents_use_batch_content_type() {
    let server = ScriptedServer::start(Vec::new()).await;
    let event = json!({"specversion": "1.0", "id": "e-1", "source": "kong://edge", "type": "io.aforo.request.v1",
                       "data": {"tenant_id": "acme", "method": "GET", "path": "/pets", "status": 200,
                                "timestamp": "2026-12-01T10:00:00Z"}});

    let report = client(config(&server))
        .send_cloudevents(std::slice::from_ref(&event))
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/cloudevents-batch+json")
    );
    assert_eq!(requests[0].json(), json!([event]));
    assert_eq!(report.accepted, 1);
}

#[tokio::test]
async fn send_raw_passes_body_through() {
    let server = ScriptedServer::start(Vec::new()).await;
    let mut config = config(&server);
    config.gzip = false;
    let payload = br#"{"request":{"id":"k-1"}}"#.to_vec();

    client(config)
        .send_raw("application/json", payload.clone(), Some("kong-batch-1"))
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests[0].body, payload);
    assert_eq!(requests[0].header("idempotency-key"), Some("kong-batch-1"));
}

#[tokio::test]
async fn replayed_header_marks_batch() {
    let body = json!({"accepted": 1, "duplicates": 0, "rejected": 0, "not_metered": 0,
                      "results": [{"index": 0, "status": "accepted", "idempotency_key": "ab", "attribution": "usage"}]});
    let server = ScriptedServer::start(vec![Step::Reply {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("idempotent-replayed", "true".to_owned()),
        ],
        body: body.to_string(),
    }])
    .await;

    let report = client(config(&server)).send_events(&events(1)).await.unwrap();

    assert!(report.batches[0].replayed);
    assert_eq!(report.batches[0].response.results[0].status, EventStatus::Accepted);
}

/// Builds a 200 step whose first event is accepted and second is not billable.
fn not_billable_step() -> Step {
    let body = json!({"accepted": 1, "duplicates": 0, "rejected": 0, "not_metered": 0, "not_billable": 1,
                      "results": [
                          {"index": 0, "status": "accepted", "idempotency_key": "aa", "attribution": "usage"},
                          {"index": 1, "status": "not_billable", "idempotency_key": "bb"}]});
    Step::Reply {
        status: 200,
        headers: vec![("content-type", "application/json".to_owned())],
        body: body.to_string(),
    }
}

#[tokio::test]
async fn report_sums_not_billable() {
    let server = ScriptedServer::start(vec![not_billable_step(), not_billable_step()]).await;
    let mut config = config(&server);
    config.max_events_per_request = 2;

    let report = client(config).send_events(&events(4)).await.unwrap();

    assert_eq!(report.batches.len(), 2);
    assert_eq!(report.not_billable, 2);
    assert_eq!(report.accepted, 2);
    let not_billable: Vec<usize> = report
        .results()
        .filter(|(_, result)| result.status == EventStatus::NotBillable)
        .map(|(position, _)| position)
        .collect();
    assert_eq!(not_billable, [1, 3]);
}

#[tokio::test]
async fn older_server_reads_zero_not_billable() {
    // The scripted default reply has no `not_billable` field, like a server before it existed.
    let server = ScriptedServer::start(Vec::new()).await;

    let report = client(config(&server)).send_events(&events(2)).await.unwrap();

    assert_eq!(report.accepted, 2);
    assert_eq!(report.not_billable, 0);
    assert_eq!(report.batches[0].response.not_billable, 0);
}

#[tokio::test]
async fn invalid_success_body_is_error() {
    let server = ScriptedServer::start(vec![Step::Reply {
        status: 200,
        headers: Vec::new(),
        body: "not json".to_owned(),
    }])
    .await;

    let result = client(config(&server))
        .send_raw("application/json", b"{}".to_vec(), None)
        .await;

    assert!(matches!(result, Err(ClientError::InvalidResponse { status: 200, .. })));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn send_command_reads_json_lines() {
    let server = ScriptedServer::start(Vec::new()).await;
    let lines: Vec<String> = events(3)
        .iter()
        .map(|event| serde_json::to_string(event).unwrap())
        .collect();
    let file = std::env::temp_dir().join(format!("aforo-send-{:08x}.jsonl", rand::random::<u32>()));
    std::fs::write(&file, lines.join("\n")).unwrap();

    let result = send::run(SendArgs {
        endpoint: server.endpoint(),
        integration_key: "ik_kong_5d2a8c41e7f9".to_owned(),
        file: file.clone(),
        format: SendFormat::Aforo,
        gzip: true,
    })
    .await;
    std::fs::remove_file(&file).unwrap();

    let report = result.unwrap();
    assert_eq!(report.accepted, 3);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn send_command_native_line_per_request() {
    let server = ScriptedServer::start(Vec::new()).await;
    let file = std::env::temp_dir().join(format!("aforo-send-{:08x}.jsonl", rand::random::<u32>()));
    std::fs::write(
        &file,
        "[{\"request\":{\"id\":\"a\"}}]\n[{\"request\":{\"id\":\"b\"}},{\"request\":{\"id\":\"c\"}}]\n",
    )
    .unwrap();

    let result = send::run(SendArgs {
        endpoint: server.endpoint(),
        integration_key: "ik_kong_5d2a8c41e7f9".to_owned(),
        file: file.clone(),
        format: SendFormat::Native {
            content_type: "application/json".to_owned(),
        },
        gzip: false,
    })
    .await;
    std::fs::remove_file(&file).unwrap();

    let report = result.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].body,
        b"[{\"request\":{\"id\":\"b\"}},{\"request\":{\"id\":\"c\"}}]"
    );
    assert_eq!(report.accepted, 3);
    assert_eq!(report.batches[1].first_index, 1);
}
