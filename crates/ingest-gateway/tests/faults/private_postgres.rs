//! A PostgreSQL server of the test's own, stopped with `pg_ctl stop -m
//! immediate` (a crash: no checkpoint, recovery from the WAL at the next
//! start) and started again while producers send with idempotency keys.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use eventflow_test_support::traffic::{Producer, settle_ledger};
use eventflow_test_support::{Scene, TestDatabase, eventually, gateway_config, spawn_gateway_on};

use crate::{free_port, stored_events};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 server on a free loopback port with its data directory
/// under `target/tmp`, run as the `postgres` user when the tests run as root
/// (PostgreSQL refuses to run as root). Stopped and removed when dropped.
pub struct PrivatePostgres {
    data: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Returns `None` (the test then says it is skipped) when the binaries are missing.
    pub fn start() -> Option<Self> {
        if !PathBuf::from(PG_BIN).join("initdb").exists() {
            return None;
        }
        let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("faults-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&data).unwrap();
        let server = Self {
            data,
            port: free_port(),
        };
        server.chown();
        server.pg(&[
            "initdb",
            "-D",
            "{data}",
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ]);
        server.start_server();
        Some(server)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn maintenance_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=50",
            self.port,
            self.data.display()
        );
        self.pg(&[
            "pg_ctl",
            "-D",
            "{data}",
            "-l",
            "{data}/log",
            "-w",
            "-o",
            &options,
            "start",
        ]);
    }

    /// Stops the server as a crash does: `pg_ctl stop -m immediate`.
    pub fn crash(&self) {
        self.pg(&["pg_ctl", "-D", "{data}", "-m", "immediate", "-w", "stop"]);
    }

    fn chown(&self) {
        if running_as_root() {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&self.data));
        }
    }

    /// Runs a PostgreSQL program (`{data}` stands for the data directory),
    /// as `postgres` when running as root.
    fn pg(&self, args: &[&str]) {
        let data = self.data.display().to_string();
        let program = format!("{PG_BIN}/{}", args[0]);
        let args: Vec<String> = args[1..]
            .iter()
            .map(|arg| arg.replace("{data}", &data))
            .collect();
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            Command::new(&program)
        };
        run(command.args(&args));
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.pg(&["pg_ctl", "-D", "{data}", "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_and_restarted_during_ingest_loses_no_acknowledged_event() {
    let Some(postgres) = PrivatePostgres::start() else {
        println!("skipped: no PostgreSQL 15 binaries in {PG_BIN}");
        return;
    };
    let db = TestDatabase::create_on(&postgres.maintenance_url()).await;
    let mut config = gateway_config(db.url());
    config.service.database_timeout = Duration::from_secs(1);
    let gateway = spawn_gateway_on(db, config, |_| {}).await;
    let scene = Scene::on(gateway).await;
    let _dispatcher = scene
        .gateway
        .spawn_dispatcher_with(|config| config.service.database_timeout = Duration::from_secs(1))
        .await;
    let started = Instant::now();

    let events = 1200;
    let producer = Producer::retrying(
        &scene.gateway.url(""),
        &scene.key,
        events,
        4,
        Duration::from_secs(60),
    );
    eventually(
        "300 events are acknowledged",
        Duration::from_secs(30),
        || async { producer.acknowledged() >= 300 },
    )
    .await;
    let acknowledged_at_crash = producer.acknowledged();
    postgres.crash();
    let crashed_at = started.elapsed();
    let refused = scene
        .gateway
        .post_event(
            &scene.key,
            &serde_json::json!({
                "type": "order.created", "payload": {}
            }),
        )
        .await;
    assert_eq!(
        refused.status(),
        503,
        "no acknowledgement without PostgreSQL"
    );
    postgres.start_server();
    let down_for = started.elapsed() - crashed_at;

    let posted = producer.finish().await;
    println!(
        "postgres stopped -m immediate after {crashed_at:?} with {acknowledged_at_crash} \
         acknowledged, restarted after {down_for:?}"
    );
    assert_eq!(
        posted.acknowledged.len(),
        events,
        "every event acknowledged in the end"
    );
    assert_eq!(
        stored_events(&scene.gateway).await,
        events as i64,
        "every event stored once: the crash kept the committed ones, the retries added no copy"
    );
    settle_ledger(
        "postgres stop -m immediate",
        &posted,
        &scene.sink,
        &scene.endpoint.secret,
        Duration::from_secs(60),
    )
    .await;
}
