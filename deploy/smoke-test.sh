#!/usr/bin/env bash
# After a deployment: are the services ready, and does one event go through?
#
#   EVENTFLOW_URL=https://staging.eventflow.example.com SMOKE_API_KEY=efk_... deploy/smoke-test.sh [ENV]
#
# 1. Readiness: every ALB target group of ENV has only healthy targets (the ALB
#    checks each task's /readyz: its PostgreSQL and Redis answer), when ENV and
#    AWS credentials are given.
# 2. End to end: POST /v1/events with the smoke project's key (scopes ingest,
#    read), read the event back from the query API, and wait until each of its
#    deliveries succeeded. The smoke project must have one endpoint subscribed
#    to `smoke.*` that answers 2xx (docs/deploy.md).
set -euo pipefail

url=${EVENTFLOW_URL:?set EVENTFLOW_URL, e.g. https://staging.eventflow.example.com}
key=${SMOKE_API_KEY:?set SMOKE_API_KEY (a key of the smoke project with scopes ingest,read)}
env=${1:-}
deadline_seconds=${SMOKE_DEADLINE_SECONDS:-120}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'smoke test failed: %s\n' "$*" >&2; exit 1; }

if [ -n "$env" ]; then
  log "target health of eventflow-$env's target groups (/readyz)"
  lb=$(aws elbv2 describe-load-balancers --names "eventflow-$env" --query 'LoadBalancers[0].LoadBalancerArn' --output text)
  for tg in $(aws elbv2 describe-target-groups --load-balancer-arn "$lb" --query 'TargetGroups[].TargetGroupArn' --output text); do
    states=$(aws elbv2 describe-target-health --target-group-arn "$tg" --query 'TargetHealthDescriptions[].TargetHealth.State' --output text)
    [ -n "$states" ] || die "no targets in $tg"
    for state in $states; do
      [ "$state" = healthy ] || [ "$state" = draining ] || die "a target of $tg is $state"
    done
  done
fi

api() {
  curl -sS --fail-with-body --max-time 15 -H "Authorization: Bearer $key" -H 'Accept: application/json' "$@"
}

log "POST $url/v1/events"
marker="smoke-$(date -u +%Y%m%dT%H%M%SZ)-$$"
accepted=$(api -H 'Content-Type: application/json' -X POST "$url/v1/events" \
  -d "{\"type\": \"smoke.deploy\", \"payload\": {\"marker\": \"$marker\"}, \"idempotency_key\": \"$marker\"}") ||
  die "ingest answered: $accepted"
id=$(printf '%s' "$accepted" | jq -er .id) || die "no id in $accepted"
log "accepted $id"

event=$(api "$url/v1/events/$id") || die "the query API does not find $id: $event"
[ "$(printf '%s' "$event" | jq -r '.payload.marker // empty')" = "$marker" ] ||
  die "the query API returns another payload for $id: $event"

log "waiting up to ${deadline_seconds}s for the deliveries of $id to succeed"
end=$((SECONDS + deadline_seconds))
while :; do
  deliveries=$(api "$url/v1/events/$id/deliveries") || die "deliveries of $id: $deliveries"
  total=$(printf '%s' "$deliveries" | jq '.data | length')
  done_ok=$(printf '%s' "$deliveries" | jq '[.data[] | select(.status == "succeeded")] | length')
  final_bad=$(printf '%s' "$deliveries" | jq -r '[.data[] | select(.status == "failed" or .status == "refused") | .status] | join(",")')
  [ -z "$final_bad" ] || die "a delivery of $id ended $final_bad: $deliveries"
  if [ "$total" -gt 0 ] && [ "$done_ok" -eq "$total" ]; then
    log "$done_ok of $total deliveries succeeded"
    break
  fi
  [ "$SECONDS" -lt "$end" ] || die "after ${deadline_seconds}s $done_ok of $total deliveries of $id succeeded: $deliveries"
  sleep 3
done
echo "smoke test passed: $id ingested, stored and delivered"
