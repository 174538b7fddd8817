"""scripts/restore-drill: proves a backup restores with its data intact.

  restore-drill --dump FILE.dump [--manifest FILE.manifest.json]
  restore-drill --s3 s3://bucket/prefix          (the newest backup there)
      [--admin-url postgres://user@host:5432/postgres] [--jobs N] [--keep]
      [--dispatcher BIN | --no-dispatcher] [--redis-url URL] [--report FILE]
      [--expect-schema-version N] [--max-age HOURS]

Steps: fetch the dump and its manifest; check the file's SHA-256; restore
into a scratch database (pg_restore --jobs); check the schema version; compare
every table's rows and checksum with the manifest; start a dispatcher on the
restored database in dry-run mode (delivers and writes nothing) and read what
it would resume; print a short report; drop the scratch database. Exit status
1 when anything does not match, with one line per problem naming it.
"""

from __future__ import annotations

import argparse
import base64
import glob
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pgdata

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Drill:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.steps: dict[str, float] = {}
        self._mark = time.monotonic()

    def step(self, name: str) -> None:
        now = time.monotonic()
        self.steps[name] = round(now - self._mark, 2)
        self._mark = now

    def fail(self, message: str) -> None:
        self.problems.append(message)
        print(f"MISMATCH: {message}", file=sys.stderr)


def fetch(args, workdir: str) -> tuple[str, dict]:
    if args.s3:
        bucket, prefix = pgdata.split_s3(args.s3)
        s3 = pgdata.s3_client()
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".manifest.json")]
        if not keys:
            raise SystemExit(f"error: no backup manifest under {args.s3}")
        manifest_key = max(keys)  # names carry a sortable UTC timestamp
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        dump_path = os.path.join(workdir, manifest["dump_file"])
        dump_key = manifest_key[: len(manifest_key) - len(os.path.basename(manifest_key))] + manifest["dump_file"]
        s3.download_file(bucket, dump_key, dump_path)
        print(f"drill: newest backup s3://{bucket}/{manifest_key}", file=sys.stderr)
        return dump_path, manifest
    manifest_path = args.manifest or args.dump.removesuffix(".dump") + ".manifest.json"
    with open(manifest_path) as file:
        manifest = json.load(file)
    return args.dump, manifest


def scratch_url(admin_url: str, name: str) -> str:
    base, _, query = admin_url.partition("?")
    server = base.rsplit("/", 1)[0] if base.count("/") >= 3 else base
    return f"{server}/{name}" + (f"?{query}" if query else "")


def restore(drill: Drill, args, dump_path: str, url: str) -> bool:
    result = subprocess.run(
        [pgdata.pg_bin("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
         f"--jobs={args.jobs}", f"--dbname={url}", dump_path],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        drill.fail(f"dump damaged: pg_restore failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
        return False
    return True


def known_schema_version() -> int | None:
    files = glob.glob(os.path.join(REPO, "crates", "eventflow-store", "migrations", "V*__*.sql"))
    versions = [int(re.match(r"V(\d+)__", os.path.basename(f)).group(1)) for f in files]
    return max(versions) if versions else None


def compare_tables(drill: Drill, manifest: dict, restored: dict) -> None:
    expected = manifest.get("tables", {})
    for name in sorted(set(expected) - set(restored)):
        drill.fail(f"table {name}: in the manifest, missing from the restored database")
    for name in sorted(set(restored) - set(expected)):
        drill.fail(f"table {name}: restored but not in the manifest")
    for name in sorted(set(expected) & set(restored)):
        want, got = expected[name], restored[name]
        if want["rows"] != got["rows"]:
            drill.fail(f"table {name}: {got['rows']} rows restored, manifest says {want['rows']}")
        elif want["checksum"] != got["checksum"]:
            drill.fail(f"table {name}: content checksum differs from the manifest ({got['rows']} rows; a row was altered)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_dispatcher(explicit: str | None) -> str | None:
    for candidate in [explicit, os.environ.get("EVENTFLOW_DISPATCHER_BIN"), shutil.which("dispatcher"),
                      os.path.join(REPO, "target", "release", "dispatcher"),
                      os.path.join(REPO, "target", "debug", "dispatcher")]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def dry_dispatcher(drill: Drill, binary: str, url: str, redis_url: str | None, workdir: str) -> dict | None:
    """Starts the dispatcher with EVENTFLOW_DRY_RUN=true and returns its 'would resume' fields."""
    redis = None
    if not redis_url:
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
        redis_url = f"redis://127.0.0.1:{redis_port}"
    env = dict(os.environ)
    if not env.get("EVENTFLOW_SECRETS_KEY"):
        # Starting needs a key; the deployment's own key (from the secret store)
        # also proves the restored endpoint secrets decrypt. Without it, a
        # throwaway key does for a database that holds no encrypted secret.
        print("drill: EVENTFLOW_SECRETS_KEY not set: the dry-run dispatcher gets a throwaway key", file=sys.stderr)
        env["EVENTFLOW_SECRETS_KEY"] = base64.b64encode(os.urandom(32)).decode()
    env.update(EVENTFLOW_DATABASE_URL=url, EVENTFLOW_REDIS_URL=redis_url, EVENTFLOW_DRY_RUN="true",
               EVENTFLOW_HTTP_ADDR="127.0.0.1:0", EVENTFLOW_GRPC_ADDR="127.0.0.1:0", EVENTFLOW_LOG="info",
               EVENTFLOW_REDIS_KEY_PREFIX=f"drill-{os.getpid()}:")
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found, tail = None, []
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)], daemon=True).start()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            tail = (tail + [line.strip()])[-5:]
            try:
                record = json.loads(line)
            except ValueError:
                continue
            fields = record.get("fields", record)
            if fields.get("message") == "dry run: would resume":
                found = {k: v for k, v in fields.items() if k != "message"}
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis:
            redis.terminate()
            redis.wait()
    if found is None:
        drill.fail("dispatcher dry run: no 'would resume' report; last output: " + " | ".join(tail))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump")
    source.add_argument("--s3")
    parser.add_argument("--manifest")
    parser.add_argument("--admin-url", default=os.environ.get("EVENTFLOW_DRILL_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--dispatcher")
    parser.add_argument("--no-dispatcher", action="store_true")
    parser.add_argument("--redis-url", help="Redis for the dry-run dispatcher (default: a private redis-server)")
    parser.add_argument("--report", help="also write the report as JSON here")
    parser.add_argument("--expect-schema-version", type=int, default=None)
    parser.add_argument("--max-age", type=float, help="fail when the backup is older than this many hours")
    args = parser.parse_args()

    drill = Drill()
    started = pgdata.utc_now()
    workdir = tempfile.mkdtemp(prefix="eventflow-drill-")
    scratch = f"eventflow_drill_{started.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    url = scratch_url(args.admin_url, scratch)
    report: dict = {"scratch_database": scratch, "started_at": pgdata.iso(started)}
    try:
        dump_path, manifest = fetch(args, workdir)
        report["dump"] = manifest.get("dump_file")
        drill.step("fetch")
        if manifest.get("format") != "eventflow-backup/1":
            drill.fail(f"manifest: unknown format {manifest.get('format')!r}")
        if not os.path.exists(dump_path):
            drill.fail(f"dump missing: {dump_path}")
        else:
            size = os.path.getsize(dump_path)
            if size != manifest.get("dump_bytes"):
                drill.fail(f"dump damaged: {size} bytes, manifest says {manifest.get('dump_bytes')} (truncated?)")
            from backup_postgres import sha256_of
            if sha256_of(dump_path) != manifest.get("dump_sha256"):
                drill.fail("dump damaged: SHA-256 differs from the manifest")
        drill.step("verify_file")

        with pgdata.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{scratch}"')
        restored_ok = os.path.exists(dump_path) and restore(drill, args, dump_path, url)
        drill.step("restore")
        if restored_ok:
            with pgdata.connect(url) as conn:
                version = pgdata.schema_version(conn)
                names = pgdata.tables(conn)
            report["schema_version"] = version
            if version != manifest.get("schema_version"):
                drill.fail(f"schema version: restored {version}, manifest says {manifest.get('schema_version')}")
            expected_version = args.expect_schema_version or known_schema_version()
            if expected_version is not None and version is not None and version > expected_version:
                drill.fail(f"schema version: restored {version} is newer than this code knows ({expected_version})")
            restored = pgdata.checksum_snapshot(url, None, names, args.jobs)
            compare_tables(drill, manifest, restored)
            report["tables"] = len(restored)
            report["rows"] = sum(t["rows"] for t in restored.values())
            report["rows_by_table"] = {name: t["rows"] for name, t in restored.items() if t["rows"]}
            drill.step("compare")
            if not args.no_dispatcher:
                binary = find_dispatcher(args.dispatcher)
                if not binary:
                    drill.fail("dispatcher dry run: no dispatcher binary (--dispatcher, EVENTFLOW_DISPATCHER_BIN or PATH)")
                else:
                    report["would_resume"] = dry_dispatcher(drill, binary, url, args.redis_url, workdir)
                drill.step("dry_dispatcher")
    finally:
        if not args.keep:
            with pgdata.connect(args.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            drill.step("drop_scratch")
        shutil.rmtree(workdir, ignore_errors=True)

    finished = pgdata.utc_now()
    snapshot_at = manifest.get("snapshot_at")
    if snapshot_at:
        age_hours = (finished - pgdata.parse_iso(snapshot_at)).total_seconds() / 3600
        report["data_as_of"] = snapshot_at
        report["newest_event_at"] = manifest.get("newest_event_at")
        # Restoring this backup now loses what was committed after its snapshot.
        report["rpo_if_restored_now_hours"] = round(age_hours, 3)
        if args.max_age is not None and age_hours > args.max_age:
            drill.fail(f"backup age: {age_hours:.1f} h exceeds --max-age {args.max_age} h")
    report["steps_seconds"] = drill.steps
    report["total_seconds"] = round((finished - started).total_seconds(), 2)
    report["problems"] = drill.problems
    report["result"] = "passed" if not drill.problems else "failed"
    if args.report:
        with open(args.report, "w") as file:
            json.dump(report, file, indent=2)
    resume = report.get("would_resume") or {}
    print(f"restore drill {report['result'].upper()}: {report.get('dump')} -> {scratch}")
    print(f"  schema version {report.get('schema_version')}, {report.get('tables', 0)} tables, {report.get('rows', 0)} rows")
    print(f"  time {report['total_seconds']} s " + " ".join(f"{k}={v}s" for k, v in drill.steps.items()))
    if snapshot_at:
        print(f"  data as of {snapshot_at}: restoring it now loses {report['rpo_if_restored_now_hours']} h (RPO target 1 h)")
    if resume:
        print(f"  a dispatcher would resume {resume.get('pending_deliveries')} pending deliveries "
              f"({resume.get('due_now')} due now), {resume.get('outbox_events')} outbox events, "
              f"{resume.get('unchecked_events_without_deliveries')} events not yet fanned out")
    for problem in drill.problems:
        print(f"  PROBLEM: {problem}")
    sys.exit(1 if drill.problems else 0)


if __name__ == "__main__":
    main()
