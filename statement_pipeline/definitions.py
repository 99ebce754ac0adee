"""The Dagster definitions of statement_pipeline: the only place they are assembled."""

import dagster as dg
from dagster_aws.s3 import S3Resource

from statement_pipeline.assets import loaded_statements, scheduled_statements
from statement_pipeline.checks import statement_checks
from statement_pipeline.executor import statement_executor
from statement_pipeline.jobs import import_statements_job
from statement_pipeline.resources import DynamoDBResource, SQSResource, StatementFilesResource
from statement_pipeline.schedules import monthly_statement_schedule
from statement_pipeline.sensors import statement_file_sensor

s3 = S3Resource()

defs = dg.Definitions(
    assets=[scheduled_statements, loaded_statements],
    asset_checks=[statement_checks],
    jobs=[import_statements_job],
    sensors=[statement_file_sensor],
    schedules=[monthly_statement_schedule],
    resources={
        "s3": s3,
        "statement_files": StatementFilesResource(s3=s3),
        "statement_queue": SQSResource(),
        "statement_table": DynamoDBResource(),
    },
    executor=statement_executor,
)
