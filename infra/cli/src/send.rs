//! `aforo send`: reads usage events from a JSON or JSONL file and sends them
//! to `POST /v1/ingest` with the ingest client.
//!
//! A file is either one JSON document or JSON Lines (one document per line).
//! For the `aforo.ingest.v1` and CloudEvents formats the events are the
//! elements of a top-level array, the lines of a JSONL file, or (for
//! `aforo.ingest.v1`) the `events` of a whole batch object. A native payload is
//! sent as is: a JSON file as one request, a JSONL file as one request per line.

use std::path::{Path, PathBuf};

use aforo_client::{Client, ClientConfig, ClientError, IngestEvent, SendReport, INGEST_SCHEMA};
use serde_json::Value;

/// Arguments of `aforo send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendArgs {
    /// Full URL of the ingest endpoint, such as `http://127.0.0.1:8080/v1/ingest`.
    pub endpoint: String,
    /// The integration's ingest key.
    pub integration_key: String,
    /// JSON or JSONL file with the events.
    pub file: PathBuf,
    /// Format of the events in the file.
    pub format: SendFormat,
    /// Whether to gzip request bodies.
    pub gzip: bool,
}

/// Format of the events in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFormat {
    /// `aforo.ingest.v1` events.
    Aforo,
    /// CloudEvents 1.0 of type `io.aforo.request.v1`.
    CloudEvents,
    /// A gateway's native log payload, sent with this `Content-Type`.
    Native {
        /// `Content-Type` of each request, such as `application/json`.
        content_type: String,
    },
}

/// A send that failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The file could not be read.
    #[error("failed to read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is neither one JSON document nor JSON Lines.
    #[error("{path} line {line} is not valid JSON: {source}")]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },

    /// An `aforo.ingest.v1` event of the file is invalid.
    #[error("event {index} of {path} is not a valid aforo.ingest.v1 event: {source}")]
    InvalidEvent {
        /// The file.
        path: PathBuf,
        /// Zero-based position of the event.
        index: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },

    /// The file contains no events.
    #[error("{path} contains no events")]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// The client failed; nothing after the failed batch was sent.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Reads the file and sends its events, returning the summed responses.
pub async fn run(args: SendArgs) -> Result<SendReport, SendError> {
    let text = std::fs::read_to_string(&args.file).map_err(|source| SendError::Read {
        path: args.file.clone(),
        source,
    })?;
    let documents = read_documents(&text, &args.file)?;
    if documents.is_empty() {
        return Err(SendError::Empty { path: args.file });
    }

    let mut config = ClientConfig::new(args.endpoint, args.integration_key);
    config.gzip = args.gzip;
    let client = Client::new(config)?;

    match &args.format {
        SendFormat::Aforo => {
            let events = ingest_events(&documents, &args.file)?;
            Ok(client.send_events(&events).await?)
        }
        SendFormat::CloudEvents => {
            let events = flatten_arrays(documents.into_iter().map(|document| document.value));
            Ok(client.send_cloudevents(&events).await?)
        }
        SendFormat::Native { content_type } => send_native(&client, content_type, &documents).await,
    }
}

/// One top-level JSON document of the file, with its source text.
#[derive(Debug, Clone, PartialEq)]
struct Document {
    value: Value,
    text: String,
}

/// Reads the file as one JSON document, or else as JSON Lines (blank lines skipped).
fn read_documents(text: &str, path: &Path) -> Result<Vec<Document>, SendError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(vec![Document {
            value,
            text: text.to_owned(),
        }]);
    }

    let mut documents = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|source| SendError::InvalidJson {
            path: path.to_owned(),
            line: number + 1,
            source,
        })?;
        documents.push(Document {
            value,
            text: line.to_owned(),
        });
    }
    Ok(documents)
}

/// Collects the events of `aforo.ingest.v1` documents: whole batches, arrays or single events.
fn ingest_events(documents: &[Document], path: &Path) -> Result<Vec<IngestEvent>, SendError> {
    let values = documents.iter().map(|document| match &document.value {
        Value::Object(batch) if batch.get("schema").and_then(Value::as_str) == Some(INGEST_SCHEMA) => {
            batch.get("events").cloned().unwrap_or(Value::Array(Vec::new()))
        }
        other => other.clone(),
    });

    flatten_arrays(values)
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_json::from_value(value).map_err(|source| SendError::InvalidEvent {
                path: path.to_owned(),
                index,
                source,
            })
        })
        .collect()
}

/// Takes the elements of arrays and any other value as one element.
fn flatten_arrays(values: impl Iterator<Item = Value>) -> Vec<Value> {
    values
        .flat_map(|value| match value {
            Value::Array(items) => items,
            other => vec![other],
        })
        .collect()
}

/// Sends each document as its own request, in file order.
async fn send_native(client: &Client, content_type: &str, documents: &[Document]) -> Result<SendReport, SendError> {
    let mut report = SendReport::default();
    let mut first_index = 0;

    for document in documents {
        let mut batch = client
            .send_raw_batch(content_type, document.text.clone().into_bytes(), None)
            .await?;
        batch.first_index = first_index;
        first_index += batch.events;
        report.push(batch);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"id":"r-1","tenant_id":"acme","method":"GET","path":"/pets","status":200,"timestamp":"2026-12-01T10:00:00Z"}"#;

    fn path() -> PathBuf {
        PathBuf::from("events.json")
    }

    #[test]
    fn documents_read_single_json() {
        let text = format!("[{EVENT}, {EVENT}]");
        let documents = read_documents(&text, &path()).unwrap();
        assert_eq!(documents.len(), 1);
        assert_eq!(documents[0].text, text);
    }

    #[test]
    fn documents_read_json_lines() {
        let text = format!("{EVENT}\n\n{EVENT}\n");
        let documents = read_documents(&text, &path()).unwrap();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].text, EVENT);
    }

    #[test]
    fn documents_name_bad_line() {
        let text = format!("{EVENT}\n{{not json\n");
        let error = read_documents(&text, &path()).unwrap_err();
        assert!(matches!(error, SendError::InvalidJson { line: 2, .. }));
    }

    #[test]
    fn documents_of_blank_file_are_empty() {
        assert!(read_documents(" \n", &path()).unwrap().is_empty());
    }

    #[test]
    fn ingest_events_unwrap_batch_object() {
        let text = format!(r#"{{"schema":"aforo.ingest.v1","events":[{EVENT},{EVENT}]}}"#);
        let documents = read_documents(&text, &path()).unwrap();
        let events = ingest_events(&documents, &path()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].tenant_id.as_deref(), Some("acme"));
    }

    #[test]
    fn ingest_events_read_array_and_lines() {
        let text = format!("[{EVENT},{EVENT}]\n{EVENT}\n");
        let documents = read_documents(&text, &path()).unwrap();
        assert_eq!(ingest_events(&documents, &path()).unwrap().len(), 3);
    }

    #[test]
    fn ingest_events_name_bad_event() {
        let text = format!(r#"[{EVENT},{{"id":"r-2","status":"ok"}}]"#);
        let documents = read_documents(&text, &path()).unwrap();
        let error = ingest_events(&documents, &path()).unwrap_err();
        assert!(matches!(error, SendError::InvalidEvent { index: 1, .. }));
    }

    #[tokio::test]
    async fn run_rejects_empty_file() {
        let file = std::env::temp_dir().join(format!("aforo-send-empty-{:08x}.json", rand::random::<u32>()));
        std::fs::write(&file, "\n").unwrap();

        let args = SendArgs {
            endpoint: "http://127.0.0.1:9/v1/ingest".to_owned(),
            integration_key: "ik_test".to_owned(),
            file: file.clone(),
            format: SendFormat::Aforo,
            gzip: true,
        };
        let result = run(args).await;
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(result, Err(SendError::Empty { .. })));
    }

    #[tokio::test]
    async fn run_names_missing_file() {
        let args = SendArgs {
            endpoint: "http://127.0.0.1:9/v1/ingest".to_owned(),
            integration_key: "ik_test".to_owned(),
            file: PathBuf::from("/nonexistent/events.json"),
            format: SendFormat::CloudEvents,
            gzip: false,
        };
        let error = run(args).await.unwrap_err();
        assert!(error.to_string().contains("/nonexistent/events.json"));
    }
}
