"""The loading stage: the run's write budget, loader workers in threads, finishing the month."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

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
    count_current,
    delete_statements,
    month_items,
)
from statement_pipeline.rules import tally
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.month_plan import id_digest
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
    )


def describe_plan(p: LoadPlan) -> str:
    spread = (
        f"{p.loaders} loaders in {p.loader_ops} op(s), {p.slots} writer slot(s) ({p.slots_source})"
    )
    table = (
        f"provisioned {p.write_capacity} WCU"
        if p.write_capacity is not None
        else f"on-demand ({p.billing_mode})"
    )
    pace = (
        f"capped at {p.cap:,.0f} units/s per op (target_utilisation)"
        if p.cap is not None
        else "unpaced while the table grants burst, settling at "
        f"{p.floor:,.0f} units/s per op when throttled"
    )
    return f"{spread}; {table}; {pace}"


@dataclass
class LoaderResult:
    """What one loader op (all of its worker threads) did."""

    stats: LoadStats
    budget: BudgetState
    seconds: float


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
) -> LoaderResult:
    """Run `workers` drainers in threads sharing this op's write budget."""
    backoff = backoff or Backoff()
    started = time.monotonic()
    budget = plan.budget()
    stats = LoadStats(workers=workers)
    sources = SourceVersions(s3, bucket)
    stop = threading.Event()
    # Only the records this import enqueued count towards its own month being done.
    progress = MonthProgress(month.period, month.queued, month.queued_sources)

    def month_complete() -> bool:
        stats.bump(other_calls=1)
        return count_current(dynamodb, table, month.period, month.sources) >= month.expected

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
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loader") as pool:
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()
    stats.bump(other_calls=sources.calls)
    state = budget.state()
    stats.bump(paced_seconds=state.waited_seconds)
    return LoaderResult(stats, state, round(time.monotonic() - started, 3))


def describe_result(index: int, r: LoaderResult) -> str:
    s, b = r.stats, r.budget
    rate = (
        "unpaced"
        if b.rate is None
        else f"{b.rate:,.0f} units/s" + (" (settled)" if b.settled else "")
    )
    return (
        f"loader op {index} ({s.workers} workers): {s.items} items from {s.messages} messages "
        f"in {r.seconds:.1f}s ({s.calls} BatchWriteItem calls, {s.throttled_calls} throttled, "
        f"{b.cuts} rate cuts, ended {rate}; {s.superseded} superseded, {s.poison} poison, "
        f"{s.paced_seconds:.1f}s paced)"
    )


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
    stats: LoadStats
    settled_ops: int = 0
    rate_cuts: int = 0
    failures: list[str] = field(default_factory=list)


def finish(
    dynamodb: Any,
    dynamodb_writes: Any,
    table: str,
    s3: Any,
    bucket: str,
    month: ScheduledMonth,
    results: Sequence[LoaderResult],
    *,
    plan: LoadPlan,
    started: float,
) -> LoadedMonth:
    """Converge the month: remove what no current file holds.

    Stale items can only exist if the month had items before this run (an earlier version of
    its files) or ids turned out conflicting; then the month is read, stale items deleted
    and the current ones counted. Otherwise the loaders wrote into an empty month from a
    queue they drained, and the blocking count check proves the result.
    """
    # Never remove items on behalf of files that a newer import has already replaced.
    ensure_current(SourceVersions(s3, bucket), month)
    stats = tally.total(LoadStats, (r.stats for r in results))
    removed = 0
    in_table: int | None = None
    # Nothing written and nothing stale: the scheduler's read of the table already proved
    # every file current, and the count check proves the month again.
    proven = month.queued == 0 and month.stale_items == 0 and not month.conflict_digests
    if (month.had_items or month.conflict_digests) and not proven:
        conflicts = set(month.conflict_digests)
        current = 0
        stale: list[str] = []
        for sid, key, etag in month_items(dynamodb, table, month.period):
            if month.sources.get(key) != etag or id_digest(sid) in conflicts:
                stale.append(sid)
            else:
                current += 1
        if stale:
            deleted = delete_statements(
                dynamodb_writes, table, month.period, stale, plan.budget(), Backoff()
            )
            removed = deleted.deleted
            stats.bump(calls=deleted.calls)
        in_table = current
        if current != month.expected:
            raise LoadIncomplete(
                f"{month.period}: {current} current statements in the table after loading, "
                f"expected {month.expected}; unwritten records stay in the queue or its DLQ"
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
        settled_ops=sum(1 for r in results if r.budget.settled),
        rate_cuts=sum(r.budget.cuts for r in results),
        failures=list(stats.failures),
    )


def describe_loaded(m: LoadedMonth) -> str:
    s = m.stats
    return (
        f"{m.period}: {s.items} items written by {s.workers} loaders in {m.seconds:.1f}s, "
        f"{s.throttled_calls} of {s.calls} write calls throttled, {m.stale_removed} stale items "
        f"removed, {s.poison} poison messages moved to the DLQ, {s.superseded} superseded "
        "messages skipped"
    )


def loading_metadata(m: LoadedMonth) -> dict[str, Any]:
    s = m.stats
    return {
        **tally.as_metadata(s),
        "items_written": s.items,
        "api_calls": s.api_calls,
        "expected": m.expected,
        "stale_removed": m.stale_removed,
        "seconds": m.seconds,
        "records_per_second": round(s.items / m.seconds, 1) if m.seconds > 0 else 0.0,
        "loaders": s.workers,
        "throttled_call_share": round(s.throttled_calls / s.calls, 4) if s.calls else 0.0,
        "rate_cuts": m.rate_cuts,
        "settled_ops": m.settled_ops,
        # moto and DynamoDB disagree on ReturnConsumedCapacity, so both are shown: the
        # estimate comes from item sizes (1 unit per started KB), the other from the service.
        "consumed_wcu_estimated": s.units_granted,
        "consumed_wcu_reported": round(s.units_reported, 1),
        "billing_mode": m.billing_mode,
        "write_capacity": m.write_capacity if m.write_capacity is not None else 0,
    }
