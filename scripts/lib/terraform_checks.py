#!/usr/bin/env python3
"""Checks scripts/test-terraform.sh runs on the staging plan (terraform show -json).

Each subcommand prints one "ok: ..." or "FAIL: ..." line per check and exits 1
when any check failed:

  counts PLAN          the plan creates exactly the expected resources, by type
  properties PLAN      what the issue promises: ingress, backups, rollback, routing
  production PLAN      production's plan differs from staging's only where it should
  drift STATE REPO     the task definitions moto registered (terraform show -json
                       after the emulated apply), compose.yaml (when present) and
                       each service's defaults.toml agree on setting names and ports
  secrets ENDPOINT STATE PLAN
                       the generated secrets in moto have the form the services
                       parse, and neither the state nor the plan holds any of them
  apply-targets PLAN   prints the -target addresses that moto can emulate
  applied PLAN STATE   the emulated apply created every targeted resource
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

# Resources the staging plan creates, by type. A change to the Terraform that
# adds or removes resources must change this table too, on purpose.
EXPECTED_COUNTS = {
    "aws_acm_certificate": 1,
    "aws_appautoscaling_policy": 5,  # CPU for four services + the dispatcher's stream lag
    "aws_appautoscaling_target": 4,
    "aws_autoscaling_group": 1,
    "aws_cloudwatch_dashboard": 1,
    "aws_cloudwatch_event_rule": 2,  # the monthly restore drill and its failure notice
    "aws_cloudwatch_event_target": 2,
    "aws_cloudwatch_log_group": 8,  # 4 services, migrate, restore drill, sidecar metrics, VPC flow logs
    "aws_cloudwatch_metric_alarm": 19,
    "aws_db_instance": 1,
    "aws_db_parameter_group": 1,
    "aws_db_subnet_group": 1,
    "aws_default_security_group": 1,
    "aws_ebs_volume": 1,
    "aws_ecr_lifecycle_policy": 6,
    "aws_ecr_repository": 6,  # 5 images + ops (restore drill)
    "aws_ecs_capacity_provider": 1,
    "aws_ecs_cluster": 1,
    "aws_ecs_cluster_capacity_providers": 1,
    "aws_ecs_service": 4,
    "aws_ecs_task_definition": 6,  # 4 services, migrate, restore drill
    "aws_eip": 1,
    "aws_flow_log": 1,
    "aws_iam_instance_profile": 2,
    "aws_iam_openid_connect_provider": 1,
    "aws_iam_role": 18,
    "aws_iam_role_policy": 13,
    "aws_iam_role_policy_attachment": 4,
    "aws_instance": 1,
    "aws_internet_gateway": 1,
    "aws_kms_alias": 1,
    "aws_kms_key": 1,
    "aws_launch_template": 1,
    "aws_lb": 1,
    "aws_lb_listener": 2,
    "aws_lb_listener_rule": 3,
    "aws_lb_target_group": 3,
    "aws_nat_gateway": 1,
    "aws_network_interface": 1,
    "aws_route": 3,
    "aws_route_table": 3,
    "aws_route_table_association": 4,
    "aws_s3_bucket": 2,
    "aws_s3_bucket_lifecycle_configuration": 2,
    "aws_s3_bucket_logging": 1,
    "aws_s3_bucket_ownership_controls": 2,
    "aws_s3_bucket_policy": 2,
    "aws_s3_bucket_public_access_block": 2,
    "aws_s3_bucket_server_side_encryption_configuration": 2,
    "aws_s3_bucket_versioning": 2,
    "aws_secretsmanager_secret": 5,
    "aws_secretsmanager_secret_version": 5,
    "aws_security_group": 5,
    "aws_service_discovery_private_dns_namespace": 1,
    "aws_service_discovery_service": 2,
    "aws_sns_topic": 1,
    "aws_subnet": 4,
    "aws_volume_attachment": 1,
    "aws_vpc": 1,
    "aws_vpc_security_group_egress_rule": 8,
    "aws_vpc_security_group_ingress_rule": 11,
}

# What moto (server mode) cannot emulate, and why; the emulated apply leaves
# these out, together with what depends on them.
UNEMULATED = {
    "aws_appautoscaling_target": "moto lacks application-autoscaling ListTagsForResource; the provider retries until it times out",
    "aws_appautoscaling_policy": "depends on aws_appautoscaling_target",
    "aws_instance": "moto lacks MonitorInstances (detailed monitoring); the provider waits until it times out",
    "aws_ebs_volume": "takes its availability zone from the Redis aws_instance",
    "aws_volume_attachment": "attaches to the Redis aws_instance",
    "aws_s3_bucket_logging": "moto accepts S3 server access logging only through the log-delivery ACL, not the bucket policy AWS recommends with BucketOwnerEnforced",
}
# Single resources left out because they depend on an unemulated one.
UNEMULATED_ADDRESSES = {
    "module.eventflow.module.redis.aws_cloudwatch_metric_alarm.recover": "alarms on the Redis aws_instance",
}

SERVICES_WITH_DEFAULTS = {
    "ingest-gateway": "crates/ingest-gateway/defaults.toml",
    "query-api": "crates/query-api/defaults.toml",
    "dispatcher": "crates/dispatcher/defaults.toml",
}


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        if ok:
            print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f": {detail}" if detail else ""))

    def exit(self) -> None:
        sys.exit(1 if self.failed else 0)


def load_plan(path: str) -> dict:
    return json.loads(Path(path).read_text())


def created(plan: dict) -> list[dict]:
    return [rc for rc in plan["resource_changes"] if "create" in rc["change"]["actions"]]


def after(plan: dict, rtype: str) -> list[tuple[str, dict]]:
    return [(rc["address"], rc["change"]["after"]) for rc in created(plan) if rc["type"] == rtype]


# --- counts ------------------------------------------------------------------


def cmd_counts(plan: dict) -> Report:
    report = Report()
    counts = Counter(rc["type"] for rc in created(plan))
    for rtype in sorted(set(counts) | set(EXPECTED_COUNTS)):
        want, got = EXPECTED_COUNTS.get(rtype, 0), counts.get(rtype, 0)
        report.check(want == got, f"plan creates {got} {rtype}", f"expected {want}")
    print(f"plan creates {sum(counts.values())} resources of {len(counts)} types")
    return report


# --- properties ----------------------------------------------------------------


def cmd_properties(plan: dict) -> Report:
    report = Report()

    open_ingress = [
        (addr, r["from_port"], r["to_port"])
        for addr, r in after(plan, "aws_vpc_security_group_ingress_rule")
        if r.get("cidr_ipv4") == "0.0.0.0/0" or r.get("cidr_ipv6") == "::/0"
    ]
    alb_ingress = all(".alb_http" in a or ".alb_https" in a for a, _, _ in open_ingress)
    ports = sorted({p for _, p, _ in open_ingress})
    report.check(alb_ingress and ports == [80, 443], "only the ALB admits 0.0.0.0/0, on 80 and 443", str(open_ingress))

    for addr, r in after(plan, "aws_vpc_security_group_ingress_rule"):
        if addr.rsplit(".", 1)[-1].startswith(("database_", "redis_", "services_")):
            report.check(r.get("cidr_ipv4") is None and r.get("cidr_ipv6") is None, f"{addr} admits a security group, not an address range")

    listeners = dict((r["port"], r) for _, r in after(plan, "aws_lb_listener"))
    redirect = listeners.get(80, {}).get("default_action", [{}])[0]
    report.check(
        redirect.get("type") == "redirect" and redirect["redirect"][0]["protocol"] == "HTTPS",
        "port 80 only redirects to HTTPS",
    )
    report.check(listeners.get(443, {}).get("protocol") == "HTTPS", "port 443 terminates TLS")

    rules = {addr.rsplit(".", 1)[-1]: r for addr, r in after(plan, "aws_lb_listener_rule")}
    ingest = rules.get("ingest", {}).get("condition", [])
    paths = [v for c in ingest for p in c.get("path_pattern") or [] for v in p["values"]]
    methods = [v for c in ingest for m in c.get("http_request_method") or [] for v in m["values"]]
    report.check(
        sorted(paths) == ["/v1/events", "/v1/events/batch"] and methods == ["POST"],
        "ALB sends POST /v1/events and /v1/events/batch to the gateway",
        f"paths {paths}, methods {methods}",
    )
    query = [v for c in rules.get("query", {}).get("condition", []) for p in c.get("path_pattern") or [] for v in p["values"]]
    report.check({"/v1/*", "/openapi.json", "/docs"} <= set(query), "ALB sends /v1/*, /openapi.json and /docs to the query API", str(query))

    for addr, tg in after(plan, "aws_lb_target_group"):
        if "dashboard" not in addr:
            report.check(tg["health_check"][0]["path"] == "/readyz", f"{addr} checks /readyz")

    (_, db), = after(plan, "aws_db_instance")
    report.check(db["backup_retention_period"] == 7, "RDS keeps automated backups 7 days (PITR)")
    report.check(db["backup_window"] == "02:00-04:00", "RDS backup window 02:00-04:00 UTC")
    report.check(db["storage_encrypted"] and db["deletion_protection"], "RDS encrypted with deletion protection")
    report.check(not db["publicly_accessible"], "RDS not publicly accessible")

    for addr, svc in after(plan, "aws_ecs_service"):
        breaker = svc["deployment_circuit_breaker"][0]
        report.check(breaker["enable"] and breaker["rollback"], f"{addr} rolls back a failing deployment")

    for addr, bucket in after(plan, "aws_s3_bucket_public_access_block"):
        report.check(all(bucket[k] for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")), f"{addr} blocks public access")

    lag = [p for a, p in after(plan, "aws_appautoscaling_policy") if a.endswith("stream_lag")]
    lag_metrics = [m["metric_stat"][0]["metric"][0]["metric_name"] for p in lag for m in p["target_tracking_scaling_policy_configuration"][0]["customized_metric_specification"][0]["metrics"] if m.get("metric_stat")]
    report.check("eventflow_stream_lag" in lag_metrics, "the dispatcher scales on eventflow_stream_lag", str(lag_metrics))
    return report


def cmd_production(plan: dict) -> Report:
    report = Report()
    counts = Counter(rc["type"] for rc in created(plan))
    report.check(counts["aws_nat_gateway"] == 2, "production has a NAT gateway per AZ", str(counts["aws_nat_gateway"]))
    (_, db), = after(plan, "aws_db_instance")
    report.check(db["multi_az"] and db["instance_class"] == "db.m7g.large", "production PostgreSQL is Multi-AZ db.m7g.large")
    report.check(db["performance_insights_enabled"], "production PostgreSQL has Performance Insights")
    services = dict((r["name"], r["desired_count"]) for _, r in after(plan, "aws_ecs_service"))
    report.check(all(n >= 2 for n in services.values()), "production runs every service at least twice", str(services))
    report.check(counts["aws_iam_openid_connect_provider"] == 0, "production uses the account's GitHub OIDC provider, created by staging")
    differs = {t for t in set(counts) | set(EXPECTED_COUNTS) if counts.get(t, 0) != EXPECTED_COUNTS.get(t, 0)}
    report.check(differs == {"aws_nat_gateway", "aws_eip", "aws_iam_openid_connect_provider"},
                 "production creates the same resources as staging but for NAT and the OIDC provider", str(sorted(differs)))
    return report


# --- drift -------------------------------------------------------------------


def state_resources(module: dict, rtype: str) -> list[dict]:
    found = [r["values"] for r in module.get("resources", []) if r["type"] == rtype]
    for child in module.get("child_modules", []):
        found += state_resources(child, rtype)
    return found


def container_definitions(state: dict) -> dict[str, dict]:
    """Service name (or migrate) => its main container's definition, as registered."""
    out = {}
    for td in state_resources(state["values"]["root_module"], "aws_ecs_task_definition"):
        family = td["family"]
        name = family.split("-", 2)[-1]  # eventflow-<env>-<service>
        for container in json.loads(td["container_definitions"]):
            if container["name"] in (name, "migrate"):
                out[name] = container
    return out


def setting_names(container: dict) -> set[str]:
    return {e["name"] for e in container.get("environment", [])} | {s["name"] for s in container.get("secrets", [])}


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def defaults_keys(text: str) -> tuple[set[str], set[str], dict[str, str]]:
    """(documented keys, keys with no default that must be set, assigned values)."""
    assigned = dict(re.findall(r'^([a-z][a-z0-9_]*)\s*=\s*"?([^"\n]*)"?', text, re.M))
    commented = set(re.findall(r"^#\s*([a-z][a-z0-9_]*)\s*=", text, re.M))
    named = {n.lower() for n in re.findall(r"EVENTFLOW_([A-Z0-9_]+)", text)}
    required: set[str] = set()
    for line in re.findall(r"^#(.*have no default.*)$", text, re.M):
        required |= set(re.findall(r"\b([a-z]+_[a-z_]+)\b", line))
    return set(assigned) | commented | named | required, required, assigned


def compose_services(repo: Path) -> dict[str, dict] | None:
    for name in ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"):
        path = repo / name
        if path.exists():
            import yaml  # PyYAML arrives with checkov and moto in the test venv

            doc = yaml.safe_load(path.read_text()) or {}
            out = {}
            for key, svc in (doc.get("services") or {}).items():
                image = str(svc.get("image", ""))
                match = re.search(r"eventflow/([a-z-]+)", image)
                out[match.group(1) if match else key] = svc | {"_compose_name": key}
            return out
    return None


def compose_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def compose_container_ports(svc: dict) -> set[int]:
    ports = set()
    for p in list(svc.get("ports") or []) + list(svc.get("expose") or []):
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def cmd_drift(state: dict, repo: Path) -> Report:
    report = Report()
    containers = container_definitions(state)
    compose = compose_services(repo)
    if compose is None:
        print("note: compose.yaml is not in the repository yet; checking task definitions against defaults.toml only")

    for service, path in SERVICES_WITH_DEFAULTS.items():
        known, required, assigned = defaults_keys((repo / path).read_text())
        expected_ports = {port_of(assigned["http_addr"]), port_of(assigned["grpc_addr"])}
        container = containers.get(service)
        report.check(container is not None, f"{service} has a task definition")
        if container is None:
            continue
        names = setting_names(container)
        unknown = sorted(n for n in names if not n.startswith("EVENTFLOW_") or n[len("EVENTFLOW_"):].lower() not in known)
        report.check(not unknown, f"{service} task definition sets only settings {path} documents", str(unknown))
        missing = sorted(f"EVENTFLOW_{k.upper()}" for k in required if f"EVENTFLOW_{k.upper()}" not in names)
        report.check(not missing, f"{service} task definition sets every setting without a default", str(missing))
        td_ports = {p["containerPort"] for p in container["portMappings"]}
        report.check(td_ports == expected_ports, f"{service} task definition ports {sorted(td_ports)} are those of {path}", f"expected {sorted(expected_ports)}")
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        for var, key in (("EVENTFLOW_HTTP_ADDR", "http_addr"), ("EVENTFLOW_GRPC_ADDR", "grpc_addr")):
            if var in env:
                report.check(port_of(env[var]) == port_of(assigned[key]), f"{service} {var} keeps the port of {path}", env[var])

        if compose is None:
            continue
        svc = compose.get(service)
        report.check(svc is not None, f"compose.yaml runs {service}")
        if svc is None:
            continue
        cenv = compose_env(svc)
        cnames = set(cenv)
        unknown = sorted(n for n in cnames if n.startswith("EVENTFLOW_") and n[len("EVENTFLOW_"):].lower() not in known)
        report.check(not unknown, f"compose.yaml {service} sets only settings {path} documents", str(unknown))
        missing = sorted(f"EVENTFLOW_{k.upper()}" for k in required if f"EVENTFLOW_{k.upper()}" not in cnames)
        report.check(not missing, f"compose.yaml {service} sets every setting without a default", str(missing))
        # Every secret the cloud injects is something the service needs to work
        # (tokens, keys): local must set it too, or local differs from cloud.
        secrets = {s["name"] for s in container.get("secrets", [])}
        report.check(secrets <= cnames, f"compose.yaml {service} sets every secret the task definition injects", str(sorted(secrets - cnames)))
        cports = {port_of(cenv[v]) for v in ("EVENTFLOW_HTTP_ADDR", "EVENTFLOW_GRPC_ADDR") if cenv.get(v)}
        published = compose_container_ports(svc)
        report.check(cports <= td_ports and published <= td_ports, f"compose.yaml {service} ports agree with the task definition", f"addr ports {sorted(cports)}, container ports {sorted(published)}, task definition {sorted(td_ports)}")

    # Who gets which secret (issue #9): the internal token the dispatcher and
    # the query API; the secrets key those two and the migrate task.
    expected_secrets = {
        "ingest-gateway": {"EVENTFLOW_DATABASE_URL", "EVENTFLOW_REDIS_URL"},
        "query-api": {"EVENTFLOW_DATABASE_URL", "EVENTFLOW_REDIS_URL", "EVENTFLOW_ADMIN_TOKEN", "EVENTFLOW_INTERNAL_TOKEN", "EVENTFLOW_SECRETS_KEY"},
        "dispatcher": {"EVENTFLOW_DATABASE_URL", "EVENTFLOW_REDIS_URL", "EVENTFLOW_INTERNAL_TOKEN", "EVENTFLOW_SECRETS_KEY"},
        "dashboard": set(),
        "migrate": {"EVENTFLOW_DATABASE_URL", "EVENTFLOW_SECRETS_KEY"},
    }
    for name, want in expected_secrets.items():
        got = {s["name"] for s in (containers.get(name) or {}).get("secrets", [])}
        report.check(got == want, f"{name} gets exactly its secrets from Secrets Manager", f"got {sorted(got)}")
        env = {e["name"] for e in (containers.get(name) or {}).get("environment", [])}
        report.check(not (env & want), f"{name} gets no secret as a plain environment variable", str(sorted(env & want)))
        logs = (containers.get(name) or {}).get("logConfiguration", {})
        report.check(logs.get("logDriver") == "awslogs" and not any(k in logs.get("options", {}) for k in ("awslogs-multiline-pattern", "awslogs-datetime-format")),
                     f"{name} logs each JSON line to CloudWatch as written")

    dashboard = containers.get("dashboard")
    report.check(dashboard is not None, "dashboard has a task definition")
    if dashboard is not None:
        read = set()
        for f in (repo / "frontend").rglob("*"):
            if "node_modules" in f.parts or ".next" in f.parts or f.suffix not in {".ts", ".tsx", ".js", ".mjs"}:
                continue
            read |= set(re.findall(r"process\.env\.([A-Z0-9_]+)", f.read_text(errors="ignore")))
        names = setting_names(dashboard)
        report.check(names <= read, "dashboard task definition sets only variables frontend/ reads", str(sorted(names - read)))
        report.check([p["containerPort"] for p in dashboard["portMappings"]] == [3000], "dashboard listens on 3000")
        if compose is not None and "dashboard" in compose:
            cnames = {n for n in compose_env(compose["dashboard"]) if n.startswith("EVENTFLOW_")}
            report.check(cnames <= read, "compose.yaml dashboard sets only variables frontend/ reads", str(sorted(cnames - read)))
            report.check(compose_container_ports(compose["dashboard"]) <= {3000}, "compose.yaml dashboard ports agree with the task definition")

    migrate = containers.get("migrate")
    report.check(migrate is not None, "migrate has a task definition")
    if migrate is not None:
        cli_src = "".join(f.read_text() for f in (repo / "crates/eventflow-cli/src").rglob("*.rs"))
        names = setting_names(migrate)
        unread = sorted(n for n in names if f'"{n}"' not in cli_src and n[len("EVENTFLOW_"):].lower() not in cli_src)
        report.check(not unread, "migrate task definition sets only variables the CLI reads", str(unread))
        report.check(migrate.get("command") == ["migrate"], "migrate task runs `eventflow migrate`")
        cli = (compose or {}).get("cli")
        if cli is not None:
            cnames = {n for n in compose_env(cli) if n.startswith("EVENTFLOW_")}
            unread = sorted(n for n in cnames if f'"{n}"' not in cli_src and n[len("EVENTFLOW_"):].lower() not in cli_src)
            report.check(not unread, "compose.yaml migrate sets only variables the CLI reads", str(unread))
            secrets = {s["name"] for s in migrate.get("secrets", [])}
            report.check(secrets <= cnames, "compose.yaml migrate sets every secret the migrate task injects", str(sorted(secrets - cnames)))

    # The images declare the same ports (docker/Dockerfile EXPOSE per target).
    dockerfile = repo / "docker/Dockerfile"
    if dockerfile.exists():
        text = dockerfile.read_text()
        for service in SERVICES_WITH_DEFAULTS:
            block = re.search(rf"^FROM runtime AS {service}\n(.*?)(?=^FROM |\Z)", text, re.M | re.S)
            exposed = {int(p) for p in re.findall(r"^EXPOSE (.*)$", block.group(1), re.M)[0].split()} if block else set()
            td_ports = {p["containerPort"] for p in containers[service]["portMappings"]}
            report.check(exposed == td_ports, f"docker/Dockerfile {service} exposes the task definition's ports", f"{sorted(exposed)} vs {sorted(td_ports)}")
    return report


# --- secrets ---------------------------------------------------------------------


def cmd_secrets(endpoint: str, state_path: str, plan_path: str) -> Report:
    import base64
    import binascii

    import boto3  # arrives with moto in the test venv

    report = Report()
    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="eu-west-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    prefix = "eventflow-staging/"
    values = {}
    for secret in client.list_secrets()["SecretList"]:
        if secret["Name"].startswith(prefix):
            values[secret["Name"][len(prefix):]] = client.get_secret_value(SecretId=secret["ARN"])["SecretString"]
    report.check(sorted(values) == ["admin_token", "database_url", "internal_token", "redis_url", "secrets_key"],
                 "Secrets Manager holds the five settings' values", str(sorted(values)))

    url = values.get("database_url", "")
    report.check(re.fullmatch(r"postgres://eventflow:[A-Za-z0-9]{40}@[^:/]+:5432/eventflow", url) is not None,
                 "database_url is postgres://eventflow:<password>@<endpoint>:5432/eventflow")
    redis = values.get("redis_url", "")
    report.check(re.fullmatch(r"redis://:[A-Za-z0-9]{40}@\d+\.\d+\.\d+\.\d+:6379", redis) is not None,
                 "redis_url names the self-hosted instance's fixed address with a password")
    for token in ("admin_token", "internal_token"):
        report.check(len(values.get(token, "")) >= 32 and values.get(token, "").isalnum(), f"{token} is 32+ random characters")
    try:
        key = base64.b64decode(values.get("secrets_key", ""), validate=True)
    except binascii.Error:
        key = b""
    report.check(len(key) == 32, "secrets_key is standard base64 of 32 bytes", f"{len(key)} bytes")

    texts = Path(state_path).read_text() + Path(plan_path).read_text()
    leaked = sorted(name for name, value in values.items() if value and value in texts)
    passwords = [m for v in (url, redis) for m in re.findall(r":([A-Za-z0-9]{40})@", v)]
    leaked += [f"password in {n}" for n, p in zip(("database_url", "redis_url"), passwords) if p in texts]
    report.check(not leaked, "no secret value or password is in the Terraform state or plan (write-only)", str(leaked))
    return report


# --- emulated apply --------------------------------------------------------------


def emulated(plan: dict) -> list[str]:
    """Addresses (without instance keys) of the planned resources moto can create."""
    out = set()
    for rc in created(plan):
        base = re.sub(r"\[[^\]]*\]$", "", rc["address"])
        if rc["type"] not in UNEMULATED and base not in UNEMULATED_ADDRESSES:
            out.add(base)
    return sorted(out)


def cmd_apply_targets(plan: dict) -> None:
    for address in emulated(plan):
        print(address)


def cmd_applied(plan: dict, state_list: str) -> Report:
    report = Report()
    in_state = {line.strip() for line in Path(state_list).read_text().splitlines() if line.strip()}
    wanted = [rc["address"] for rc in created(plan) if re.sub(r"\[[^\]]*\]$", "", rc["address"]) in set(emulated(plan))]
    missing = sorted(a for a in wanted if a not in in_state)
    report.check(not missing, f"moto apply created {len(wanted) - len(missing)} of the {len(wanted)} emulated resources", ", ".join(missing[:10]))
    skipped = Counter(rc["type"] for rc in created(plan) if rc["address"] not in wanted)
    for rtype, n in sorted(skipped.items()):
        reason = UNEMULATED.get(rtype) or next(iter(UNEMULATED_ADDRESSES.values()))
        print(f"not emulated: {n} {rtype} ({reason})")
    return report


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit(__doc__)
    command = argv[1]
    if command == "secrets":
        cmd_secrets(argv[2], argv[3], argv[4]).exit()
    plan = load_plan(argv[2])
    if command == "counts":
        cmd_counts(plan).exit()
    elif command == "properties":
        cmd_properties(plan).exit()
    elif command == "production":
        cmd_production(plan).exit()
    elif command == "drift":
        cmd_drift(plan, Path(argv[3])).exit()
    elif command == "apply-targets":
        cmd_apply_targets(plan)
    elif command == "applied":
        cmd_applied(plan, argv[3]).exit()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
