"""`monthly_statement_schedule`: imports the month that just closed, early on the 1st (UTC)."""

import dagster as dg

from statement_pipeline.jobs import import_statements_job
from statement_pipeline.rules.s3_layout import closed_month

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
