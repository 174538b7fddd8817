# Everything modules/stack outputs: names and addresses the pipeline and
# operators use (docs/deploy.md), e.g. `terraform output -json eventflow`.
output "eventflow" {
  value = module.eventflow
}
