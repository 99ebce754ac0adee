"""Incremental months, measured from outside: what a re-run writes, and how long it takes.

    .venv/bin/python benchmarks/incremental_benchmark.py [--records 23300] [--stock-emulator]
    .venv/bin/python benchmarks/incremental_benchmark.py --wcu 160   # under the capacity model

Each import is the real command, `dagster asset materialize -m statement_pipeline --select '*'
--partition <month>`, in a subprocess against the embedded local AWS (a fresh one per
scenario), on a messy month of 4 files generated with a random seed (printed). Item writes
are counted on the wire: the scenario's DynamoDB calls go through a counting proxy
(statement_harness/faultproxy.py with no faults), which adds up the PutRequests of
every BatchWriteItem it forwards, and the Query calls with the items each read; with --wcu,
through the DynamoDB capacity model instead (a provisioned table of that many WCU and RCU,
idle), whose accepted items and logged reads are counted.

The fixed cost of an empty run is the same command for a month of one statement in one file
(start-up, definitions, every op, one write, the checks): the unchanged re-run of the whole
month, which writes nothing and reads the month once, aims at most 1.5x that. It is also
compared with the stricter reference, that 1-statement month's own unchanged re-run (the
same command, nothing written or sent).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The repository root: the harness (statement_harness/) is not installed with the product.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.faultproxy import FaultProxy
from statement_harness.scenarios import cli_command
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings, bootstrap_from_environment
from statement_pipeline.aws.s3_files import upload_files
from statement_pipeline.aws.table import count_month
from statement_pipeline.local_aws.server import LOCAL_ENV, LocalAws
from statement_pipeline.rules.items import key_of
from statement_pipeline.rules.names import Names
from statement_samples import write_month

MONTH = "2026-10"
EMPTY = "empty run"


class CountingProxy(FaultProxy):
    """Forwards everything; counts the items every BatchWriteItem puts, and the Query calls
    with the items they read (ScannedCount)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.puts = 0
        self.queries = 0
        self.items_read = 0
        self._lock = threading.Lock()

    def _handle(self, method: str, path: str, headers: Any, body: bytes) -> Any:
        target = dict((k.lower(), v) for k, v in headers).get("x-amz-target", "")
        if target.endswith(".Query"):
            reply = super()._handle(method, path, headers, body)
            answer = json.loads(reply.body or b"{}") if reply.status == 200 else {}
            with self._lock:
                self.queries += 1
                self.items_read += int(answer.get("ScannedCount", 0))
            return reply
        if target.endswith(".BatchWriteItem"):
            requests = json.loads(body or b"{}").get("RequestItems", {})
            puts = sum(1 for entries in requests.values() for e in entries if "PutRequest" in e)
            reply = super()._handle(method, path, headers, body)
            # Items the service left unprocessed were not written by this call.
            left = json.loads(reply.body or b"{}").get("UnprocessedItems", {})
            with self._lock:
                self.puts += puts - sum(len(v) for v in left.values())
            return reply
        return super()._handle(method, path, headers, body)


@dataclass
class Step:
    scenario: str
    step: str
    wall_s: float
    items_written: int
    in_table: int
    ok: bool
    queries: int = 0
    items_read: int = 0


def materialize(env: dict[str, str], home: Path) -> float:
    """The import as operators run it; returns its wall time."""
    command = cli_command(MONTH)
    started = time.monotonic()
    done = subprocess.run(
        command, env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise RuntimeError("dagster asset materialize failed")
    return wall


class ModelCount:
    """The capacity model's counts, read like CountingProxy's."""

    def __init__(self, proxy: CapacityProxy) -> None:
        self._proxy = proxy

    @property
    def puts(self) -> int:
        return self._proxy.stats().items_accepted

    @property
    def queries(self) -> int:
        return sum(1 for r in self._proxy.reads if r.operation == "Query")

    @property
    def items_read(self) -> int:
        return sum(r.scanned for r in self._proxy.reads if r.operation == "Query")


def run_scenario(name: str, records: int, seed: int, speedups: bool, wcu: int | None) -> list[Step]:
    """Import, then re-run as the scenario says; one fresh local AWS."""
    if name == EMPTY:
        files = write_month(MONTH, 1, 1, seed=seed)
    else:
        files = write_month(MONTH, records, 4, seed=seed, quirks=True)
    with LocalAws(speedups=speedups) as server:
        if wcu is None:
            with CountingProxy(server.endpoint) as proxy:
                return _scenario(name, files, server, proxy, proxy, None)
        with CapacityProxy(server.endpoint) as model:
            table = TableSettings("PROVISIONED", wcu, wcu)
            return _scenario(name, files, server, model, ModelCount(model), table)


def _scenario(
    name: str,
    files: list[tuple[str, bytes]],
    server: LocalAws,
    proxy: FaultProxy,
    counter: CountingProxy | ModelCount,
    table: TableSettings | None,
) -> list[Step]:
    steps: list[Step] = []
    names = Names()
    records = len(_valid_rows(files))
    env = {**os.environ, **LOCAL_ENV, "AWS_ENDPOINT_URL": server.endpoint}
    env["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.endpoint
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        bootstrap_from_environment(names, table)
        ddb = clients.client("dynamodb")
        first = files[:3] if name == "4th file added" else files
        upload_files(names, MONTH, first)
        with tempfile.TemporaryDirectory(prefix="dagster-incremental-") as home:

            def step(label: str, expected: int = records) -> None:
                before = (counter.puts, counter.queries, counter.items_read)
                wall = materialize(env, Path(home))
                after = (counter.puts, counter.queries, counter.items_read)
                in_table = count_month(ddb, names.table, MONTH)
                written, queries, read = (a - b for a, b in zip(after, before, strict=True))
                ok = in_table == expected
                steps.append(Step(name, label, wall, written, in_table, ok, queries, read))
                print(_row(steps[-1]), flush=True)

            if name == EMPTY:
                step("1 statement, first import", 1)
                step("1 statement, unchanged re-run", 1)
            elif name == "4th file added":
                step("3 files imported", len(_valid_rows(first)))
                upload_files(names, MONTH, files[3:])
                step("4th file added, re-run")
            elif name == "unchanged re-run":
                step("first import")
                step("unchanged, re-run")
            else:
                step("first import")
                any_item = ddb.scan(TableName=names.table, Limit=1)["Items"][0]
                ddb.delete_item(
                    TableName=names.table, Key=key_of(MONTH, any_item["statement_id"]["S"])
                )
                step("one item deleted, re-run")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return steps


def _valid_rows(files: list[tuple[str, bytes]]) -> list[int]:
    """Line numbers of the valid rows of the files (the sample months have no bad rows)."""
    from io import BytesIO

    from statement_pipeline.rules.csv_records import Record, StatementReader

    return [
        row.line
        for name, content in files
        for row in StatementReader(BytesIO(content), name, MONTH)
        if isinstance(row, Record)
    ]


def _row(s: Step) -> str:
    return (
        f"| {s.scenario} | {s.step} | {s.wall_s:.1f} | {s.items_written:,} | {s.queries:,} | "
        f"{s.items_read:,} | {s.in_table:,} | {'yes' if s.ok else 'NO'} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=23_300)
    parser.add_argument("--data-seed", type=int, default=None)
    parser.add_argument("--stock-emulator", action="store_true", help="moto without the speed-ups")
    parser.add_argument(
        "--wcu",
        type=int,
        default=None,
        help="a provisioned table of this many WCU and RCU, "
        "under the DynamoDB capacity model (idle, uncompressed)",
    )
    args = parser.parse_args(argv)
    seed = args.data_seed if args.data_seed is not None else random.randrange(1 << 30)
    where = "moto without the speed-ups" if args.stock_emulator else "the embedded local AWS"
    if args.wcu:
        where += f", DynamoDB through the capacity model ({args.wcu} WCU/RCU, idle)"
    print(
        f"incremental benchmark: {args.records:,} statements in 4 files, data seed {seed}, {where}"
    )
    print(
        "| scenario | step | wall s | items written | Query calls | items read | in table | exact |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    steps: list[Step] = []
    for name in ("unchanged re-run", "4th file added", "item deleted by hand", EMPTY):
        steps += run_scenario(name, args.records, seed, not args.stock_emulator, args.wcu)
    first, rerun, empty, empty_rerun = steps[0], steps[1], steps[-2], steps[-1]
    ratio = rerun.wall_s / first.wall_s
    print(
        f"\nunchanged re-run: {rerun.items_written} items written, {ratio:.2f}x the first "
        f"import's wall time (target: 0 items, at most 0.5x): "
        + ("PASS" if rerun.items_written == 0 and ratio <= 0.5 else "FAIL")
    )
    fixed = rerun.wall_s / empty.wall_s
    once = rerun.items_read == first.in_table
    print(
        f"unchanged re-run: {rerun.wall_s:.1f} s, {fixed:.2f}x the fixed cost of an empty run "
        f"(the same command for a month of 1 statement: {empty.wall_s:.1f} s; target at most "
        f"1.5x): {'PASS' if fixed <= 1.5 else 'FAIL'}; read {rerun.items_read:,} items in "
        f"{rerun.queries} Query calls, the month once: {'PASS' if once else 'FAIL'}"
    )
    # The stricter reference: a run of the same command that writes nothing at all.
    idle = rerun.wall_s / empty_rerun.wall_s
    print(
        f"unchanged re-run: {idle:.2f}x the unchanged re-run of the 1-statement month "
        f"({empty_rerun.wall_s:.1f} s, nothing written, nothing sent): "
        + ("PASS" if idle <= 1.5 else "FAIL")
    )
    three, added = steps[2], steps[3]
    fourth = args.records - three.in_table
    print(
        f"4th file added: {added.items_written:,} items written, the 4th file holds {fourth:,} "
        "rows: " + ("PASS" if added.items_written == fourth else "FAIL")
    )
    deleted = steps[5]
    print(
        f"one item deleted by hand: {deleted.items_written:,} items written (its file again), "
        f"month exact: {'PASS' if deleted.ok else 'FAIL'}"
    )
    return 0 if all(s.ok for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
