variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "security_group_id" {
  type = string
}

variable "domain_name" {
  description = "Host name the ALB answers on, e.g. staging.eventflow.example.com."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name: the certificate is validated by DNS there and an alias record points at the ALB. Empty: validate the certificate by hand (docs/deploy.md)."
  type        = string
  default     = ""
}

variable "logs_bucket" {
  description = "Bucket the access logs go to (prefix alb/)."
  type        = string
}

variable "idle_timeout" {
  description = "Seconds a connection may sit idle; above the slowest request (database_timeout 5 s, a 10 MiB batch upload)."
  type        = number
  default     = 60
}

variable "deregistration_delay" {
  description = "Seconds a draining target keeps its in-flight requests before ECS stops it (the services then drain within their 20 s shutdown_timeout)."
  type        = number
  default     = 30
}

variable "targets" {
  description = "Service name => { port, health_path, health_matcher } of the services behind the ALB."
  type = map(object({
    port           = number
    health_path    = string
    health_matcher = string
  }))
}

variable "deletion_protection" {
  type    = bool
  default = true
}
