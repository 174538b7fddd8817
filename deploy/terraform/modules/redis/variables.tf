variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "engine" {
  description = "self-hosted (one EC2 instance, the MVP) or elasticache."
  type        = string
  default     = "self-hosted"

  validation {
    condition     = contains(["self-hosted", "elasticache"], var.engine)
    error_message = "engine must be self-hosted or elasticache."
  }
}

variable "subnet_ids" {
  description = "Private subnets; the self-hosted instance lives in the first."
  type        = list(string)
}

variable "subnet_cidrs" {
  description = "CIDRs of subnet_ids; the self-hosted instance keeps a fixed address in the first, so the redis_url secret survives a replacement."
  type        = list(string)
}

variable "security_group_id" {
  type = string
}

variable "instance_type" {
  description = "Self-hosted: EC2 instance type (arm64)."
  type        = string
  default     = "t4g.small"
}

variable "ami_id" {
  description = "Self-hosted: AMI (Amazon Linux 2023, arm64); empty: the current one from SSM."
  type        = string
  default     = ""
}

variable "data_volume_gib" {
  description = "Self-hosted: size of the encrypted volume holding the RDB and AOF files."
  type        = number
  default     = 20
}

variable "node_type" {
  description = "ElastiCache: node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "replicas" {
  description = "ElastiCache: replicas besides the primary (1+ enables automatic failover across AZs)."
  type        = number
  default     = 0
}

variable "kms_key_arn" {
  type = string
}

variable "redis_url_secret_id" {
  description = "Secret that receives the redis:// URL the services use."
  type        = string
}

variable "redis_url_secret_arn" {
  type = string
}

variable "backups_bucket" {
  description = "Self-hosted: bucket the daily RDB snapshot is copied to (prefix redis/)."
  type        = string
}

variable "backups_bucket_arn" {
  type = string
}

variable "password_version" {
  description = "Self-hosted: raise to generate a new requirepass and rewrite the secret (then restart the instance's redis)."
  type        = number
  default     = 1
}

variable "alarm_topic_arn" {
  description = "SNS topic of the instance-recovery alarm."
  type        = string
}

variable "redis_version" {
  description = "Self-hosted: tag of the official Redis image (7.0+: the dispatcher's stream-lag metric needs XINFO GROUPS' lag)."
  type        = string
  default     = "7.2"
}
