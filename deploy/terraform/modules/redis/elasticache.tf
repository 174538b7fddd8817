# ElastiCache instead of the instance: managed failover (replicas >= 1),
# encrypted at rest. In-transit TLS and AUTH stay off because the services'
# Redis client (fred without a TLS feature) speaks plain RESP; the security
# group admits only the services.

resource "aws_elasticache_subnet_group" "this" {
  count      = local.self_hosted ? 0 : 1
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_replication_group" "this" {
  # checkov:skip=CKV_AWS_30: the services' Redis client (fred, built without TLS) speaks plain RESP; only the services' security group reaches the nodes
  # checkov:skip=CKV_AWS_31: an AUTH token requires in-transit encryption, which the client cannot speak (see CKV_AWS_30)
  # checkov:skip=CKV2_AWS_50: failover needs a replica; var.replicas >= 1 turns on automatic failover and Multi-AZ
  count                      = local.self_hosted ? 0 : 1
  replication_group_id       = var.name
  description                = "EventFlow streams and rate limits (${var.name})"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.node_type
  num_cache_clusters         = 1 + var.replicas
  automatic_failover_enabled = var.replicas > 0
  multi_az_enabled           = var.replicas > 0
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.this[0].name
  security_group_ids         = [var.security_group_id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = false
  snapshot_retention_limit   = 1
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false
}

resource "aws_secretsmanager_secret_version" "elasticache" {
  count                    = local.self_hosted ? 0 : 1
  secret_id                = var.redis_url_secret_id
  secret_string_wo         = "redis://${aws_elasticache_replication_group.this[0].primary_endpoint_address}:6379"
  secret_string_wo_version = var.password_version
}
