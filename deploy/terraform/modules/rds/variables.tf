variable "name" {
  description = "Prefix of every resource name and the instance identifier, e.g. eventflow-staging."
  type        = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_id" {
  type = string
}

variable "instance_class" {
  type    = string
  default = "db.t4g.small"
}

variable "engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "allocated_storage" {
  description = "GiB at creation."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "GiB storage auto-scaling may grow to."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "A synchronous standby in the second AZ (failover in 1-2 minutes)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  type = string
}

variable "database_url_secret_id" {
  description = "Secret that receives postgres://eventflow:<password>@<endpoint>/eventflow."
  type        = string
}

variable "backup_retention_days" {
  type    = number
  default = 7
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "cross_region_backup_replication" {
  description = "Replicate automated backups (and their PITR logs) to the aws.dr provider's region."
  type        = bool
  default     = false
}

variable "cross_region_kms_key_arn" {
  description = "KMS key in the DR region that encrypts the replicated backups (required with cross_region_backup_replication)."
  type        = string
  default     = ""
}

variable "password_version" {
  description = "Raise to generate a new master password and rewrite the database_url secret."
  type        = number
  default     = 1
}
