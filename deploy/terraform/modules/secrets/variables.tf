variable "name" {
  description = "Prefix of every resource name, e.g. eventflow-staging."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; keep 7+ outside tests)."
  type        = number
  default     = 7
}
