# Least privilege: the internet reaches only the ALB (443; 80 only redirects),
# the services only from the ALB and each other's gRPC ports, PostgreSQL and
# Redis only from the services. No other rule admits 0.0.0.0/0.

resource "aws_security_group" "alb" {
  # checkov:skip=CKV2_AWS_5: attached in other modules (alb, ecs, rds, redis); checkov checks each module alone
  name        = "${var.name}-alb"
  description = "ALB: HTTPS from the internet, HTTP only to redirect"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from producers, the dashboard's users and API clients"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  # checkov:skip=CKV_AWS_260: port 80 only answers with a redirect to HTTPS (aws_lb_listener.http)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP, answered only with a redirect to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_services" {
  for_each                     = toset([for p in var.alb_target_ports : tostring(p)])
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to the service containers"
  referenced_security_group_id = aws_security_group.services.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

resource "aws_security_group" "services" {
  # checkov:skip=CKV2_AWS_5: attached in other modules (alb, ecs, rds, redis); checkov checks each module alone
  name        = "${var.name}-services"
  description = "ECS tasks: from the ALB and from each other on gRPC"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "services_from_alb" {
  for_each                     = toset([for p in var.alb_target_ports : tostring(p)])
  security_group_id            = aws_security_group.services.id
  description                  = "HTTP from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

resource "aws_vpc_security_group_ingress_rule" "services_internal" {
  for_each                     = toset([for p in var.internal_ports : tostring(p)])
  security_group_id            = aws_security_group.services.id
  description                  = "gRPC between services (e.g. query API to dispatcher)"
  referenced_security_group_id = aws_security_group.services.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

# Webhook receivers live anywhere on the internet, on any port.
resource "aws_vpc_security_group_egress_rule" "services_out" {
  security_group_id = aws_security_group.services.id
  description       = "Webhook deliveries, AWS APIs, PostgreSQL, Redis"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
}

resource "aws_vpc_security_group_egress_rule" "services_dns" {
  security_group_id = aws_security_group.services.id
  description       = "DNS to the VPC resolver"
  cidr_ipv4         = var.cidr
  ip_protocol       = "udp"
  from_port         = 53
  to_port           = 53
}

resource "aws_security_group" "database" {
  # checkov:skip=CKV2_AWS_5: attached in other modules (alb, ecs, rds, redis); checkov checks each module alone
  name        = "${var.name}-database"
  description = "PostgreSQL: from the services only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_services" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the services"
  referenced_security_group_id = aws_security_group.services.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "redis" {
  # checkov:skip=CKV2_AWS_5: attached in other modules (alb, ecs, rds, redis); checkov checks each module alone
  name        = "${var.name}-redis"
  description = "Redis: from the services only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_services" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the services"
  referenced_security_group_id = aws_security_group.services.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

# The self-hosted Redis instance reaches S3 (snapshots), Secrets Manager and
# SSM over HTTPS, and the package mirrors at first boot.
resource "aws_vpc_security_group_egress_rule" "redis_https" {
  security_group_id = aws_security_group.redis.id
  description       = "HTTPS to AWS APIs and the OS package mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "redis_http" {
  security_group_id = aws_security_group.redis.id
  description       = "HTTP to the OS package mirrors (signed packages)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

# EC2 container instances (EC2 capacity provider): no inbound at all; tasks
# use their own ENIs with the services group.
resource "aws_security_group" "instances" {
  # checkov:skip=CKV2_AWS_5: attached in other modules (alb, ecs, rds, redis); checkov checks each module alone
  name        = "${var.name}-ecs-instances"
  description = "ECS container instances: outbound only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_egress_rule" "instances_https" {
  security_group_id = aws_security_group.instances.id
  description       = "HTTPS to the ECS control plane, ECR and the OS mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}
