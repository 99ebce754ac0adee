# Over 350 lines: one script for both modes (23,300 and scale), which share the rows, the
# emulator set-up and the verdicts; the measuring code shared with capacity_benchmark.py is
# in measuring.py.
"""Import benchmark: the seed's experiment, replayed on the embedded local AWS (moto server).

    .venv/bin/python benchmarks/import_benchmark.py                  # 23,300 records (make bench)
    .venv/bin/python benchmarks/import_benchmark.py --records 233000 # the scale test

Every measurement gets a fresh moto server (`statement_pipeline.local_aws.server.LocalAws`),
so no run pays for another's data, and a sample month generated with a random seed (unseen
data). Measured:

- the import exactly as operators run it: `dagster asset materialize -m statement_pipeline
  --select '*' --partition <month>` in a subprocess (wall time, the run's own step timings,
  peak RSS of the whole process tree, API calls counted outside the process);
- the emulator's ceiling (`ceiling.py`): the import's own calls, same count and payloads,
  made directly with boto3 and nothing else, the fastest any import on this emulator can be
  (it replaces the earlier "floor", BatchWriteItem calls alone, which is its load stage);
- files x loaders (1, 2, 4 each) and 4 loader processes under the multiprocess executor;
- the seed's per-record design (benchmarks/seed_replica.py) on the same emulator.

API calls are counted with botocore's client-side monitoring (AWS_CSM_ENABLED): every client
in the materialize process tree reports each call over UDP to this script.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import random
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ceiling
import measuring
from measuring import CallCounter, cpu_seconds, emulator_pid, metadata_float
from seed_replica import SeedResult, replay

import statement_samples as sample
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import bootstrap_from_environment
from statement_pipeline.aws.s3_files import upload_files
from statement_pipeline.local_aws.environment import local_aws_env
from statement_pipeline.local_aws.server import LocalAws
from statement_pipeline.rules.names import Names

MONTH = "2026-10"
SEED_RECORDS = 23_300
# The seed's published numbers on real AWS (table of 160 WCU unless noted).
PUBLISHED = (
    ("seed on AWS, published", 1, 1, 153.0, 168.0),
    ("seed on AWS, published", 4, 4, 39.0, 44.0),
)
PUBLISHED_CALLS_PER_RECORD = 4


@dataclass
class Row:
    """One line of the results table."""

    label: str
    files: int | str
    loaders: int | str
    records: int
    queue_s: float | None = None
    load_s: float | None = None
    check_s: float | None = None
    run_s: float | None = None
    wall_s: float | None = None
    api_calls: int | None = None
    peak_rss_mb: float | None = None
    emulator_cpu_s: float | None = None
    ok: bool = True
    note: str = ""
    calls_by_api: dict[str, int] = field(default_factory=dict)

    @property
    def calls_per_1000(self) -> float | None:
        if self.api_calls is None or not self.records:
            return None
        return 1000 * self.api_calls / self.records

    @property
    def records_per_second(self) -> float | None:
        return self.records / self.wall_s if self.wall_s else None


# --- the month ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    period: str
    records: int
    files: list[tuple[str, bytes]]
    data_seed: int


def make_month(records: int, files: int, data_seed: int, quirks: bool = False) -> Month:
    return Month(
        MONTH,
        records,
        sample.write_month(MONTH, records, files, seed=data_seed, quirks=quirks),
        data_seed,
    )


# Set by --stock-emulator: moto's own code, without local_aws/moto_speedups.py's speed-ups
# (only its SQS receive race is fixed).
SPEEDUPS = {"on": True}


@contextmanager
def emulator(month: Month) -> Iterator[tuple[LocalAws, Names, list[str]]]:
    """A fresh moto server with the pipeline's resources and the month's files uploaded."""
    with local_aws_env(speedups=SPEEDUPS["on"]) as server:
        names = Names.from_env()
        bootstrap_from_environment(names)
        keys = upload_files(names, month.period, month.files)
        yield server, names, keys


def ceiling_row(month: Month) -> Row:
    """The emulator's ceiling for the month: the import's calls with boto3 alone (ceiling.py)."""
    with emulator(month) as (server, names, _):
        pid = emulator_pid(server.port)
        payloads = ceiling.prepare(names, month.period, month.files)
        result = ceiling.run(names, payloads, emulator_cpu=lambda: cpu_seconds(pid))
    stages = result.stages
    return Row(
        "ceiling: the import's calls, boto3 alone",
        len(month.files),
        4,
        result.items,
        queue_s=round(stages["files"] + stages["plan"] + stages["send"], 2),
        load_s=round(stages["load"] + stages["read"], 2),
        check_s=round(stages["check"], 2),
        wall_s=round(result.seconds, 2),
        api_calls=sum(result.calls.values()),
        emulator_cpu_s=result.emulator_cpu_s,
        ok=result.ok,
        calls_by_api=dict(result.calls),
        note="" if result.ok else "; ".join(result.failures) or f"{result.stored:,} stored",
    )


def run_config(loaders: int, loader_ops: int = 1, processes: int = 0) -> dict[str, Any]:
    """Run config of the import: tuning through the `import_tuning` resource."""
    config: dict[str, Any] = {
        "resources": {"import_tuning": {"config": {"loaders": loaders, "loader_ops": loader_ops}}}
    }
    if processes:
        config["execution"] = {"config": {"multiprocess": {"max_concurrent": processes}}}
    return config


def materialize(
    month: Month, label: str, counter: CallCounter, config: dict[str, Any], loaders: int | str
) -> Row:
    """`dagster asset materialize` of the month in a subprocess, measured from outside."""
    with emulator(month) as (server, _, keys):
        pid = emulator_pid(server.port)
        counter.take()
        cpu = cpu_seconds(pid)
        result = measuring.materialize(month.period, config, counter.env())
        emulator_cpu = cpu_seconds(pid) - cpu
        calls = counter.take()
    run = result.run
    row = Row(
        label,
        len(keys),
        loaders,
        month.records,
        queue_s=metadata_float(run, "scheduled_statements", "seconds"),
        load_s=metadata_float(run, "loaded_statements", "load_seconds"),
        check_s=run.check_s,
        run_s=run.run_s,
        wall_s=round(result.wall_s, 2),
        api_calls=sum(calls.values()),
        peak_rss_mb=round(result.peak_rss_bytes / 2**20, 1),
        emulator_cpu_s=round(emulator_cpu, 2),
        calls_by_api=dict(calls),
        ok=result.ok,
    )
    if not run.found:
        row.note = "no run recorded"
    elif run.failed_checks:
        row.note = "failed checks: " + ", ".join(run.failed_checks)
    if result.returncode != 0:
        row.note = f"exit code {result.returncode}"
        print("materialize failed:\n" + result.tail(), file=sys.stderr)
    return row


def seed_replay(month: Month, loaders: int) -> Row:
    """The seed's per-record design on a fresh emulator with the same files."""
    with emulator(month) as (server, names, keys):
        pid = emulator_pid(server.port)
        cpu = cpu_seconds(pid)
        result: SeedResult = replay(
            make_client=clients.client, bucket=names.bucket, keys=keys, loaders=loaders
        )
        return Row(
            "seed design replayed (1 message per record)",
            len(keys),
            loaders,
            result.records,
            queue_s=result.queue_seconds,
            load_s=result.load_seconds,
            wall_s=round(result.seconds, 2),
            api_calls=result.calls,
            emulator_cpu_s=round(cpu_seconds(pid) - cpu, 2),
        )


# --- reporting --------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


HEADER = (
    f"{'':44} {'files':>5} {'ldrs':>4} {'queue s':>8} {'load s':>7} {'check s':>7} "
    f"{'run s':>7} {'wall s':>7} {'rec/s':>7} {'calls/1k':>8} {'RSS MB':>7} {'emu CPU':>7}"
)


def format_row(row: Row) -> str:
    label = row.label if row.ok else f"{row.label} FAILED"
    return (
        f"{label[:44]:44} {row.files!s:>5} {row.loaders!s:>4} {_fmt(row.queue_s):>8} "
        f"{_fmt(row.load_s):>7} {_fmt(row.check_s):>7} {_fmt(row.run_s):>7} "
        f"{_fmt(row.wall_s):>7} {_fmt(row.records_per_second, 0):>7} "
        f"{_fmt(row.calls_per_1000):>8} {_fmt(row.peak_rss_mb, 0):>7} "
        f"{_fmt(row.emulator_cpu_s):>7}" + (f"  {row.note}" if row.note else "")
    )


def published_rows() -> list[str]:
    lines = []
    for label, files, loaders, queue_s, load_s in PUBLISHED:
        total = queue_s + load_s
        lines.append(
            f"{label:44} {files:>5} {loaders:>4} {queue_s:>8.1f} {load_s:>7.1f} {'-':>7} "
            f"{'-':>7} {total:>7.1f} {SEED_RECORDS / total:>7,.0f} "
            f"{1000 * PUBLISHED_CALLS_PER_RECORD:>8,.0f} {'-':>7} {'-':>7}"
        )
    lines.append(f"{'seed on AWS at 20 WCU, published':44} {'':>5} {'':>4} {'timed out':>8}")
    return lines


def verdict(name: str, value: float, limit: float, at_most: bool = True) -> str:
    ok = value <= limit if at_most else value >= limit
    sign = "<=" if at_most else ">="
    return f"  {name:<58} {value:>8.2f}  (target {sign} {limit:g})  {'PASS' if ok else 'MISS'}"


def median_row(rows: Sequence[Row]) -> Row:
    """The run with the median wall time (a shared machine is noisy)."""
    ordered = sorted(rows, key=lambda r: r.wall_s or 0.0)
    return ordered[(len(ordered) - 1) // 2]


# --- the two modes ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=SEED_RECORDS)
    parser.add_argument("--files", type=int, default=4, help="files of the headline month")
    parser.add_argument(
        "--repeat", type=int, default=1, help="pairs of ceiling and import runs (median)"
    )
    parser.add_argument("--no-matrix", action="store_true", help="skip files x loaders")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed design replay")
    parser.add_argument(
        "--seed-records",
        type=int,
        default=None,
        help="replay the seed design on this many records and scale its times linearly "
        "(understates the seed: the emulator's SQS cost per call grows with the queue)",
    )
    parser.add_argument("--data-seed", type=int, default=None, help="sample data seed")
    parser.add_argument(
        "--stock-emulator",
        action="store_true",
        help="moto's own code, without local_aws/moto_speedups.py's speed-ups (slow at scale)",
    )
    args = parser.parse_args(argv)
    SPEEDUPS["on"] = not args.stock_emulator
    data_seed = args.data_seed if args.data_seed is not None else random.randrange(1 << 30)
    big = args.records > SEED_RECORDS
    moto_version = importlib.metadata.version("moto")
    print(
        f"statement_pipeline import benchmark: {args.records:,} records of {MONTH}, sample "
        f"data seed {data_seed}, moto {moto_version} server "
        f"({'without speed-ups' if args.stock_emulator else 'with moto_speedups'}), "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    counter = CallCounter()
    try:
        if big:
            return scale_mode(args, data_seed, counter)
        return seed_mode(args, data_seed, counter)
    finally:
        counter.close()


def _progress(row: Row) -> Row:
    print(format_row(row), flush=True)
    return row


def pair_ratios(imports: Sequence[Row], ceilings: Sequence[Row]) -> list[float]:
    """Import wall time / ceiling wall time, pair by pair (each pair measured back to back)."""
    return [(i.wall_s or 0) / (c.wall_s or 1) for i, c in zip(imports, ceilings, strict=True)]


def ratio_verdict(name: str, ratios: Sequence[float], limit: float) -> str:
    """A verdict on the median ratio of the pairs, with their min and max."""
    line = verdict(name, statistics.median(ratios), limit)
    return line.replace("  (target", f"  (min {min(ratios):.2f}, max {max(ratios):.2f}; target", 1)


def measure_pairs(
    month: Month, label: str, counter: CallCounter, repeat: int
) -> tuple[list[Row], list[Row]]:
    """The ceiling and the import of the month, back to back, `repeat` times."""
    ceilings, imports = [], []
    for _ in range(max(1, repeat)):
        ceilings.append(_progress(ceiling_row(month)))
        imports.append(_progress(materialize(month, label, counter, {}, 4)))
    return ceilings, imports


def seed_mode(args: argparse.Namespace, data_seed: int, counter: CallCounter) -> int:
    """23,300 records: headline, ceiling, files x loaders, the seed design; one table."""
    month = make_month(args.records, args.files, data_seed, quirks=True)
    print(HEADER, flush=True)
    ceilings, imports = measure_pairs(
        month, "dagster asset materialize (defaults)", counter, args.repeat
    )
    top, headline = median_row(ceilings), median_row(imports)
    matrix: list[Row] = []
    if not args.no_matrix:
        for files in (1, 2, 4):
            shaped = make_month(args.records, files, data_seed, quirks=True)
            for loaders in (1, 2, 4):
                matrix.append(
                    _progress(
                        materialize(
                            shaped, "materialize, loader threads", counter,
                            run_config(loaders), loaders,
                        )
                    )
                )  # fmt: skip
        matrix.append(
            _progress(
                materialize(
                    month, "materialize, 4 loader processes", counter,
                    run_config(4, loader_ops=4, processes=4), "4p",
                )
            )
        )  # fmt: skip
    seed: Row | None = None
    if not args.no_seed:
        seed = _progress(seed_design(args, data_seed))

    print()
    print(HEADER)
    for row in [headline, top, *matrix, *([seed] if seed else [])]:
        print(format_row(row))
    for line in published_rows():
        print(line)
    print()
    print("ratios measured in this run (wall times):")
    ok = all(row.ok for row in imports)
    lines = [
        ratio_verdict("import / ceiling (pairs back to back)", pair_ratios(imports, ceilings), 1.8),
        verdict("API calls per 1,000 records", headline.calls_per_1000 or 0.0, 60),
    ]
    if seed is not None:
        lines.append(
            verdict(
                "seed design replayed / import (speed-up)",
                (seed.wall_s or 0) / (headline.wall_s or 1),
                25,
                at_most=False,
            )
        )
    for line in lines:
        print(line)
        ok = ok and line.endswith("PASS")
    print()
    print("API calls of the headline import (and of the ceiling):")
    for name, n in sorted(headline.calls_by_api.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<40} {n:>7,} {top.calls_by_api.get(name, 0):>7,}")
    return 0 if ok else 1


def seed_design(args: argparse.Namespace, data_seed: int) -> Row:
    replayed = args.seed_records or args.records
    row = seed_replay(make_month(replayed, 4, data_seed), loaders=4)
    if replayed != args.records:
        scale = args.records / replayed
        row.note = f"times x{scale:g} from {replayed:,} records"
        row.queue_s = round((row.queue_s or 0) * scale, 1)
        row.load_s = round((row.load_s or 0) * scale, 1)
        row.wall_s = round((row.wall_s or 0) * scale, 1)
        row.api_calls = round((row.api_calls or 0) * scale)
        row.emulator_cpu_s = round((row.emulator_cpu_s or 0) * scale, 1)
        row.records = args.records
    return row


def scale_mode(args: argparse.Namespace, data_seed: int, counter: CallCounter) -> int:
    """A large month against the 23,300 reference: time, memory and the ceiling, one run."""
    big = make_month(args.records, args.files, data_seed, quirks=True)
    small = make_month(SEED_RECORDS, args.files, data_seed, quirks=True)
    print(HEADER, flush=True)
    small_tops, small_runs = measure_pairs(
        small, "materialize 23,300 (reference)", counter, args.repeat
    )
    big_tops, big_runs = measure_pairs(big, f"materialize {args.records:,}", counter, args.repeat)
    small_run, big_run = median_row(small_runs), median_row(big_runs)
    print()
    print(HEADER)
    for row in (small_run, median_row(small_tops), big_run, median_row(big_tops)):
        print(format_row(row))
    print()
    print("ratios measured in this run:")
    lines = [
        verdict(
            f"time {args.records:,} / time 23,300",
            (big_run.wall_s or 0) / (small_run.wall_s or 1),
            11,
        ),
        verdict(
            f"peak RSS {args.records:,} / peak RSS 23,300",
            statistics.median(r.peak_rss_mb or 0 for r in big_runs)
            / statistics.median(r.peak_rss_mb or 1 for r in small_runs),
            1.2,
        ),
        ratio_verdict(
            f"import / ceiling at {args.records:,}", pair_ratios(big_runs, big_tops), 1.2
        ),
        ratio_verdict("import / ceiling at 23,300", pair_ratios(small_runs, small_tops), 1.8),
        verdict(
            f"API calls per 1,000 records at {args.records:,}", big_run.calls_per_1000 or 0.0, 60
        ),
    ]
    ok = all(row.ok for row in (*big_runs, *small_runs))
    for line in lines:
        print(line)
        ok = ok and line.endswith("PASS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
