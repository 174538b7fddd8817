output "log_group_names" {
  value = { for k, g in aws_cloudwatch_log_group.service : k => g.name }
}

output "log_group_arns" {
  value = { for k, g in aws_cloudwatch_log_group.service : k => g.arn }
}

output "metrics_log_group_name" {
  value = aws_cloudwatch_log_group.metrics.name
}

output "metrics_log_group_arn" {
  value = aws_cloudwatch_log_group.metrics.arn
}

output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  value = aws_cloudwatch_dashboard.this.dashboard_name
}
