output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "alb_security_group_id" {
  value = aws_security_group.alb.id
}

output "services_security_group_id" {
  value = aws_security_group.services.id
}

output "database_security_group_id" {
  value = aws_security_group.database.id
}

output "redis_security_group_id" {
  value = aws_security_group.redis.id
}

output "instances_security_group_id" {
  value = aws_security_group.instances.id
}

output "private_subnet_cidrs" {
  value = aws_subnet.private[*].cidr_block
}
