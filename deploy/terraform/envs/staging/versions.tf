terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }

  # Remote state: one S3 bucket for the account (versioned, encrypted), one key
  # per environment, locked with S3's native lock file (Terraform >= 1.10).
  # docs/deploy.md creates the bucket once, before the first `terraform init`.
  backend "s3" {
    bucket       = "eventflow-terraform-state"
    key          = "staging/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "eventflow", Environment = "staging", ManagedBy = "terraform" }
  }
}

# The disaster-recovery region (cross-region backup replication).
provider "aws" {
  alias  = "dr"
  region = var.dr_region
  default_tags {
    tags = { Project = "eventflow", Environment = "staging", ManagedBy = "terraform" }
  }
}
