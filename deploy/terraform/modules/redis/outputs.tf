output "address" {
  description = "Host the services reach Redis at."
  value       = local.self_hosted ? local.redis_ip : aws_elasticache_replication_group.this[0].primary_endpoint_address
}

output "instance_id" {
  description = "Self-hosted: the instance (empty with ElastiCache)."
  value       = local.self_hosted ? aws_instance.redis[0].id : ""
}
