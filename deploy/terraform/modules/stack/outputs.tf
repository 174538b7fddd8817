# What the pipeline and operators need (docs/deploy.md shows where each goes).

output "alb_dns_name" {
  value = module.alb.dns_name
}

output "public_url" {
  value = "https://${var.domain_name}"
}

output "cluster_name" {
  value = module.ecs.cluster_name
}

output "service_names" {
  value = module.ecs.service_names
}

output "task_definition_families" {
  value = module.ecs.task_definition_families
}

output "ecr_repository_urls" {
  value = module.ecr.repository_urls
}

output "github_deploy_role_arn" {
  value = module.iam.github_deploy_role_arn
}

output "private_subnet_ids" {
  value = module.network.private_subnet_ids
}

output "services_security_group_id" {
  value = module.network.services_security_group_id
}

output "db_instance_id" {
  value = module.rds.instance_id
}

output "backups_bucket" {
  value = module.s3.backups_bucket
}

output "alarm_topic_arn" {
  value = module.observability.alarm_topic_arn
}

output "certificate_validation_records" {
  value = module.alb.certificate_validation_records
}
