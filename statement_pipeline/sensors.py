"""`statement_file_sensor`: one run per month whose .csv files are new or changed in S3."""

import os

import dagster as dg

from statement_pipeline.aws import capacity, scaler
from statement_pipeline.aws.s3_files import list_prefix
from statement_pipeline.jobs import import_statements_job
from statement_pipeline.partitions import monthly_partitions
from statement_pipeline.resources import DynamoDBResource, StatementFilesResource
from statement_pipeline.rules import sensor_cursor
from statement_pipeline.rules.capacity_lead import is_lead_holder
from statement_pipeline.rules.names import int_setting

# Well under the daemon's 60 s sensor timeout, so a huge prefix fails with a clear message.
LISTING_DEADLINE_SECONDS = 40.0
# How often the sensor lists the prefix: one paginated LIST per tick, so a drop is imported
# within about this long. STATEMENT_SENSOR_INTERVAL_SECONDS changes it when the definitions load.
DEFAULT_INTERVAL_SECONDS = 30
INTERVAL_VARIABLE = "STATEMENT_SENSOR_INTERVAL_SECONDS"


def _report_skipped(
    context: dg.SensorEvaluationContext,
    listing: sensor_cursor.PrefixListing,
    plan: sensor_cursor.TickPlan,
) -> None:
    """Name what is ignored or skipped when that changed since the last tick; else count it."""
    skipped = listing.ignored_count + len(plan.outside_partitions)
    if not skipped:
        return
    if not plan.skipped_changed:
        context.log.info(
            f"{listing.ignored_count} ignored keys, {len(plan.outside_partitions)} months "
            "outside the partitions: the same as the last tick"
        )
        return
    for key, reason in listing.ignored_sample:
        context.log.warning(f"ignored {key}: {reason}")
    if listing.ignored_count > len(listing.ignored_sample):
        context.log.warning(
            f"... and {listing.ignored_count - len(listing.ignored_sample)} more ignored keys"
        )
    first = monthly_partitions.get_first_partition_key()
    last = monthly_partitions.get_last_partition_key()
    for month in plan.outside_partitions:
        context.log.warning(
            f"{month}/ is outside the partitions ({first} to {last}): "
            "skipped until its partition exists"
        )


def _tick(
    context: dg.SensorEvaluationContext, statement_files: StatementFilesResource
) -> dg.SensorResult:
    bucket = statement_files.bucket
    prefix = statement_files.normalized_prefix
    listing = list_prefix(
        statement_files.get_client(), bucket, prefix, deadline_seconds=LISTING_DEADLINE_SECONDS
    )
    plan = sensor_cursor.plan_tick(listing, context.cursor, monthly_partitions.has_partition_key)
    context.log.info(
        f"s3://{bucket}/{prefix}: {listing.objects} objects in {listing.pages} pages "
        f"({listing.seconds:.2f}s), {len(listing.months)} month folders"
    )
    _report_skipped(context, listing, plan)
    for month in plan.emptied:
        context.log.warning(f"{month}/ has no .csv files any more: nothing to import")
    requests = []
    for change in plan.changes:
        context.log.info(
            f"{change.month}: {'new' if change.first_seen else 'changed'}, {change.files} "
            f"file(s) -> run key {change.run_key}"
        )
        requests.append(dg.RunRequest(run_key=change.run_key, partition_key=change.month))
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=plan.cursor)
    return dg.SensorResult(
        skip_reason=dg.SkipReason(
            f"no new or changed statement files ({listing.objects} objects checked)"
        ),
        cursor=plan.cursor,
    )


def build_statement_file_sensor(
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """The sensor, listing the prefix at most every `interval_seconds`."""

    @dg.sensor(
        name="statement_file_sensor",
        job=import_statements_job,
        minimum_interval_seconds=interval_seconds,
        # Files dropped in S3 must be imported without anyone pressing anything (the
        # contract); a deployment that forgot to switch the sensor on would miss months.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches s3://$STATEMENT_BUCKET/$STATEMENT_PREFIX and requests one run per month "
            "whose .csv files are new, overwritten or removed; the cursor keeps a digest of each "
            "month's file versions (key + ETag), so ties on LastModified cannot hide a file."
        ),
    )
    def statement_file_sensor(
        context: dg.SensorEvaluationContext, statement_files: StatementFilesResource
    ) -> dg.SensorResult:
        """List the statement prefix once and request an import for every changed month."""
        return _tick(context, statement_files)

    return statement_file_sensor


def interval_from_env() -> int:
    """STATEMENT_SENSOR_INTERVAL_SECONDS (5 to 3600), or the default."""
    return int_setting(INTERVAL_VARIABLE, DEFAULT_INTERVAL_SECONDS, 5, 3600)


statement_file_sensor = build_statement_file_sensor()


def run_is_running(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether a run that holds a raise may still write: known to this instance, not finished.
    A lead's hold (capacity_lead_schedule) has no run: it lasts until adopted or expired."""
    if is_lead_holder(run_id):
        return True
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


def run_process(instance: dg.DagsterInstance, run_id: str) -> capacity.Process | None:
    """The process that runs `run_id`, when it is this op's own or its parent (in-process and
    multiprocess executors): the one whose RUN_START the event log records. None elsewhere
    (an op on a Celery worker): the run's status and the raise's expiry then decide."""
    started = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1)
    event = started.records[0].event_log_entry.dagster_event if started.records else None
    if event is None or event.pid not in (os.getpid(), os.getppid()):
        return None
    return (capacity.this_process()[0], event.pid)


# How often the reconciler looks for raises to restore: a killed run's raise costs money.
RECONCILE_SECONDS = 60


@dg.sensor(
    name="capacity_reconciler_sensor",
    minimum_interval_seconds=RECONCILE_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Restores the table's capacity raised for an import (STATEMENT_CAPACITY_POLICY raise or "
        "on_demand) once the runs that hold it are no longer running or its expiry passed; a "
        "decrease the day's quota refuses is retried on a later tick."
    ),
)
def capacity_reconciler_sensor(
    context: dg.SensorEvaluationContext, statement_table: DynamoDBResource
) -> dg.SkipReason:
    """Restore raises whose runs are gone or expired; say what was done, or when it will be."""
    ddb = statement_table.get_client()
    table = statement_table.table_name
    outcome = capacity.reconcile(
        ddb,
        table,
        lambda run_id: run_is_running(context.instance, run_id),
        # A sensor tick must end well within its timeout: the UPDATING is not waited for.
        wait=lambda: 0.0,
    )
    # A scalable-target raise (a table under Application Auto Scaling) has tags of its own.
    outcome = outcome or scaler.reconcile(
        ddb,
        statement_table.get_autoscaling_client(),
        table,
        lambda run_id: run_is_running(context.instance, run_id),
    )
    if outcome is None:
        return dg.SkipReason(f"{table}: no raise to restore")
    if outcome.deferred_until is not None or outcome.message.startswith("WARNING"):
        context.log.warning(outcome.message)
    else:
        context.log.info(outcome.message)
    return dg.SkipReason(outcome.message)
