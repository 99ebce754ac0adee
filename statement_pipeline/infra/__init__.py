"""AWS set-up: resource bootstrap, IAM policies, the embedded local AWS (no Dagster import)."""
