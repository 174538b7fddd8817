//! `--limit`, `--cursor` and `--all` of every list command.

use serde_json::Value;

use crate::api::Api;

/// At most this many pages with `--all`, so a runaway list still ends.
const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Paging {
    /// Items per page (the API's default when left out).
    #[arg(long)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow `next_cursor` and print every page as one list.
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
}

impl Paging {
    /// GETs `path` with `query` and this paging; with `--all`, every page joined.
    pub async fn fetch(
        &self,
        api: &Api,
        path: &str,
        mut query: Vec<(&'static str, String)>,
    ) -> anyhow::Result<Value> {
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if !self.all {
            if let Some(cursor) = &self.cursor {
                query.push(("cursor", cursor.clone()));
            }
            return api.get(path, &query).await;
        }
        let mut data = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_query = query.clone();
            if let Some(cursor) = &cursor {
                page_query.push(("cursor", cursor.clone()));
            }
            let mut page = api.get(path, &page_query).await?;
            if let Some(Value::Array(items)) = page.get_mut("data").map(Value::take) {
                data.extend(items);
            }
            cursor = page
                .get("next_cursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Ok(serde_json::json!({"data": data, "next_cursor": cursor}))
    }
}

/// Adds `(name, value)` to a query when the value is there.
pub fn push_opt(
    query: &mut Vec<(&'static str, String)>,
    name: &'static str,
    value: &Option<String>,
) {
    if let Some(value) = value {
        query.push((name, value.clone()));
    }
}
