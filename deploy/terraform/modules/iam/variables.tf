variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "environment" {
  description = "GitHub environment the deploy jobs of this environment run in (staging, production)."
  type        = string
}

variable "services" {
  description = "Service name => the secret setting names its container reads (e.g. dispatcher => [database_url, redis_url, internal_token, secrets_key])."
  type        = map(list(string))
}

variable "secret_arns" {
  description = "Setting name => Secrets Manager secret ARN."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key of the secrets, logs and images."
  type        = string
}

variable "log_group_arns" {
  description = "Service name => its log group ARN."
  type        = map(string)
}

variable "metrics_log_group_arn" {
  description = "Log group the CloudWatch agent sidecars write embedded-metric records to."
  type        = string
}

variable "ecr_repository_arns" {
  description = "Repositories the pipeline pushes to."
  type        = list(string)
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows may deploy."
  type        = string
}

variable "github_branch" {
  description = "The only branch whose workflows may deploy."
  type        = string
  default     = "main"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (one per account: let exactly one environment create it)."
  type        = bool
  default     = true
}

variable "database_instance_arn" {
  description = "RDS instance the pipeline snapshots before migrating."
  type        = string
}

variable "allow_branch_jobs" {
  description = "Also trust jobs of github_branch that run without an environment (the build job pushing images). Production trusts only its approved environment."
  type        = bool
  default     = false
}

variable "promote_from_repository_arns" {
  description = "Repositories (of the environment before this one) whose tested images this environment's deploy job pulls to promote them."
  type        = list(string)
  default     = []
}
