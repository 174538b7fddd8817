output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "service_names" {
  value = { for k, s in aws_ecs_service.this : k => s.name }
}

output "task_definition_families" {
  description = "Service name (and migrate) => task definition family."
  value = merge(
    { for k, t in aws_ecs_task_definition.service : k => t.family },
    { migrate = aws_ecs_task_definition.migrate.family },
  )
}

output "secret_names" {
  description = "Service name (and migrate) => the secret settings its container reads."
  value       = local.secret_names
}

output "service_ports" {
  description = "Service name => { http, grpc } container ports."
  value       = { for k, s in local.services : k => { http = s.http_port, grpc = s.grpc_port } }
}

output "log_streams" {
  description = "Names that need a log group: each service and migrate (known before any resource exists)."
  value       = concat(keys(local.services), ["migrate"])
}

output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}
