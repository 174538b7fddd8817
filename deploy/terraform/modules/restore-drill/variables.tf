variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-production."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the drill task runs in."
  type        = string
}

variable "task_definition_arn" {
  description = "Task definition of the drill (an image holding scripts/restore-drill, the PostgreSQL client and the dispatcher binary). A family ARN without revision runs its latest ACTIVE revision."
  type        = string
}

variable "task_role_arns" {
  description = "The drill task's execution role and task role ARNs: EventBridge must be allowed to pass them to ECS."
  type        = list(string)
}

variable "subnet_ids" {
  description = "Private subnets for the drill task (it needs the scratch PostgreSQL and S3, no inbound traffic)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the drill task."
  type        = list(string)
}

variable "container_name" {
  description = "Container of the task definition that runs the drill."
  type        = string
  default     = "restore-drill"
}

variable "command" {
  description = "Command of the drill container; by default the newest backup in the backup bucket. Empty keeps the image's command."
  type        = list(string)
  default     = []
}

variable "schedule_expression" {
  description = "When the drill runs (UTC): monthly, the 1st at 05:00, after the 02:00-04:00 backup window."
  type        = string
  default     = "cron(0 5 1 * ? *)"
}

variable "enabled" {
  description = "Whether the schedule is active."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "SNS topic told when a drill task stops with a non-zero exit code (a failed drill); null: no notification."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
