"""Asset checks that prove a month's import from the table and the queues themselves."""

import warnings
from collections.abc import Iterable

import dagster as dg
from pydantic import Field

from statement_pipeline.assets.loading import loaded_statements
from statement_pipeline.aws import month_checks as verify
from statement_pipeline.aws.loading import LoadedMonth
from statement_pipeline.metadata import rejects_metadata
from statement_pipeline.partitions import monthly_partitions
from statement_pipeline.resources import DynamoDBResource, SQSResource

_ASSET = loaded_statements.key


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
                "Items of the month counted in the table equal the valid rows.",
            ),
            (
                "queue_drained",
                "Nothing of the month is left in the queue, and none of it in the DLQ.",
            ),
            (
                "no_rejected_rows",
                "Warns when rows of the month were rejected (see the rejects objects).",
            ),
            (
                "reject_rate_below_limit",
                "Fails when the month's reject rate exceeds the configured limit.",
            ),
        )
    ]


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
) -> Iterable[dg.AssetCheckResult]:
    """Count the month in the table, inspect the queues, and judge the rejects."""
    sqs = statement_queue.get_client()
    queue_url, dlq_url = statement_queue.queue_urls(sqs)
    findings = verify.verify_month(
        loaded,
        dynamodb=statement_table.get_client(),
        table=statement_table.table_name,
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        max_reject_rate=config.max_reject_rate,
    )
    for finding in findings:
        metadata = dict(finding.metadata)
        if finding.name == "no_rejected_rows":
            metadata.update(rejects_metadata(loaded.reject_reasons, loaded.rejects_urls))
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
