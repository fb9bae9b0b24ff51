//! Reading an SQS event leniently, one message and one record at a time, so
//! that an unreadable message fails on its own and an invalid record does not
//! take the good records of its message down with it.

use aforo::envelope;
use aforo::event::MeteringRecord;
use aws_lambda_events::sqs::SqsMessage;
use serde_json::Value;

use crate::IngestError;

/// Maximum length of a quoted name or number kept in the reason a record was rejected, in characters.
const MAX_QUOTED_CHARS: usize = 32;

/// Maximum length of the reason a record was rejected, in characters.
const MAX_REASON_CHARS: usize = 300;

/// One SQS message of a batch, read as far as it could be.
#[derive(Debug)]
pub(crate) struct Message {
    /// `messageId`, read from the raw JSON so that it is known even when the
    /// rest of the record is invalid.
    pub id: Option<String>,
    /// The metering records of the body, each read or rejected on its own, or
    /// why the body cannot be read at all.
    pub records: Result<Vec<Result<MeteringRecord, String>>, IngestError>,
}

/// Reads the `Records` of an SQS event. Fails only when the event has no
/// `Records` array, because each unreadable record becomes a failed message.
pub(crate) fn read_batch(event: Value) -> Result<Vec<Message>, IngestError> {
    let Value::Object(mut event) = event else {
        return Err(IngestError::InvalidEvent("expected a JSON object".to_owned()));
    };
    let Some(Value::Array(records)) = event.remove("Records") else {
        return Err(IngestError::InvalidEvent("missing the Records array".to_owned()));
    };

    Ok(records.into_iter().map(read_message).collect())
}

fn read_message(record: Value) -> Message {
    let id = record
        .get("messageId")
        .and_then(Value::as_str)
        .map(str::to_owned);

    let records = serde_json::from_value::<SqsMessage>(record)
        .map_err(IngestError::InvalidMessage)
        .and_then(|message| message.body.ok_or(IngestError::MissingBody))
        .and_then(|body| Ok(envelope::decode_raw(&body)?))
        .map(|records| records.into_iter().map(read_record).collect());

    Message { id, records }
}

/// Reads and validates one record of an envelope. The error names what is
/// invalid without quoting the record's text values.
fn read_record(value: Value) -> Result<MeteringRecord, String> {
    let record: MeteringRecord = serde_json::from_value(value)
        .map_err(|err| format!("record does not match the schema: {}", redact(&err.to_string())))?;
    record.validate()?;
    Ok(record)
}

/// Replaces quoted strings in a serde message with `"…"` and long backquoted
/// names or numbers with `…`, then shortens it. serde quotes the value it
/// could not read, which may be long or hold data that must not reach logs.
fn redact(message: &str) -> String {
    let mut redacted = String::new();
    let mut chars = message.chars();

    while let Some(next) = chars.next() {
        match next {
            '"' => {
                skip_quoted(&mut chars);
                redacted.push_str("\"…\"");
            }
            '`' => {
                let quoted: String = chars.by_ref().take_while(|c| *c != '`').collect();
                if quoted.chars().count() <= MAX_QUOTED_CHARS {
                    redacted.push_str(&format!("`{quoted}`"));
                } else {
                    redacted.push('…');
                }
            }
            other => redacted.push(other),
        }
    }

    if redacted.chars().count() > MAX_REASON_CHARS {
        redacted = redacted.chars().take(MAX_REASON_CHARS).collect();
        redacted.push('…');
    }
    redacted
}

/// Skips a Rust-escaped string up to and including its closing quote.
fn skip_quoted(chars: &mut std::str::Chars<'_>) {
    while let Some(next) = chars.next() {
        match next {
            '\\' => {
                chars.next();
            }
            '"' => return,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn rejected_record(detail: &str) -> Value {
        json!({
            "type": "rejected",
            "idempotency_key": KEY,
            "source": "loggroup:test",
            "reason": "not_json",
            "detail": detail,
            "log_group": "test",
            "log_stream": "stream",
            "log_event_id": "1",
            "timestamp": "2026-03-14T09:26:53Z"
        })
    }

    fn envelope_with(records: Vec<Value>) -> String {
        json!({"schema": envelope::SCHEMA, "records": records}).to_string()
    }

    fn records_of(message: Message) -> Vec<Result<MeteringRecord, String>> {
        message.records.unwrap()
    }

    #[test]
    fn read_batch_rejects_event_without_records() {
        let error = read_batch(json!({"awslogs": {}})).unwrap_err();
        assert!(matches!(error, IngestError::InvalidEvent(_)));
    }

    #[test]
    fn read_batch_keeps_id_of_invalid_record() {
        let event = json!({"Records": [{
            "messageId": "m-1",
            "body": "{}",
            "messageAttributes": {"a": {"dataType": "Binary", "binaryValue": "base64Str"}}
        }]});

        let messages = read_batch(event).unwrap();

        assert_eq!(messages[0].id.as_deref(), Some("m-1"));
        assert!(matches!(messages[0].records, Err(IngestError::InvalidMessage(_))));
    }

    #[test]
    fn read_batch_rejects_missing_body() {
        let messages = read_batch(json!({"Records": [{"messageId": "m-1"}]})).unwrap();
        assert!(matches!(messages[0].records, Err(IngestError::MissingBody)));
    }

    #[test]
    fn read_batch_rejects_foreign_body() {
        let messages = read_batch(json!({"Records": [{"messageId": "m-1", "body": "Test message."}]})).unwrap();
        assert!(matches!(messages[0].records, Err(IngestError::InvalidBody(_))));
    }

    #[test]
    fn read_batch_decodes_envelope() {
        let body = r#"{"schema":"aforo.metering.v1","records":[]}"#;
        let messages = read_batch(json!({"Records": [{"messageId": "m-1", "body": body}]})).unwrap();
        assert!(matches!(&messages[0].records, Ok(records) if records.is_empty()));
    }

    #[test]
    fn read_message_reads_each_record() {
        let mut unreadable = rejected_record("line is not JSON");
        unreadable["timestamp"] = json!("yesterday");
        let body = envelope_with(vec![rejected_record("line is not JSON"), unreadable]);

        let records = records_of(read_message(json!({"messageId": "m-1", "body": body})));

        assert_eq!(records.len(), 2);
        assert!(records[0].is_ok());
        assert!(records[1].as_ref().is_err_and(|reason| reason.starts_with("record does not match the schema")));
    }

    #[test]
    fn read_message_validates_records() {
        let mut invalid = rejected_record("line is not JSON");
        invalid["idempotency_key"] = json!("");
        let body = envelope_with(vec![invalid]);

        let records = records_of(read_message(json!({"messageId": "m-1", "body": body})));

        assert_eq!(records[0].as_ref().unwrap_err(), "idempotency_key is not 64 lowercase hexadecimal characters");
    }

    #[test]
    fn read_record_reason_leaves_out_values() {
        let mut record = rejected_record("line is not JSON");
        record["reason"] = json!(format!("sk_live_123{}", "x".repeat(300_000)));

        let reason = read_record(record).unwrap_err();

        assert!(!reason.contains("sk_live_123"), "{reason}");
        assert!(reason.len() < 1_000, "reason is {} bytes", reason.len());
    }

    #[test]
    fn redact_keeps_field_names() {
        assert_eq!(redact("missing field `tenant_id`"), "missing field `tenant_id`");
    }

    #[test]
    fn redact_hides_strings_with_escaped_quotes() {
        assert_eq!(
            redact(r#"invalid type: string "a\"b", expected u16"#),
            r#"invalid type: string "…", expected u16"#
        );
    }

    #[test]
    fn redact_hides_long_backquoted_values() {
        let message = format!("unknown variant `{}`, expected `usage`", "v".repeat(40));
        assert_eq!(redact(&message), "unknown variant …, expected `usage`");
    }
}
