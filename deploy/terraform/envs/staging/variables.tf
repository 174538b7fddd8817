variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "dr_region" {
  type    = string
  default = "eu-central-1"
}

variable "image_tag" {
  description = "Commit whose images the first task definitions use (the pipeline deploys later commits)."
  type        = string
  default     = "bootstrap"
}

variable "domain_name" {
  type    = string
  default = "staging.eventflow.example.com"
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name; empty: validate the certificate by hand."
  type        = string
  default     = ""
}

variable "github_repository" {
  type    = string
  default = "eventflow/eventflow"
}

variable "alarm_emails" {
  type    = list(string)
  default = []
}

variable "deletion_protection" {
  description = "Off only for throw-away test environments."
  type        = bool
  default     = true
}
