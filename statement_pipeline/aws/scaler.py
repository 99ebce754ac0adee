"""A table under Application Auto Scaling: a raise moves its scalable targets, not the table.

An UpdateTable against a table whose capacity is a scalable target fights the scaler (its next
scale-in undoes the raise). So when the table has scalable targets (service namespace
`dynamodb`, resource `table/<name>`), a raise moves each target's MinCapacity up to the raised
figure (and MaxCapacity with it when it is lower), and the scaler brings the table there
itself; the restore registers the original minimum and maximum again, and the scaler scales
in at its own pace, within DynamoDB's daily decreases.

Like a table raise (aws/capacity.py), the raise is written on the table as tags before it is
made: per dimension the original and the raised minimum and maximum, an expiry, one tag per
holding run. The restore takes the originals from the tags and leaves a target whose figures
are no longer the raise (someone changed it after the raise) with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from statement_pipeline.aws import capacity
from statement_pipeline.aws.table import Capacity, describe_capacity

NAMESPACE = "dynamodb"
DIMENSIONS = {
    "write": "dynamodb:table:WriteCapacityUnits",
    "read": "dynamodb:table:ReadCapacityUnits",
}
# + "write" / "read": "<original min> <original max> <raised min> <raised max>"
TAG_BOUNDS = f"{capacity.TAG}-scaler-"
TAG_EXPIRES = f"{capacity.TAG}-scaler-expires"
# + run id: "<extra write min> <extra read min>", then "<host> <pid>" as in aws/capacity.py
TAG_RUN = f"{capacity.TAG}-scaler-run:"

Bounds = tuple[int, int]  # (MinCapacity, MaxCapacity)


def resource_id(table: str) -> str:
    return f"table/{table}"


def find(aas: Any, table: str) -> tuple[dict[str, Bounds], str | None]:
    """The table's scalable targets by dimension ("write", "read"), and a note when they could
    not be looked up (no application-autoscaling:DescribeScalableTargets: treated as none)."""
    try:
        found = aas.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(table)]
        )["ScalableTargets"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("AccessDeniedException",):
            raise
        return {}, (
            "cannot look up Application Auto Scaling targets (no DescribeScalableTargets; "
            "`statement-pipeline iam-policy --autoscaling` grants it): the table is raised itself"
        )
    names = {dimension: name for name, dimension in DIMENSIONS.items()}
    return {
        names[t["ScalableDimension"]]: (int(t["MinCapacity"]), int(t["MaxCapacity"]))
        for t in found
        if t["ScalableDimension"] in names
    }, None


@dataclass(frozen=True)
class ScalerRaise:
    """A raise of the scalable targets in force, as its tags on the table say."""

    arn: str
    original: dict[str, Bounds]
    raised: dict[str, Bounds]
    expires: datetime
    holders: dict[str, tuple[int, int]]
    processes: dict[str, capacity.Process] = field(default_factory=dict)


def read_scaler_raise(ddb: Any, arn: str) -> ScalerRaise | None:
    """The scalable-target raise the table's tags describe (None: none in force)."""
    tags = capacity.table_tags(ddb, arn)
    if TAG_EXPIRES not in tags:
        return None
    original, raised = {}, {}
    for name in DIMENSIONS:
        if f"{TAG_BOUNDS}{name}" in tags:
            low, high, up_low, up_high = (int(v) for v in tags[f"{TAG_BOUNDS}{name}"].split())
            original[name], raised[name] = (low, high), (up_low, up_high)
    holders, processes = capacity.read_holders(tags, TAG_RUN)
    expires = datetime.fromisoformat(tags[TAG_EXPIRES])
    return ScalerRaise(arn, original, raised, expires, holders, processes)


def raised_bounds(original: dict[str, Bounds], to: Capacity) -> dict[str, Bounds]:
    """Each target's bounds raised to `to`: the minimum at the figure, the maximum no lower."""
    raised = {}
    for name, (lowest, highest) in original.items():
        floor = (to.write_units if name == "write" else to.read_units) or lowest
        raised[name] = (floor, max(highest, floor))
    return raised


def planned(aas: Any, table: str, want: Capacity) -> list[str] | None:
    """The dry run's lines for a table under Application Auto Scaling (None: it is not, or its
    targets cannot be looked up, which the lines then say)."""
    found, note = find(aas, table)
    if not found:
        return [note] if note else None
    raised = raised_bounds(found, want)
    return [
        f"{table} is under Application Auto Scaling: no UpdateTable",
        f"TagResource {table}: scalable-target originals {_shown(found)}, this run, expiry",
        f"RegisterScalableTarget table/{table}: {_shown(found)} -> {_shown(raised)}, then "
        "DescribeTable until ACTIVE",
        f"after the month's writes: RegisterScalableTarget back to {_shown(found)}, UntagResource",
    ]


def _register(aas: Any, table: str, name: str, bounds: Bounds) -> None:
    aas.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=resource_id(table),
        ScalableDimension=DIMENSIONS[name],
        MinCapacity=bounds[0],
        MaxCapacity=bounds[1],
    )


def _shown(bounds: dict[str, Bounds]) -> str:
    return ", ".join(f"{name} min {low} max {high}" for name, (low, high) in bounds.items())


def acquire(
    ddb: Any,
    aas: Any,
    table: str,
    run_id: str,
    want: Capacity,
    found: dict[str, Bounds],
    *,
    max_wcu: int,
    expires: datetime,
    wait: Callable[[], float],
    process: capacity.Process | None = None,
    adopt: str | None = None,
) -> capacity.Outcome:
    """Move the scalable targets' minimum (and maximum) up to `want` for `run_id` (taking over
    `adopt`'s hold, a lead's, when there is one).

    Shared like a table raise: each holder's month adds what it needs above the original
    minimum. A dimension with no scalable target is left as it is.
    """
    arn = capacity.table_arn(ddb, table)
    held = read_scaler_raise(ddb, arn)
    if held and any(found.get(name) != bounds for name, bounds in held.raised.items()):
        return capacity.Outcome(
            describe_capacity(ddb, table),
            0.0,
            f"{table}'s scalable targets are at {_shown(found)}, not the raise "
            f"{_shown(held.raised)} its tags record: someone else changed them; left as they are",
        )
    original = held.original if held else found
    low = Capacity("PROVISIONED", *(original.get(n, (0, 0))[0] for n in ("write", "read")))
    extra = (
        max(0, (want.write_units or 0) - (low.write_units or 0)),
        max(0, (want.read_units or 0) - (low.read_units or 0)),
    )
    holders = capacity.adopted(held.holders if held else {}, run_id, extra, adopt)
    extra = holders[run_id]
    raised = raised_bounds(original, capacity.shared_raise(low, holders, max_wcu))
    tags = {
        f"{TAG_BOUNDS}{n}": f"{o[0]} {o[1]} {raised[n][0]} {raised[n][1]}"
        for n, o in original.items()
    }
    tags[TAG_EXPIRES] = (max(expires, held.expires) if held else expires).isoformat()
    tags[f"{TAG_RUN}{run_id}"] = capacity.holder_tag(extra, process)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    if held and adopt in held.holders:
        ddb.untag_resource(ResourceArn=arn, TagKeys=[f"{TAG_RUN}{adopt}"])
    for name, bounds in raised.items():
        if found.get(name) != bounds:
            _register(aas, table, name, bounds)
    waited = wait()
    return capacity.Outcome(
        describe_capacity(ddb, table),
        waited,
        f"{table} is under Application Auto Scaling: scalable targets {_shown(found)} -> "
        f"{_shown(raised)} (no UpdateTable; the scaler raises the table to the minimum)",
        True,
    )


def release(ddb: Any, aas: Any, table: str, run_ids: list[str]) -> capacity.Outcome:
    """`run_ids` no longer hold the raise; the last holder registers the original bounds."""
    arn = capacity.table_arn(ddb, table)
    current = describe_capacity(ddb, table)
    held = read_scaler_raise(ddb, arn)
    if held is None:
        return capacity.Outcome(current, 0.0, f"{table}: no scalable-target raise in force")
    gone = [f"{TAG_RUN}{run}" for run in held.holders if run in run_ids]
    if any(run not in run_ids for run in held.holders):
        if gone:
            ddb.untag_resource(ResourceArn=arn, TagKeys=gone)
        return capacity.Outcome(current, 0.0, f"{table}: the scalable-target raise stays")
    found, _ = find(aas, table)
    everything = [TAG_EXPIRES, *gone, *(f"{TAG_BOUNDS}{n}" for n in held.original)]
    changed = [n for n, bounds in held.raised.items() if found.get(n) != bounds]
    restore = {n: bounds for n, bounds in held.original.items() if n not in changed}
    for name, bounds in restore.items():
        _register(aas, table, name, bounds)
    ddb.untag_resource(ResourceArn=arn, TagKeys=everything)
    if changed:
        return capacity.Outcome(
            current,
            0.0,
            f"WARNING {table}'s scalable targets ({', '.join(changed)}) are at "
            f"{_shown({n: found[n] for n in changed if n in found})}, not the raise "
            f"{_shown({n: held.raised[n] for n in changed})}: someone else changed them after "
            f"the raise; not restored to {_shown({n: held.original[n] for n in changed})}",
        )
    return capacity.Outcome(
        current, 0.0, f"{table}: scalable targets restored to {_shown(restore)}", True
    )


def reconcile(
    ddb: Any,
    aas: Any,
    table: str,
    running: Callable[[str], bool],
    *,
    now: datetime | None = None,
) -> capacity.Outcome | None:
    """Restore a scalable-target raise whose runs are gone or expired (None: nothing to do).
    Reads the table's tags only, unless a scalable-target raise is recorded there."""
    now = now or datetime.now(UTC)
    held = read_scaler_raise(ddb, capacity.table_arn(ddb, table))
    if held is None:
        return None
    stale = capacity.stale_holders(held, running, now)
    if held.holders and not stale:
        return None
    return release(ddb, aas, table, stale)


def describe_scaler_raise(ddb: Any, table: str) -> list[str]:
    """Lines for `statement-pipeline capacity status` (none: no scalable-target raise)."""
    held = read_scaler_raise(ddb, capacity.table_arn(ddb, table))
    if held is None:
        return []
    lines = [
        f"scaler raise    {_shown(held.original)} -> {_shown(held.raised)}, expires "
        f"{held.expires:%Y-%m-%d %H:%M} UTC"
    ]
    lines += [f"  held by run   {run}" for run in sorted(held.holders)]
    return lines
