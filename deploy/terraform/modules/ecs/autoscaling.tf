resource "aws_appautoscaling_target" "service" {
  for_each           = local.services
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.sizes[each.key].min
  max_capacity       = var.sizes[each.key].max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = local.services
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# The dispatcher also scales on its backlog: stream entries no consumer has
# read yet (the dispatcher's eventflow_stream_lag gauge, group-wide, so every
# task reports the same value: Maximum), divided by the running tasks.
resource "aws_appautoscaling_policy" "stream_lag" {
  name               = "${var.name}-dispatcher-stream-lag"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["dispatcher"].service_namespace
  resource_id        = aws_appautoscaling_target.service["dispatcher"].resource_id
  scalable_dimension = aws_appautoscaling_target.service["dispatcher"].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.stream_lag_per_task
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "lag"
        return_data = false
        metric_stat {
          stat = "Maximum"
          metric {
            namespace   = var.metrics_namespace
            metric_name = "eventflow_stream_lag"
            dimensions {
              name  = "Environment"
              value = var.environment
            }
            dimensions {
              name  = "Service"
              value = "dispatcher"
            }
          }
        }
      }
      metrics {
        id          = "tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = "dispatcher"
            }
          }
        }
      }
      metrics {
        id          = "lag_per_task"
        label       = "Stream entries waiting per dispatcher task"
        expression  = "IF(tasks > 0, lag / tasks, lag)"
        return_data = true
      }
    }
  }
}
