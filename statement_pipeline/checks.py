"""Asset checks that prove a month's import from the table and the queues themselves.

The blocking count reuses the import's own strongly consistent read of the month
(`LoadedMonth.month_read`: the finish step's, or the scheduling read when nothing was
written) only when nothing can have written the month's items since that read began:

- the read was made by this very run (a check run later, by another run, recounts);
- every write of a month's items is made by a step of an import run: a loader op (the queue
  is shared, so the loaders of any run write any month's records) or the finish step
  (deleting stale items). No other run on this instance was in progress at any time since
  the read began (less `CLOCK_MARGIN_SECONDS` for clocks not quite in step): a run that was
  is either in progress now or was last updated after that moment;
- this run wrote nothing after the read but the finish step's own deletions, which the read
  already counts out (`LoadedMonth.in_table`).

Outside the proof: writes by hand, and writers that are not runs of this Dagster instance
(another deployment importing into the same table; docs/deploy.md runs one instance per
table). No count can rule those out beyond the instant it reads: a recount is as old as its
own read a moment later. When the proof fails, the check counts the month itself, strongly
consistent, paced by the read budget.
"""

import warnings
from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from statement_pipeline.assets.loading import loaded_statements
from statement_pipeline.aws import month_checks as verify
from statement_pipeline.aws.loading import LoadedMonth
from statement_pipeline.aws.month_reads import MonthRead, MonthReader, read_budget
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.metadata import rejects_metadata
from statement_pipeline.partitions import monthly_partitions
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SQSResource,
    StatementFilesResource,
)

_ASSET = loaded_statements.key
# Run records are stamped by other processes' clocks, assumed in step (as for `loaded_at`).
CLOCK_MARGIN_SECONDS = 1.0
_IN_PROGRESS = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class RejectRateConfig(dg.Config):
    max_reject_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest share of a month's rows that may be rejected before the check fails.",
    )


# Partitioned asset checks are a Dagster preview feature; they are what lets a check see the
# month it checks, so the preview warning is expected here and silenced only for these specs.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    _SPECS = [
        dg.AssetCheckSpec(
            name,
            asset=_ASSET,
            partitions_def=monthly_partitions,
            description=description,
            # The count is what proves the month: a wrong count fails the run, not just the UI.
            blocking=name == "table_count_matches_valid_rows",
        )
        for name, description in (
            (
                "table_count_matches_valid_rows",
                "Compares the month's items counted in the DynamoDB table with the month's "
                "valid rows in its CSV files; fails the run when they differ.",
            ),
            (
                "queue_drained",
                "Compares the SQS queue's messages still needed for the month, and the "
                "month's messages in the DLQ, with 0.",
            ),
            (
                "no_rejected_rows",
                "Compares the month's rejected rows with 0; warns otherwise, with the reasons "
                "and a link to each rejects object.",
            ),
            (
                "reject_rate_below_limit",
                "Compares the month's rejected rows / rows read with max_reject_rate "
                "(default 5%); fails above it.",
            ),
        )
    ]


def other_runs_since(instance: dg.DagsterInstance, run_id: str, since: float) -> list[str]:
    """Runs other than `run_id` that were in progress at some time after `since`."""
    after = datetime.fromtimestamp(since - CLOCK_MARGIN_SECONDS, UTC)
    active = instance.get_run_records(filters=dg.RunsFilter(statuses=_IN_PROGRESS))
    # Updated since: ended since, or changed status. One that never started (queued, not
    # started, canceled in the queue) cannot have written anything.
    recent = instance.get_run_records(filters=dg.RunsFilter(updated_after=after))
    runs = {r.dagster_run.run_id for r in active}
    runs |= {
        r.dagster_run.run_id
        for r in recent
        if r.start_time is not None and (r.end_time is None or r.end_time >= after.timestamp())
    }
    return sorted(runs - {run_id})


def month_read_reuse(context: dg.AssetCheckExecutionContext, loaded: LoadedMonth) -> verify.Reuse:
    """Whether nothing can have written the month since the import's read began (above)."""
    read = loaded.month_read
    if read is None or not read.consistent:
        return verify.Reuse(False, "the import made no strongly consistent read of the month")
    try:
        run_id = context.run.run_id
    except dg.DagsterError:
        # Invoked directly (no run): nothing here can say what happened since the read.
        return verify.Reuse(False, "the check runs outside any run")
    if loaded.run_id != run_id:
        # Checked again later, by another run: whatever happened since is unknown here.
        return verify.Reuse(False, f"the month was read by another run ({loaded.run_id})")
    others = other_runs_since(context.instance, run_id, read.started_at)
    if others:
        return verify.Reuse(
            False, f"{len(others)} other run(s) in progress since the read, e.g. {others[0]}"
        )
    return verify.Reuse(True, "no other run in progress since the read began")


@dg.multi_asset_check(
    specs=_SPECS,
    ins={"loaded": dg.AssetIn(key=_ASSET)},
)
def statement_checks(
    context: dg.AssetCheckExecutionContext,
    config: RejectRateConfig,
    loaded: LoadedMonth,
    statement_queue: SQSResource,
    statement_table: DynamoDBResource,
    statement_files: StatementFilesResource,
    import_tuning: ImportTuning,
) -> Iterable[dg.AssetCheckResult]:
    """Count the month in the table, inspect the queues, and judge the rejects."""
    sqs = statement_queue.get_client()
    queue_url, dlq_url = statement_queue.queue_urls(sqs)
    table = statement_table.table_name

    def recount() -> MonthRead:
        budget = read_budget(
            describe_capacity(statement_table.get_client(), table),
            consistent=True,
            share=import_tuning.read_share,
        )
        reader = MonthReader(statement_table.get_read_client(), table, budget)
        return reader.read(loaded.period, count_only=True)

    findings = verify.verify_month(
        loaded,
        recount=recount,
        reuse=month_read_reuse(context, loaded),
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        max_reject_rate=config.max_reject_rate,
    )
    for finding in findings:
        metadata = dict(finding.metadata)
        if finding.name == "no_rejected_rows":
            rejects = loaded.rejects_urls
            metadata.update(
                rejects_metadata(
                    loaded.reject_reasons, rejects, statement_files.browser_urls(rejects)
                )
            )
        yield dg.AssetCheckResult(
            check_name=finding.name,
            asset_key=_ASSET,
            passed=finding.passed,
            severity=dg.AssetCheckSeverity.WARN
            if finding.severity == "WARN"
            else dg.AssetCheckSeverity.ERROR,
            description=finding.description,
            metadata=metadata,
        )
