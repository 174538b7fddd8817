output "dns_name" {
  value = aws_lb.this.dns_name
}

output "arn_suffix" {
  value = aws_lb.this.arn_suffix
}

output "target_group_arns" {
  value = { for k, t in aws_lb_target_group.this : k => t.arn }
}

output "target_group_arn_suffixes" {
  value = { for k, t in aws_lb_target_group.this : k => t.arn_suffix }
}

output "certificate_validation_records" {
  description = "DNS records that validate the certificate when route53_zone_id is empty."
  value       = aws_acm_certificate.this.domain_validation_options
}
