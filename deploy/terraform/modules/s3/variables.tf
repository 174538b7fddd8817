variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the backups bucket."
  type        = string
}

variable "backup_retention_days" {
  description = "Days a backup object (current version) is kept."
  type        = number
  default     = 35
}

variable "log_retention_days" {
  description = "Days an access-log object is kept."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Let terraform destroy non-empty buckets (tests only)."
  type        = bool
  default     = false
}
