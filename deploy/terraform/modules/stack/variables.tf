# Everything an environment chooses. envs/staging and envs/production set
# these and nothing else: same architecture, different sizes and names.

variable "environment" {
  description = "staging or production."
  type        = string
}

variable "cidr" {
  type = string
}

variable "azs" {
  type = list(string)
}

variable "nat_gateway_count" {
  type = number
}

variable "vpc_endpoints" {
  type = bool
}

variable "domain_name" {
  type = string
}

variable "route53_zone_id" {
  type = string
}

variable "github_repository" {
  type = string
}

variable "create_github_oidc_provider" {
  type = bool
}

variable "image_tag" {
  description = "Commit whose images the first task definitions use; the pipeline deploys later ones."
  type        = string
}

variable "ecs_capacity" {
  type = string
}

variable "ecs_instance_type" {
  type = string
}

variable "ecs_instances" {
  type = object({ min = number, max = number })
}

variable "ecs_ami_id" {
  type    = string
  default = ""
}

variable "service_sizes" {
  type = map(object({ cpu = number, memory = number, min = number, max = number }))
}

variable "db_instance_class" {
  type = string
}

variable "db_max_connections" {
  description = "max_connections of db_instance_class (RDS derives it from memory)."
  type        = number
}

variable "db_allocated_storage" {
  type = number
}

variable "db_max_allocated_storage" {
  type = number
}

variable "db_multi_az" {
  type = bool
}

variable "db_cross_region_backups" {
  type = bool
}

variable "dr_kms_key_arn" {
  type    = string
  default = ""
}

variable "redis_engine" {
  type = string
}

variable "redis_instance_type" {
  type = string
}

variable "redis_ami_id" {
  type    = string
  default = ""
}

variable "redis_node_type" {
  type = string
}

variable "redis_replicas" {
  type = number
}

variable "log_retention_days" {
  type = number
}

variable "alarm_emails" {
  type = list(string)
}

variable "deletion_protection" {
  description = "ALB and RDS deletion protection, secrets' recovery window (off only in tests)."
  type        = bool
  default     = true
}

variable "promote_from" {
  description = "Environment whose tested images this one promotes (production: staging); empty: images are built for this one."
  type        = string
  default     = ""
}

variable "restore_drill_enabled" {
  description = "Run the monthly restore drill (the eventflow-ENV/ops image, docker/ops.Dockerfile, pushed by the release workflow)."
  type        = bool
  default     = true
}
