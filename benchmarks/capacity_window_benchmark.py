"""Capacity window benchmark: the experiment's 20 WCU month imported under `raise`.

    .venv/bin/python benchmarks/capacity_window_benchmark.py                 # 23,300, target 60 s
    .venv/bin/python benchmarks/capacity_window_benchmark.py --repeat 3 --updating 30

The real import command (`dagster asset materialize -m statement_pipeline --select '*'
--partition <month>`, in a subprocess) with STATEMENT_CAPACITY_POLICY=raise, against the
embedded local AWS with `CapacityProxy` (statement_harness/capacity_proxy.py) in front of its
DynamoDB, uncompressed (k=1): under compression DescribeTable shows rates x k, and the raise
would be sized for that compressed world. The model answers UpdateTable as DynamoDB does:
UPDATING for `--updating` AWS seconds keeping the old rate, then the new one.

Per run: the capacity granted, the UpdateTable calls on the wire, the wait for ACTIVE, the
write phase (the proxy's first to last accepted write) against the target (at most 1.25x),
the table's capacity and tags after the run (back at 20 / 20, provisioned, no raise tags), the
month exact (every statement, every value, read straight from moto) and the window's cost in
USD as the run's metadata reports it (rules/capacity_window.py PRICES). Exit 1 if a run misses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from unittest import mock

# capacity_cases first: it puts the repository root on sys.path for statement_harness.
import capacity_cases as cc
import measuring

from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.scenarios import assert_month_exact
from statement_pipeline.aws import capacity, clients
from statement_pipeline.aws.bootstrap import TableSettings, bootstrap_from_environment
from statement_pipeline.aws.s3_files import upload_files
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.local_aws.server import LOCAL_ENV, LocalAws
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.names import Names
from statement_samples import generate_rows, render_csv

MONTH = "2026-10"
FILES = 4
TABLE = TableSettings("PROVISIONED", 20, 20)  # the experiment's table
TARGET_S = 60
MAX_WCU = 4_000  # the contract's default STATEMENT_CAPACITY_MAX_WCU
UPDATING_S = 60.0  # AWS seconds the model keeps a table UPDATING


@dataclass
class Row:
    """One measured run under `raise`."""

    records: int
    granted_wcu: int | None
    update_calls: int
    active_wait: str
    write_s: float
    after: str
    tags_left: bool
    exact: bool
    note: str
    cost_usd: float | None
    wall_s: float

    def verdict(self, target: float, max_wcu: int) -> bool:
        within = self.write_s <= cc.MAX_RATIO * target
        capped = self.granted_wcu is not None and self.granted_wcu <= max_wcu
        restored = self.after == f"PROVISIONED {TABLE.write_capacity} {TABLE.read_capacity}"
        return within and capped and restored and not self.tags_left and self.exact


def _files(records: int, seed: int) -> tuple[list[tuple[str, ...]], list[tuple[str, bytes]]]:
    rows = list(generate_rows(MONTH, records, seed=seed))
    size = -(-len(rows) // FILES)
    parts = [rows[i : i + size] for i in range(0, len(rows), size)]
    return rows, [(f"part-{i + 1}.csv", render_csv(COLUMNS, p)) for i, p in enumerate(parts)]


def run_once(records: int, seed: int, target: int, max_wcu: int, updating: float) -> Row:
    """Bootstrap a 20 / 20 table through the model, upload the month, import it under raise."""
    rows, files = _files(records, seed)
    names = Names()
    with (
        LocalAws(speedups=True) as moto,
        CapacityProxy(moto.endpoint, k=1.0, updating_seconds=updating) as proxy,
    ):
        env = {
            **LOCAL_ENV,
            "AWS_ENDPOINT_URL": moto.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": proxy.endpoint,
            "STATEMENT_CAPACITY_POLICY": "raise",
            "STATEMENT_CAPACITY_TARGET_SECONDS": str(target),
            "STATEMENT_CAPACITY_MAX_WCU": str(max_wcu),
        }
        with mock.patch.dict(os.environ, env):  # this process's environment, restored after
            bootstrap_from_environment(names, TABLE)
            upload_files(names, MONTH, files)
            proxy.reset_stats()
            run = measuring.materialize(MONTH, {}, env)
            if run.returncode != 0:
                print("materialize failed:\n" + run.tail(), file=sys.stderr, flush=True)
            ddb = clients.client("dynamodb")
            shown = describe_capacity(ddb, names.table)
            tags_left = capacity.read_raise(ddb, capacity.table_arn(ddb, names.table)) is not None
            try:
                assert_month_exact(MONTH, rows)
                exact, note = run.returncode == 0, "" if run.returncode == 0 else "run failed"
            except AssertionError as exc:
                exact, note = False, str(exc)[:200]
        loaded = run.run.materializations.get("loaded_statements", {})
        granted = loaded.get("provisioned_wcu")
        return Row(
            records=records,
            granted_wcu=int(granted) if isinstance(granted, int | float) else None,
            update_calls=proxy.calls[("dynamodb", "UpdateTable")],
            active_wait=str(loaded.get("capacity_active_wait", "-")),
            write_s=proxy.stats().aws_write_seconds,
            after=capacity.spec(shown),
            tags_left=tags_left,
            exact=exact,
            note=note,
            cost_usd=measuring.metadata_float(run.run, "loaded_statements", "capacity_cost_usd"),
            wall_s=run.wall_s,
        )


HEADER = (
    "| statements | table | target s | max WCU | granted WCU | UpdateTable | wait ACTIVE "
    "| write s | / target | after | raise tags | exact | cost USD | wall s |"
)


def markdown(r: Row, target: int, max_wcu: int) -> str:
    cost = "-" if r.cost_usd is None else f"{r.cost_usd:.4f}"
    return (
        f"| {r.records:,} | 20 / 20 | {target} | {max_wcu:,} | {r.granted_wcu} | {r.update_calls} "
        f"| {r.active_wait} | {r.write_s:.1f} | {r.write_s / target:.2f}x | {r.after} "
        f"| {'left' if r.tags_left else 'none'} | {'yes' if r.exact else 'NO ' + r.note} "
        f"| {cost} | {r.wall_s:.0f} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=cc.SEED_RECORDS)
    p.add_argument("--target", type=int, default=TARGET_S, help="target write seconds")
    p.add_argument("--max-wcu", type=int, default=MAX_WCU)
    p.add_argument("--updating", type=float, default=UPDATING_S, help="AWS s UPDATING lasts")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--seed", type=int, default=20)
    args = p.parse_args(argv)
    results = []
    for i in range(args.repeat):
        r = run_once(args.records, args.seed + i, args.target, args.max_wcu, args.updating)
        results.append(r)
        print(markdown(r, args.target, args.max_wcu), flush=True)
    print()
    print(
        f"raise on a 20 WCU / 20 RCU table (model UPDATING {args.updating:g} AWS s, k=1); "
        f"written within {cc.MAX_RATIO}x of the target, at most the maximum, restored, exact"
    )
    print(HEADER)
    print("|" + " --- |" * (HEADER.count("|") - 1))
    ok = True
    for r in results:
        print(markdown(r, args.target, args.max_wcu))
        ok = ok and r.verdict(args.target, args.max_wcu)
    print(f"\nverdict: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
