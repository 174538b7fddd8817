# Self-hosted Redis for the MVP: one arm64 instance in the first private
# subnet at a fixed address running Redis 7 (the official image), RDB + AOF
# on a separate encrypted volume, a daily
# RDB snapshot copied to S3 by a systemd timer, and EC2 auto-recovery when the
# host fails. Redis is a buffer: losing it loses nothing (PostgreSQL holds
# every acknowledged event and the dispatcher re-queues from it).

locals {
  self_hosted = var.engine == "self-hosted"
  redis_ip    = cidrhost(var.subnet_cidrs[0], 10)
}

data "aws_region" "current" {}

data "aws_ssm_parameter" "al2023" {
  count = local.self_hosted && var.ami_id == "" ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "redis" {
  count              = local.self_hosted ? 1 : 0
  name               = "${var.name}-redis"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "redis" {
  statement {
    sid       = "ReadOwnPassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.redis_url_secret_arn]
  }
  statement {
    sid       = "WriteSnapshots"
    actions   = ["s3:PutObject"]
    resources = ["${var.backups_bucket_arn}/redis/*"]
  }
  statement {
    sid       = "EncryptSnapshotsDecryptSecret"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "redis" {
  count  = local.self_hosted ? 1 : 0
  name   = "password-and-snapshots"
  role   = aws_iam_role.redis[0].id
  policy = data.aws_iam_policy_document.redis.json
}

# Session Manager instead of SSH: no port 22 anywhere.
resource "aws_iam_role_policy_attachment" "ssm" {
  count      = local.self_hosted ? 1 : 0
  role       = aws_iam_role.redis[0].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "redis" {
  count = local.self_hosted ? 1 : 0
  name  = "${var.name}-redis"
  role  = aws_iam_role.redis[0].name
}

resource "aws_network_interface" "redis" {
  count           = local.self_hosted ? 1 : 0
  subnet_id       = var.subnet_ids[0]
  private_ips     = [local.redis_ip]
  security_groups = [var.security_group_id]
  description     = "${var.name} redis (fixed address named by the redis_url secret)"
}

resource "aws_instance" "redis" {
  count                = local.self_hosted ? 1 : 0
  ami                  = var.ami_id != "" ? var.ami_id : nonsensitive(data.aws_ssm_parameter.al2023[0].value)
  instance_type        = var.instance_type
  iam_instance_profile = aws_iam_instance_profile.redis[0].name
  ebs_optimized        = true
  monitoring           = true

  network_interface {
    network_interface_id = aws_network_interface.redis[0].id
    device_index         = 0
  }

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 10
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  user_data_replace_on_change = false
  user_data = templatefile("${path.module}/redis-user-data.sh.tftpl", {
    secret_id     = var.redis_url_secret_id
    region        = data.aws_region.current.name
    bucket        = var.backups_bucket
    kms_key       = var.kms_key_arn
    redis_version = var.redis_version
  })

  tags = { Name = "${var.name}-redis" }

  lifecycle {
    # A newer AMI is taken on purpose (taint), not on every plan.
    ignore_changes = [ami]
  }
}

resource "aws_ebs_volume" "data" {
  count             = local.self_hosted ? 1 : 0
  availability_zone = aws_instance.redis[0].availability_zone
  size              = var.data_volume_gib
  type              = "gp3"
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  tags              = { Name = "${var.name}-redis-data" }
}

resource "aws_volume_attachment" "data" {
  count       = local.self_hosted ? 1 : 0
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data[0].id
  instance_id = aws_instance.redis[0].id
}

ephemeral "aws_secretsmanager_random_password" "redis" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "self_hosted" {
  count                    = local.self_hosted ? 1 : 0
  secret_id                = var.redis_url_secret_id
  secret_string_wo         = "redis://:${ephemeral.aws_secretsmanager_random_password.redis.random_password}@${local.redis_ip}:6379"
  secret_string_wo_version = var.password_version
}

# The host failing its system status check is recovered onto new hardware
# with the same address and volumes.
resource "aws_cloudwatch_metric_alarm" "recover" {
  count               = local.self_hosted ? 1 : 0
  alarm_name          = "${var.name}-redis-host-failed"
  alarm_description   = "The Redis host failed its system status check; EC2 recovers it onto new hardware."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  dimensions          = { InstanceId = aws_instance.redis[0].id }
  alarm_actions       = ["arn:aws:automate:${data.aws_region.current.name}:ec2:recover", var.alarm_topic_arn]
}
