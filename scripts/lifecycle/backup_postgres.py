"""scripts/backup-postgres: a consistent dump of the EventFlow database with a
manifest, to a local directory and/or S3; or a manual RDS snapshot.

  backup-postgres [--database-url URL] [--out DIR] [--s3 s3://bucket/prefix] [--jobs N]
  backup-postgres --rds-snapshot DB_INSTANCE_ID [--snapshot-id ID] [--timeout SECONDS]

The dump is pg_dump's custom format (compressed; pg_restore can restore it
with several jobs). It is taken from a snapshot exported by a REPEATABLE READ
transaction, and the manifest's row counts and checksums are read from that
same snapshot (by --jobs connections, while pg_dump runs), so the manifest
describes exactly the dump. The manifest is written last: a dump without one
is incomplete.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pgdata

MANIFEST_FORMAT = "eventflow-backup/1"


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def take_dump(url: str, workdir: str, jobs: int) -> tuple[str, dict]:
    started = pgdata.utc_now()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    dump_path = os.path.join(workdir, f"eventflow-{stamp}.dump")
    with pgdata.connect(url) as holder:
        with holder.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SELECT pg_export_snapshot(), now(), current_database(), current_setting('server_version')")
            snapshot, snapshot_at, database, server_version = cur.fetchone()
            names = pgdata.tables(holder)
            version = pgdata.schema_version(holder)
            cur.execute("SELECT to_regclass('public.events') IS NOT NULL")
            newest_event_at = None
            if cur.fetchone()[0]:
                cur.execute("SELECT max(received_at) FROM events")
                newest_event_at = cur.fetchone()[0]
        dump = subprocess.Popen(
            [pgdata.pg_bin("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
             f"--snapshot={snapshot}", f"--file={dump_path}", f"--dbname={url}"],
            stderr=subprocess.PIPE, text=True,
        )
        try:
            table_sums = pgdata.checksum_snapshot(url, snapshot, names, jobs)
        finally:
            _, dump_errors = dump.communicate()
        if dump.returncode != 0:
            raise SystemExit(f"error: pg_dump failed ({dump.returncode}): {dump_errors.strip()}")
    finished = pgdata.utc_now()
    manifest = {
        "format": MANIFEST_FORMAT,
        "database": database,
        "server_version": server_version,
        "dump_file": os.path.basename(dump_path),
        "dump_bytes": os.path.getsize(dump_path),
        "dump_sha256": sha256_of(dump_path),
        "schema_version": version,
        "snapshot_at": pgdata.iso(snapshot_at),
        "newest_event_at": pgdata.iso(newest_event_at),
        "started_at": pgdata.iso(started),
        "finished_at": pgdata.iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
        "tables": table_sums,
    }
    return dump_path, manifest


def manifest_name(dump_file: str) -> str:
    return dump_file.removesuffix(".dump") + ".manifest.json"


def store_local(out: str, dump_path: str, manifest: dict) -> str:
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, os.path.basename(dump_path))
    shutil.copyfile(dump_path, target)
    manifest_path = os.path.join(out, manifest_name(manifest["dump_file"]))
    with open(manifest_path, "w") as file:
        json.dump(manifest, file, indent=2)
        file.write("\n")
    return manifest_path


def store_s3(uri: str, dump_path: str, manifest: dict) -> str:
    bucket, prefix = pgdata.split_s3(uri)
    s3 = pgdata.s3_client()
    s3.upload_file(dump_path, bucket, prefix + manifest["dump_file"])
    key = prefix + manifest_name(manifest["dump_file"])
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode(),
                  ContentType="application/json")
    return f"s3://{bucket}/{key}"


def rds_snapshot(instance: str, snapshot_id: str | None, timeout: int) -> None:
    import boto3

    rds = boto3.client("rds")
    snapshot_id = snapshot_id or f"eventflow-{instance}-{pgdata.utc_now().strftime('%Y%m%d-%H%M%S')}"
    started = time.monotonic()
    print(f"creating RDS snapshot {snapshot_id} of {instance}", file=sys.stderr)
    rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=snapshot_id,
                           Tags=[{"Key": "eventflow:reason", "Value": "pre-deploy"}])
    while True:
        snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
        status = snapshot["Status"]
        if status == "available":
            break
        if status in ("failed", "deleted", "incompatible-restore"):
            raise SystemExit(f"error: RDS snapshot {snapshot_id} ended {status}")
        if time.monotonic() - started > timeout:
            raise SystemExit(f"error: RDS snapshot {snapshot_id} still {status} after {timeout}s")
        time.sleep(15)
    print(json.dumps({"rds_snapshot": snapshot_id, "instance": instance, "status": "available",
                      "seconds": round(time.monotonic() - started, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("EVENTFLOW_DATABASE_URL"))
    parser.add_argument("--out", help="local directory for the dump and its manifest")
    parser.add_argument("--s3", help="s3://bucket/prefix to upload to (AWS_ENDPOINT_URL for S3-compatible stores)")
    parser.add_argument("--jobs", type=int, default=2, help="connections computing checksums next to pg_dump")
    parser.add_argument("--rds-snapshot", metavar="DB_INSTANCE_ID", help="take a manual RDS snapshot instead and wait for it")
    parser.add_argument("--snapshot-id")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the RDS snapshot")
    args = parser.parse_args()
    if args.rds_snapshot:
        rds_snapshot(args.rds_snapshot, args.snapshot_id, args.timeout)
        return
    if not args.database_url:
        parser.error("--database-url or EVENTFLOW_DATABASE_URL is required")
    if not args.out and not args.s3:
        parser.error("give --out DIR and/or --s3 s3://bucket/prefix")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="eventflow-backup-", dir=args.out) as workdir:
        dump_path, manifest = take_dump(args.database_url, workdir, args.jobs)
        written = []
        if args.s3:
            written.append(store_s3(args.s3, dump_path, manifest))
        if args.out:
            written.append(store_local(args.out, dump_path, manifest))
    rows = sum(table["rows"] for table in manifest["tables"].values())
    print(json.dumps({"manifest": written, "dump_bytes": manifest["dump_bytes"], "tables": len(manifest["tables"]),
                      "rows": rows, "schema_version": manifest["schema_version"],
                      "seconds": manifest["duration_seconds"], "snapshot_at": manifest["snapshot_at"]}))


if __name__ == "__main__":
    main()
