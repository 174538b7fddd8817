output "kms_key_arn" {
  value = aws_kms_key.this.arn
}

output "secret_arns" {
  description = "Setting name (database_url, redis_url, admin_token, internal_token, secrets_key) => secret ARN."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "secret_ids" {
  value = { for k, s in aws_secretsmanager_secret.this : k => s.id }
}
