"""The import window of one run: reconcile, size and make the raise, then release it.

`open_window` runs before the loaders start (scheduling knows the month's size by then):
first the reconciler (raises whose run is gone or expired are restored), then, under `raise`
or `on_demand`, the capacity the month needs within the target (rules/capacity_window.py) is
asked for and waited for. `close_window` releases this run's hold; the last holder restores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from statement_pipeline.aws import capacity, scaler
from statement_pipeline.aws.table import Capacity, describe_capacity
from statement_pipeline.rules.capacity_lead import estimated_rows, lead_holder
from statement_pipeline.rules.capacity_plan import (
    BATCH_ITEMS,
    DEFAULT_CALL_MS,
    READ_UNIT_BYTES,
    sample_item_bytes,
)
from statement_pipeline.rules.capacity_window import (
    PRICES,
    UPDATING_ESTIMATE_SECONDS,
    Current,
    MonthLoad,
    on_demand_cost,
    plan_raise,
    provisioned_cost,
)
from statement_pipeline.rules.names import CapacitySettings
from statement_pipeline.rules.write_budget import write_units


@dataclass
class WindowReport:
    """What the window did: the policy, capacity before and granted, waits, what to say."""

    policy: str
    before: Capacity
    granted: Capacity
    waited: float = 0.0
    opened_at: float = field(default_factory=time.time)
    raised: bool = False
    messages: list[str] = field(default_factory=list)
    units: int = 0
    read_units: float = 0.0
    scaled: bool = False  # the raise moved Application Auto Scaling targets

    def cost(self, closed_at: float) -> float:
        """USD the table's capacity cost while the window held it (PRICES' region and date)."""
        if not self.granted.provisioned:
            return on_demand_cost(self.units, self.read_units)
        seconds = max(0.0, closed_at - self.opened_at)
        return provisioned_cost(
            self.granted.write_units or 0, self.granted.read_units or 0, seconds
        )

    def text(self, closed_at: float) -> str:
        shown = capacity.spec(self.granted)
        return (
            f"policy {self.policy}: {capacity.spec(self.before)} -> {shown} granted, "
            f"{self.waited:.1f} s waiting for ACTIVE, about ${self.cost(closed_at):.4f} of "
            f"capacity for the window ({PRICES.region} list prices, {PRICES.listed}). "
            + " ".join(self.messages)
        )


def month_load(records: int, item_bytes: int, writer_rate: float) -> MonthLoad:
    """The month's write units and the read units of its read-back (strongly consistent)."""
    return MonthLoad(
        write_units=records * write_units(item_bytes),
        read_units=records * item_bytes / READ_UNIT_BYTES,
        writer_rate=writer_rate,
    )


def writer_rate(loaders: int) -> float:
    """The loaders' own speed as the planner assumes it: 25 items a call, one call at a time."""
    return loaders * BATCH_ITEMS * 1000 / DEFAULT_CALL_MS


def capacity_ask(
    settings: CapacitySettings, load: MonthLoad, before: Capacity
) -> tuple[Capacity, Capacity, tuple[str, ...]]:
    """What a run asks of a provisioned table: the capacity it wants (a raise, or on demand),
    the raise (also on_demand's fallback when the day's switches are spent), the plan's notes."""
    plan = plan_raise(
        load,
        Current.idle(before.write_units or 1, before.read_units or 1),
        target_seconds=settings.target_seconds,
        max_wcu=settings.max_wcu,
    )
    raise_to = Capacity("PROVISIONED", plan.wcu, plan.rcu)
    want = raise_to if settings.policy == "raise" else Capacity(capacity.ON_DEMAND, None, None)
    return want, raise_to, plan.notes


def planned_calls(
    ddb: Any, table: str, settings: CapacitySettings, load: MonthLoad, aas: Any | None = None
) -> list[str]:
    """The capacity calls an import of `load` would make now, for the dry run (reads only:
    DescribeTable, ListTagsOfResource and DescribeScalableTargets, none at all under keep)."""
    if settings.policy == "keep":
        return ["capacity policy keep: no UpdateTable, no tag call"]
    before = describe_capacity(ddb, table)
    held = capacity.read_raise(ddb, capacity.table_arn(ddb, table))
    lines = [
        f"capacity policy {settings.policy}, target {settings.target_seconds} s: {table} at "
        f"{capacity.spec(before)}"
    ]
    if held is not None:
        lines.append(
            f"a raise is in force ({capacity.spec(held.original)} -> "
            f"{capacity.spec(held.raised)}, {len(held.holders)} run(s), expires "
            f"{held.expires:%Y-%m-%d %H:%M} UTC): the reconciler restores it first if its runs "
            "are over and it is not changed; else the run joins it"
        )
    original = held.original if held else before
    if not original.provisioned:
        return [*lines, "the table is on demand: no UpdateTable"]
    want, raise_to, notes = capacity_ask(settings, load, original)
    scaled = scaler.planned(aas, table, raise_to) if aas is not None and held is None else None
    if scaled and scaled[0].endswith("no UpdateTable"):
        return [*lines, *scaled, *notes]
    lines += scaled or []
    target = want
    if want.provisioned:
        extra = (want.write_units or 0) - (original.write_units or 0)
        extra_rcu = (want.read_units or 0) - (original.read_units or 0)
        holders = {**(held.holders if held else {}), "this run": (extra, extra_rcu)}
        target = capacity.shared_raise(original, holders, settings.max_wcu)
    if capacity.same(target, before):
        return [*lines, f"no UpdateTable: {capacity.spec(before)} writes the month in time", *notes]
    lines += [
        f"TagResource {table}: original {capacity.spec(original)}, raised "
        f"{capacity.spec(target)}, this run, expiry (the run's deadline + 2 x "
        f"{UPDATING_ESTIMATE_SECONDS:.0f} s)",
        f"UpdateTable {table}: {capacity.spec(before)} -> {capacity.spec(target)}, then "
        "DescribeTable until ACTIVE",
    ]
    if not want.provisioned:
        lines.append(
            "if the 4 switches to on-demand of 24 hours are spent (LimitExceededException): "
            f"UpdateTable {table} -> {capacity.spec(raise_to)} instead"
        )
    lines.append(
        f"after the month's writes: UpdateTable {table} -> {capacity.spec(original)} (a "
        "decrease the day's quota refuses is retried by the reconciler), UntagResource"
    )
    return [*lines, *notes]


def open_window(
    ddb: Any,
    table: str,
    run_id: str,
    settings: CapacitySettings,
    load: MonthLoad,
    *,
    running: Callable[[str], bool],
    hold_seconds: float,
    wait: Callable[[], float] | None = None,
    process: capacity.Process | None = None,
    aas: Any | None = None,
    adopt: str | None = None,
) -> WindowReport:
    """Reconcile, then raise (or switch) the table for this run's month; keep: nothing.
    `process`: where the run runs, when known (the reconciler restores a dead one's raise);
    `aas`: an Application Auto Scaling client (a scaled table's targets are moved instead);
    `adopt`: the holder of a raise made ahead for this month (rules/capacity_lead.py)."""
    before = describe_capacity(ddb, table)
    report = WindowReport(settings.policy, before, before, units=load.write_units)
    report.read_units = load.read_units
    if settings.policy == "keep":
        return report
    waiter = wait or (lambda: capacity.wait_active(ddb, table))
    restored = capacity.reconcile(ddb, table, running, wait=waiter)
    if aas is not None:
        unscaled = scaler.reconcile(ddb, aas, table, running)
        if unscaled is not None:
            report.messages.append(f"reconciler: {unscaled.message}")
    if restored is not None:
        report.messages.append(f"reconciler: {restored.message}")
        before = report.before = report.granted = restored.capacity
    if not before.provisioned:
        report.messages.append("the table is on demand: nothing to change")
        return report
    want, raise_to, notes = capacity_ask(settings, load, before)
    report.messages.extend(notes)
    expires = datetime.now(UTC) + timedelta(seconds=hold_seconds + 2 * UPDATING_ESTIMATE_SECONDS)
    found, note = scaler.find(aas, table) if aas is not None else ({}, None)
    report.messages.extend([note] if note else [])
    if found:
        # on_demand too: a scaled table cannot switch without deregistering its targets.
        outcome = scaler.acquire(
            ddb,
            aas,
            table,
            run_id,
            raise_to,
            found,
            max_wcu=settings.max_wcu,
            expires=expires,
            wait=waiter,
            process=process,
            adopt=adopt,
        )
        report.scaled = True
    else:
        outcome = capacity.acquire(
            ddb,
            table,
            run_id,
            want,
            max_wcu=settings.max_wcu,
            expires=expires,
            wait=waiter,
            fallback=raise_to,
            process=process,
            adopt=adopt,
        )
    report.granted, report.waited, report.raised = outcome.capacity, outcome.waited, True
    report.opened_at = time.time() - outcome.waited
    report.messages.append(outcome.message)
    return report


def close_window(
    ddb: Any,
    table: str,
    run_id: str,
    report: WindowReport,
    wait: Callable[[], float] | None = None,
    aas: Any | None = None,
) -> capacity.Outcome | None:
    """Release this run's hold (the last holder restores); None when nothing was held."""
    if not report.raised:
        return None
    if report.scaled and aas is not None:
        return scaler.release(ddb, aas, table, [run_id])
    waiter = wait or (lambda: capacity.wait_active(ddb, table))
    return capacity.release(ddb, table, [run_id], wait=waiter)


def open_lead(
    ddb: Any,
    table: str,
    month: str,
    settings: CapacitySettings,
    month_bytes: int,
    *,
    loaders: int,
    hold_seconds: float,
    running: Callable[[str], bool],
    aas: Any | None = None,
) -> WindowReport:
    """The raise for `month` made ahead of its import, sized from its files' bytes and held
    under `lead-<month>` (adopted by the import, else restored once expired). The UPDATING is
    not waited for: passing during the lead is its point."""
    load = month_load(estimated_rows(month_bytes), sample_item_bytes(), writer_rate(loaders))
    return open_window(
        ddb,
        table,
        lead_holder(month),
        settings,
        load,
        running=running,
        hold_seconds=hold_seconds,
        wait=lambda: 0.0,
        aas=aas,
    )
