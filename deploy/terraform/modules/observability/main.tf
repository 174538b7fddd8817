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

locals {
  # Per service: ECS metric => (statistic, description). Both fire above 85 %
  # for 10 minutes, beyond what auto-scaling at 60 % CPU should allow.
  service_alarms = {
    cpu    = { metric = "CPUUtilization", statistic = "Average", what = "CPU above 85 % for 10 minutes although it scales out at 60 %: scaling is at its maximum or stuck" }
    memory = { metric = "MemoryUtilization", statistic = "Maximum", what = "memory above 85 % of its task's for 10 minutes" }
  }
  service_alarm_pairs = {
    for pair in setproduct(keys(var.service_names), keys(local.service_alarms)) : "${pair[0]}-${pair[1]}" => {
      service = pair[0]
      alarm   = local.service_alarms[pair[1]]
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "service" {
  for_each            = local.service_alarm_pairs
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.service} ${each.value.alarm.what}."
  namespace           = "AWS/ECS"
  metric_name         = each.value.alarm.metric
  dimensions          = { ClusterName = var.cluster_name, ServiceName = var.service_names[each.value.service] }
  statistic           = each.value.alarm.statistic
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

locals {
  database_alarms = {
    free-storage = {
      metric    = "FreeStorageSpace", statistic = "Minimum", periods = 2, comparison = "LessThanThreshold"
      threshold = var.db_allocated_storage_gib * 1073741824 * 0.1
      what      = "PostgreSQL has less than 10 % of its allocated storage free (storage auto-scaling may be at its maximum)."
    }
    connections = {
      metric    = "DatabaseConnections", statistic = "Maximum", periods = 2, comparison = "GreaterThanThreshold"
      threshold = floor(var.db_max_connections * 0.8)
      what      = "PostgreSQL connections above 80 % of max_connections: add capacity or lower database_pool_size."
    }
    cpu = {
      metric    = "CPUUtilization", statistic = "Average", periods = 3, comparison = "GreaterThanThreshold"
      threshold = 80
      what      = "PostgreSQL CPU above 80 % for 15 minutes."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "database" {
  for_each            = local.database_alarms
  alarm_name          = "${var.name}-db-${each.key}"
  alarm_description   = each.value.what
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
