#!/usr/bin/env bash
# Times backup-postgres and restore-drill on a private PostgreSQL holding
# EVENTS events (each with one delivery and one attempt) spread over 10 days.
#   EVENTS=300000 scripts/lifecycle/measure-backup.sh
# Figures go to BENCHMARKS.md ("Data lifecycle").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
EVENTS="${EVENTS:-300000}"
WORK="$ROOT/target/lifecycle-measure"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
rm -rf "$WORK"; mkdir -p "$WORK/pg" "$WORK/sock" "$WORK/backups"
[ "$(id -u)" = 0 ] && chown postgres "$WORK" "$WORK/pg" "$WORK/sock"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres -A trust >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -o "-p $PORT -k $WORK/sock -c listen_addresses=127.0.0.1" start >/dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null' EXIT
URL="postgres://postgres@127.0.0.1:$PORT/eventflow"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres eventflow
"$ROOT/target/debug/eventflow" --database-url "$URL" migrate >/dev/null
t0=$(date +%s.%N)
"$PG_BIN/psql" -X -q "$URL" <<SQL
SELECT eventflow_ensure_partitions(t, (now() AT TIME ZONE 'UTC')::date - 10, 11)
FROM unnest(ARRAY['events', 'deliveries', 'attempts']) AS t;
INSERT INTO projects (id, name) VALUES ('00000000-0000-7000-8000-000000000001', 'measure');
CREATE TEMP TABLE ids AS
  SELECT at,
         (substr(replace(eventflow_uuid_floor(at)::text, '-', ''), 1, 12) || substr(n, 1, 20))::uuid AS event,
         (substr(replace(eventflow_uuid_floor(at)::text, '-', ''), 1, 12) || substr(n, 13, 20))::uuid AS delivery,
         (substr(replace(eventflow_uuid_floor(at + interval '1 second')::text, '-', ''), 1, 12) || substr(n, 7, 20))::uuid AS attempt
  FROM (SELECT now() - interval '10 days' + i * (interval '10 days' / $EVENTS) AS at, md5(i::text) AS n
        FROM generate_series(1, $EVENTS) AS i) s;
INSERT INTO events (id, project_id, event_type, payload, occurred_at, received_at)
  SELECT event, '00000000-0000-7000-8000-000000000001', 'order.created',
         '{"order": 1234, "amount": "19.99", "customer": {"id": "cus_123", "email": "a@example.com"}}', at, at FROM ids;
INSERT INTO deliveries (id, project_id, event_id, endpoint_id, status, attempt_count, created_at)
  SELECT delivery, '00000000-0000-7000-8000-000000000001', event, '00000000-0000-7000-8000-000000000002', 'succeeded', 1, at FROM ids;
INSERT INTO attempts (id, delivery_id, project_id, endpoint_id, attempt_number, started_at, duration_us, status_code)
  SELECT attempt, delivery, '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000002', 1, at, 1500, 200 FROM ids;
VACUUM ANALYZE;
SQL
echo "filled $EVENTS events x3 tables in $(echo "$(date +%s.%N) - $t0" | bc) s; database $("$PG_BIN/psql" -X -qAt "$URL" -c "SELECT pg_size_pretty(pg_database_size('eventflow'))")"
for jobs in 1 2; do
  /usr/bin/time -f "backup --jobs $jobs: %e s wall, %U s user" "$ROOT/scripts/backup-postgres" --database-url "$URL" --out "$WORK/backups/j$jobs" --jobs "$jobs"
done
DUMP=$(ls "$WORK"/backups/j2/*.dump)
ls -la "$DUMP"
/usr/bin/time -f "restore-drill: %e s wall" "$ROOT/scripts/restore-drill" --dump "$DUMP" \
  --admin-url "postgres://postgres@127.0.0.1:$PORT/postgres" --dispatcher "$ROOT/target/debug/dispatcher" --report "$WORK/drill.json"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres restored
/usr/bin/time -f "pg_restore --jobs 2 alone: %e s wall" "$PG_BIN/pg_restore" --no-owner --jobs 2 -d "postgres://postgres@127.0.0.1:$PORT/restored" "$DUMP"
