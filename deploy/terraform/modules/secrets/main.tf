# The environment's KMS key and its Secrets Manager secrets. The generated
# values are written write-only (secret_string_wo): they never enter the
# Terraform state or plan. database_url and redis_url get their values from
# the rds and redis modules, which know the passwords they set.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_356: in a key policy a wildcard resource means this key
  # checkov:skip=CKV_AWS_111: the account-root statement is the standard key policy; IAM policies then grant narrowly
  # checkov:skip=CKV_AWS_109: as CKV_AWS_111: administration goes through IAM, without which the key could become unmanageable
  # The account administers the key through IAM, as for any AWS-managed key.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsThisAccountsGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }

  # The ECS container instances' EBS volumes are encrypted with this key and
  # launched by the Auto Scaling service-linked role, which IAM policies of the
  # account do not cover: without this, instances fail to launch.
  statement {
    sid       = "AutoScalingUsesKeyForEbs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
  }

  statement {
    sid       = "AutoScalingGrantsForEbs"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  # Alarms publish to the encrypted SNS topic.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: secrets, database, logs, backups"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

locals {
  # Setting name (as the services read it) => what it is and how it is made.
  generated = {
    admin_token = {
      what   = "Bearer token of the query API's operator routes (EVENTFLOW_ADMIN_TOKEN)"
      base64 = false
    }
    internal_token = {
      what   = "Shared token of internal gRPC calls, query API to dispatcher (EVENTFLOW_INTERNAL_TOKEN)"
      base64 = false
    }
    # The services want standard base64 of 32 bytes (`openssl rand -base64 32`):
    # 32 random printable characters (about 210 bits), base64-encoded.
    secrets_key = {
      what   = "Key encrypting endpoint signing secrets at rest (EVENTFLOW_SECRETS_KEY)"
      base64 = true
    }
  }
  filled_elsewhere = {
    database_url = "PostgreSQL URL with credentials (EVENTFLOW_DATABASE_URL), written by the rds module"
    redis_url    = "Redis URL with credentials (EVENTFLOW_REDIS_URL), written by the redis module"
  }
}

resource "aws_secretsmanager_secret" "this" {
  # checkov:skip=CKV2_AWS_57: rotation needs a coordinated redeploy (tokens shared by two services, a comma-separated key list for secrets_key); docs/deploy.md gives the manual procedure
  for_each                = merge({ for k, g in local.generated : k => g.what }, local.filled_elsewhere)
  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

ephemeral "aws_secretsmanager_random_password" "generated" {
  for_each            = local.generated
  password_length     = each.value.base64 ? 32 : 48
  exclude_punctuation = !each.value.base64
  include_space       = false
}

# Written once (version 1); rotate by bumping the version or with
# `aws secretsmanager put-secret-value` followed by a redeploy (docs/deploy.md).
resource "aws_secretsmanager_secret_version" "generated" {
  for_each  = local.generated
  secret_id = aws_secretsmanager_secret.this[each.key].id
  secret_string_wo = (each.value.base64
    ? base64encode(ephemeral.aws_secretsmanager_random_password.generated[each.key].random_password)
  : ephemeral.aws_secretsmanager_random_password.generated[each.key].random_password)
  secret_string_wo_version = 1
}
