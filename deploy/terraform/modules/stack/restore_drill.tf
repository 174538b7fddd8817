# The monthly restore drill (modules/restore-drill, from the backups work):
# a Fargate task runs scripts/restore-drill against the newest dump under
# s3://<backups>/postgres/, restoring into a scratch PostgreSQL that runs as a
# second container of the same task (localhost), never into the live
# database. Its image is eventflow-ENV/ops (docker/ops.Dockerfile: Python,
# the PostgreSQL 16 client, redis-server, scripts/ and the dispatcher binary
# of the same commit), built and pushed by the release workflow with the
# service images; its entrypoint is scripts/restore-drill, so the command
# below holds only the drill's arguments. The schedule is on by default
# (restore_drill_enabled).

locals {
  drill_stream = "restore-drill"
}

resource "aws_cloudwatch_log_group" "drill" {
  name              = "/eventflow/${local.name}/${local.drill_stream}"
  retention_in_days = 365
  kms_key_id        = module.secrets.kms_key_arn
}

data "aws_iam_policy_document" "drill_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "drill_execution" {
  name               = "${local.name}-restore-drill-execution"
  assume_role_policy = data.aws_iam_policy_document.drill_assume.json
}

data "aws_iam_policy_document" "drill_execution" {
  statement {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = module.ecr.repository_arns
  }
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.drill.arn}:*"]
  }
  # ECS reads EVENTFLOW_SECRETS_KEY for the container at start (as it does for
  # the dispatcher's task): only that secret, decrypted with the stack's key.
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.secrets.secret_arns["secrets_key"]]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [module.secrets.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "drill_execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.drill_execution.id
  policy = data.aws_iam_policy_document.drill_execution.json
}

resource "aws_iam_role" "drill_task" {
  name               = "${local.name}-restore-drill-task"
  assume_role_policy = data.aws_iam_policy_document.drill_assume.json
}

# Reads the dumps and their manifests; writes nothing anywhere.
data "aws_iam_policy_document" "drill_task" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [module.s3.backups_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["postgres/*"]
    }
  }
  statement {
    actions   = ["s3:GetObject"]
    resources = ["${module.s3.backups_bucket_arn}/postgres/*"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [module.secrets.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "drill_task" {
  name   = "read-backups"
  role   = aws_iam_role.drill_task.id
  policy = data.aws_iam_policy_document.drill_task.json
}

resource "aws_ecs_task_definition" "drill" {
  family                   = "${local.name}-restore-drill"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "1024"
  memory                   = "4096"
  execution_role_arn       = aws_iam_role.drill_execution.arn
  task_role_arn            = aws_iam_role.drill_task.arn

  # Room for the dump and its restored copy.
  ephemeral_storage {
    size_in_gib = 60
  }

  container_definitions = jsonencode([
    {
      name      = "scratch-postgres"
      image     = "public.ecr.aws/docker/library/postgres:16"
      essential = false
      environment = [
        { name = "POSTGRES_HOST_AUTH_METHOD", value = "trust" },
        { name = "POSTGRES_INITDB_ARGS", value = "--no-sync" },
      ]
      healthCheck = {
        command  = ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
        interval = 5
        timeout  = 3
        retries  = 20
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.drill.name
          "awslogs-region"        = data.aws_region.current.name
          "awslogs-stream-prefix" = "scratch-postgres"
        }
      }
    },
    {
      name      = "restore-drill"
      image     = "${module.ecr.repository_urls["${local.name}/ops"]}:${var.image_tag}"
      essential = true
      command = [
        "--s3", "s3://${module.s3.backups_bucket}/postgres/",
        "--admin-url", "postgres://postgres@127.0.0.1:5432/postgres", "--max-age", "26",
        "--report", "/tmp/restore-drill-report.json",
      ]
      # The drill's dry-run dispatcher reads the restored endpoints' signing
      # secrets with the live key (without it, it makes up a throwaway key and
      # could not tell a key mismatch), so it gets the key as the dispatcher does.
      secrets = [
        { name = "EVENTFLOW_SECRETS_KEY", valueFrom = module.secrets.secret_arns["secrets_key"] },
      ]
      dependsOn = [{ containerName = "scratch-postgres", condition = "HEALTHY" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.drill.name
          "awslogs-region"        = data.aws_region.current.name
          "awslogs-stream-prefix" = local.drill_stream
        }
      }
    },
  ])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

module "restore_drill" {
  source              = "../restore-drill"
  name                = local.name
  cluster_arn         = module.ecs.cluster_arn
  task_definition_arn = aws_ecs_task_definition.drill.arn_without_revision
  task_role_arns      = [aws_iam_role.drill_execution.arn, aws_iam_role.drill_task.arn]
  subnet_ids          = module.network.private_subnet_ids
  security_group_ids  = [module.network.services_security_group_id]
  container_name      = "restore-drill"
  enabled             = var.restore_drill_enabled
  # Spelled out rather than module.observability.alarm_topic_arn: the module
  # counts on whether the ARN is null, which must be known at plan time.
  alarm_topic_arn = "arn:aws:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.name}-alarms"

  depends_on = [module.observability]
}
