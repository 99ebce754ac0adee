"""`monthly_statement_schedule`: imports the month that just closed, early on the 1st (UTC);
`capacity_lead_schedule`: raises the table ahead of it (STATEMENT_CAPACITY_LEAD_MINUTES)."""

import dagster as dg

from statement_pipeline.aws import import_window
from statement_pipeline.aws.s3_files import list_month_files
from statement_pipeline.jobs import import_statements_job
from statement_pipeline.resources import DynamoDBResource, ImportTuning, StatementFilesResource
from statement_pipeline.rules.capacity_lead import lead_due
from statement_pipeline.rules.s3_layout import closed_month
from statement_pipeline.sensors import run_is_running

# 03:00 UTC on the 1st: the month closed three hours ago everywhere from UTC-3 eastwards, and
# upstream drops that land around midnight are in. Later drops are the sensor's to import.
MONTHLY_CRON = "0 3 1 * *"


@dg.schedule(
    name="monthly_statement_schedule",
    job=import_statements_job,
    cron_schedule=MONTHLY_CRON,
    execution_timezone="UTC",
    # Every deployment imports the closed month unless an operator turns the schedule off.
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "At 03:00 UTC on the 1st, imports the month that just closed (the sensor imports files "
        "as they land; this run proves the closed month complete, or fails if nothing arrived)."
    ),
)
def monthly_statement_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Request the partition of the month before the scheduled time."""
    month = closed_month(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"monthly-{month}", partition_key=month)


# Every 10 minutes from the 28th to the 1st: a lead of up to a day (MAX_LEAD_MINUTES) before
# the monthly tick always has a tick in it, rounded to 10 minutes; other days never tick.
LEAD_CRON = "*/10 * 28-31,1 * *"


@dg.schedule(
    name="capacity_lead_schedule",
    job=import_statements_job,
    cron_schedule=LEAD_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "STATEMENT_CAPACITY_LEAD_MINUTES before the monthly import, raises the table for the "
        "closed month (sized from its files' bytes) so the UPDATING minutes are over when the "
        "import starts; the import adopts the raise. Requests no run."
    ),
)
def capacity_lead_schedule(
    context: dg.ScheduleEvaluationContext,
    statement_table: DynamoDBResource,
    statement_files: StatementFilesResource,
    import_tuning: ImportTuning,
) -> dg.SkipReason:
    """Raise the table ahead of the monthly import when its lead has begun."""
    settings = statement_table.capacity
    tick = lead_due(context.scheduled_execution_time, settings.lead_minutes)
    if settings.policy == "keep" or tick is None:
        return dg.SkipReason(f"no capacity lead due (lead {settings.lead_minutes} min)")
    month = closed_month(tick)
    listing = list_month_files(
        statement_files.get_client(),
        statement_files.bucket,
        statement_files.normalized_prefix,
        month,
    )
    month_bytes = sum(f.size for f in listing.files)
    if not month_bytes:
        return dg.SkipReason(f"{month}: no files yet; the import sizes its own raise")
    report = import_window.open_lead(
        statement_table.get_client(),
        statement_table.table_name,
        month,
        settings,
        month_bytes,
        loaders=import_tuning.loaders,
        hold_seconds=settings.lead_minutes * 60 + import_tuning.deadline_seconds,
        running=lambda run_id: run_is_running(context.instance, run_id),
        aas=statement_table.get_autoscaling_client(),
    )
    message = f"{month} lead ({len(listing.files)} files, {month_bytes:,} bytes): " + " ".join(
        report.messages
    )
    context.log.info(message)
    return dg.SkipReason(message)
