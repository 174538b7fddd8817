output "schedule_rule_arn" {
  description = "The EventBridge rule that starts the monthly drill."
  value       = aws_cloudwatch_event_rule.monthly.arn
}

output "scheduler_role_arn" {
  description = "The role EventBridge uses to run the drill task."
  value       = aws_iam_role.drill_scheduler.arn
}
