"""Stage 2: loaders drain the queue into DynamoDB, paced to the table's write capacity."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from statement_pipeline.core import load as core
from statement_pipeline.core.loader import DrainSettings
from statement_pipeline.core.retry import Backoff
from statement_pipeline.core.schedule import ScheduledMonth
from statement_pipeline.core.table import month_has_items
from statement_pipeline.partitions import monthly_partitions
from statement_pipeline.resources import DynamoDBResource, SQSResource, StatementFilesResource

# Loader ops of every run share this pool: its limit (dagster.yaml) caps the loader ops that
# write to the table at once across runs, so a backfill cannot overrun the table's capacity.
TABLE_WRITE_POOL = "statement_table_writes"


class LoadingConfig(dg.Config):
    """How the month's records are loaded."""

    loaders: int = Field(
        default=4, ge=1, le=64, description="Loader workers draining the queue at once."
    )
    loader_ops: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Ops the loaders are spread over (threads within each). With the multiprocess "
            "executor, set it to `loaders` to run every loader in its own process."
        ),
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
    deadline_seconds: float = Field(
        default=3600.0, gt=0, description="Longest a loader works before the run fails."
    )


@dataclass(frozen=True)
class LoaderTask:
    """One loader op's share of the work."""

    index: int
    month: ScheduledMonth
    settings: core.LoaderSettings
    had_items_before: bool
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
    ddb = statement_table.get_client()
    table = statement_table.resolved_table_name()
    settings = core.plan_loaders(
        ddb,
        table,
        loaders=config.loaders,
        loader_ops=config.loader_ops,
        target_utilisation=config.target_utilisation,
        drain=DrainSettings(
            max_messages=config.messages_per_receive,
            visibility_timeout=config.visibility_timeout_seconds,
            deadline_seconds=config.deadline_seconds,
        ),
    )
    had_items = month_has_items(ddb, table, scheduled.period, Backoff())
    context.log.info(core.describe_settings(settings))
    for index in range(settings.loader_ops):
        yield dg.DynamicOutput(
            LoaderTask(index, scheduled, settings, had_items, started),
            mapping_key=f"loader_{index}",
        )


@dg.op(pool=TABLE_WRITE_POOL)
def load_statements(
    context: dg.OpExecutionContext,
    task: LoaderTask,
    statement_files: StatementFilesResource,
    statement_queue: SQSResource,
    statement_table: DynamoDBResource,
) -> core.LoaderResult:
    """Drain the queue into the table with this op's share of the loader workers."""
    sqs = statement_queue.get_client()
    queue_url, dlq_url = statement_queue.queue_urls(sqs)
    result = core.run_loader_op(
        workers=task.settings.workers_of(task.index),
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
    """Remove statements no current file holds and prove the month complete."""
    task = tasks[0]
    loaded = core.finish(
        statement_table.get_client(),
        statement_table.resolved_table_name(),
        statement_files.get_client(),
        statement_files.resolved_bucket(),
        task.month,
        results,
        settings=task.settings,
        had_items_before=task.had_items_before,
        started=task.started,
    )
    context.log.info(core.describe_loaded(loaded))
    return dg.Output(loaded, metadata=core.loading_metadata(loaded))


@dg.graph_asset(partitions_def=monthly_partitions, group_name="statements")
def loaded_statements(scheduled_statements: ScheduledMonth) -> core.LoadedMonth:
    """The month's statements written to the DynamoDB table the statement API reads."""
    tasks = start_loaders(scheduled_statements)
    results = tasks.map(load_statements).collect()
    return finish_load(results, tasks.collect())
