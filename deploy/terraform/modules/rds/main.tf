# PostgreSQL, the source of truth: encrypted, deletion-protected, 7 days of
# automated backups with point-in-time recovery, backups 02:00-04:00 UTC,
# single-AZ for the MVP (multi_az by variable), and optionally its backups
# replicated to a second region for the region-failure scenario.

locals {
  # Off on the smallest burstable classes, which Performance Insights does not
  # support for every engine: a refused CreateDBInstance would block the apply.
  performance_insights = !contains(["db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"], var.instance_class)
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-pg${var.engine_version}-"
  family      = "postgres${var.engine_version}"
  description = "Settings EventFlow relies on"

  # The services speak plain PostgreSQL (tokio-postgres with NoTls) inside the
  # private subnets; RDS 15+ would refuse that by default.
  parameter {
    name  = "rds.force_ssl"
    value = "0"
  }

  # Timestamps (received_at, partition bounds) are computed in UTC.
  parameter {
    name  = "timezone"
    value = "UTC"
  }

  # A session stuck in a transaction must not hold locks on the daily
  # partitions that ingest creates ahead of time.
  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }

  # Partition pruning keeps event and delivery searches on the days asked for.
  parameter {
    name  = "enable_partition_pruning"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# The password never enters the state: generated at apply, written only to
# the instance and to the database_url secret (write-only arguments). Raising
# password_version sets a new password on both at the next apply.
ephemeral "aws_secretsmanager_random_password" "master" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_db_instance" "this" {
  # checkov:skip=CKV2_AWS_69: the services connect without TLS (tokio-postgres NoTls) inside private subnets that only the services reach; rds.force_ssl=1 would lock them out
  # checkov:skip=CKV_AWS_353: on except for micro/small burstable classes, which Performance Insights does not support for every engine (staging's db.t4g.micro); production's class has it
  # checkov:skip=CKV_AWS_157: single-AZ is the MVP's choice (multi_az is a variable; production sets it)
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  db_name        = "eventflow"
  username       = "eventflow"
  port           = 5432

  password_wo         = ephemeral.aws_secretsmanager_random_password.master.random_password
  password_wo_version = var.password_version

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  multi_az               = var.multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-04:00"
  maintenance_window        = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade            = true
  iam_database_authentication_enabled   = true
  performance_insights_enabled          = local.performance_insights
  performance_insights_kms_key_id       = local.performance_insights ? var.kms_key_arn : null
  performance_insights_retention_period = local.performance_insights ? 7 : null
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id                = var.database_url_secret_id
  secret_string_wo         = "postgres://eventflow:${ephemeral.aws_secretsmanager_random_password.master.random_password}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/eventflow"
  secret_string_wo_version = var.password_version
}

resource "aws_db_instance_automated_backups_replication" "dr" {
  # checkov:skip=CKV_AWS_245: encrypted with var.cross_region_kms_key_arn, which production passes whenever replication is on
  count                  = var.cross_region_backup_replication ? 1 : 0
  provider               = aws.dr
  source_db_instance_arn = aws_db_instance.this.arn
  kms_key_id             = var.cross_region_kms_key_arn
  retention_period       = var.backup_retention_days
}
