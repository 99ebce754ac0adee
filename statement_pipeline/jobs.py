"""Jobs: the monthly import of both stages and their checks."""

import dagster as dg

import_statements_job = dg.define_asset_job(
    name="import_statements_job",
    selection=dg.AssetSelection.groups("statements"),
    description="Import one month of statements: S3 files -> SQS -> DynamoDB, then the checks.",
)
