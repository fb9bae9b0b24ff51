//! Reads the DynamoDB tables and SQS queues declared in `template.yaml`, so
//! local resources are created from the same definitions that deploy.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

/// A template that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Template path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not YAML.
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),

    /// A resource lacks a property the bootstrap needs.
    #[error("resource {resource}: {reason}")]
    Resource {
        /// Logical id of the resource.
        resource: String,
        /// The missing or invalid property.
        reason: String,
    },
}

/// A key attribute of a table or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// A DynamoDB table as declared in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// Logical id, such as `CatalogTable`.
    pub logical_id: String,
    /// Attribute name to type (`S`, `N`, `B`).
    pub attributes: BTreeMap<String, String>,
    /// Primary key.
    pub key_schema: Vec<KeyAttribute>,
    /// TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
}

/// An SQS queue as declared in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDefinition {
    /// Logical id, such as `MeteringQueue`.
    pub logical_id: String,
    /// Plain queue attributes (`VisibilityTimeout`, …) as strings.
    pub attributes: BTreeMap<String, String>,
    /// Logical id of the dead-letter queue and the receive count before moving.
    pub redrive: Option<(String, u32)>,
}

/// The resources the bootstrap creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definitions {
    /// Tables, in template order.
    pub tables: Vec<TableDefinition>,
    /// Queues, dead-letter queues first so redrive targets exist.
    pub queues: Vec<QueueDefinition>,
}

/// Path of `template.yaml` at the workspace root.
pub fn default_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// Reads the table and queue definitions of a template file.
pub fn load(path: &Path) -> Result<Definitions, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Reads the table and queue definitions of template text.
pub fn parse(text: &str) -> Result<Definitions, TemplateError> {
    let document: Value = serde_yaml::from_str(text)?;
    let resources = document
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| TemplateError::Resource {
            resource: "Resources".to_owned(),
            reason: "the template has no Resources section".to_owned(),
        })?;

    let mut tables = Vec::new();
    let mut queues = Vec::new();

    for (name, resource) in resources {
        let logical_id = name.as_str().unwrap_or_default().to_owned();
        let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);

        match resource.get("Type").and_then(Value::as_str) {
            Some("AWS::DynamoDB::Table") => tables.push(table(&logical_id, &properties)?),
            Some("AWS::SQS::Queue") => queues.push(queue(&logical_id, &properties)?),
            _ => {}
        }
    }

    // Queues without a redrive policy (the dead-letter queues) go first.
    queues.sort_by_key(|queue| queue.redrive.is_some());
    Ok(Definitions { tables, queues })
}

fn resource_error(logical_id: &str, reason: impl Into<String>) -> TemplateError {
    TemplateError::Resource {
        resource: logical_id.to_owned(),
        reason: reason.into(),
    }
}

fn table(logical_id: &str, properties: &Value) -> Result<TableDefinition, TemplateError> {
    let mut attributes = BTreeMap::new();
    for attribute in properties
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .ok_or_else(|| resource_error(logical_id, "missing AttributeDefinitions"))?
    {
        let name = attribute.get("AttributeName").and_then(Value::as_str);
        let kind = attribute.get("AttributeType").and_then(Value::as_str);
        match (name, kind) {
            (Some(name), Some(kind)) => attributes.insert(name.to_owned(), kind.to_owned()),
            _ => return Err(resource_error(logical_id, "an attribute definition lacks a name or type")),
        };
    }

    let key_schema = properties
        .get("KeySchema")
        .and_then(Value::as_sequence)
        .ok_or_else(|| resource_error(logical_id, "missing KeySchema"))?
        .iter()
        .map(|key| {
            let name = key.get("AttributeName").and_then(Value::as_str);
            let key_type = key.get("KeyType").and_then(Value::as_str);
            match (name, key_type) {
                (Some(name), Some(key_type)) => Ok(KeyAttribute {
                    name: name.to_owned(),
                    key_type: key_type.to_owned(),
                }),
                _ => Err(resource_error(logical_id, "a key lacks AttributeName or KeyType")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;

    let ttl = properties.get("TimeToLiveSpecification");
    let ttl_enabled = ttl.and_then(|ttl| ttl.get("Enabled")).and_then(Value::as_bool) == Some(true);
    let ttl_attribute = ttl_enabled
        .then(|| ttl?.get("AttributeName")?.as_str().map(str::to_owned))
        .flatten();

    Ok(TableDefinition {
        logical_id: logical_id.to_owned(),
        attributes,
        key_schema,
        ttl_attribute,
    })
}

fn queue(logical_id: &str, properties: &Value) -> Result<QueueDefinition, TemplateError> {
    let mut attributes = BTreeMap::new();
    for name in ["VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"] {
        if let Some(value) = properties.get(name) {
            let text = match value {
                Value::Number(number) => number.to_string(),
                Value::String(text) => text.clone(),
                _ => return Err(resource_error(logical_id, format!("{name} must be a literal"))),
            };
            attributes.insert(name.to_owned(), text);
        }
    }

    let redrive = match properties.get("RedrivePolicy") {
        None => None,
        Some(policy) => {
            let target = policy
                .get("deadLetterTargetArn")
                .and_then(get_att_resource)
                .ok_or_else(|| resource_error(logical_id, "deadLetterTargetArn must be !GetAtt <Queue>.Arn"))?;
            let max_receive_count = policy
                .get("maxReceiveCount")
                .and_then(Value::as_u64)
                .ok_or_else(|| resource_error(logical_id, "maxReceiveCount must be a number"))?;
            Some((target, max_receive_count as u32))
        }
    };

    Ok(QueueDefinition {
        logical_id: logical_id.to_owned(),
        attributes,
        redrive,
    })
}

/// Returns the logical id of `!GetAtt Name.Arn` or `{"Fn::GetAtt": [Name, Arn]}`.
fn get_att_resource(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!GetAtt" => {
            let text = tagged.value.as_str()?;
            text.strip_suffix(".Arn").map(str::to_owned)
        }
        Value::Mapping(mapping) => {
            let parts = mapping.get("Fn::GetAtt")?.as_sequence()?;
            (parts.get(1)?.as_str()? == "Arn").then(|| parts.first()?.as_str().map(str::to_owned))?
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_template_declares_tables_and_queues() {
        let definitions = load(&default_path()).unwrap();
        let tables: Vec<_> = definitions.tables.iter().map(|t| t.logical_id.as_str()).collect();
        assert_eq!(tables, ["CatalogTable", "UsageTable", "DedupeTable", "IdempotencyTable"]);

        let dedupe = &definitions.tables[2];
        assert_eq!(dedupe.ttl_attribute.as_deref(), Some("expires_at"));

        let queue = definitions.queues.last().unwrap();
        assert_eq!(queue.logical_id, "MeteringQueue");
        assert_eq!(queue.redrive, Some(("MeteringDeadLetterQueue".to_owned(), 5)));
    }

    #[test]
    fn parse_rejects_table_without_key_schema() {
        let text = "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions: []\n";
        assert!(matches!(parse(text), Err(TemplateError::Resource { .. })));
    }

    #[test]
    fn get_att_accepts_long_form() {
        let value: Value = serde_yaml::from_str("{Fn::GetAtt: [Dlq, Arn]}").unwrap();
        assert_eq!(get_att_resource(&value).as_deref(), Some("Dlq"));
    }
}
