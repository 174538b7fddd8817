# Production: the same stack as staging (modules/stack), sized for traffic,
# NAT per AZ, PostgreSQL Multi-AZ with its backups replicated to the DR region.

module "eventflow" {
  source    = "../../modules/stack"
  providers = { aws = aws, aws.dr = aws.dr }

  environment                 = "production"
  cidr                        = "10.30.0.0/16"
  azs                         = ["${var.region}a", "${var.region}b"]
  nat_gateway_count           = 2
  vpc_endpoints               = false
  domain_name                 = var.domain_name
  route53_zone_id             = var.route53_zone_id
  github_repository           = var.github_repository
  create_github_oidc_provider = false
  image_tag                   = var.image_tag
  promote_from                = "staging"

  ecs_capacity      = "EC2"
  ecs_instance_type = "m6i.large"
  ecs_instances     = { min = 2, max = 8 }
  service_sizes = {
    ingest-gateway = { cpu = 1024, memory = 2048, min = 2, max = 8 }
    query-api      = { cpu = 512, memory = 1024, min = 2, max = 4 }
    dispatcher     = { cpu = 1024, memory = 2048, min = 2, max = 8 }
    dashboard      = { cpu = 256, memory = 512, min = 2, max = 3 }
  }

  db_instance_class        = "db.m7g.large"
  db_max_connections       = 901
  db_allocated_storage     = 100
  db_max_allocated_storage = 500
  db_multi_az              = true
  db_cross_region_backups  = var.dr_kms_key_arn != ""
  dr_kms_key_arn           = var.dr_kms_key_arn

  redis_engine        = "self-hosted"
  redis_instance_type = "r7g.medium"
  redis_node_type     = "cache.r7g.large"
  redis_replicas      = 1

  log_retention_days  = 90
  alarm_emails        = var.alarm_emails
  deletion_protection = var.deletion_protection
}
