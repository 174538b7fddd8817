"""scripts/redis-snapshot: a point-in-time RDB of Redis, dated, to S3 and/or a directory.

  redis-snapshot [--redis-url redis://host:6379] [--s3 s3://bucket/prefix] [--out DIR] [--timeout SECONDS]

BGSAVE, wait until LASTSAVE moves and the save reports ok, then fetch the RDB
with `redis-cli --rdb` (works against a remote server) and upload it as
redis-YYYYmmddTHHMMSSZ.rdb. Redis holds nothing PostgreSQL cannot rebuild
(see docs/runbooks/redis.md); the snapshot shortens recovery and keeps the
rate-limit counters, it is not what protects events.

On ElastiCache, BGSAVE/SYNC are disabled: use its automatic snapshots and
`aws elasticache copy-snapshot --target-bucket` instead (docs/runbooks/redis.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from urllib.parse import urlparse

import pgdata


def cli_args(url: str) -> list[str]:
    parsed = urlparse(url)
    args = ["redis-cli", "-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379)]
    if parsed.password:
        args += ["-a", parsed.password, "--no-auth-warning"]
    if parsed.scheme == "rediss":
        args.append("--tls")
    return args


def redis(url: str, *command: str) -> str:
    result = subprocess.run(cli_args(url) + list(command), capture_output=True, text=True, timeout=30)
    if result.returncode != 0 or result.stdout.startswith("ERR"):
        raise SystemExit(f"error: redis {' '.join(command)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout.strip()


def persistence(url: str) -> dict:
    info = redis(url, "INFO", "persistence")
    return dict(line.split(":", 1) for line in info.splitlines() if ":" in line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default=os.environ.get("EVENTFLOW_REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--s3")
    parser.add_argument("--out")
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()
    if not args.s3 and not args.out:
        parser.error("give --s3 s3://bucket/prefix and/or --out DIR")
    started = time.monotonic()
    before = int(redis(args.redis_url, "LASTSAVE"))
    reply = redis(args.redis_url, "BGSAVE")
    if "Background saving started" not in reply and "scheduled" not in reply:
        raise SystemExit(f"error: BGSAVE: {reply}")
    while True:
        state = persistence(args.redis_url)
        if int(redis(args.redis_url, "LASTSAVE")) > before and state.get("rdb_bgsave_in_progress") == "0":
            if state.get("rdb_last_bgsave_status") != "ok":
                raise SystemExit("error: BGSAVE finished with status " + state.get("rdb_last_bgsave_status", "?"))
            break
        if time.monotonic() - started > args.timeout:
            raise SystemExit(f"error: BGSAVE not finished after {args.timeout}s")
        time.sleep(0.2)
    name = f"redis-{pgdata.utc_now().strftime('%Y%m%dT%H%M%SZ')}.rdb"
    with tempfile.TemporaryDirectory(prefix="eventflow-redis-") as workdir:
        path = os.path.join(workdir, name)
        result = subprocess.run(cli_args(args.redis_url) + ["--rdb", path], capture_output=True, text=True, timeout=args.timeout)
        if result.returncode != 0 or not os.path.exists(path):
            raise SystemExit(f"error: fetching the RDB failed: {(result.stderr or result.stdout).strip()}")
        written = []
        if args.s3:
            bucket, prefix = pgdata.split_s3(args.s3)
            pgdata.s3_client().upload_file(path, bucket, prefix + name)
            written.append(f"s3://{bucket}/{prefix}{name}")
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            shutil.copyfile(path, os.path.join(args.out, name))
            written.append(os.path.join(args.out, name))
        size = os.path.getsize(path)
    print(json.dumps({"rdb": written, "bytes": size, "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
