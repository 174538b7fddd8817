# Staging: the MVP sizes. Same stack as production (modules/stack).

module "eventflow" {
  source    = "../../modules/stack"
  providers = { aws = aws, aws.dr = aws.dr }

  environment                 = "staging"
  cidr                        = "10.20.0.0/16"
  azs                         = ["${var.region}a", "${var.region}b"]
  nat_gateway_count           = 1
  vpc_endpoints               = false
  domain_name                 = var.domain_name
  route53_zone_id             = var.route53_zone_id
  github_repository           = var.github_repository
  create_github_oidc_provider = true
  image_tag                   = var.image_tag

  ecs_capacity      = "EC2"
  ecs_instance_type = "t3.medium"
  ecs_instances     = { min = 2, max = 4 }
  service_sizes = {
    ingest-gateway = { cpu = 256, memory = 512, min = 1, max = 2 }
    query-api      = { cpu = 256, memory = 512, min = 1, max = 2 }
    dispatcher     = { cpu = 256, memory = 512, min = 1, max = 2 }
    dashboard      = { cpu = 256, memory = 512, min = 1, max = 1 }
  }

  db_instance_class        = "db.t4g.micro"
  db_max_connections       = 81
  db_allocated_storage     = 20
  db_max_allocated_storage = 50
  db_multi_az              = false
  db_cross_region_backups  = false

  redis_engine        = "self-hosted"
  redis_instance_type = "t4g.micro"
  redis_node_type     = "cache.t4g.micro"
  redis_replicas      = 0

  log_retention_days  = 14
  alarm_emails        = var.alarm_emails
  deletion_protection = var.deletion_protection
}
