locals {
  region = data.aws_region.current.name

  widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title   = "CPU per service (%)"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = [for k, s in var.service_names : ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", s, { label = k }]]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title   = "Memory per service (%)"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = [for k, s in var.service_names : ["AWS/ECS", "MemoryUtilization", "ClusterName", var.cluster_name, "ServiceName", s, { label = k }]]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title  = "Request latency p50 / p99 (s)"
        region = local.region
        period = 60
        metrics = flatten([for k, tg in var.target_group_arn_suffixes : [
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", tg, { stat = "p50", label = "${k} p50" }],
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", tg, { stat = "p99", label = "${k} p99" }],
        ]])
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title  = "Events ingested / s"
        region = local.region
        period = 60
        metrics = [
          [{ expression = "accepted / PERIOD(accepted)", label = "accepted / s", id = "rate" }],
          [var.metrics_namespace, "eventflow_events_accepted_total", "Environment", var.environment, "Service", "ingest-gateway", { stat = "Sum", id = "accepted", visible = false }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title  = "Deliveries / s by outcome"
        region = local.region
        period = 60
        metrics = flatten([for o in ["succeeded", "failed_retry", "timeout_retry", "refused", "dead_lettered"] : [
          [{ expression = "${o} / PERIOD(${o})", label = o, id = "r_${o}" }],
          [var.metrics_namespace, "eventflow_deliveries_total", "Environment", var.environment, "Service", "dispatcher", "outcome", o, { stat = "Sum", id = o, visible = false }],
        ]])
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title  = "Stream lag (events not yet read) and pending"
        region = local.region
        stat   = "Maximum"
        period = 60
        metrics = [
          [var.metrics_namespace, "eventflow_stream_lag", "Environment", var.environment, "Service", "dispatcher", { label = "lag" }],
          [var.metrics_namespace, "eventflow_stream_pending", "Environment", var.environment, "Service", "dispatcher", { label = "pending (read, not acknowledged)" }],
          [var.metrics_namespace, "eventflow_retries_due", "Environment", var.environment, "Service", "dispatcher", { label = "retries due" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 18, width = 12, height = 6
      properties = {
        title  = "Failing endpoints (open circuits)"
        region = local.region
        stat   = "Maximum"
        period = 60
        metrics = [
          [var.metrics_namespace, "eventflow_open_circuits", "Environment", var.environment, "Service", "dispatcher", { label = "open circuits" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 18, width = 12, height = 6
      properties = {
        title  = "PostgreSQL: connections, CPU, free storage (GiB)"
        region = local.region
        period = 300
        metrics = [
          ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.db_instance_id, { stat = "Maximum" }],
          ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_id, { stat = "Average", yAxis = "right" }],
        ]
      }
    },
    {
      type = "alarm", x = 0, y = 24, width = 24, height = 4
      properties = {
        title = "Alarms"
        alarms = concat(
          [aws_cloudwatch_metric_alarm.error_rate.arn, aws_cloudwatch_metric_alarm.stream_lag.arn,
            aws_cloudwatch_metric_alarm.dead_letters.arn, aws_cloudwatch_metric_alarm.open_circuits.arn,
          aws_cloudwatch_metric_alarm.database["free-storage"].arn, aws_cloudwatch_metric_alarm.database["connections"].arn],
          [for a in aws_cloudwatch_metric_alarm.p99_latency : a.arn],
        )
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
