# One EventFlow environment: the modules wired together.

locals {
  name              = "eventflow-${var.environment}"
  metrics_namespace = "EventFlow"
  images            = ["ingest-gateway", "dispatcher", "query-api", "dashboard", "cli"]
  # The restore drill's image (scripts, PostgreSQL client, dispatcher); see restore_drill.tf.
  ops_image = "ops"

  # Ports from the service catalogue (ecs module): ALB targets, gRPC and the
  # query API (the dashboard calls it inside the VPC).
  ports = module.ecs.service_ports
}

module "secrets" {
  source               = "../secrets"
  name                 = local.name
  recovery_window_days = var.deletion_protection ? 7 : 0
}

module "network" {
  source            = "../network"
  name              = local.name
  cidr              = var.cidr
  azs               = var.azs
  nat_gateway_count = var.nat_gateway_count
  vpc_endpoints     = var.vpc_endpoints
  alb_target_ports  = [local.ports["ingest-gateway"].http, local.ports["query-api"].http, local.ports["dashboard"].http]
  internal_ports = [
    local.ports["ingest-gateway"].grpc, local.ports["query-api"].grpc, local.ports["dispatcher"].grpc,
    local.ports["query-api"].http,
  ]
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = module.secrets.kms_key_arn
}

module "s3" {
  source        = "../s3"
  name          = local.name
  kms_key_arn   = module.secrets.kms_key_arn
  force_destroy = !var.deletion_protection
}

module "ecr" {
  source       = "../ecr"
  repositories = toset([for i in concat(local.images, [local.ops_image]) : "${local.name}/${i}"])
  kms_key_arn  = module.secrets.kms_key_arn
}

module "observability" {
  source                    = "../observability"
  name                      = local.name
  environment               = var.environment
  log_streams               = toset(module.ecs.log_streams)
  log_retention_days        = var.log_retention_days
  kms_key_arn               = module.secrets.kms_key_arn
  alarm_emails              = var.alarm_emails
  metrics_namespace         = local.metrics_namespace
  cluster_name              = module.ecs.cluster_name
  service_names             = module.ecs.service_names
  alb_arn_suffix            = module.alb.arn_suffix
  target_group_arn_suffixes = module.alb.target_group_arn_suffixes
  db_instance_id            = module.rds.instance_id
  db_allocated_storage_gib  = var.db_allocated_storage
  db_max_connections        = var.db_max_connections
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

module "iam" {
  source            = "../iam"
  allow_branch_jobs = var.promote_from == ""
  promote_from_repository_arns = var.promote_from == "" ? [] : [
    "arn:aws:ecr:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:repository/eventflow-${var.promote_from}/*",
  ]
  name                        = local.name
  environment                 = var.environment
  services                    = module.ecs.secret_names
  secret_arns                 = module.secrets.secret_arns
  kms_key_arn                 = module.secrets.kms_key_arn
  log_group_arns              = module.observability.log_group_arns
  metrics_log_group_arn       = module.observability.metrics_log_group_arn
  ecr_repository_arns         = module.ecr.repository_arns
  github_repository           = var.github_repository
  create_github_oidc_provider = var.create_github_oidc_provider
  database_instance_arn       = module.rds.instance_arn
}

module "alb" {
  source              = "../alb"
  name                = local.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  security_group_id   = module.network.alb_security_group_id
  domain_name         = var.domain_name
  route53_zone_id     = var.route53_zone_id
  logs_bucket         = module.s3.logs_bucket
  deletion_protection = var.deletion_protection
  targets = {
    ingest-gateway = { port = local.ports["ingest-gateway"].http, health_path = "/readyz", health_matcher = "200" }
    query-api      = { port = local.ports["query-api"].http, health_path = "/readyz", health_matcher = "200" }
    # The dashboard has no /readyz; any answer below 500 from / (a redirect to
    # sign-in) means its server is up, as in its image's HEALTHCHECK.
    dashboard = { port = local.ports["dashboard"].http, health_path = "/", health_matcher = "200-399" }
  }
}

module "ecs" {
  source                      = "../ecs"
  name                        = local.name
  environment                 = var.environment
  capacity                    = var.ecs_capacity
  instance_type               = var.ecs_instance_type
  instance_min                = var.ecs_instances.min
  instance_max                = var.ecs_instances.max
  ami_id                      = var.ecs_ami_id
  image_repositories          = { for i in local.images : i => module.ecr.repository_urls["${local.name}/${i}"] }
  image_tag                   = var.image_tag
  sizes                       = var.service_sizes
  public_url                  = "https://${var.domain_name}"
  subnet_ids                  = module.network.private_subnet_ids
  vpc_id                      = module.network.vpc_id
  services_security_group_id  = module.network.services_security_group_id
  instances_security_group_id = module.network.instances_security_group_id
  target_group_arns           = module.alb.target_group_arns
  secret_arns                 = module.secrets.secret_arns
  execution_role_arns         = module.iam.execution_role_arns
  task_role_arns              = module.iam.task_role_arns
  log_group_names             = module.observability.log_group_names
  metrics_log_group_name      = module.observability.metrics_log_group_name
  metrics_namespace           = local.metrics_namespace
  kms_key_arn                 = module.secrets.kms_key_arn
}

module "rds" {
  source    = "../rds"
  providers = { aws = aws, aws.dr = aws.dr }

  name                            = local.name
  subnet_ids                      = module.network.private_subnet_ids
  security_group_id               = module.network.database_security_group_id
  instance_class                  = var.db_instance_class
  allocated_storage               = var.db_allocated_storage
  max_allocated_storage           = var.db_max_allocated_storage
  multi_az                        = var.db_multi_az
  kms_key_arn                     = module.secrets.kms_key_arn
  database_url_secret_id          = module.secrets.secret_ids["database_url"]
  deletion_protection             = var.deletion_protection
  cross_region_backup_replication = var.db_cross_region_backups
  cross_region_kms_key_arn        = var.dr_kms_key_arn
}

module "redis" {
  source               = "../redis"
  name                 = local.name
  engine               = var.redis_engine
  subnet_ids           = module.network.private_subnet_ids
  subnet_cidrs         = module.network.private_subnet_cidrs
  security_group_id    = module.network.redis_security_group_id
  instance_type        = var.redis_instance_type
  ami_id               = var.redis_ami_id
  node_type            = var.redis_node_type
  replicas             = var.redis_replicas
  kms_key_arn          = module.secrets.kms_key_arn
  redis_url_secret_id  = module.secrets.secret_ids["redis_url"]
  redis_url_secret_arn = module.secrets.secret_arns["redis_url"]
  backups_bucket       = module.s3.backups_bucket
  backups_bucket_arn   = module.s3.backups_bucket_arn
  alarm_topic_arn      = module.observability.alarm_topic_arn
}
