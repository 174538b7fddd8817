#!/usr/bin/env bash
# The release steps the pipeline runs against one environment (aws CLI + jq),
# kept here rather than inline in .github/workflows/deploy.yml so an operator
# can run the same steps by hand (docs/deploy.md):
#
#   deploy/ecs-deploy.sh promote ENV FROM_ENV SHA   copy FROM_ENV's tested images to ENV's repositories
#   deploy/ecs-deploy.sh migrate ENV SHA            run `eventflow migrate` of SHA as a one-shot task
#   deploy/ecs-deploy.sh deploy  ENV SHA            register each service's task definition with
#                                                   SHA's image and wait until every service is stable
#   deploy/ecs-deploy.sh rollback ENV               every service back to its previous revision
#
# Names follow deploy/terraform: cluster eventflow-ENV, task definition
# families eventflow-ENV-SERVICE, repositories eventflow-ENV/IMAGE.
# AWS_REGION and credentials come from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=(ingest-gateway query-api dispatcher dashboard)
IMAGES=(ingest-gateway query-api dispatcher dashboard cli ops)
SCHEMA_LABEL=eventflow.schema-version

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

registry() {
  local account
  account=$(aws sts get-caller-identity --query Account --output text)
  echo "$account.dkr.ecr.$AWS_REGION.amazonaws.com"
}

# The highest migration this commit embeds: rollback refuses to go below the
# database's schema (scripts/rollback reads this label).
schema_version() {
  find crates/eventflow-store/migrations -name 'V*__*.sql' -printf '%f\n' |
    sed -nE 's/^V([0-9]+)__.*/\1/p' | sort -n | tail -n 1
}

# The family's latest revision with the main container's image set to SHA and
# the schema label added, minus the fields register-task-definition refuses.
render() {
  local family=$1 container=$2 image=$3
  aws ecs describe-task-definition --task-definition "$family" --query taskDefinition --output json |
    jq --arg c "$container" --arg image "$image" --arg label "$SCHEMA_LABEL" --arg schema "$(schema_version)" '
      del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
          .registeredAt, .registeredBy, .deregisteredAt)
      | .containerDefinitions |= map(
          if .name == $c then .image = $image | .dockerLabels = ((.dockerLabels // {}) + {($label): $schema})
          else . end)'
}

register() {
  aws ecs register-task-definition --cli-input-json "file://$1" --query taskDefinition.taskDefinitionArn --output text
}

cmd_promote() {
  local env=$1 from=$2 sha=$3 reg image
  reg=$(registry)
  for image in "${IMAGES[@]}"; do
    if aws ecr describe-images --repository-name "eventflow-$env/$image" --image-ids "imageTag=$sha" >/dev/null 2>&1; then
      log "eventflow-$env/$image:$sha is there already"
      continue
    fi
    log "promoting eventflow-$from/$image:$sha to eventflow-$env"
    docker pull --quiet "$reg/eventflow-$from/$image:$sha"
    docker tag "$reg/eventflow-$from/$image:$sha" "$reg/eventflow-$env/$image:$sha"
    docker push --quiet "$reg/eventflow-$env/$image:$sha"
  done
}

cmd_migrate() {
  local env=$1 sha=$2 cluster="eventflow-$1" file network task exit_code
  file=$(mktemp)
  render "eventflow-$env-migrate" migrate "$(registry)/eventflow-$env/cli:$sha" > "$file"
  local arn
  arn=$(register "$file")
  # The task runs where the services run: their subnets and security group.
  network=$(aws ecs describe-services --cluster "$cluster" --services dispatcher \
    --query 'services[0].networkConfiguration' --output json)
  log "running $arn"
  task=$(aws ecs run-task --cluster "$cluster" --task-definition "$arn" --count 1 \
    --network-configuration "$network" --started-by "release-$sha" \
    --capacity-provider-strategy "$(aws ecs describe-services --cluster "$cluster" --services dispatcher \
      --query 'services[0].capacityProviderStrategy' --output json)" \
    --query 'tasks[0].taskArn' --output text)
  [ -n "$task" ] && [ "$task" != None ] || die "the migrate task did not start"
  aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
  exit_code=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
    --query "tasks[0].containers[?name=='migrate'].exitCode | [0]" --output text)
  log "migrate log:"
  aws logs tail "/eventflow/eventflow-$env/migrate" --since 30m --format short 2>/dev/null | tail -n 50 >&2 || true
  [ "$exit_code" = 0 ] || die "eventflow migrate exited $exit_code; nothing was deployed"
}

cmd_deploy() {
  local env=$1 sha=$2 cluster="eventflow-$1" reg service image file arn
  reg=$(registry)
  for service in "${SERVICES[@]}"; do
    image=$service
    file=$(mktemp)
    render "eventflow-$env-$service" "$service" "$reg/eventflow-$env/$image:$sha" > "$file"
    arn=$(register "$file")
    log "$service -> $arn"
    aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "$arn" >/dev/null
  done
  log "waiting until every service is stable (the circuit breaker rolls back a failing one)"
  aws ecs wait services-stable --cluster "$cluster" --services "${SERVICES[@]}"
  # A service the circuit breaker rolled back is stable too, on the old revision.
  for service in "${SERVICES[@]}"; do
    running=$(aws ecs describe-services --cluster "$cluster" --services "$service" \
      --query 'services[0].taskDefinition' --output text)
    aws ecs describe-task-definition --task-definition "$running" \
      --query 'taskDefinition.containerDefinitions[0].image' --output text | grep -q ":$sha\$" ||
      die "$service runs $running, not $sha: its deployment was rolled back"
  done
}

cmd_rollback() {
  local env=$1 service failed=0
  for service in "${SERVICES[@]}"; do
    scripts/rollback --cluster "eventflow-$env" --service "$service" || failed=1
  done
  return "$failed"
}

case "${1:-}" in
  promote) [ $# -eq 4 ] || die "usage: $0 promote ENV FROM_ENV SHA"; cmd_promote "$2" "$3" "$4" ;;
  migrate) [ $# -eq 3 ] || die "usage: $0 migrate ENV SHA"; cmd_migrate "$2" "$3" ;;
  deploy) [ $# -eq 3 ] || die "usage: $0 deploy ENV SHA"; cmd_deploy "$2" "$3" ;;
  rollback) [ $# -eq 2 ] || die "usage: $0 rollback ENV"; cmd_rollback "$2" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
