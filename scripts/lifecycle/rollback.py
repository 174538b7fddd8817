"""scripts/rollback: moves an ECS service back to its previous task definition
revision and waits until the service is stable.

  rollback --cluster CLUSTER --service SERVICE [--dry-run]
           [--database-url URL] [--allow-schema-ahead] [--timeout SECONDS]

How the schema compatibility is known: every task definition the release
workflow registers carries the highest migration its image embeds, as the
container docker label `eventflow.schema-version` (or the environment variable
EVENTFLOW_SCHEMA_VERSION). The database's version is read from
refinery_schema_history (--database-url / EVENTFLOW_DATABASE_URL), or, without
database access, taken from the current revision's label (the release migrates
before it deploys). The rollback is refused when the previous revision's
version is lower than the database's (old code would run against a schema
migrated past it, and its own migrate step would stop on the unknown
migration), or when the previous revision carries no version at all.
--allow-schema-ahead overrides that after a person has checked that the newer
migrations only add (columns with defaults, tables, indexes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import boto3

SCHEMA_LABEL = "eventflow.schema-version"
SCHEMA_ENV = "EVENTFLOW_SCHEMA_VERSION"


def schema_version_of(task_definition: dict) -> int | None:
    versions = []
    for container in task_definition.get("containerDefinitions", []):
        label = (container.get("dockerLabels") or {}).get(SCHEMA_LABEL)
        env = {item["name"]: item["value"] for item in container.get("environment", [])}.get(SCHEMA_ENV)
        for value in (label, env):
            if value is not None and str(value).isdigit():
                versions.append(int(value))
    return max(versions) if versions else None


def previous_revision(ecs, family: str, revision: int) -> dict | None:
    arns = []
    for status in ("ACTIVE", "INACTIVE"):
        paginator = ecs.get_paginator("list_task_definitions")
        for page in paginator.paginate(familyPrefix=family, status=status, sort="DESC"):
            arns += page["taskDefinitionArns"]
    older = []
    for arn in arns:
        name = arn.rsplit("/", 1)[-1]
        fam, _, rev = name.rpartition(":")
        if fam == family and rev.isdigit() and int(rev) < revision:
            older.append((int(rev), arn))
    if not older:
        return None
    return ecs.describe_task_definition(taskDefinition=max(older)[1])["taskDefinition"]


def database_schema_version(url: str) -> int | None:
    import pgdata

    with pgdata.connect(url) as conn:
        return pgdata.schema_version(conn)


def wait_stable(ecs, cluster: str, service: str, target_arn: str, timeout: int) -> float:
    started = time.monotonic()
    while True:
        svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        deployments = svc.get("deployments", [])
        primary = [d for d in deployments if d.get("status") == "PRIMARY"]
        if (svc["taskDefinition"] == target_arn and len(deployments) == 1 and primary
                and primary[0].get("rolloutState", "COMPLETED") == "COMPLETED"
                and svc.get("runningCount", 0) >= svc.get("desiredCount", 0)):
            return time.monotonic() - started
        if any(d.get("rolloutState") == "FAILED" for d in primary):
            raise SystemExit(f"error: the rollback deployment failed: {primary[0].get('rolloutStateReason')}")
        if time.monotonic() - started > timeout:
            raise SystemExit(f"error: {service} not stable after {timeout}s")
        time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--database-url", default=os.environ.get("EVENTFLOW_DATABASE_URL"))
    parser.add_argument("--allow-schema-ahead", action="store_true")
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args()

    ecs = boto3.client("ecs")
    services = ecs.describe_services(cluster=args.cluster, services=[args.service])["services"]
    if not services:
        raise SystemExit(f"error: no service {args.service} in {args.cluster}")
    current = ecs.describe_task_definition(taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
    family, revision = current["family"], current["revision"]
    previous = previous_revision(ecs, family, revision)
    if previous is None:
        raise SystemExit(f"refused: {family}:{revision} has no earlier revision to roll back to")
    previous_version = schema_version_of(previous)
    if args.database_url:
        db_version, source = database_schema_version(args.database_url), "database"
    else:
        db_version, source = schema_version_of(current), f"label of {family}:{revision}"
    plan = {
        "cluster": args.cluster, "service": args.service,
        "from": f"{family}:{revision}", "to": f"{family}:{previous['revision']}",
        "to_arn": previous["taskDefinitionArn"],
        "images": [c["image"] for c in previous.get("containerDefinitions", [])],
        "schema_version_of_target": previous_version, "schema_version_now": db_version,
        "schema_version_source": source,
    }
    print(json.dumps(plan, indent=2))
    if previous_version is None:
        refusal = (f"{family}:{previous['revision']} carries no schema version "
                   f"({SCHEMA_LABEL} label or {SCHEMA_ENV}); cannot tell whether it runs against the database")
    elif db_version is not None and previous_version < db_version:
        refusal = (f"{family}:{previous['revision']} was built for schema version {previous_version}, "
                   f"the database is at {db_version} ({source}): migrations {previous_version + 1}..{db_version} "
                   f"would have to be compatible with the old code")
    else:
        refusal = None
    if refusal and not args.allow_schema_ahead:
        print(f"refused: {refusal}. Restore the database instead, or pass --allow-schema-ahead "
              f"once the newer migrations are known to be additive.", file=sys.stderr)
        sys.exit(2)
    if refusal:
        print(f"warning: {refusal}; proceeding (--allow-schema-ahead)", file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing changed")
        return
    ecs.update_service(cluster=args.cluster, service=args.service, taskDefinition=previous["taskDefinitionArn"])
    seconds = wait_stable(ecs, args.cluster, args.service, previous["taskDefinitionArn"], args.timeout)
    print(f"rolled back {args.service} to {family}:{previous['revision']}, stable after {seconds:.1f}s")


if __name__ == "__main__":
    main()
