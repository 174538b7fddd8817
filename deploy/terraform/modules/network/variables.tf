variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "cidr" {
  description = "The VPC's CIDR block; split into two public and two private subnets."
  type        = string
}

variable "azs" {
  description = "Exactly two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 2
    error_message = "azs must name exactly two availability zones."
  }
}

variable "nat_gateway_count" {
  description = "NAT gateways: 0 (AWS APIs only through VPC endpoints, no internet egress), 1 (one shared, the MVP) or 2 (one per AZ)."
  type        = number
  default     = 1

  validation {
    condition     = contains([0, 1, 2], var.nat_gateway_count)
    error_message = "nat_gateway_count must be 0, 1 or 2."
  }
}

variable "vpc_endpoints" {
  description = "Interface endpoints for ECR, CloudWatch Logs/Monitoring, Secrets Manager, ECS and SSM, and an S3 gateway endpoint, so AWS traffic needs no NAT."
  type        = bool
  default     = false
}

variable "alb_target_ports" {
  description = "Container ports the ALB forwards to (HTTP of the gateway, query API, dashboard)."
  type        = list(number)
}

variable "internal_ports" {
  description = "Container ports services call each other on inside the VPC (gRPC)."
  type        = list(number)
}

variable "flow_log_retention_days" {
  description = "Days VPC flow logs are kept."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group."
  type        = string
}
