output "backups_bucket" {
  value = aws_s3_bucket.this["backups"].id
}

output "backups_bucket_arn" {
  value = aws_s3_bucket.this["backups"].arn
}

output "logs_bucket" {
  value = aws_s3_bucket.this["logs"].id
  # The ALB checks at creation that it may write its access logs here.
  depends_on = [aws_s3_bucket_policy.this]
}

output "logs_bucket_arn" {
  value = aws_s3_bucket.this["logs"].arn
}
