# The monthly restore test: an EventBridge schedule runs scripts/restore-drill
# as a one-off ECS task (Fargate) that restores the newest backup into a
# scratch database, compares every table with the backup's manifest and starts
# a dispatcher on it in dry-run mode. A drill that finds a mismatch exits
# non-zero; a second rule turns that stop into a notification.

data "aws_partition" "current" {}

locals {
  # Running any revision of the family: the release registers new ones.
  task_family_arn = replace(var.task_definition_arn, "/:[0-9]+$/", "")
  family          = element(split("/", local.task_family_arn), length(split("/", local.task_family_arn)) - 1)
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "drill_scheduler" {
  name               = "${var.name}-restore-drill-scheduler"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "drill_scheduler" {
  statement {
    sid       = "RunTheDrillTask"
    actions   = ["ecs:RunTask"]
    resources = [local.task_family_arn, "${local.task_family_arn}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "PassTheTaskRoles"
    actions   = ["iam:PassRole"]
    resources = var.task_role_arns
    condition {
      test     = "StringLike"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "TagTheTask"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${data.aws_partition.current.partition}:ecs:*:*:task/*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }
}

resource "aws_iam_role_policy" "drill_scheduler" {
  name   = "run-restore-drill"
  role   = aws_iam_role.drill_scheduler.id
  policy = data.aws_iam_policy_document.drill_scheduler.json
}

resource "aws_cloudwatch_event_rule" "monthly" {
  name                = "${var.name}-restore-drill"
  description         = "Monthly restore test: newest backup into a scratch database, verified against its manifest"
  schedule_expression = var.schedule_expression
  state               = var.enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "drill_task" {
  rule     = aws_cloudwatch_event_rule.monthly.name
  arn      = var.cluster_arn
  role_arn = aws_iam_role.drill_scheduler.arn

  ecs_target {
    task_definition_arn     = var.task_definition_arn
    task_count              = 1
    launch_type             = "FARGATE"
    platform_version        = "LATEST"
    propagate_tags          = "TASK_DEFINITION"
    enable_ecs_managed_tags = true
    tags                    = merge(var.tags, { "eventflow:job" = "restore-drill" })

    network_configuration {
      subnets          = var.subnet_ids
      security_groups  = var.security_group_ids
      assign_public_ip = false
    }
  }

  input = length(var.command) == 0 ? null : jsonencode({
    containerOverrides = [{ name = var.container_name, command = var.command }]
  })

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 3
  }
}

# A drill that exits non-zero (a mismatch, a damaged dump, a failed restore).
resource "aws_cloudwatch_event_rule" "failed" {
  count       = var.alarm_topic_arn == null ? 0 : 1
  name        = "${var.name}-restore-drill-failed"
  description = "The restore drill task stopped with a non-zero exit code"
  tags        = var.tags
  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn = [var.cluster_arn]
      group      = ["family:${local.family}"]
      lastStatus = ["STOPPED"]
      containers = { name = [var.container_name], exitCode = [{ anything-but = 0 }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "failed" {
  count = var.alarm_topic_arn == null ? 0 : 1
  rule  = aws_cloudwatch_event_rule.failed[0].name
  arn   = var.alarm_topic_arn
}
