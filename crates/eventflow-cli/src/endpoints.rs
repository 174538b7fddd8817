//! `eventflow endpoints`: where deliveries go. Creating one prints the secret
//! that signs its deliveries, which the receiver needs to verify them.

use anyhow::{Context, bail};
use eventflow_domain::{EndpointId, EventTypeFilters, ProjectId};
use eventflow_store::{NewEndpoint, Store};
use reqwest::Url;
use serde::Serialize;

use crate::output::Output;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an endpoint and print its id and signing secret.
    Create {
        /// The project the endpoint belongs to (prj_…).
        #[arg(long)]
        project: String,
        /// Where deliveries are POSTed: an http or https URL without credentials.
        #[arg(long)]
        url: String,
        /// Comma-separated event types to deliver: exact types, `prefix.*` or `*` (every event).
        #[arg(long, default_value = "*")]
        event_types: String,
        /// A note for humans.
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Debug, Serialize)]
struct CreatedEndpoint<'a> {
    id: EndpointId,
    project_id: ProjectId,
    url: &'a str,
    event_types: &'a [String],
    description: &'a str,
    /// The `whsec_…` secret that signs deliveries.
    secret: &'a str,
}

pub async fn run(command: Command, store: &Store, output: &Output) -> anyhow::Result<()> {
    match command {
        Command::Create {
            project,
            url,
            event_types,
            description,
        } => {
            let project_id = ProjectId::parse(&project).context("invalid --project")?;
            let url = parse_endpoint_url(&url)?;
            let event_types = parse_event_type_filters(&event_types)?;
            let new = NewEndpoint {
                project_id,
                url: url.to_string(),
                description,
                event_types,
            };
            let created = store
                .create_endpoint(new.clone())
                .await
                .context("cannot create the endpoint")?;
            let shown = CreatedEndpoint {
                id: created.id,
                project_id,
                url: &created.url,
                event_types: &created.event_types,
                description: &new.description,
                secret: created.secret.as_str(),
            };
            output.print(&shown, || {
                format!(
                    "{}\nsigning secret {} (endpoint {} receives {})",
                    shown.id,
                    shown.secret,
                    shown.url,
                    shown.event_types.join(", ")
                )
            })
        }
    }
}

/// Accepts an absolute http or https URL with a host and no user name or password.
fn parse_endpoint_url(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw.trim()).with_context(|| format!("invalid --url {raw:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("invalid --url {raw:?}: must be an http or https URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!("invalid --url {raw:?}: must not contain a user name or password");
    }
    if url.host().is_none() {
        bail!("invalid --url {raw:?}: must name a host");
    }
    Ok(url)
}

/// Splits the comma-separated filters and checks each is `*`, `prefix.*` or an event type.
fn parse_event_type_filters(raw: &str) -> anyhow::Result<Vec<String>> {
    let filters = EventTypeFilters::parse_comma_separated(raw)
        .with_context(|| format!("invalid --event-types {raw:?}"))?;
    let mut unique: Vec<String> = Vec::new();
    for filter in filters.to_strings() {
        if !unique.contains(&filter) {
            unique.push(filter);
        }
    }
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_urls_are_accepted() {
        for raw in [
            "https://example.com/hooks",
            "http://127.0.0.1:9000/in?token=x",
        ] {
            assert!(parse_endpoint_url(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn other_schemes_credentials_and_relative_urls_are_refused() {
        let cases = [
            ("ftp://example.com/x", "http or https"),
            ("https://user:pw@example.com/x", "user name or password"),
            ("https://user@example.com/x", "user name or password"),
            ("example.com/hooks", "invalid --url"),
            ("", "invalid --url"),
        ];
        for (raw, expected) in cases {
            let error = format!("{:#}", parse_endpoint_url(raw).unwrap_err());
            assert!(error.contains(expected), "{raw}: {error}");
        }
    }

    #[test]
    fn filters_are_wildcards_prefixes_or_event_types() {
        let filters = parse_event_type_filters("order.*, invoice.paid,*,order.*").unwrap();
        assert_eq!(filters, ["order.*", "invoice.paid", "*"]);
    }

    #[test]
    fn malformed_filters_are_refused() {
        for raw in [
            "",
            "order.,",
            "*.created",
            "order*",
            "order .created",
            "order.**",
        ] {
            assert!(parse_event_type_filters(raw).is_err(), "{raw:?}");
        }
    }
}
