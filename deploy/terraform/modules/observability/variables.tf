variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "environment" {
  type = string
}

variable "log_streams" {
  description = "Names that get a log group: each service and migrate."
  type        = set(string)
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "kms_key_arn" {
  type = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by mail)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "service_names" {
  description = "Service name => ECS service name."
  type        = map(string)
}

variable "alb_arn_suffix" {
  type = string
}

variable "target_group_arn_suffixes" {
  description = "Service name => target group ARN suffix."
  type        = map(string)
}

variable "db_instance_id" {
  type = string
}

variable "db_allocated_storage_gib" {
  type = number
}

variable "db_max_connections" {
  description = "max_connections of the instance class (the alarm fires at 80 %)."
  type        = number
}

variable "p99_latency_seconds" {
  description = "p99 target response time above which the latency alarm fires."
  type        = number
  default     = 1
}

variable "error_rate_percent" {
  description = "Share of requests answered 5xx above which the error-rate alarm fires."
  type        = number
  default     = 1
}

variable "stream_lag_alarm" {
  description = "Stream entries waiting for a dispatcher above which (for 10 minutes) the lag alarm fires."
  type        = number
  default     = 50000
}
