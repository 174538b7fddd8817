variable "name" {
  description = "Prefix of every resource name and the cluster's name, e.g. eventflow-staging."
  type        = string
}

variable "environment" {
  description = "staging or production; a dimension of the services' custom metrics."
  type        = string
}

variable "capacity" {
  description = "EC2 (an auto-scaling group behind a capacity provider, the MVP) or FARGATE."
  type        = string
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "FARGATE"], var.capacity)
    error_message = "capacity must be EC2 or FARGATE."
  }
}

variable "instance_type" {
  description = "EC2 container instance type (capacity = EC2)."
  type        = string
  default     = "t3.medium"
}

variable "instance_min" {
  description = "Container instances at least (capacity = EC2)."
  type        = number
  default     = 1
}

variable "instance_max" {
  description = "Container instances at most (capacity = EC2)."
  type        = number
  default     = 4
}

variable "ami_id" {
  description = "AMI of the container instances; empty: the current ECS-optimized Amazon Linux 2023 image from SSM."
  type        = string
  default     = ""
}

variable "image_repositories" {
  description = "Image name (ingest-gateway, dispatcher, query-api, dashboard, cli) => ECR repository URL."
  type        = map(string)
}

variable "image_tag" {
  description = "Image tag (the commit) the task definitions Terraform registers use; the pipeline registers later revisions itself."
  type        = string
}

variable "sizes" {
  description = "Per service: task cpu units, memory MiB, and the auto-scaling range of its task count."
  type = map(object({
    cpu    = number
    memory = number
    min    = number
    max    = number
  }))
}

variable "cpu_target_percent" {
  description = "Average CPU the services scale out above and in below."
  type        = number
  default     = 60
}

variable "stream_lag_per_task" {
  description = "Stream entries waiting (not yet read) per dispatcher task that auto-scaling aims for."
  type        = number
  default     = 5000
}

variable "log_level" {
  description = "EVENTFLOW_LOG of every service."
  type        = string
  default     = "info"
}

variable "public_url" {
  description = "https://host the ALB answers on; the dashboard's browser origin for the query API's CORS."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks and container instances."
  type        = list(string)
}

variable "vpc_id" {
  description = "The environment's VPC (service discovery namespace)."
  type        = string
}

variable "services_security_group_id" {
  type = string
}

variable "instances_security_group_id" {
  type = string
}

variable "target_group_arns" {
  description = "Service name => ALB target group ARN (ingest-gateway, query-api, dashboard)."
  type        = map(string)
}

variable "secret_arns" {
  description = "Setting name => Secrets Manager secret ARN."
  type        = map(string)
}

variable "execution_role_arns" {
  description = "Service name (and migrate) => execution role ARN."
  type        = map(string)
}

variable "task_role_arns" {
  description = "Service name (and migrate) => task role ARN."
  type        = map(string)
}

variable "log_group_names" {
  description = "Service name (and migrate) => CloudWatch log group name."
  type        = map(string)
}

variable "metrics_log_group_name" {
  description = "Log group of the CloudWatch agent sidecars' embedded-metric records."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the sidecars publish the services' Prometheus metrics under."
  type        = string
}

variable "cloudwatch_agent_image" {
  description = "Image of the CloudWatch agent sidecar that scrapes /metrics (mirror it into ECR for VPC-endpoint-only egress)."
  type        = string
  default     = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest"
}

variable "kms_key_arn" {
  description = "KMS key of the container instances' EBS volumes."
  type        = string
}
