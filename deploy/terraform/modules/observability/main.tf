# Logs, the alarm topic, alarms and one dashboard per environment. Custom
# metrics (namespace var.metrics_namespace) come from the services'
# Prometheus /metrics through the CloudWatch agent sidecars (ecs module).

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = var.log_streams
  name              = "/eventflow/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# Embedded-metric records of the sidecars; CloudWatch extracts the metrics,
# the records themselves are only kept briefly.
resource "aws_cloudwatch_log_group" "metrics" {
  # checkov:skip=CKV_AWS_338: these records only carry metrics, which CloudWatch keeps on its own; a week is enough to debug the sidecars
  name              = "/eventflow/${var.name}/metrics"
  retention_in_days = 7
  kms_key_id        = var.kms_key_arn
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
  lb_dims       = { LoadBalancer = var.alb_arn_suffix }
  custom_dims   = { Environment = var.environment }
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "More than ${var.error_rate_percent} % of requests answered 5xx (targets and the ALB itself) for 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / MAX([FILL(requests, 0), 1])"
    label       = "5xx %"
    return_data = true
  }
  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.lb_dims
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.lb_dims
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.lb_dims
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "p99_latency" {
  for_each            = var.target_group_arn_suffixes
  alarm_name          = "${var.name}-${each.key}-p99-latency"
  alarm_description   = "p99 response time of ${each.key} above ${var.p99_latency_seconds} s for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  period              = 60
  evaluation_periods  = 5
  threshold           = var.p99_latency_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "service_cpu" {
  for_each            = var.service_names
  alarm_name          = "${var.name}-${each.key}-cpu"
  alarm_description   = "${each.key} CPU above 85 % for 10 minutes although it scales out at a lower level: scaling is at its maximum or stuck."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  threshold           = 85
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "service_memory" {
  for_each            = var.service_names
  alarm_name          = "${var.name}-${each.key}-memory"
  alarm_description   = "${each.key} memory above 85 % of its task's for 10 minutes."
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 10
  threshold           = 85
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "stream_lag" {
  alarm_name          = "${var.name}-stream-lag"
  alarm_description   = "More than ${var.stream_lag_alarm} events waiting for a dispatcher for 10 minutes (eventflow_stream_lag): deliveries fall behind."
  namespace           = var.metrics_namespace
  metric_name         = "eventflow_stream_lag"
  dimensions          = merge(local.custom_dims, { Service = "dispatcher" })
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 10
  threshold           = var.stream_lag_alarm
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-lettered-deliveries"
  alarm_description   = "Deliveries dead-lettered after their last retry in the past 15 minutes (eventflow_deliveries_total{outcome=dead_lettered})."
  namespace           = var.metrics_namespace
  metric_name         = "eventflow_deliveries_total"
  dimensions          = merge(local.custom_dims, { Service = "dispatcher", outcome = "dead_lettered" })
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "open_circuits" {
  alarm_name          = "${var.name}-failing-endpoints"
  alarm_description   = "Endpoints with an open circuit (10 failures in a row) for 30 minutes (eventflow_open_circuits)."
  namespace           = var.metrics_namespace
  metric_name         = "eventflow_open_circuits"
  dimensions          = merge(local.custom_dims, { Service = "dispatcher" })
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 6
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_storage" {
  alarm_name          = "${var.name}-db-free-storage"
  alarm_description   = "PostgreSQL has less than 10 % of its allocated storage free (storage auto-scaling may be at its maximum)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.db_allocated_storage_gib * 1073741824 * 0.1
  comparison_operator = "LessThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_connections" {
  alarm_name          = "${var.name}-db-connections"
  alarm_description   = "PostgreSQL connections above 80 % of max_connections: add capacity or lower database_pool_size."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = floor(var.db_max_connections * 0.8)
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${var.name}-db-cpu"
  alarm_description   = "PostgreSQL CPU above 80 % for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
