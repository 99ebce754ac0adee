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
from statement_pipeline.resources import DynamoDBResource, SQSResource, StatementFilesResource

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
