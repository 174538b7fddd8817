# What each service is: image, ports, settings and secrets. Both environments
# use this one catalogue, so they differ only in sizes (var.sizes). The names
# here must agree with crates/*/defaults.toml and compose.yaml:
# scripts/test-terraform.sh checks that they do.

locals {
  dispatcher_host = "dispatcher.${var.name}.internal"

  services = {
    ingest-gateway = {
      image        = "ingest-gateway"
      http_port    = 8080
      grpc_port    = 50051
      health_check = ["/usr/local/bin/eventflow-probe", "8080", "/healthz"]
      metrics      = true
      environment = {
        EVENTFLOW_HTTP_ADDR = "0.0.0.0:8080"
        EVENTFLOW_GRPC_ADDR = "0.0.0.0:50051"
        EVENTFLOW_LOG       = var.log_level
      }
      secrets = ["database_url", "redis_url"]
    }

    query-api = {
      image        = "query-api"
      http_port    = 8081
      grpc_port    = 50052
      health_check = ["/usr/local/bin/eventflow-probe", "8081", "/healthz"]
      metrics      = false
      environment = {
        EVENTFLOW_HTTP_ADDR            = "0.0.0.0:8081"
        EVENTFLOW_GRPC_ADDR            = "0.0.0.0:50052"
        EVENTFLOW_LOG                  = var.log_level
        EVENTFLOW_DISPATCHER_GRPC_URL  = "http://${local.dispatcher_host}:50053"
        EVENTFLOW_CORS_ALLOWED_ORIGINS = var.public_url
      }
      secrets = ["database_url", "redis_url", "admin_token", "internal_token", "secrets_key"]
    }

    dispatcher = {
      image        = "dispatcher"
      http_port    = 8082
      grpc_port    = 50053
      health_check = ["/usr/local/bin/eventflow-probe", "8082", "/healthz"]
      metrics      = true
      environment = {
        EVENTFLOW_HTTP_ADDR = "0.0.0.0:8082"
        EVENTFLOW_GRPC_ADDR = "0.0.0.0:50053"
        EVENTFLOW_LOG       = var.log_level
      }
      secrets = ["database_url", "redis_url", "internal_token", "secrets_key"]
    }

    dashboard = {
      image     = "dashboard"
      http_port = 3000
      grpc_port = null
      # The image has node and no shell: node asks, as the image's HEALTHCHECK does.
      health_check = ["/usr/local/bin/node", "-e", "require('http').get({host:'127.0.0.1',port:3000,path:'/',timeout:2500},r=>process.exit(r.statusCode<500?0:1)).on('error',()=>process.exit(1))"]
      metrics      = false
      environment = {
        EVENTFLOW_QUERY_URL = "http://query-api.${var.name}.internal:8081"
      }
      secrets = []
    }
  }

  # The one-shot schema migration the pipeline runs before each deployment.
  migrate = {
    image   = "cli"
    command = ["migrate"]
    environment = {
      EVENTFLOW_LOG = var.log_level
    }
    secrets = ["database_url", "secrets_key"]
  }

  # Prometheus metrics the sidecars publish to CloudWatch (dashboards, alarms,
  # and the dispatcher's stream-lag auto-scaling).
  published_metrics = [
    "eventflow_stream_lag", "eventflow_stream_pending", "eventflow_retries_due",
    "eventflow_open_circuits", "eventflow_deliveries_total", "eventflow_events_accepted_total",
    "eventflow_events_rejected_total", "eventflow_stream_append_failures_total",
  ]

  # The services whose secrets each role may read (iam module input).
  secret_names = merge(
    { for k, s in local.services : k => s.secrets },
    { migrate = local.migrate.secrets },
  )
}
