"""The Dagster definitions of statement_pipeline: the only place they are assembled."""

import functools
import gc
import os
import warnings

import dagster as dg
from dagster_aws.s3 import S3PickleIOManager

from statement_pipeline.alerts import alert_sensors
from statement_pipeline.assets import loaded_statements, scheduled_statements
from statement_pipeline.checks import statement_checks
from statement_pipeline.executor import EXECUTOR_ENV, select_executor
from statement_pipeline.freshness import loaded_by_day_from_env, loaded_by_policy
from statement_pipeline.jobs import import_statements_job
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SNSResource,
    SQSResource,
    StatementFilesResource,
    StatementS3Resource,
    aws_location,
)
from statement_pipeline.rules.alerts import AlertSettings
from statement_pipeline.rules.names import CapacitySettings, Names
from statement_pipeline.schedules import capacity_lead_schedule, monthly_statement_schedule
from statement_pipeline.sensors import (
    build_statement_file_sensor,
    capacity_reconciler_sensor,
    interval_from_env,
)

# A bucket for the ops' outputs: set it when ops run on several machines (Celery workers), so
# that no op reads another's outputs from a local disk. Unset: Dagster's default, on disk.
IO_BUCKET_ENV = "STATEMENT_IO_BUCKET"
IO_PREFIX = "statement-pipeline-io"
# Loader ops per run by default (run config still overrides): with Celery, one per worker, so
# a run's loaders spread over the machines even for runs the sensor or schedule starts.
LOADER_OPS_ENV = "STATEMENT_LOADER_OPS"


def import_tuning_from_env() -> ImportTuning:
    """ImportTuning's defaults, with STATEMENT_LOADER_OPS loader ops when it is set."""
    ops = os.environ.get(LOADER_OPS_ENV)
    if not ops:
        return ImportTuning()
    return ImportTuning(loader_ops=int(ops), loaders=max(int(ops), 4))


@functools.cache
def freeze_loaded_modules() -> None:
    """Exempt what the imports made (Dagster, botocore, ...) from the garbage collector.

    Those 200,000-odd objects live as long as the process, yet every full collection walks
    them again: during a month's import, and several times while the interpreter shuts down,
    which took most of a second of CPU at the end of each `dagster asset materialize` (see
    docs/benchmarks.md). `gc.freeze()` moves the objects alive now to a permanent generation;
    what is made later is collected as before. Once per process: a second load (tests, code
    server reloads) would freeze its own short-lived objects too.
    """
    gc.freeze()


def _with_code_references(
    assets: list[dg.AssetsDefinition],
) -> list[dg.AssetsDefinition]:
    """Each asset linked to its source file in the UI (the function that defines it)."""
    # Dagster's own way to attach code references; it is marked beta in 1.13, and the warning
    # says so on every load of the definitions, so it is silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        linked = dg.with_source_code_references(assets)
    return [a for a in linked if isinstance(a, dg.AssetsDefinition)]


@dg.definitions
def defs() -> dg.Definitions:
    """Definitions with the names of this deployment, read when the code location loads."""
    freeze_loaded_modules()
    # Loading, not importing, reads the STATEMENT_* variables: the contract gives each a
    # default, which dg.EnvVar cannot, and the UI then shows the names actually used. The
    # region and each service's endpoint are read the same way, so the resource page says
    # which AWS a run uses ("AWS default" where boto3's own chain decides).
    names = Names.from_env()
    window = CapacitySettings.from_env(os.environ)
    alerts = AlertSettings.from_env()
    interval = interval_from_env()
    overdue = loaded_by_policy(loaded_by_day_from_env())
    s3 = StatementS3Resource(**aws_location("s3"))
    shared_outputs = (
        {
            "io_manager": S3PickleIOManager(
                s3_resource=s3, s3_bucket=dg.EnvVar(IO_BUCKET_ENV), s3_prefix=IO_PREFIX
            )
        }
        if os.environ.get(IO_BUCKET_ENV)
        else {}
    )
    return dg.Definitions(
        assets=_with_code_references(
            [
                scheduled_statements,
                loaded_statements.map_asset_specs(
                    lambda spec: spec.replace_attributes(freshness_policy=overdue)
                ),
            ]
        ),
        asset_checks=[statement_checks],
        jobs=[import_statements_job],
        sensors=[
            build_statement_file_sensor(interval),
            *alert_sensors(alerts, interval),
            # Only a policy that changes capacity may hold a raise to restore (and the IAM
            # policy of `keep` grants no tag reads).
            *([capacity_reconciler_sensor] if window.policy != "keep" else []),
        ],
        schedules=[
            monthly_statement_schedule,
            # The raise ahead of the monthly import, when a lead is set under raise/on_demand.
            *([capacity_lead_schedule] if window.policy != "keep" and window.lead_minutes else []),
        ],
        resources={
            "s3": s3,
            "statement_files": StatementFilesResource(
                s3=s3, bucket=names.bucket, prefix=names.prefix
            ),
            "statement_queue": SQSResource(queue_name=names.queue, **aws_location("sqs")),
            "statement_table": DynamoDBResource(
                table_name=names.table,
                capacity_policy=window.policy,
                capacity_target_seconds=window.target_seconds,
                capacity_max_wcu=window.max_wcu,
                capacity_lead_minutes=window.lead_minutes,
                **aws_location("dynamodb"),
            ),
            "statement_alerts": SNSResource(topic_arn=alerts.topic_arn, **aws_location("sns")),
            "import_tuning": import_tuning_from_env(),
            **shared_outputs,
        },
        executor=select_executor(os.environ.get(EXECUTOR_ENV)),
    )
