"""Stage 2: loaders drain the queue into DynamoDB at the rate the table grants."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from statement_pipeline.assets.catalog import month_asset
from statement_pipeline.aws import import_window, load_report, loading
from statement_pipeline.aws.month_reads import MonthReader, describe_read, read_budget
from statement_pipeline.aws.queue_drainer import DrainSettings
from statement_pipeline.aws.scheduling import ScheduledMonth
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.metadata import LOADER_COLUMNS, READ_COLUMNS, table
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SQSResource,
    StatementFilesResource,
)
from statement_pipeline.rules.capacity_lead import lead_holder
from statement_pipeline.rules.capacity_plan import sample_item_bytes
from statement_pipeline.sensors import run_is_running, run_process

# Loader ops of every run share this pool: its limit (dagster.yaml) is the number of loader
# ops that write to the table at once across runs, and each op's share of the table's
# sustained rate is that rate divided by the limit.
TABLE_WRITE_POOL = "statement_table_writes"


@dataclass(frozen=True)
class LoaderTask:
    """One loader op's share of the work."""

    index: int
    month: ScheduledMonth
    plan: loading.LoadPlan
    started: float
    # The capacity window this run opened (keep: the table as it was).
    window: import_window.WindowReport


def pool_slots(instance: dg.DagsterInstance) -> int | None:
    """The table-write pool's limit on this instance (None: the pool is unlimited)."""
    for limit in instance.event_log_storage.get_pool_limits():
        if limit.name == TABLE_WRITE_POOL:
            return limit.limit
    return instance.get_concurrency_config().pool_config.default_pool_limit


def drain_settings(tuning: ImportTuning) -> DrainSettings:
    return DrainSettings(
        max_messages=tuning.messages_per_receive,
        visibility_timeout=tuning.visibility_timeout_seconds,
        deadline_seconds=tuning.deadline_seconds,
    )


@dg.op(out=dg.DynamicOut(LoaderTask))
def start_loaders(
    context: dg.OpExecutionContext,
    scheduled: ScheduledMonth,
    statement_table: DynamoDBResource,
    import_tuning: ImportTuning,
) -> Iterator[dg.DynamicOutput[LoaderTask]]:
    """Open the capacity window, read the capacity granted and the pool's slots; give each
    loader op its budget."""
    started = time.time()
    ddb = statement_table.get_client()
    window = open_capacity_window(context, scheduled, statement_table, import_tuning)
    try:
        plan = loading.plan_loading(
            describe_capacity(ddb, statement_table.table_name),
            loaders=import_tuning.loaders,
            loader_ops=import_tuning.loader_ops,
            pool_slots=pool_slots(context.instance),
            target_utilisation=import_tuning.target_utilisation,
        )
    except BaseException:
        import_window.close_window(
            ddb,
            statement_table.table_name,
            context.run.run_id,
            window,
            aas=statement_table.get_autoscaling_client(),
        )
        raise
    context.log.info(load_report.describe_plan(plan))
    for index in range(plan.loader_ops):
        yield dg.DynamicOutput(
            LoaderTask(index, scheduled, plan, started, window), mapping_key=f"loader_{index}"
        )


def open_capacity_window(
    context: dg.OpExecutionContext,
    scheduled: ScheduledMonth,
    statement_table: DynamoDBResource,
    import_tuning: ImportTuning,
) -> import_window.WindowReport:
    """The reconciler, then the raise (or switch) this month needs under the policy."""
    writer_rate = import_window.writer_rate(import_tuning.loaders)
    window = import_window.open_window(
        statement_table.get_client(),
        statement_table.table_name,
        context.run.run_id,
        statement_table.capacity,
        import_window.month_load(scheduled.queued, sample_item_bytes(), writer_rate),
        running=lambda run_id: run_is_running(context.instance, run_id),
        hold_seconds=import_tuning.deadline_seconds,
        process=run_process(context.instance, context.run.run_id),
        aas=statement_table.get_autoscaling_client(),
        # A raise the lead schedule made ahead for this month becomes this run's.
        adopt=lead_holder(scheduled.period),
    )
    for message in window.messages:
        context.log.info(f"capacity: {message}")
    return window


@dg.op(pool=TABLE_WRITE_POOL)
def load_statements(
    context: dg.OpExecutionContext,
    task: LoaderTask,
    statement_files: StatementFilesResource,
    statement_queue: SQSResource,
    statement_table: DynamoDBResource,
    import_tuning: ImportTuning,
) -> dg.Output[loading.LoaderResult]:
    """Drain the queue into the table with this op's share of the loader workers."""
    sqs = statement_queue.get_client()
    queue_url, dlq_url = statement_queue.queue_urls(sqs)
    result = loading.run_loader_op(
        workers=task.plan.workers_of(task.index),
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        dynamodb=statement_table.get_read_client(),
        dynamodb_writes=statement_table.get_batch_write_client(),
        table=statement_table.table_name,
        s3=statement_files.get_client(),
        bucket=statement_files.bucket,
        month=task.month,
        plan=task.plan,
        drain=drain_settings(import_tuning),
        report=lambda progress: context.log.info(f"loader op {task.index}: {progress.line()}"),
        report_every=import_tuning.progress_seconds,
    )
    context.log.info(load_report.describe_result(task.index, result))
    for failure in result.stats.failures:
        context.log.warning(failure)
    # Where the op ran, and the share of the table it was given: with ops spread over
    # machines (Celery workers) this shows the spread and that every op got 1/slots.
    placement = {
        "host": result.host,
        "pid": result.pid,
        "pool_slots": task.plan.slots,
        "floor_units_per_second": task.plan.floor or 0.0,
        "items_written": result.stats.items,
    }
    return dg.Output(result, metadata=placement)


@dg.op
def finish_load(
    context: dg.OpExecutionContext,
    results: list[loading.LoaderResult],
    tasks: list[LoaderTask],
    statement_table: DynamoDBResource,
    statement_files: StatementFilesResource,
    import_tuning: ImportTuning,
) -> dg.Output[loading.LoadedMonth]:
    """Remove statements no current file holds and prove the month complete."""
    task = tasks[0]
    table_name = statement_table.table_name
    capacity = task.plan.capacity or describe_capacity(statement_table.get_client(), table_name)
    budget = read_budget(capacity, consistent=True, share=import_tuning.read_share)
    try:
        loaded = loading.finish(
            MonthReader(statement_table.get_read_client(), table_name, budget),
            statement_table.get_batch_write_client(),
            table_name,
            statement_files.get_client(),
            statement_files.bucket,
            task.month,
            results,
            plan=task.plan,
            started=task.started,
            run_id=context.run.run_id,
        )
    finally:
        # The month's writes are done (or failed): this run's hold on the raise ends here.
        restored = import_window.close_window(
            statement_table.get_client(),
            table_name,
            context.run.run_id,
            task.window,
            aas=statement_table.get_autoscaling_client(),
        )
        closed_at = time.time()
        if restored is not None:
            context.log.info(f"capacity: {restored.message}")
    context.log.info(load_report.describe_loaded(loaded))
    if loaded.finish_read is not None:
        context.log.info(describe_read(loaded.period, "after loading", loaded.finish_read))
    loaders = load_report.loader_rows(results, [t.index for t in tasks], loaded.period)
    metadata = {
        **load_report.loading_metadata(loaded),
        **load_report.capacity_metadata(task.window, closed_at, restored),
        "month_read": table(load_report.read_rows(loaded), READ_COLUMNS),
        "loaders": table(loaders, LOADER_COLUMNS),
    }
    return dg.Output(loaded, metadata=metadata)


@month_asset(
    kinds={"sqs", "dynamodb"},
    description=(
        "A month's statements written to the DynamoDB table the statement API reads.\n\n"
        "Loaders drain the queue into the table at the rate it grants (BatchWriteItem, 25 "
        "items a call), then the month is read back: statements no current file holds are "
        "removed, and the month's own figures (written in this import, write seconds, "
        "records per second, throttled writes, write units) come from its items. Metadata: "
        "those figures, and a table of this run's loader ops."
    ),
)
def loaded_statements(scheduled_statements: ScheduledMonth) -> loading.LoadedMonth:
    """The month's statements written to the DynamoDB table the statement API reads."""
    tasks = start_loaders(scheduled_statements)
    results = tasks.map(load_statements).collect()
    return finish_load(results, tasks.collect())
