data "aws_region" "current" {}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Container Insights gives per-service CPU/memory and RunningTaskCount,
  # which the stream-lag scaling divides by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# --- EC2 capacity (the MVP): an auto-scaling group the cluster scales --------

data "aws_ssm_parameter" "ecs_ami" {
  count = var.capacity == "EC2" && var.ami_id == "" ? 1 : 0
  name  = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  count              = var.capacity == "EC2" ? 1 : 0
  name               = "${var.name}-ecs-instance"
  assume_role_policy = data.aws_iam_policy_document.instance_assume.json
}

resource "aws_iam_role_policy_attachment" "instance" {
  for_each = var.capacity == "EC2" ? toset([
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
  ]) : toset([])
  role       = aws_iam_role.instance[0].name
  policy_arn = each.value
}

resource "aws_iam_instance_profile" "instance" {
  count = var.capacity == "EC2" ? 1 : 0
  name  = "${var.name}-ecs-instance"
  role  = aws_iam_role.instance[0].name
}

resource "aws_launch_template" "instance" {
  count         = var.capacity == "EC2" ? 1 : 0
  name_prefix   = "${var.name}-ecs-"
  image_id      = var.ami_id != "" ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ecs_ami[0].value)
  instance_type = var.instance_type

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance[0].arn
  }

  vpc_security_group_ids = [var.instances_security_group_id]

  # IMDSv2 only, one hop: tasks (awsvpc) cannot reach the instance's credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  user_data = base64encode(<<-EOT
    #!/bin/bash
    cat >> /etc/ecs/ecs.config <<'CONFIG'
    ECS_CLUSTER=${var.name}
    ECS_ENABLE_TASK_IAM_ROLE=true
    ECS_AWSVPC_BLOCK_IMDS=true
    ECS_CONTAINER_STOP_TIMEOUT=40s
    ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
    CONFIG
  EOT
  )

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-ecs" }
  }
}

resource "aws_autoscaling_group" "instances" {
  count                 = var.capacity == "EC2" ? 1 : 0
  name_prefix           = "${var.name}-ecs-"
  min_size              = var.instance_min
  max_size              = var.instance_max
  vpc_zone_identifier   = var.subnet_ids
  protect_from_scale_in = true
  health_check_type     = "EC2"

  launch_template {
    id      = aws_launch_template.instance[0].id
    version = "$Latest"
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  lifecycle {
    # The capacity provider sets the desired capacity.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_ecs_capacity_provider" "ec2" {
  count = var.capacity == "EC2" ? 1 : 0
  name  = "${var.name}-ec2"

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.instances[0].arn
    managed_termination_protection = "ENABLED"
    managed_draining               = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = 100
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = 2
    }
  }
}

locals {
  capacity_provider = var.capacity == "EC2" ? aws_ecs_capacity_provider.ec2[0].name : "FARGATE"
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = [local.capacity_provider]

  default_capacity_provider_strategy {
    capacity_provider = local.capacity_provider
    weight            = 1
    base              = 0
  }
}

# --- service discovery: the dashboard finds the query API and the query API
# finds a dispatcher by name inside the VPC ---

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = "${var.name}.internal"
  description = "EventFlow services of ${var.name}"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  for_each = toset(["query-api", "dispatcher"])
  name     = each.value

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      ttl  = 10
      type = "A"
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}
