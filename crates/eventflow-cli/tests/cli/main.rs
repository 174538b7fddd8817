//! `eventflow` integration tests: the real binary against a real stack —
//! gateway, dispatcher and query API on free ports in this process, on a
//! fresh database and Redis prefix. One module per command family.

mod dev;
mod errors;
mod live;
mod manage;
mod receivers;
mod send;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use eventflow_domain::{AddressPolicy, ProjectId};
use eventflow_test_support::{
    TEST_ADMIN_TOKEN, TestDispatcher, TestGateway, TestQueryApi, spawn_gateway,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

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
        assert!(
            self.status.success(),
            "eventflow failed ({:?}): {}",
            self.status.code(),
            self.stderr
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }

    /// Asserts the run failed with `code` and one line on stderr; returns that line.
    pub fn error_line(&self, code: i32) -> &str {
        assert_eq!(
            self.status.code(),
            Some(code),
            "exit code; stdout: {} stderr: {}",
            self.stdout,
            self.stderr
        );
        let stderr = self.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    }
}

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("eventflow-cli-{}", ProjectId::new()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with no EVENTFLOW_* variable of this process, and HOME and
/// XDG_CONFIG_HOME pointing at `home` so no real profile is read.
pub fn command(home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("EVENTFLOW_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .kill_on_drop(true);
    command
}

/// Runs the command to its end, feeding `stdin` when given.
pub async fn finish(mut command: tokio::process::Command, stdin: Option<Vec<u8>>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("eventflow runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        tokio::spawn(async move {
            pipe.write_all(&input).await.expect("write stdin");
        });
    }
    let output = child.wait_with_output().await.expect("eventflow ends");
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// Services of one test and a project with an `ingest,read,admin` key.
pub struct Stack {
    pub gateway: TestGateway,
    pub dispatcher: TestDispatcher,
    pub query: TestQueryApi,
    pub project_id: ProjectId,
    /// `ingest,read,admin` for the project.
    pub key: String,
    pub home: TempDir,
}

impl Stack {
    pub async fn start() -> Self {
        let gateway = spawn_gateway().await;
        let dispatcher = gateway.spawn_dispatcher().await;
        let grpc = dispatcher.grpc_url();
        let query = gateway
            .spawn_query_api_with(|config| {
                config.dispatcher_grpc_url = grpc;
                config.endpoint_allow_nets =
                    AddressPolicy::parse_allow_list("127.0.0.0/8").expect("allow list");
            })
            .await;
        let (project_id, key) = gateway.create_project_with_key("ingest,read,admin").await;
        Self {
            gateway,
            dispatcher,
            query,
            project_id,
            key,
            home: TempDir::new(),
        }
    }

    /// The binary pointed at this stack with `key` (none when empty).
    pub fn command_with_key(&self, key: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = command(&self.home.0);
        command
            .args(args)
            .env("EVENTFLOW_URL", self.query.url(""))
            .env("EVENTFLOW_GATEWAY_URL", self.gateway.url(""))
            .env("EVENTFLOW_DISPATCHER_URL", self.dispatcher.url(""));
        if !key.is_empty() {
            command.env("EVENTFLOW_KEY", key);
        }
        command
    }

    /// Runs `eventflow args…` with the project's key.
    pub async fn run(&self, args: &[&str]) -> Run {
        finish(self.command_with_key(&self.key, args), None).await
    }

    /// Runs `eventflow args…` with `key`.
    pub async fn run_with_key(&self, key: &str, args: &[&str]) -> Run {
        finish(self.command_with_key(key, args), None).await
    }

    /// Runs `eventflow args…` with the operator token.
    pub async fn run_as_operator(&self, args: &[&str]) -> Run {
        self.run_with_key(TEST_ADMIN_TOKEN, args).await
    }
}

/// A long-running `eventflow` (tail, listen) whose stdout is read line by line.
pub struct Running {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Running {
    pub fn spawn(mut command: tokio::process::Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("eventflow runs");
        let stdout = child.stdout.take().expect("stdout");
        Self {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next stdout line parsed as JSON, within `within`.
    pub async fn next_json(&mut self, within: Duration) -> Value {
        let line = tokio::time::timeout(within, self.lines.next_line())
            .await
            .expect("a line in time")
            .expect("readable stdout")
            .expect("eventflow still running");
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
    }

    /// Lines until one satisfies `wanted`, within `within`.
    pub async fn wait_for(&mut self, within: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self.next_json(left).await;
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("running").to_string();
        let killed = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(killed.success());
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("exit status")
    }
}
