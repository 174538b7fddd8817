//! Printing results: human text by default, one line of JSON with `--json`.

use serde::Serialize;

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
}
