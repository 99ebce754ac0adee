"""The Dagster definitions of statement_pipeline: the only place they are assembled."""

import dagster as dg
from dagster_aws.s3 import S3Resource

from statement_pipeline.assets import loaded_statements, scheduled_statements
from statement_pipeline.checks import statement_checks
from statement_pipeline.executor import statement_executor
from statement_pipeline.freshness import loaded_by_day_from_env, loaded_by_policy
from statement_pipeline.jobs import import_statements_job
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SQSResource,
    StatementFilesResource,
)
from statement_pipeline.rules.names import Names
from statement_pipeline.schedules import monthly_statement_schedule
from statement_pipeline.sensors import statement_file_sensor


@dg.definitions
def defs() -> dg.Definitions:
    """Definitions with the names of this deployment, read when the code location loads."""
    # Loading, not importing, reads the STATEMENT_* variables: the contract gives each a
    # default, which dg.EnvVar cannot, and the UI then shows the names actually used.
    names = Names.from_env()
    overdue = loaded_by_policy(loaded_by_day_from_env())
    s3 = S3Resource()
    return dg.Definitions(
        assets=[
            scheduled_statements,
            loaded_statements.map_asset_specs(
                lambda spec: spec.replace_attributes(freshness_policy=overdue)
            ),
        ],
        asset_checks=[statement_checks],
        jobs=[import_statements_job],
        sensors=[statement_file_sensor],
        schedules=[monthly_statement_schedule],
        resources={
            "s3": s3,
            "statement_files": StatementFilesResource(
                s3=s3, bucket=names.bucket, prefix=names.prefix
            ),
            "statement_queue": SQSResource(queue_name=names.queue),
            "statement_table": DynamoDBResource(table_name=names.table),
            "import_tuning": ImportTuning(),
        },
        executor=statement_executor,
    )
