locals {
  log_options = {
    for k, group in var.log_group_names : k => {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = group
        "awslogs-region"        = data.aws_region.current.name
        "awslogs-stream-prefix" = k
        # Each JSON line the service writes stays one log event, as written:
        # no multiline pattern, no datetime format. Non-blocking so a slow
        # CloudWatch never stalls a request.
        "mode"            = "non-blocking"
        "max-buffer-size" = "4m"
      }
    }
  }

  secret_refs = {
    for k, names in local.secret_names : k => [
      for s in names : { name = "EVENTFLOW_${upper(s)}", valueFrom = var.secret_arns[s] }
    ]
  }

  # The CloudWatch agent scrapes the service's /metrics on localhost (the task
  # shares one network namespace) and publishes the chosen series as
  # embedded-metric records: namespace var.metrics_namespace, dimensions
  # Environment and Service (and outcome/reason where the series has them).
  agent_config = {
    for k, s in local.services : k => jsonencode({
      agent = { region = data.aws_region.current.name }
      logs = {
        force_flush_interval = 15
        metrics_collected = {
          prometheus = {
            log_group_name         = var.metrics_log_group_name
            prometheus_config_path = "env:PROMETHEUS_CONFIG_CONTENT"
            emf_processor = {
              metric_namespace = var.metrics_namespace
              metric_declaration = [
                {
                  source_labels    = ["job"]
                  label_matcher    = "^eventflow$"
                  dimensions       = [["Environment", "Service"], ["Environment", "Service", "outcome"], ["Environment", "Service", "reason"]]
                  metric_selectors = [for m in local.published_metrics : "^${m}$"]
                },
              ]
            }
          }
        }
      }
    }) if s.metrics
  }

  prometheus_config = {
    for k, s in local.services : k => yamlencode({
      global = { scrape_interval = "15s", scrape_timeout = "10s" }
      scrape_configs = [{
        job_name = "eventflow"
        static_configs = [{
          targets = ["localhost:${s.http_port}"]
          labels  = { Environment = var.environment, Service = k }
        }]
      }]
    }) if s.metrics
  }

  container_definitions = {
    for k, s in local.services : k => concat([
      {
        name                   = k
        image                  = "${var.image_repositories[s.image]}:${var.image_tag}"
        essential              = true
        readonlyRootFilesystem = k != "dashboard"
        portMappings = concat(
          [{ name = "http", containerPort = s.http_port, protocol = "tcp" }],
          s.grpc_port == null ? [] : [{ name = "grpc", containerPort = s.grpc_port, protocol = "tcp" }],
        )
        environment = [for name, value in s.environment : { name = name, value = value }]
        secrets     = local.secret_refs[k]
        healthCheck = {
          command     = concat(["CMD"], s.health_check)
          interval    = 10
          timeout     = 5
          retries     = 3
          startPeriod = 30
        }
        # Above the services' 20 s shutdown_timeout: they drain before SIGKILL.
        stopTimeout      = 30
        logConfiguration = local.log_options[k]
        ulimits          = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
      }],
      s.metrics ? [{
        name      = "cloudwatch-agent"
        image     = var.cloudwatch_agent_image
        essential = false
        cpu       = 64
        memory    = 128
        environment = [
          { name = "CW_CONFIG_CONTENT", value = local.agent_config[k] },
          { name = "PROMETHEUS_CONFIG_CONTENT", value = local.prometheus_config[k] },
        ]
        logConfiguration = local.log_options[k]
      }] : [],
    )
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each                 = local.services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = [var.capacity]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.sizes[each.key].cpu)
  memory                   = tostring(var.sizes[each.key].memory)
  execution_role_arn       = var.execution_role_arns[each.key]
  task_role_arn            = var.task_role_arns[each.key]
  container_definitions    = jsonencode(local.container_definitions[each.key])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = [var.capacity]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = var.execution_role_arns["migrate"]
  task_role_arn            = var.task_role_arns["migrate"]
  container_definitions = jsonencode([{
    name                   = "migrate"
    image                  = "${var.image_repositories[local.migrate.image]}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    command                = local.migrate.command
    environment            = [for name, value in local.migrate.environment : { name = name, value = value }]
    secrets                = local.secret_refs["migrate"]
    logConfiguration       = local.log_options["migrate"]
  }])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_service" "this" {
  for_each        = local.services
  name            = each.key
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.service[each.key].arn
  desired_count   = var.sizes[each.key].min

  # A deployment whose tasks do not become healthy rolls itself back.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = contains(keys(var.target_group_arns), each.key) ? 30 : null
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  capacity_provider_strategy {
    capacity_provider = local.capacity_provider
    weight            = 1
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.services_security_group_id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = contains(keys(var.target_group_arns), each.key) ? [1] : []
    content {
      target_group_arn = var.target_group_arns[each.key]
      container_name   = each.key
      container_port   = local.services[each.key].http_port
    }
  }

  dynamic "service_registries" {
    for_each = contains(keys(aws_service_discovery_service.this), each.key) ? [1] : []
    content {
      registry_arn = aws_service_discovery_service.this[each.key].arn
    }
  }

  lifecycle {
    # The pipeline registers each release's task definition and auto-scaling
    # owns the count; a later `terraform apply` must not undo either.
    ignore_changes = [task_definition, desired_count]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}
