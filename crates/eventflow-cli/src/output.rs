//! Printing results: human text by default (tables for lists), the API's
//! JSON on one line with `--json`.

use serde::Serialize;
use serde_json::Value;

/// Where a command's result goes: stdout, as text or as JSON.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Returns true when results are printed as JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as one line of JSON with `--json` (so it reads as JSON lines next to logs), else the text `human` returns.
    pub fn print<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(value)?);
        } else {
            println!("{}", human());
        }
        Ok(())
    }

    /// Prints one object: JSON as is, or `field  value` lines.
    pub fn object(&self, value: &Value) -> anyhow::Result<()> {
        self.print(value, || object_text(value))
    }

    /// Prints a page of a list: JSON as the API answered, or a table of `columns`.
    pub fn list(&self, page: &Value, columns: &[&str]) -> anyhow::Result<()> {
        self.print(page, || {
            let rows = page
                .get("data")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut text = table(rows, columns);
            if let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) {
                text.push_str(&format!("\n(more: --cursor {cursor}, or --all)"));
            }
            text
        })
    }
}

/// A value as one table cell: strings bare, null as `-`, arrays comma-joined.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| cell(Some(item)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Left-aligned columns named by `columns`, one row per object.
pub fn table(rows: &[Value], columns: &[&str]) -> String {
    if rows.is_empty() {
        return "(none)".to_owned();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|column| cell(row.get(*column)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            cells
                .iter()
                .map(|row| row[index].chars().count())
                .chain([column.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let header = line(columns.iter().map(|column| column.to_uppercase()).collect());
    std::iter::once(header)
        .chain(cells.into_iter().map(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An object as `field  value` lines, nested objects as compact JSON.
pub fn object_text(value: &Value) -> String {
    let Some(object) = value.as_object() else {
        return cell(Some(value));
    };
    let width = object.keys().map(String::len).max().unwrap_or(0);
    object
        .iter()
        .map(|(name, value)| {
            let shown = match value {
                Value::Object(_) => value.to_string(),
                Value::Array(items) if items.iter().any(Value::is_object) => value.to_string(),
                _ => cell(Some(value)),
            };
            format!("{name:<width$}  {shown}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `▁▂▃▅▇`: one block per value, scaled to the largest.
pub fn sparkline(values: &[f64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|value| {
            if max <= 0.0 || *value <= 0.0 {
                ' '
            } else {
                // Truncation picks the block; the largest value gets the full one.
                let index = ((value / max) * (BLOCKS.len() - 1) as f64).round() as usize;
                BLOCKS[index.min(BLOCKS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_table_aligns_columns_and_shows_nulls_as_dashes() {
        let rows = [
            json!({"id": "ep_1", "url": "https://a.example", "paused": false}),
            json!({"id": "ep_22", "url": null, "paused": true}),
        ];

        let text = table(&rows, &["id", "url", "paused"]);

        assert_eq!(
            text,
            "ID     URL                PAUSED\nep_1   https://a.example  false\nep_22  -                  true"
        );
    }

    #[test]
    fn a_sparkline_scales_to_the_largest_value() {
        assert_eq!(sparkline(&[0.0, 1.0, 7.0]), " ▂█");
        assert_eq!(sparkline(&[0.0, 0.0]), "  ");
    }
}
