//! Feature flags per gateway integration, for the `aforo flags` subcommands:
//! list every integration with its flags, and switch one flag on or off.
//!
//! The authorizer and the log decoder read the flags through their catalog
//! cache, so a change takes effect within `CATALOG_CACHE_TTL_SECONDS`
//! (default 30 s).

use std::fmt::Write;

use aforo::catalog::{CatalogStore, DynamoCatalog, FeatureFlags, GatewayKind, Integration};
use aforo::store::StoreError;

/// A flag command that failed.
#[derive(Debug, thiserror::Error)]
pub enum FlagsError {
    /// The catalog has no integration with this id.
    #[error("integration {integration_id} not found in the catalog: run `aforo flags list` to see the ids")]
    IntegrationNotFound {
        /// The requested integration id.
        integration_id: String,
    },

    /// The flag name is not one of the three flags.
    #[error("unknown flag {name:?}: expected metering, entitlement or config-capture")]
    UnknownFlag {
        /// The name as given.
        name: String,
    },

    /// The switch value is neither `on` nor `off`.
    #[error("invalid flag value {value:?}: expected on or off")]
    InvalidSwitch {
        /// The value as given.
        value: String,
    },

    /// Reading or writing the catalog failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One feature flag of an integration, by its CLI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flag {
    /// `metering`: meter the integration's traffic. When it is off, the log
    /// decoder and the HTTP ingest API count the integration's requests as
    /// not metered and send nothing.
    Metering,
    /// `entitlement`: check subscriptions and quotas in the authorizer. When
    /// it is off, the authorizer still checks the API key but allows every
    /// route of the API stage.
    Entitlement,
    /// `config-capture`: capture the gateway's configuration. Only stored and
    /// listed for now, because no function reads it yet.
    ConfigCapture,
}

impl Flag {
    /// Every flag, in the order [`render`] prints them.
    pub const ALL: [Flag; 3] = [Flag::Metering, Flag::Entitlement, Flag::ConfigCapture];

    /// CLI name of the flag.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Metering => "metering",
            Flag::Entitlement => "entitlement",
            Flag::ConfigCapture => "config-capture",
        }
    }

    /// Reads this flag from `flags`.
    pub fn get(self, flags: &FeatureFlags) -> bool {
        match self {
            Flag::Metering => flags.metering,
            Flag::Entitlement => flags.entitlement,
            Flag::ConfigCapture => flags.config_capture,
        }
    }

    /// Returns `flags` with this flag set to `enabled`.
    pub fn set(self, flags: FeatureFlags, enabled: bool) -> FeatureFlags {
        let mut changed = flags;
        match self {
            Flag::Metering => changed.metering = enabled,
            Flag::Entitlement => changed.entitlement = enabled,
            Flag::ConfigCapture => changed.config_capture = enabled,
        }
        changed
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Flag {
    type Err = FlagsError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Flag::ALL
            .into_iter()
            .find(|flag| flag.name() == name)
            .ok_or_else(|| FlagsError::UnknownFlag { name: name.to_owned() })
    }
}

/// Parses the switch of `flags set`: `on` is true and `off` is false.
pub fn parse_switch(value: &str) -> Result<bool, FlagsError> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(FlagsError::InvalidSwitch { value: other.to_owned() }),
    }
}

/// Lists every integration in the catalog, sorted by id.
pub async fn list(catalog: &DynamoCatalog) -> Result<Vec<Integration>, FlagsError> {
    let mut integrations = catalog.integrations().await?;
    integrations.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(integrations)
}

/// Switches one flag of an integration on or off and returns the flags now stored.
///
/// NOTE: the other two flags are written back as read just before, so a
/// concurrent change to another flag of the same integration can be lost.
pub async fn set(
    catalog: &DynamoCatalog,
    integration_id: &str,
    flag: Flag,
    enabled: bool,
) -> Result<FeatureFlags, FlagsError> {
    let not_found = || FlagsError::IntegrationNotFound {
        integration_id: integration_id.to_owned(),
    };
    let integration = catalog.integration(integration_id).await?.ok_or_else(not_found)?;

    let flags = flag.set(integration.flags, enabled);

    // The integration can be deleted between the read and the write.
    match catalog.set_flags(integration_id, flags).await {
        Ok(()) => {}
        Err(StoreError::NotFound { .. }) => return Err(not_found()),
        Err(err) => return Err(err.into()),
    }

    tracing::info!(
        integration_id,
        flag = flag.name(),
        enabled,
        "feature flag set"
    );
    Ok(flags)
}

/// Renders integrations as an aligned table: id, kind, status, and each flag
/// as `on` or `off`.
pub fn render(integrations: &[Integration]) -> String {
    let mut out = String::new();
    write_row(
        &mut out,
        ["integration", "kind", "status", "metering", "entitlement", "config-capture"],
    );

    for integration in integrations {
        let switch = |flag: Flag| if flag.get(&integration.flags) { "on" } else { "off" };
        let kind = kind_name(integration.kind);
        write_row(
            &mut out,
            [
                &integration.id,
                &kind,
                integration.status.as_str(),
                switch(Flag::Metering),
                switch(Flag::Entitlement),
                switch(Flag::ConfigCapture),
            ],
        );
    }
    if integrations.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

fn write_row(out: &mut String, columns: [&str; 6]) {
    let [id, kind, status, metering, entitlement, config_capture] = columns;
    let _ = writeln!(
        out,
        "{id:<32} {kind:<12} {status:<10} {metering:<9} {entitlement:<12} {config_capture}"
    );
}

/// Catalog name of a gateway kind, such as `azure-apim`.
fn kind_name(kind: GatewayKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use aforo::catalog::Status;
    use clap::ValueEnum;

    use super::*;

    fn integration(id: &str, kind: GatewayKind, status: Status, flags: FeatureFlags) -> Integration {
        Integration {
            id: id.to_owned(),
            kind,
            api_id: None,
            status,
            flags,
        }
    }

    #[test]
    fn flag_parses_cli_names() {
        assert_eq!("metering".parse::<Flag>().unwrap(), Flag::Metering);
        assert_eq!("entitlement".parse::<Flag>().unwrap(), Flag::Entitlement);
        assert_eq!("config-capture".parse::<Flag>().unwrap(), Flag::ConfigCapture);
    }

    #[test]
    fn flag_rejects_field_spelling() {
        let err = "config_capture".parse::<Flag>().unwrap_err();
        assert!(matches!(err, FlagsError::UnknownFlag { .. }), "{err:?}");
        assert!(err.to_string().contains("config-capture"), "{err}");
    }

    #[test]
    fn flag_clap_names_match_parser() {
        for flag in Flag::ALL {
            let value = flag.to_possible_value().expect("every flag has a CLI name");
            assert_eq!(value.get_name(), flag.name());
        }
    }

    #[test]
    fn flag_set_changes_only_one() {
        let flags = Flag::ConfigCapture.set(FeatureFlags::default(), true);
        assert!(flags.config_capture);
        assert!(flags.metering);
        assert!(flags.entitlement);

        let flags = Flag::Metering.set(flags, false);
        assert!(!flags.metering);
        assert!(flags.entitlement);
        assert!(flags.config_capture);
    }

    #[test]
    fn switch_parses_on_and_off() {
        assert!(parse_switch("on").unwrap());
        assert!(!parse_switch("off").unwrap());
    }

    #[test]
    fn switch_rejects_other_words() {
        for value in ["yes", "true", "ON", ""] {
            let result = parse_switch(value);
            assert!(matches!(result, Err(FlagsError::InvalidSwitch { .. })), "{value:?}: {result:?}");
        }
    }

    #[test]
    fn render_prints_row_per_integration() {
        let unmetered = FeatureFlags {
            metering: false,
            ..FeatureFlags::default()
        };
        let integrations = [
            integration("azure-apim-west", GatewayKind::AzureApim, Status::Active, FeatureFlags::default()),
            integration("kong-retired", GatewayKind::Kong, Status::Suspended, unmetered),
        ];

        let table = render(&integrations);
        let lines: Vec<Vec<&str>> = table.lines().map(|line| line.split_whitespace().collect()).collect();

        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            ["integration", "kind", "status", "metering", "entitlement", "config-capture"]
        );
        assert_eq!(lines[1], ["azure-apim-west", "azure-apim", "active", "on", "on", "off"]);
        assert_eq!(lines[2], ["kong-retired", "kong", "suspended", "off", "on", "off"]);
    }

    #[test]
    fn render_marks_empty_catalog() {
        let table = render(&[]);
        assert!(table.ends_with("(none)\n"), "{table}");
    }
}
