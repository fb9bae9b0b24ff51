//! Reading an SQS event leniently, one record at a time, so that one
//! unreadable record fails on its own instead of failing the whole batch.

use aforo::envelope;
use aforo::event::MeteringRecord;
use aws_lambda_events::sqs::SqsMessage;
use serde_json::Value;

use crate::IngestError;

/// One SQS message of a batch, read as far as it could be.
#[derive(Debug)]
pub(crate) struct Message {
    /// `messageId`, read from the raw JSON so that it is known even when the
    /// rest of the record is invalid.
    pub id: Option<String>,
    /// The metering records of the body, or why they cannot be read.
    pub records: Result<Vec<MeteringRecord>, IngestError>,
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
        .and_then(|body| Ok(envelope::decode(&body)?.records));

    Message { id, records }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
