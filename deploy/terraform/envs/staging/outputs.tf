output "eventflow" {
  description = "Names and addresses the pipeline and operators use (docs/deploy.md)."
  value = {
    alb_dns_name               = module.eventflow.alb_dns_name
    public_url                 = module.eventflow.public_url
    cluster_name               = module.eventflow.cluster_name
    service_names              = module.eventflow.service_names
    task_definition_families   = module.eventflow.task_definition_families
    ecr_repository_urls        = module.eventflow.ecr_repository_urls
    github_deploy_role_arn     = module.eventflow.github_deploy_role_arn
    private_subnet_ids         = module.eventflow.private_subnet_ids
    services_security_group_id = module.eventflow.services_security_group_id
    db_instance_id             = module.eventflow.db_instance_id
    backups_bucket             = module.eventflow.backups_bucket
    alarm_topic_arn            = module.eventflow.alarm_topic_arn
  }
}

output "certificate_validation_records" {
  value = module.eventflow.certificate_validation_records
}
