"""Stage 2: loaders drain the queue into DynamoDB, paced to the table's write capacity."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from statement_pipeline.core import load as core
from statement_pipeline.core.schedule import ScheduledMonth
from statement_pipeline.partitions import monthly_partitions
from statement_pipeline.resources import DynamoDBResource, SQSResource, StatementFilesResource

# Loader ops of every run share this pool: its limit in dagster.yaml caps the loaders writing
# to the table at once across runs, so a backfill cannot overrun the table's capacity.
TABLE_WRITE_POOL = "statement_table_writes"


class LoadingConfig(dg.Config):
    """How the month's records are loaded."""

    loaders: int = Field(
        default=4, ge=1, le=64, description="Loader ops draining the queue in parallel."
    )
    target_utilisation: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a provisioned table's write capacity this run may use.",
    )
    messages_per_receive: int = Field(default=10, ge=1, le=10, description="ReceiveMessage batch.")
    visibility_timeout_seconds: int = Field(
        default=300, ge=10, le=43200, description="How long a received message stays hidden."
    )
    empty_queue_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long the queue must look empty before missing statements fail the run.",
    )
    deadline_seconds: float = Field(
        default=3600.0, gt=0, description="Longest a loader works before the run fails."
    )


@dataclass(frozen=True)
class LoaderTask:
    """One loader's share of the work."""

    index: int
    month: ScheduledMonth
    settings: core.LoaderSettings
    started: float


@dg.op(out=dg.DynamicOut(LoaderTask))
def start_loaders(
    context: dg.OpExecutionContext,
    config: LoadingConfig,
    scheduled: ScheduledMonth,
    statement_table: DynamoDBResource,
) -> Iterator[dg.DynamicOutput[LoaderTask]]:
    """Read the table's capacity and give each loader its share of the write budget."""
    started = time.time()
    settings = core.plan_loaders(
        statement_table.get_client(),
        statement_table.resolved_table_name(),
        loaders=config.loaders,
        target_utilisation=config.target_utilisation,
        messages_per_receive=config.messages_per_receive,
        visibility_timeout=config.visibility_timeout_seconds,
        empty_grace_seconds=config.empty_queue_grace_seconds,
        deadline_seconds=config.deadline_seconds,
    )
    context.log.info(core.describe_settings(settings))
    for index in range(config.loaders):
        yield dg.DynamicOutput(
            LoaderTask(index, scheduled, settings, started), mapping_key=f"loader_{index}"
        )


@dg.op(pool=TABLE_WRITE_POOL)
def load_statements(
    context: dg.OpExecutionContext,
    task: LoaderTask,
    statement_files: StatementFilesResource,
    statement_queue: SQSResource,
    statement_table: DynamoDBResource,
) -> core.LoaderResult:
    """Drain the queue into the table until every statement of the month is written."""
    sqs = statement_queue.get_client()
    queue_url, dlq_url = statement_queue.queue_urls(sqs)
    result = core.run_loader(
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        dynamodb=statement_table.get_client(),
        table=statement_table.resolved_table_name(),
        s3=statement_files.get_client(),
        bucket=statement_files.resolved_bucket(),
        month=task.month,
        settings=task.settings,
    )
    context.log.info(core.describe_result(task.index, result))
    for failure in result.failures:
        context.log.warning(failure)
    return result


@dg.op
def finish_load(
    context: dg.OpExecutionContext,
    results: list[core.LoaderResult],
    tasks: list[LoaderTask],
    statement_table: DynamoDBResource,
    statement_files: StatementFilesResource,
) -> dg.Output[core.LoadedMonth]:
    """Remove statements no longer in the month's files, then summarise the load."""
    month = tasks[0].month
    started = min(t.started for t in tasks)
    loaded = core.finish(
        statement_table.get_client(),
        statement_table.resolved_table_name(),
        statement_files.get_client(),
        statement_files.resolved_bucket(),
        month,
        results,
        settings=tasks[0].settings,
        started=started,
    )
    context.log.info(core.describe_loaded(loaded))
    return dg.Output(loaded, metadata=core.loading_metadata(loaded))


@dg.graph_asset(partitions_def=monthly_partitions, group_name="statements")
def loaded_statements(scheduled_statements: ScheduledMonth) -> core.LoadedMonth:
    """The month's statements written to the DynamoDB table the statement API reads."""
    tasks = start_loaders(scheduled_statements)
    results = tasks.map(load_statements).collect()
    return finish_load(results, tasks.collect())
