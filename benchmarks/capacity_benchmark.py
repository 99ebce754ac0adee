"""Capacity benchmark: the real import command against a model of DynamoDB's capacity.

    .venv/bin/python benchmarks/capacity_benchmark.py                      # every case (make bench)
    .venv/bin/python benchmarks/capacity_benchmark.py --cases grid,spent   # a subset
    .venv/bin/python benchmarks/capacity_benchmark.py --k 20=10,spent160=2 # other compressions

Each case starts a fresh embedded local AWS (moto with the speedups) for S3 and SQS and puts
`CapacityProxy` (statement_harness/capacity_proxy.py, running in this process) in front
of its DynamoDB. The table is created through the proxy with `bootstrap_from_environment`,
a messy sample month is uploaded (4 files, quirks on, random data seed printed), and the month
is imported with `dagster asset materialize -m statement_pipeline --select '*' --partition
<month>` in a subprocess (AWS_ENDPOINT_URL = moto, AWS_ENDPOINT_URL_DYNAMODB = the proxy).

Measured per case: the write phase (the proxy's first to last accepted write, x k to AWS
seconds), the share of write calls throttled, and whether the month is exact (the run's
blocking count check passed, and per-shard counts read straight from moto equal the rows).
Set beside it: the table's limit (`min_write_seconds` for the month's key units, with the
loaders' own speed measured on an unlimited table as `writer_rate`), the planner's prediction
(`capacity_plan.plan_import` with that speed) and the seed's published time.

Cases: grid (20, 80, 160 WCU x 1, 2, 4 loaders, idle burst), spent (160 and 80 WCU, 4
loaders, burst emptied at the first BatchWriteItem), ondemand (233,000 statements, k=1),
uncompressed (160 WCU, idle, 4 loaders, k=1: the seed's best case, without compression),
kgrid (20 WCU idle and 80 WCU spent at each k of --kgrid-k, default 2, 5, 10, 20), repeat160
(160 WCU idle, 4 loaders, k=1, --repeat times, default 10), big20 (233,000 statements on a
20 WCU / 20 RCU table, idle, k = --k big20=..., default 20: written, read back once under the
read budget, checked). Reads are counted too: the share of read calls the model throttled.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from unittest import mock

# capacity_cases first: it puts the repository root on sys.path for statement_harness.
import capacity_cases as cc
import measuring
from capacity_cases import Case, Result

import statement_samples as sample
from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.spent_burst import SpentAtFirstWrite
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings, bootstrap_from_environment
from statement_pipeline.aws.s3_files import upload_files
from statement_pipeline.aws.table import count_month
from statement_pipeline.cli.job_runner import loader_totals
from statement_pipeline.local_aws.server import LOCAL_ENV, LocalAws
from statement_pipeline.rules.names import Names

MONTH = "2026-10"
FILES = 4
LOADER_LINE = re.compile(r"(loader op \d+ \(.*?paced\))")
ALL_CASES = ("grid", "spent", "ondemand", "uncompressed", "kgrid", "repeat160", "big20")
# Compression per case (AWS s = measured s x k). 20 WCU: 865 AWS s of writes -> ~58 s at 15.
# 80 and 160 WCU with an idle burst allow 23.3 AWS s (one partition's 1,000 units/s): run
# uncompressed. Spent: 146 s (160 WCU) and 291 s (80 WCU) of writes. The write budget adapts
# by time, so any k works (kgrid runs 20 WCU idle and 80 WCU spent at 2, 5, 10 and 20).
# big20: 11,350 AWS s of writes and about 880 of read-back, at k=20 about 10 minutes.
DEFAULT_K = {
    "20": 15.0,
    "80": 1.0,
    "160": 1.0,
    "spent80": 2.0,
    "spent160": 2.0,
    "ondemand": 1.0,
    "big20": 20.0,
}
KGRID_K = (2.0, 5.0, 10.0, 20.0)
REPEATS = 10
# The unlimited table the loaders' own speed is measured on: 40,000 WCU, time x 1,000.
UNLIMITED = TableSettings("PROVISIONED", 40_000, 40_000)
UNLIMITED_K = 1000.0


@dataclass
class Measured:
    """One import through a proxy: the proxy's counters and the run's outcome."""

    run: measuring.Materialized
    write_s: float
    write_calls: int
    throttled_share: float
    read_calls: int
    read_throttled_calls: int
    items_read: int
    items_accepted: int
    units_accepted: float
    key_units: dict[str, float]
    in_table: int

    def exactness(self, records: int) -> tuple[bool, str]:
        """The run's count check passed, and moto holds exactly the month's rows."""
        valid = measuring.metadata_float(self.run.run, "scheduled_statements", "valid")
        check = self.run.run.checks.get("table_count_matches_valid_rows", False)
        exact = self.run.ok and check and valid == records and self.in_table == records
        failed = ", ".join(self.run.run.failed_checks) or "none"
        note = (
            ""
            if exact
            else f"exit {self.run.returncode}, failed checks: {failed}, valid rows {valid}, "
            f"{self.in_table:,} in the table"
        )
        return exact, note


def import_month(
    files: list[tuple[str, bytes]],
    table: TableSettings,
    proxy: CapacityProxy,
    moto: LocalAws,
    loaders: int,
) -> Measured:
    """Bootstrap through the proxy, upload, then run the real command and read the result."""
    names = Names()
    env = {
        **LOCAL_ENV,
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": proxy.endpoint,
        "STATEMENT_BUCKET": names.bucket,
        "STATEMENT_PREFIX": names.prefix,
        "STATEMENT_QUEUE": names.queue,
        "STATEMENT_TABLE": names.table,
    }
    with mock.patch.dict(os.environ, env):  # this process's environment, restored after
        bootstrap_from_environment(names, table)
        upload_files(names, MONTH, files)
    proxy.reset_stats()
    config = {"resources": {"import_tuning": {"config": {"loaders": loaders}}}}
    run = measuring.materialize(MONTH, config, env)
    if run.returncode != 0:
        print("materialize failed:\n" + run.tail(), file=sys.stderr, flush=True)
    stats = proxy.stats()
    direct = clients.client("dynamodb", endpoint_url=moto.endpoint, **_local_credentials())
    return Measured(
        run=run,
        write_s=stats.write_seconds,
        write_calls=stats.write_calls,
        throttled_share=stats.throttled_write_call_share,
        read_calls=stats.read_calls,
        read_throttled_calls=stats.read_throttled_calls,
        items_read=sum(r.scanned for r in proxy.reads),
        items_accepted=stats.items_accepted,
        units_accepted=stats.units_accepted,
        key_units=dict(stats.key_units.get(names.table, {})),
        in_table=count_month(direct, names.table, MONTH),
    )


def _local_credentials() -> dict[str, str]:
    """The embedded local AWS's placeholder region and credentials, for a direct client."""
    return {
        "region_name": LOCAL_ENV["AWS_REGION"],
        "aws_access_key_id": LOCAL_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_ENV["AWS_SECRET_ACCESS_KEY"],
    }


def run_case(case: Case, files: list[tuple[str, bytes]], writer: Measured) -> Result:
    """Import the month through a capacity proxy shaped like the case's table."""
    proxy_class = SpentAtFirstWrite if case.burst == "spent" else CapacityProxy
    table = (
        TableSettings()
        if case.wcu is None
        else TableSettings("PROVISIONED", case.wcu, case.wcu)  # RCU = WCU, as bootstrap does
    )
    # Spent: the burst starts full and is emptied at the first write (see the class).
    with (
        LocalAws(speedups=True) as moto,
        proxy_class(moto.endpoint, k=case.k, burst="full") as proxy,
    ):
        m = import_month(files, table, proxy, moto, case.loaders)
    for line in loader_lines(m):
        print(line, flush=True)
    exact, note = m.exactness(case.records)
    if m.items_accepted != case.records:
        note = (note + "; " if note else "") + f"{m.items_accepted:,} items accepted"
    rate = writer.units_accepted / writer.write_s if writer.write_s else 0.0
    items_rate = writer.items_accepted / writer.write_s if writer.write_s else 0.0
    return Result(
        case=case,
        write_aws_s=m.write_s * case.k,
        limit=cc.limit_of(case, m.key_units, rate),
        throttled_share=m.throttled_share,
        write_calls=m.write_calls,
        items_accepted=m.items_accepted,
        exact=exact,
        exact_note=note,
        planner_s=cc.planner_seconds(case, items_rate),
        scheduling_s=measuring.metadata_float(m.run.run, "scheduled_statements", "seconds"),
        wall_s=m.run.wall_s,
        rate_cuts=_loader_total(m, "rate_cuts"),
        settled_ops=_loader_total(m, "settled"),
        failure=note,
        read_calls=m.read_calls,
        read_throttled_calls=m.read_throttled_calls,
        month_reads=m.items_read / case.records,
        read_aws_s=measuring.own_read_seconds(m.run.run) * case.k,
    )


def _loader_total(m: Measured, column: str) -> int | None:
    """A column of the loaders table summed over the loader ops (settled: ops that settled)."""
    loaded = m.run.run.materializations.get("loaded_statements")
    return None if loaded is None else int(loader_totals(loaded).get(column, 0))


def loader_lines(m: Measured) -> list[str]:
    """The loader ops' own summaries from the run's log (rate cuts, final rate, pacing)."""
    found = LOADER_LINE.findall(m.run.output)
    return [f"    {line.strip()}" for line in found]


def measure_writer(files: list[tuple[str, bytes]], loaders: int, records: int) -> Measured:
    """The loaders' own speed: the same import on an unlimited table (40,000 WCU, k=1,000)."""
    with LocalAws(speedups=True) as moto, CapacityProxy(moto.endpoint, k=UNLIMITED_K) as proxy:
        m = import_month(files, UNLIMITED, proxy, moto, loaders)
    exact, note = m.exactness(records)
    rate = m.items_accepted / m.write_s if m.write_s else 0.0
    print(
        f"  unlimited table, {loaders} loader(s), {records:,} statements: write phase "
        f"{m.write_s:.1f} s, {rate:,.0f} items/s ({m.units_accepted / max(m.write_s, 1e-9):,.0f}"
        f" units/s), {m.throttled_share:.1%} throttled, exact {exact} {note}",
        flush=True,
    )
    return m


def cases(
    selected: Sequence[str],
    k: Mapping[str, float],
    grid_loaders: Sequence[int],
    kgrid_k: Sequence[float] = KGRID_K,
    repeats: int = REPEATS,
) -> list[Case]:
    """The selected cases, in the order they run."""
    out: list[Case] = []
    if "kgrid" in selected:
        for each in kgrid_k:
            out.append(Case("kgrid", cc.SEED_RECORDS, 20, "idle", 4, each))
            out.append(Case("kgrid", cc.SEED_RECORDS, 80, "spent", 4, each))
    if "repeat160" in selected:
        out.extend(Case("repeat160", cc.SEED_RECORDS, 160, "idle", 4, 1.0) for _ in range(repeats))
    if "big20" in selected:
        out.append(Case("big20", cc.BIG_RECORDS, 20, "idle", 4, k["big20"]))
    if "grid" in selected:
        for wcu in (20, 80, 160):
            for loaders in grid_loaders:
                out.append(Case("grid", cc.SEED_RECORDS, wcu, "idle", loaders, k[str(wcu)]))
    if "spent" in selected:
        for wcu in (160, 80):
            out.append(Case("spent", cc.SEED_RECORDS, wcu, "spent", 4, k[f"spent{wcu}"]))
    if "ondemand" in selected:
        out.append(Case("ondemand", cc.BIG_RECORDS, None, "idle", 4, k["ondemand"]))
    if "uncompressed" in selected:
        out.append(Case("uncompressed", cc.SEED_RECORDS, 160, "idle", 4, 1.0))
    return out


def parse_k(text: str) -> dict[str, float]:
    """DEFAULT_K with `--k` overrides such as `20=10,spent80=4` applied."""
    k = dict(DEFAULT_K)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in k:
            raise SystemExit(f"--k: unknown case {name!r} (one of {', '.join(k)})")
        k[name] = float(value)
    return k


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected cases; exit 1 if any misses a target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(ALL_CASES), help="comma-separated subset")
    parser.add_argument("--k", default="", help="compression overrides, e.g. 20=10,spent80=4")
    parser.add_argument("--grid-loaders", default="1,2,4", help="loader counts of the grid")
    parser.add_argument("--data-seed", type=int, default=None, help="sample data seed")
    parser.add_argument(
        "--kgrid-k", default=",".join(f"{k:g}" for k in KGRID_K), help="compressions of kgrid"
    )
    parser.add_argument("--repeat", type=int, default=REPEATS, help="runs of repeat160")
    parser.add_argument(
        "--writer-each",
        action="store_true",
        help="measure the loaders' own speed before every case, not once per loader count",
    )
    args = parser.parse_args(argv)
    selected = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(selected) - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {', '.join(ALL_CASES)}")
    todo = cases(
        selected,
        parse_k(args.k),
        [int(n) for n in args.grid_loaders.split(",")],
        [float(n) for n in args.kgrid_k.split(",")],
        args.repeat,
    )
    data_seed = args.data_seed if args.data_seed is not None else random.randrange(1 << 30)
    print(
        f"statement_pipeline capacity benchmark: {len(todo)} case(s), month {MONTH}, {FILES} "
        f"messy files, sample data seed {data_seed}, {os.cpu_count()} CPUs",
        flush=True,
    )
    months: dict[int, list[tuple[str, bytes]]] = {}
    writers: dict[tuple[int, int], Measured] = {}
    results: list[Result] = []
    started = time.monotonic()
    for case in todo:
        if case.records not in months:
            months[case.records] = sample.write_month(
                MONTH, case.records, FILES, seed=data_seed, quirks=True
            )
        files = months[case.records]
        # With --writer-each, the loaders' own speed is measured again just before each case:
        # on a machine shared with other work it changes from minute to minute.
        if args.writer_each or (case.loaders, case.records) not in writers:
            writers[case.loaders, case.records] = measure_writer(files, case.loaders, case.records)
        result = run_case(case, files, writers[case.loaders, case.records])
        print(cc.format_result(result), flush=True)
        results.append(result)
    writer_rates = {
        key: (m.items_accepted, m.write_s, m.throttled_share) for key, m in writers.items()
    }
    cc.report(results, writer_rates, time.monotonic() - started)
    return 0 if all(ok for r in results for _, ok in r.verdicts()) else 1


if __name__ == "__main__":
    sys.exit(main())
