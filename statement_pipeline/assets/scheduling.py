"""Stage 1: validate the month's CSV files in S3 and enqueue their records on SQS."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from statement_pipeline.assets.catalog import month_asset
from statement_pipeline.aws import schedule_report
from statement_pipeline.aws import scheduling as core
from statement_pipeline.aws.month_reads import (
    MonthRead,
    MonthReader,
    describe_read,
    read_budget,
    stored_versions,
)
from statement_pipeline.aws.s3_files import list_month_files
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.metadata import FILE_COLUMNS, READ_COLUMNS, links, rejects_metadata, table
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SQSResource,
    StatementFilesResource,
)
from statement_pipeline.rules.month_plan import (
    FileDecision,
    FileRef,
    FileScan,
    MonthPlan,
    decide_writes,
    stale_items,
)


@dataclass(frozen=True)
class FileGroup:
    """Files one scheduling op handles."""

    index: int
    files: list[FileRef]
    started: float


@dataclass(frozen=True)
class ScannedGroup:
    group: FileGroup
    scans: list[FileScan]


@dataclass(frozen=True)
class EnqueueTask:
    group: FileGroup
    plan: MonthPlan
    decisions: list[FileDecision]
    # The group's files that the table does not hold as current: only these are enqueued.
    keys: list[str]
    stale_items: int
    # The scheduling read of the month (what the table held before this import wrote).
    month_read: MonthRead


@dg.op(out=dg.DynamicOut(FileGroup))
def discover_statement_files(
    context: dg.OpExecutionContext,
    statement_files: StatementFilesResource,
    import_tuning: ImportTuning,
) -> Iterator[dg.DynamicOutput[FileGroup]]:
    """List the month's .csv files and split them into groups for parallel ops."""
    started = time.time()
    month = context.partition_key
    listing = list_month_files(
        statement_files.get_client(),
        statement_files.bucket,
        statement_files.normalized_prefix,
        month,
    )
    for key, reason in listing.ignored:
        context.log.warning(f"ignored {key}: {reason}")
    if not listing.files:
        raise dg.Failure(
            f"no statement files for {month} under "
            f"s3://{statement_files.bucket}/{statement_files.normalized_prefix}{month}/"
        )
    context.log.info(
        f"{month}: {len(listing.files)} files, {sum(f.size for f in listing.files):,} bytes"
    )
    groups = core.split_evenly(listing.files, import_tuning.file_ops)
    for index, files in enumerate(groups):
        yield dg.DynamicOutput(FileGroup(index, files, started), mapping_key=f"files_{index}")


@dg.op
def validate_statement_files(
    context: dg.OpExecutionContext,
    group: FileGroup,
    statement_files: StatementFilesResource,
    import_tuning: ImportTuning,
) -> ScannedGroup:
    """Validate every row of the group's files; a file-level problem fails the month here."""
    scans = core.scan_files(
        statement_files.get_client(),
        statement_files.bucket,
        context.partition_key,
        group.files,
        threads=import_tuning.files_in_parallel,
        report=lambda progress: context.log.info(progress.line()),
        report_every=import_tuning.progress_seconds,
    )
    for scan in scans:
        context.log.info(
            f"{scan.ref.key}: {scan.rows} rows, {scan.valid_count} valid, "
            f"{len(scan.rejects)} rejected"
        )
    return ScannedGroup(group, scans)


@dg.op(out=dg.DynamicOut(EnqueueTask))
def plan_month_import(
    context: dg.OpExecutionContext,
    scanned: list[ScannedGroup],
    statement_files: StatementFilesResource,
    statement_table: DynamoDBResource,
    import_tuning: ImportTuning,
) -> Iterator[dg.DynamicOutput[EnqueueTask]]:
    """Resolve duplicates, write the rejects objects, find what the table lacks, hand it out."""
    month = context.partition_key
    plan = core.plan_and_report(
        statement_files.get_client(),
        statement_files.bucket,
        statement_files.normalized_prefix,
        month,
        [scan for group in scanned for scan in group.scans],
    )
    for line in schedule_report.describe_plan(plan):
        context.log.info(line)
    table_name = statement_table.table_name
    # Strongly consistent: when it finds every file current, nothing is written and this is
    # the import's only read of the month, which the count check reuses as its proof.
    budget = read_budget(
        describe_capacity(statement_table.get_client(), table_name),
        consistent=True,
        share=import_tuning.read_share,
    )
    reader = MonthReader(statement_table.get_read_client(), table_name, budget)
    found = stored_versions(reader, month, set(plan.conflict_digests))
    context.log.info(describe_read(month, "before writing", found.read))
    stored = found.versions
    decisions = decide_writes(plan, stored, full_reimport=import_tuning.full_reimport)
    stale = stale_items(plan, stored)
    for decision in decisions:
        verb = "write" if decision.write else "skip"
        context.log.info(f"{decision.key}: {verb} {decision.rows} rows ({decision.reason})")
    writes = {d.key for d in decisions if d.write}
    for group in sorted(scanned, key=lambda g: g.group.index):
        keys = [s.ref.key for s in group.scans if s.ref.key in writes]
        yield dg.DynamicOutput(
            EnqueueTask(group.group, plan, decisions, keys, stale, found.read),
            mapping_key=f"files_{group.group.index}",
        )


@dg.op
def enqueue_statement_files(
    context: dg.OpExecutionContext,
    task: EnqueueTask,
    statement_files: StatementFilesResource,
    statement_queue: SQSResource,
    import_tuning: ImportTuning,
) -> core.EnqueueResult:
    """Send the planned records of the group's files to SQS, many records per message."""
    sqs = statement_queue.get_client()
    queue_url, _ = statement_queue.queue_urls(sqs)
    result = core.enqueue_files(
        s3=statement_files.get_client(),
        bucket=statement_files.bucket,
        sqs=sqs,
        queue_url=queue_url,
        plan=task.plan,
        keys=task.keys,
        records_per_message=import_tuning.records_per_message,
        threads=import_tuning.files_in_parallel,
        report=lambda progress: context.log.info(progress.line()),
        report_every=import_tuning.progress_seconds,
    )
    context.log.info(
        f"enqueued {result.records} records in {result.messages} messages "
        f"({result.calls} SendMessageBatch calls)"
    )
    return result


@dg.op
def summarize_scheduling(
    context: dg.OpExecutionContext,
    results: list[core.EnqueueResult],
    tasks: list[EnqueueTask],
    statement_files: StatementFilesResource,
) -> dg.Output[core.ScheduledMonth]:
    """Combine the groups' results into the month's scheduling summary."""
    plan, decisions = tasks[0].plan, tasks[0].decisions
    started = min(t.group.started for t in tasks)
    summary = core.summarize(
        plan,
        decisions,
        results,
        started_at=started,
        seconds=time.time() - started,
        stale_items=tasks[0].stale_items,
        month_read=tasks[0].month_read,
    )
    described = schedule_report.describe_scheduled(summary)
    context.log.info(described)
    files = schedule_report.file_rows(summary, statement_files.bucket)
    sources = {row["file"]: row["source"] for row in files}
    rejects = summary.rejects_urls
    metadata = {
        "summary": dg.MetadataValue.text(described),
        **schedule_report.scheduling_metadata(summary),
        "file_detail": table(files, FILE_COLUMNS),
        "month_read": table(schedule_report.read_rows(summary), READ_COLUMNS),
        **rejects_metadata(summary.reject_reasons, rejects, statement_files.browser_urls(rejects)),
        **links("source_file", statement_files.browser_urls(sources)),
    }
    return dg.Output(summary, metadata=metadata)


@month_asset(
    kinds={"s3", "sqs"},
    description=(
        "A month's statement files, every row validated, and its statements queued on SQS.\n\n"
        "Reads `s3://<bucket>/<prefix><YYYY-MM>/*.csv` (the partition's month folder), "
        "resolves duplicates across the month, writes each file's rejected rows to "
        "`rejects/<YYYY-MM>/<file>.rejects.csv`, and sends the statements the table does not "
        "hold yet to the queue, many a message. Metadata: the month's figures, a table of "
        "its files, links to the files and to the rejects objects."
    ),
)
def scheduled_statements() -> core.ScheduledMonth:
    """The month's statement records, validated from the S3 files and queued on SQS."""
    scanned = discover_statement_files().map(validate_statement_files).collect()
    tasks = plan_month_import(scanned)
    results = tasks.map(enqueue_statement_files).collect()
    return summarize_scheduling(results, tasks.collect())
