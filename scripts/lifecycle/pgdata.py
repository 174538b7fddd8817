"""What the backup writes and the restore drill checks: the tables of the
EventFlow schema, their row counts and content checksums, and the schema
version, all read in one snapshot."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import shutil

import psycopg
from psycopg import sql

# Row text must be the same on both sides whatever the server's defaults.
SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'"
)

TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1
"""

# Order-independent: the sum of 60 bits of each row's MD5, so no sort is
# needed and a changed, missing or extra row changes it.
CHECKSUM_SQL = (
    "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text "
    "FROM {} t"
)


def pg_bin(name: str) -> str:
    """A PostgreSQL client program: $PG_BIN, then /usr/lib/postgresql/<newest>/bin, then PATH."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(os.path.join(os.environ["PG_BIN"], name))
    root = "/usr/lib/postgresql"
    if os.path.isdir(root):
        for version in sorted(os.listdir(root), key=lambda v: int(v) if v.isdigit() else 0, reverse=True):
            candidates.append(os.path.join(root, version, "bin", name))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"error: {name} not found (set PG_BIN)")
    return found


def connect(url: str, **kwargs) -> psycopg.Connection:
    conn = psycopg.connect(url, **kwargs)
    with conn.cursor() as cur:
        cur.execute(SESSION_SETTINGS)
    return conn


def tables(conn: psycopg.Connection) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(TABLES_SQL)
        return [row[0] for row in cur.fetchall()]


def schema_version(conn: psycopg.Connection) -> int | None:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.refinery_schema_history') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT max(version) FROM refinery_schema_history")
        return cur.fetchone()[0]


def checksum_table(conn: psycopg.Connection, table: str) -> dict:
    with conn.cursor() as cur:
        cur.execute(sql.SQL(CHECKSUM_SQL).format(sql.Identifier("public", table)))
        rows, checksum = cur.fetchone()
        return {"rows": rows, "checksum": checksum}


def checksum_snapshot(url: str, snapshot: str | None, names: list[str], jobs: int) -> dict:
    """Checksums `names` with `jobs` connections that all read `snapshot` (or
    each its own consistent view of an idle database when None)."""

    def worker(chunk: list[str]) -> dict:
        with connect(url) as conn:
            with conn.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                if snapshot:
                    cur.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            return {name: checksum_table(conn, name) for name in chunk}

    jobs = max(1, min(jobs, len(names) or 1))
    chunks = [names[i::jobs] for i in range(jobs)]
    result: dict = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for part in pool.map(worker, chunks):
            result.update(part)
    return dict(sorted(result.items()))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def split_s3(uri: str) -> tuple[str, str]:
    """s3://bucket/prefix → (bucket, "prefix/" or "")."""
    if not uri.startswith("s3://"):
        raise SystemExit(f"error: not an s3:// URI: {uri}")
    bucket, _, prefix = uri[5:].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def s3_client():
    """boto3 S3 client; AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) points it at any S3-compatible store."""
    import boto3

    return boto3.client("s3")
