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

from statement_pipeline.aws import capacity
from statement_pipeline.aws.table import Capacity, describe_capacity
from statement_pipeline.rules.capacity_plan import READ_UNIT_BYTES
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
) -> WindowReport:
    """Reconcile, then raise (or switch) the table for this run's month; keep: nothing.
    `process`: where the run runs, when known (the reconciler restores a dead one's raise)."""
    before = describe_capacity(ddb, table)
    report = WindowReport(settings.policy, before, before, units=load.write_units)
    report.read_units = load.read_units
    if settings.policy == "keep":
        return report
    waiter = wait or (lambda: capacity.wait_active(ddb, table))
    restored = capacity.reconcile(ddb, table, running, wait=waiter)
    if restored is not None:
        report.messages.append(f"reconciler: {restored.message}")
        before = report.before = report.granted = restored.capacity
    if not before.provisioned:
        report.messages.append("the table is on demand: nothing to change")
        return report
    wcu, rcu = before.write_units or 1, before.read_units or 1
    plan = plan_raise(
        load,
        Current.idle(wcu, rcu),
        target_seconds=settings.target_seconds,
        max_wcu=settings.max_wcu,
    )
    report.messages.extend(plan.notes)
    raise_to = Capacity("PROVISIONED", plan.wcu, plan.rcu)
    want = raise_to if settings.policy == "raise" else Capacity(capacity.ON_DEMAND, None, None)
    expires = datetime.now(UTC) + timedelta(seconds=hold_seconds + 2 * UPDATING_ESTIMATE_SECONDS)
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
    )
    report.granted, report.waited, report.raised = outcome.capacity, outcome.waited, True
    report.opened_at = time.time() - outcome.waited
    report.messages.append(outcome.message)
    return report


def close_window(
    ddb: Any, table: str, run_id: str, report: WindowReport, wait: Callable[[], float] | None = None
) -> capacity.Outcome | None:
    """Release this run's hold (the last holder restores); None when nothing was held."""
    if not report.raised:
        return None
    waiter = wait or (lambda: capacity.wait_active(ddb, table))
    return capacity.release(ddb, table, [run_id], wait=waiter)
