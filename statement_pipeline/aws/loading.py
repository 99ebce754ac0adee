"""The loading stage: the run's write budget, loader workers in threads, finishing the month."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.aws.month_reads import (
    MonthRead,
    MonthReader,
    month_records,
    read_budget,
    stored_versions,
)
from statement_pipeline.aws.queue_drainer import (
    Drainer,
    DrainSettings,
    LoadIncomplete,
    LoadStats,
    MonthProgress,
    Superseded,
)
from statement_pipeline.aws.s3_files import SourceVersions
from statement_pipeline.aws.scheduling import ScheduledMonth
from statement_pipeline.aws.table import (
    BatchWriter,
    Capacity,
    delete_statements,
    describe_capacity,
)
from statement_pipeline.rules import tally
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.month_figures import FiguresFold, MonthFigures
from statement_pipeline.rules.progress import PROGRESS_SECONDS, Progress, reporting
from statement_pipeline.rules.write_budget import BudgetState, WriteBudget, per_op_share

# What a new on-demand table sustains without throttling (developer guide, on-demand
# capacity mode): the settle point of the budget when DescribeTable shows no warm throughput.
ON_DEMAND_NEW_TABLE_WCU = 4_000


@dataclass(frozen=True)
class LoadPlan:
    """The run's loaders and the write budget of each loader op.

    The sustained rate (provisioned WCU, or an on-demand table's warm throughput) is shared by
    every loader op that may write at once, in this run and in concurrent ones: `slots` is the
    table-write pool's limit read from the Dagster instance. Each op starts unpaced (spending
    burst credits while the table grants them) and settles at `floor` when throttled.
    """

    loaders: int
    loader_ops: int
    billing_mode: str
    write_capacity: int | None
    slots: int
    slots_source: str
    floor: float | None
    cap: float | None
    # The table's capacity as DescribeTable showed it (the finish step's read budget).
    capacity: Capacity | None = None

    def workers_of(self, op_index: int) -> int:
        """Worker threads of loader op `op_index`: the loaders spread evenly over the ops."""
        base, extra = divmod(self.loaders, self.loader_ops)
        return base + (1 if op_index < extra else 0)

    def budget(self) -> WriteBudget:
        """A fresh budget for one loader op (its threads share it)."""
        return WriteBudget(floor=self.floor, cap=self.cap)


def plan_loading(
    capacity: Capacity,
    *,
    loaders: int,
    loader_ops: int,
    pool_slots: int | None,
    target_utilisation: float | None,
) -> LoadPlan:
    """Split the table's sustained rate over the writers that may run at once."""
    ops = max(1, min(loader_ops, loaders))
    if pool_slots is None:
        slots, source = ops, "no pool limit: this run's loader ops"
    else:
        slots, source = max(1, pool_slots), "the statement_table_writes pool limit"
    sustained: float | None
    if capacity.provisioned:
        sustained = capacity.write_units
    else:
        sustained = capacity.warm_write_units or ON_DEMAND_NEW_TABLE_WCU
    if target_utilisation is not None and not 0 < target_utilisation <= 1:
        raise ValueError("target utilisation must be in (0, 1]")
    cap = (
        per_op_share(sustained * target_utilisation, slots)
        if sustained is not None and target_utilisation is not None
        else None
    )
    return LoadPlan(
        loaders=loaders,
        loader_ops=ops,
        billing_mode=capacity.billing_mode,
        write_capacity=capacity.write_units,
        slots=slots,
        slots_source=source,
        floor=per_op_share(sustained, slots),
        cap=cap,
        capacity=capacity,
    )


@dataclass
class LoaderResult:
    """What one loader op (all of its worker threads) did, and where it ran."""

    stats: LoadStats
    budget: BudgetState
    seconds: float
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


def run_loader_op(
    *,
    workers: int,
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    dynamodb: Any,
    dynamodb_writes: Any,
    table: str,
    s3: Any,
    bucket: str,
    month: ScheduledMonth,
    plan: LoadPlan,
    drain: DrainSettings,
    backoff: Backoff | None = None,
    report: Callable[[Progress], None] | None = None,
    report_every: float = PROGRESS_SECONDS,
) -> LoaderResult:
    """Run `workers` drainers in threads sharing this op's write budget.

    `report`, when given, gets this op's progress on the month every `report_every` seconds.
    `dynamodb` is the month reader's client (`clients.READ_ATTEMPTS`), for the rare read of
    the month while other runs hold its messages.
    """
    backoff = backoff or Backoff()
    started = time.monotonic()
    budget = plan.budget()
    stats = LoadStats(workers=workers)
    sources = SourceVersions(s3, bucket)
    stop = threading.Event()
    # Only the records this import enqueued count towards its own month being done.
    progress = MonthProgress(month.period, month.queued, month.queued_sources, workers)
    sources_of = month.sources.get

    def month_complete() -> bool:
        # Only when messages of other runs may be in flight (this op's own are counted by
        # MonthProgress): eventually consistent, at half the units, and paced, because it
        # steers and proves nothing (the finish step's strong read proves the month).
        capacity = plan.capacity or describe_capacity(dynamodb, table)
        reader = MonthReader(dynamodb, table, read_budget(capacity, consistent=False))
        found = stored_versions(reader, month.period)
        stats.bump(other_calls=found.read.calls)
        current = sum(n for (key, etag), n in found.versions.items() if sources_of(key) == etag)
        return current >= month.expected

    def work() -> None:
        drainer = Drainer(
            sqs=sqs,
            queue_url=queue_url,
            dlq_url=dlq_url,
            writer=BatchWriter(dynamodb_writes, table, budget, backoff, stats),
            sources=sources,
            month_complete=month_complete,
            settings=drain,
            backoff=backoff,
            stop=stop,
            progress=progress,
            stats=stats,
        )
        try:
            drainer.drain()
        except BaseException:
            # Fail the op now: the other workers stop instead of idling until this worker's
            # messages become visible again (a denied write would otherwise look like a hang).
            stop.set()
            raise

    if month.queued == 0:
        # Nothing of this month was enqueued: the table holds every file as current.
        return LoaderResult(stats, budget.state(), round(time.monotonic() - started, 3))
    # The op's share of the month: the loader threads of all ops drain one queue evenly.
    share = month.queued * workers // plan.loaders if plan.loader_ops > 1 else month.queued

    def snapshot() -> Progress:
        return Progress(
            f"loading {month.period}",
            "statements",
            progress.records,
            max(share, progress.records),
            time.monotonic() - started,
            refused=stats.throttled_calls,
            attempts=stats.calls,
            attempts_label="write calls",
        )

    with (
        reporting(report, report_every, snapshot),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loader") as pool,
    ):
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()
    stats.bump(other_calls=sources.calls)
    state = budget.state()
    stats.bump(paced_seconds=state.waited_seconds)
    return LoaderResult(stats, state, round(time.monotonic() - started, 3))


def ensure_current(sources: SourceVersions, month: ScheduledMonth) -> None:
    """Raise Superseded when a file of the month is no longer the version this run read."""
    sources.forget()
    changed = [k for k, etag in month.sources.items() if not sources.is_current(k, etag)]
    if changed:
        raise Superseded(
            f"{len(changed)} file(s) of {month.period} changed during the run (e.g. {changed[0]});"
            " the import of the new version converges the month"
        )


@dataclass
class LoadedMonth:
    """The loading asset's value: the month as it now stands in the table."""

    period: str
    expected: int
    rows: int
    rejected: int
    sources: dict[str, str]
    in_table: int | None
    stale_removed: int
    seconds: float
    billing_mode: str
    write_capacity: int | None
    # What this run's loaders did, for every month they served (the queue is shared).
    stats: LoadStats
    # The month's own figures, read from its items: whichever loaders wrote them.
    figures: MonthFigures = field(default_factory=MonthFigures)
    # Carried from scheduling for the rejects check: reasons with counts, rejects objects.
    reject_reasons: dict[str, int] = field(default_factory=dict)
    rejects_urls: dict[str, str] = field(default_factory=dict)
    settled_ops: int = 0
    rate_cuts: int = 0
    failures: list[str] = field(default_factory=list)
    # The import's latest strongly consistent read of the month, which `in_table` comes from:
    # the finish step's, or the scheduling read when nothing was written or stale. The count
    # check reuses it when it can prove nothing has written the month since (checks.py).
    month_read: MonthRead | None = None
    month_read_by: str = ""
    # Reads this step made itself (0 when the scheduling read proved the month).
    finish_read: MonthRead | None = None
    read_capacity: int | None = None
    # The run that made `month_read` (the count check reuses it only in that run).
    run_id: str = ""


def finish(
    reader: MonthReader,
    dynamodb_writes: Any,
    table: str,
    s3: Any,
    bucket: str,
    month: ScheduledMonth,
    results: Sequence[LoaderResult],
    *,
    plan: LoadPlan,
    started: float,
    run_id: str = "",
) -> LoadedMonth:
    """Read the month back: remove what no current file holds, prove the rest, measure it.

    One strongly consistent read of the month's items (`reader`, paced by the read budget)
    gives the stale items to delete, the current count, and the month's own import figures
    (`rules/month_figures.py`), whichever run's loaders wrote them. It must be strongly
    consistent: it decides which items are stale (an eventually consistent read could show an
    item as it was before a current version overwrote it, and delete it) and it is the proof
    the count check reuses.
    """
    # Never remove items on behalf of files that a newer import has already replaced.
    ensure_current(SourceVersions(s3, bucket), month)
    stats = tally.total(LoadStats, (r.stats for r in results))
    removed = 0
    figures = MonthFigures()
    # Nothing written and nothing stale: the scheduling read of the table (strongly
    # consistent) already proved every file current; it stands as the month's read.
    proven = month.queued == 0 and month.stale_items == 0 and not month.conflict_digests
    proof, read_by, own_read = month.month_read, "scheduling (nothing written)", None
    in_table = proof.items if proven and proof is not None else None
    if not proven or proof is None:
        fold = FiguresFold(month.sources, set(month.conflict_digests), month.started_at)
        own_read = month_records(reader, month.period, fold.add)
        proof, read_by, figures = own_read, "finish_load", fold.figures
        if figures.stale_ids:
            deleted = delete_statements(
                dynamodb_writes, table, month.period, figures.stale_ids, plan.budget(), Backoff()
            )
            removed = deleted.deleted
            stats.bump(calls=deleted.calls)
        # What the month holds now: what was read, less what this step deleted since.
        in_table = own_read.items - removed
        if figures.current != month.expected:
            raise LoadIncomplete(
                f"{month.period}: {figures.current} current statements in the table after "
                f"loading, expected {month.expected}; unwritten records stay in the queue or "
                "its DLQ"
            )
    return LoadedMonth(
        period=month.period,
        expected=month.expected,
        rows=month.rows,
        rejected=month.rejected,
        sources=dict(month.sources),
        in_table=in_table,
        stale_removed=removed,
        seconds=round(time.time() - started, 3),
        billing_mode=plan.billing_mode,
        write_capacity=plan.write_capacity,
        stats=stats,
        figures=figures,
        reject_reasons=dict(month.reject_reasons),
        rejects_urls=dict(month.rejects_urls),
        settled_ops=sum(1 for r in results if r.budget.settled),
        rate_cuts=sum(r.budget.cuts for r in results),
        failures=list(stats.failures),
        month_read=proof,
        month_read_by=read_by,
        finish_read=own_read,
        read_capacity=plan.capacity.read_units if plan.capacity is not None else None,
        run_id=run_id,
    )
