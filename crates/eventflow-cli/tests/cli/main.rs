//! `eventflow` integration tests: one binary, one module per command family.
//! Every test runs the real binary against a fresh database.

mod keys;
mod operator;
mod send;

use std::process::ExitStatus;

use serde_json::Value;

/// What one run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the run succeeded and returns its stdout as JSON.
    pub fn json(&self) -> Value {
        assert!(self.status.success(), "eventflow failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }

    /// Asserts the run failed with one line on stderr and returns that line.
    pub fn error_line(&self) -> &str {
        assert!(
            !self.status.success(),
            "eventflow succeeded: {}",
            self.stdout
        );
        let stderr = self.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    }
}

/// Runs `eventflow args…` with `EVENTFLOW_DATABASE_URL` set to `database_url`
/// (and no other EventFlow variable from this process).
pub async fn eventflow(database_url: Option<&str>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventflow"));
    command.args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("EVENTFLOW_") {
            command.env_remove(name);
        }
    }
    if let Some(url) = database_url {
        command.env("EVENTFLOW_DATABASE_URL", url);
    }
    let output = command.output().await.expect("eventflow runs");
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}
