# Over 350 lines: the raise, its sharing, the restore and the reconciler share the tags.
"""The import window's capacity on the table: raise (or switch to on-demand), wait, restore.

A raise is written on the table itself, as tags, before UpdateTable is called: the original
capacity and billing mode, the capacity raised to, an expiry, and one tag per run that holds
it (with what that run's month needed on top of the original). A restore takes the original
from these tags, never from the table's current figures (which may be a raise), and leaves a
table whose capacity no longer is the raise alone (someone else changed it) with a warning.
Months imported at once share one raise, sized for all of them; the last holder restores.

DynamoDB's limits (developer guide, provisioned capacity mode and service quotas, capacity
mode switching): UPDATING lasts minutes and another UpdateTable meanwhile is refused
(ResourceInUseException); decreases are limited per UTC day (LimitExceededException says when
the next one may be made): the restore is then deferred, the tags stay, and the reconciler
tries again; 4 switches to on-demand in 24 hours, after which on_demand falls back to a raise.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from statement_pipeline.aws.table import Capacity, describe_capacity

TAG = "statement-pipeline:capacity"
TAG_ORIGINAL = f"{TAG}-original"
TAG_RAISED = f"{TAG}-raised"
TAG_EXPIRES = f"{TAG}-expires"
# + run id; value: "<extra wcu> <extra rcu>" (PAY_PER_REQUEST: "0 0"), then "<host> <pid>" of
# the process that runs it when known: a run killed outright stays STARTED in Dagster's records
# (nothing marks it failed), and its dead process is what tells the reconciler it is gone.
TAG_RUN = f"{TAG}-run:"
ON_DEMAND = "PAY_PER_REQUEST"
ACTIVE_POLL_SECONDS = 2.0
# "Next decrease can be made at Thursday, January 01, 1970 01:00:30 AM UTC"
_NEXT_DECREASE = re.compile(r"Next decrease can be made at (.+? UTC)")
_AWS_TIME = "%A, %B %d, %Y %I:%M:%S %p UTC"


def spec(c: Capacity) -> str:
    """A capacity as a tag value: `PROVISIONED <wcu> <rcu>` or `PAY_PER_REQUEST`."""
    return ON_DEMAND if not c.provisioned else f"PROVISIONED {c.write_units} {c.read_units}"


def _parse(spec: str) -> Capacity:
    parts = spec.split()
    if parts[0] == ON_DEMAND:
        return Capacity(ON_DEMAND, None, None)
    return Capacity("PROVISIONED", int(parts[1]), int(parts[2]))


def same(a: Capacity, b: Capacity) -> bool:
    return spec(a) == spec(b)


Process = tuple[str, int]  # (host name, pid) of the process that runs a holder's run


def this_process() -> Process:
    return (socket.gethostname(), os.getpid())


def process_gone(process: Process | None) -> bool:
    """Whether a holder's process is known to be dead: on this host, and no such pid."""
    if process is None or process[0] != socket.gethostname():
        return False  # another machine's process: its run's status and the expiry decide
    try:
        os.kill(process[1], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def holder_tag(extra: tuple[int, int], process: Process | None) -> str:
    where = f" {process[0]} {process[1]}" if process else ""
    return f"{extra[0]} {extra[1]}{where}"


class Held(Protocol):
    """What the reconciler reads of a raise: its expiry, its holders and their processes."""

    @property
    def expires(self) -> datetime: ...
    @property
    def holders(self) -> dict[str, tuple[int, int]]: ...
    @property
    def processes(self) -> dict[str, Process]: ...


@dataclass(frozen=True)
class Raise:
    """A raise in force, as its tags on the table say."""

    arn: str
    original: Capacity
    raised: Capacity
    expires: datetime
    holders: dict[str, tuple[int, int]]  # run id -> (extra WCU, extra RCU) it asked for
    processes: dict[str, Process] = field(default_factory=dict)  # run id -> its process


@dataclass(frozen=True)
class Outcome:
    """What a capacity step did: the capacity now, seconds waited for ACTIVE, what to say."""

    capacity: Capacity
    waited: float
    message: str
    changed: bool = False
    deferred_until: datetime | None = None


def table_arn(ddb: Any, table: str) -> str:
    return str(ddb.describe_table(TableName=table)["Table"]["TableArn"])


def table_tags(ddb: Any, arn: str) -> dict[str, str]:
    """Every tag on the table."""
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    while True:
        page = ddb.list_tags_of_resource(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return tags


def read_holders(
    tags: dict[str, str], prefix: str
) -> tuple[dict[str, tuple[int, int]], dict[str, Process]]:
    """The holders recorded under `prefix` + run id: what each asked for, and its process."""
    holders, processes = {}, {}
    for key, value in tags.items():
        if key.startswith(prefix):
            run, parts = key[len(prefix) :], value.split()
            holders[run] = (int(parts[0]), int(parts[1]))
            if len(parts) == 4:
                processes[run] = (parts[2], int(parts[3]))
    return holders, processes


def read_raise(ddb: Any, arn: str) -> Raise | None:
    """The raise the table's tags describe (None: no raise in force)."""
    tags = table_tags(ddb, arn)
    if TAG_ORIGINAL not in tags:
        return None
    holders, processes = read_holders(tags, TAG_RUN)
    return Raise(
        arn,
        _parse(tags[TAG_ORIGINAL]),
        _parse(tags.get(TAG_RAISED, tags[TAG_ORIGINAL])),
        datetime.fromisoformat(tags[TAG_EXPIRES]),
        holders,
        processes,
    )


def wait_active(
    ddb: Any,
    table: str,
    *,
    timeout: float = 1800.0,
    poll: float = ACTIVE_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Seconds spent waiting until the table (and its indexes) are ACTIVE."""
    started = time.monotonic()
    while True:
        desc = ddb.describe_table(TableName=table)["Table"]
        indexes = desc.get("GlobalSecondaryIndexes", [])
        if desc["TableStatus"] == "ACTIVE" and all(
            i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
        ):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{table} still {desc['TableStatus']} after {timeout:.0f} s")
        sleep(poll)


def _update(ddb: Any, table: str, to: Capacity) -> None:
    if not to.provisioned:
        ddb.update_table(TableName=table, BillingMode=ON_DEMAND)
        return
    ddb.update_table(
        TableName=table,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={
            "ReadCapacityUnits": to.read_units,
            "WriteCapacityUnits": to.write_units,
        },
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def next_decrease(exc: ClientError, now: datetime) -> datetime:
    """When DynamoDB says the next decrease may be made (else an hour from now)."""
    found = _NEXT_DECREASE.search(str(exc.response.get("Error", {}).get("Message", "")))
    if found:
        try:
            return datetime.strptime(found.group(1), _AWS_TIME).replace(tzinfo=UTC)
        except ValueError:
            pass  # another wording: the quota's own rule, one decrease an hour, below
    return now + timedelta(hours=1)


def shared_raise(original: Capacity, holders: dict[str, tuple[int, int]], max_wcu: int) -> Capacity:
    """The original plus what every holder's month needs on top of it, within `max_wcu`."""
    wcu = min(max_wcu, (original.write_units or 0) + sum(w for w, _ in holders.values()))
    rcu = (original.read_units or 0) + sum(r for _, r in holders.values())
    return Capacity("PROVISIONED", max(wcu, original.write_units or 0), rcu)


def acquire(
    ddb: Any,
    table: str,
    run_id: str,
    want: Capacity,
    *,
    max_wcu: int,
    expires: datetime,
    wait: Callable[[], float],
    fallback: Capacity | None = None,
    process: Process | None = None,
    adopt: str | None = None,
) -> Outcome:
    """Raise the table to `want` (a provisioned figure or PAY_PER_REQUEST) for `run_id`;
    `fallback`: the raise to make instead when the switches to on-demand are spent; `process`:
    where the run runs, when known; `adopt`: a lead's holder this run takes over.

    A raise already in force is shared: this run becomes one more holder, and the raise grows
    by what its month needs on top of the original. The tags are written before UpdateTable.
    """
    current = describe_capacity(ddb, table)
    arn = table_arn(ddb, table)
    held = read_raise(ddb, arn)
    original = held.original if held else current
    if not original.provisioned:
        return Outcome(current, 0.0, f"{table} is on demand: nothing to raise")
    settled = 0.0
    if held and not same(current, held.raised):
        # The raise may still be UPDATING (a lead's, made minutes ago): let it apply first.
        settled = wait()
        current = describe_capacity(ddb, table)
    if held and not same(current, held.raised):
        return Outcome(
            current,
            0.0,
            f"{table} is at {spec(current)}, not the raise {spec(held.raised)} its tags "
            "record: someone else changed it; left as it is",
        )
    holders = adopted(held.holders if held else {}, run_id, _extra(want, original), adopt)
    extra = holders[run_id]
    target = want if not want.provisioned else shared_raise(original, holders, max_wcu)
    if held and not held.raised.provisioned:
        target = held.raised  # on demand already: every month fits
    if same(target, current) and not held:
        return Outcome(current, 0.0, f"{table} at {spec(current)} writes the month in time")
    tags = {TAG_ORIGINAL: spec(original), TAG_RAISED: spec(target)}
    latest = max(expires, held.expires) if held else expires
    tags[TAG_EXPIRES] = latest.isoformat()
    tags[f"{TAG_RUN}{run_id}"] = holder_tag(extra, process)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    if held and adopt in held.holders:
        ddb.untag_resource(ResourceArn=arn, TagKeys=[f"{TAG_RUN}{adopt}"])
    if same(target, current):
        return Outcome(current, settled, f"joined the raise to {spec(current)} in force")
    waited = wait()  # a change in flight (another run's) must apply first
    try:
        _update(ddb, table, target)
    except ClientError as exc:
        if _code(exc) != "LimitExceededException" or target.provisioned or fallback is None:
            _drop_holder(ddb, arn, run_id, held is None)
            raise
        # The 4 switches to on-demand of the last 24 hours are spent: raise instead.
        raised = shared_raise(original, {**holders, run_id: _extra(fallback, original)}, max_wcu)
        holder = (run_id, process)
        return _fallback(ddb, table, arn, holder, raised, original, wait, waited)
    waited += wait()
    granted = describe_capacity(ddb, table)
    return Outcome(granted, waited, f"{table}: {spec(current)} -> {spec(granted)}", True)


def adopted(
    holders: dict[str, tuple[int, int]], run_id: str, extra: tuple[int, int], adopt: str | None
) -> dict[str, tuple[int, int]]:
    """The holders once `run_id` holds `extra`, taking over `adopt`'s hold (a lead's) if there
    is one: the larger of the two, so the raise made ahead is not made again."""
    taken = holders.get(adopt) if adopt else None
    if taken is not None:
        extra = (max(extra[0], taken[0]), max(extra[1], taken[1]))
    return {**{run: e for run, e in holders.items() if run != adopt}, run_id: extra}


def _extra(want: Capacity, original: Capacity) -> tuple[int, int]:
    """What `want` needs on top of the original (nothing for on demand)."""
    if not want.provisioned:
        return (0, 0)
    return (
        max(0, (want.write_units or 0) - (original.write_units or 0)),
        max(0, (want.read_units or 0) - (original.read_units or 0)),
    )


def _fallback(
    ddb: Any,
    table: str,
    arn: str,
    holder: tuple[str, Process | None],
    target: Capacity,
    original: Capacity,
    wait: Callable[[], float],
    waited: float,
) -> Outcome:
    run_id, process = holder
    extra = _extra(target, original)
    tags = {TAG_RAISED: spec(target), f"{TAG_RUN}{run_id}": holder_tag(extra, process)}
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    if not same(target, original):
        _update(ddb, table, target)
        waited += wait()
    granted = describe_capacity(ddb, table)
    return Outcome(
        granted,
        waited,
        f"{table}: the 4 switches to on-demand of the last 24 hours are spent; raised to "
        f"{spec(granted)} instead",
        True,
    )


def _drop_holder(ddb: Any, arn: str, run_id: str, everything: bool) -> None:
    keys = [f"{TAG_RUN}{run_id}"]
    if everything:
        keys += [TAG_ORIGINAL, TAG_RAISED, TAG_EXPIRES]
    ddb.untag_resource(ResourceArn=arn, TagKeys=keys)


def release(
    ddb: Any,
    table: str,
    run_ids: list[str],
    *,
    wait: Callable[[], float],
    now: datetime | None = None,
) -> Outcome:
    """`run_ids` no longer hold the raise; the last holder restores the original from the tags.

    Never lowers a capacity someone else changed (warns, forgets the raise). A decrease the
    day's quota refuses is deferred: the tags stay (holders gone) for the next attempt.
    """
    now = now or datetime.now(UTC)
    current = describe_capacity(ddb, table)
    arn = table_arn(ddb, table)
    held = read_raise(ddb, arn)
    if held is None:
        return Outcome(current, 0.0, f"{table}: no raise in force")
    left = {run: extra for run, extra in held.holders.items() if run not in run_ids}
    gone = [f"{TAG_RUN}{run}" for run in held.holders if run in run_ids]
    if left:
        if gone:
            ddb.untag_resource(ResourceArn=arn, TagKeys=gone)
        return Outcome(current, 0.0, f"{table}: the raise stays for {len(left)} other run(s)")
    everything = [TAG_ORIGINAL, TAG_RAISED, TAG_EXPIRES, *gone]
    if not same(current, held.raised):
        ddb.untag_resource(ResourceArn=arn, TagKeys=everything)
        return Outcome(
            current,
            0.0,
            f"WARNING {table} is at {spec(current)}, not the raise {spec(held.raised)}: "
            f"someone else changed it after the raise; not restored to {spec(held.original)}",
        )
    if gone:
        ddb.untag_resource(ResourceArn=arn, TagKeys=gone)
    waited = wait()
    try:
        _update(ddb, table, held.original)
    except ClientError as exc:
        if _code(exc) == "ValidationException":  # the original already: nothing to change
            ddb.untag_resource(ResourceArn=arn, TagKeys=everything)
            return Outcome(current, waited, f"{table} already at {spec(held.original)}")
        if _code(exc) not in ("LimitExceededException", "ResourceInUseException"):
            raise
        retry = next_decrease(exc, now) if _code(exc) == "LimitExceededException" else now
        return Outcome(
            current,
            waited,
            f"{table}: restore to {spec(held.original)} refused ({_code(exc)}); "
            f"retried from {retry:%Y-%m-%d %H:%M} UTC",
            deferred_until=retry,
        )
    ddb.untag_resource(ResourceArn=arn, TagKeys=everything)
    waited += wait()
    restored = describe_capacity(ddb, table)
    return Outcome(
        restored, waited, f"{table}: restored {spec(held.raised)} -> {spec(restored)}", True
    )


def stale_holders(held: Held, running: Callable[[str], bool], now: datetime) -> list[str]:
    """Holders whose run is no longer running (or whose process on this host is dead), or every
    holder once the raise expired."""
    if now >= held.expires:
        return list(held.holders)
    return [
        run for run in held.holders if not running(run) or process_gone(held.processes.get(run))
    ]


def reconcile(
    ddb: Any,
    table: str,
    running: Callable[[str], bool],
    *,
    wait: Callable[[], float],
    now: datetime | None = None,
) -> Outcome | None:
    """Restore a raise whose runs are gone or whose expiry passed (None: nothing to do)."""
    now = now or datetime.now(UTC)
    held = read_raise(ddb, table_arn(ddb, table))
    if held is None:
        return None
    stale = stale_holders(held, running, now)
    if held.holders and not stale:
        return None
    return release(ddb, table, stale, wait=wait, now=now)


def describe_raise(ddb: Any, table: str) -> list[str]:
    """Lines for `statement-pipeline capacity status`."""
    desc = ddb.describe_table(TableName=table)["Table"]
    current = describe_capacity(ddb, table)
    throughput = desc.get("ProvisionedThroughput", {})
    decreases = int(throughput.get("NumberOfDecreasesToday", 0) or 0)
    lines = [
        f"table           {table}: {spec(current)} ({desc['TableStatus']})",
        f"decreases today {decreases} made; {max(0, 4 - decreases)} more at once, then one an "
        "hour (27 a UTC day)",
    ]
    held = read_raise(ddb, desc["TableArn"])
    if held is None:
        return [*lines, "raise           none in force"]
    lines.append(
        f"raise           {spec(held.original)} -> {spec(held.raised)}, expires "
        f"{held.expires:%Y-%m-%d %H:%M} UTC"
    )
    for run, (wcu, rcu) in sorted(held.holders.items()):
        where = held.processes.get(run)
        at = f", pid {where[1]} on {where[0]}" if where else ""
        lines.append(f"  held by run   {run} (+{wcu} WCU, +{rcu} RCU{at})")
    return lines
