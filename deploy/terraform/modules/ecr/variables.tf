variable "repositories" {
  description = "Repository names, e.g. eventflow/ingest-gateway."
  type        = set(string)
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the images."
  type        = string
}

variable "keep_tagged_images" {
  description = "Commit-tagged images kept per repository (rollback reaches back this far)."
  type        = number
  default     = 30
}
