# Over 350 lines: the phases, their measurement and their table belong together; the
# measuring of a command is shared with the other benchmarks in measuring.py.
"""Profile of a month's import as users run it, beside the emulator's ceiling, in one run.

    .venv/bin/python benchmarks/profile_import.py                       # 23,300 and 233,000
    .venv/bin/python benchmarks/profile_import.py --records 23300 --repeat 5

For each month size, each repetition runs, back to back, on a fresh embedded local AWS each
(started as `make demo` starts it, `local_aws_env`), with the same messy 4-file month
(`write_month(..., quirks=True)`, random data seed, printed):

- the ceiling (`ceiling.py`): the import's AWS calls made directly with boto3, no Dagster;
- `dagster asset materialize -m statement_pipeline --select '*' --partition 2026-10` in a
  subprocess, split into phases by its own records: the process's start and exit (measured
  from outside), start-up marks written by `profile_marks/sitecustomize.py` (interpreter
  ready, the code location's package imported, the `@dg.definitions` function called), and
  the run's step start and end times from the Dagster event log.

Phases (contiguous: they add up to the wall time):

| phase | from | to |
| --- | --- | --- |
| start-up: interpreter | process started | site-packages ready |
| start-up: Dagster CLI imports | interpreter ready | `statement_pipeline` import begins |
| start-up: project imports | import begins | import ends |
| definitions load | import ends | the `@dg.definitions` function returned |
| run set-up | definitions loaded | first step starts (job resolved, run created) |
| scheduling | first step starts | last `scheduled_statements` step ends |
| loading | | last `load_statements` step ends |
| finish (read-back) | | `finish_load` ends |
| checks | | `statement_checks` ends |
| run end | | the run's success event |
| exit: CLI wrap-up | | the interpreter begins to shut down (atexit) |
| exit: interpreter shutdown | | the process has exited |
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ceiling
import measuring
from import_benchmark import MONTH, Month, emulator, make_month
from measuring import CallCounter, cpu_seconds, emulator_pid

MARKS_DIR = Path(__file__).with_name("profile_marks")
SIZES = (23_300, 233_000)
STARTUP_MARKS = (
    ("start-up: interpreter", "python_ready"),
    ("start-up: Dagster CLI imports", "project_import_start"),
    ("start-up: project imports", "project_import_end"),
    ("definitions load", "definitions_end"),
)
# Step key prefixes of each stage of the run, in run order.
STAGES = (
    ("scheduling", "scheduled_statements."),
    ("loading", "loaded_statements.start_loaders", "loaded_statements.load_statements"),
    ("finish (read-back)", "loaded_statements.finish_load"),
    ("checks", "statement_checks"),
)
# The ceiling's stages that serve each phase of the import.
CEILING_OF = {
    "scheduling": ("files", "plan", "send"),
    "loading": ("load",),
    "finish (read-back)": ("read",),
    "checks": ("check",),
}
PHASES = (
    *(name for name, _ in STARTUP_MARKS),
    "run set-up",
    *(stage[0] for stage in STAGES),
    "run end",
    "exit: CLI wrap-up",
    "exit: interpreter shutdown",
)


@dataclass
class Timeline:
    """The phases of one import process, seconds each, and the seconds spent inside steps."""

    phases: dict[str, float]
    in_steps: dict[str, float] = field(default_factory=dict)
    # Epoch seconds where each phase began and ended.
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.phases.values())

    def usage(self, samples: Sequence[tuple[float, int, float]]) -> dict[str, tuple[float, int]]:
        """CPU seconds used and peak RSS bytes of each phase, from (epoch, RSS, CPU) samples.

        A phase's CPU is the process's CPU at the last sample before its end minus at the last
        sample before its start (so a phase shorter than the sampling interval may show 0).
        """

        def cpu_at(t: float) -> float:
            return max((cpu for at, _, cpu in samples if at <= t), default=0.0)

        out: dict[str, tuple[float, int]] = {}
        for name, (start, end) in self.spans.items():
            rss = max((r for at, r, _ in samples if start <= at <= end), default=0)
            out[name] = (cpu_at(end) - cpu_at(start), rss)
        return out


def read_marks(path: Path) -> dict[str, float]:
    """The first time each mark was written (`<name> <epoch>` lines)."""
    marks: dict[str, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            marks.setdefault(name, float(value))
    return marks


def timeline(
    *,
    started_at: float,
    ended_at: float,
    marks: Mapping[str, float],
    steps: Mapping[str, tuple[float, float]],
    run_end: float,
) -> Timeline:
    """Cut a process's life into the contiguous phases of PHASES.

    A phase whose end mark is missing gets 0 s and its time goes to the next one, so the
    phases still add up to the whole process.
    """
    phases: dict[str, float] = {}
    in_steps: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    at = started_at

    def until(name: str, end: float | None) -> None:
        nonlocal at
        if end is None or end < at:
            phases[name] = 0.0
            spans[name] = (at, at)
            return
        phases[name] = end - at
        spans[name] = (at, end)
        at = end

    for name, mark in STARTUP_MARKS:
        until(name, marks.get(mark))
    first_step = min((start for start, _ in steps.values()), default=None)
    until("run set-up", first_step)
    for name, *prefixes in STAGES:
        mine = [span for key, span in steps.items() if key.startswith(tuple(prefixes))]
        in_steps[name] = sum(end - start for start, end in mine)
        until(name, max((end for _, end in mine), default=None))
    until("run end", run_end)
    until("exit: CLI wrap-up", marks.get("interpreter_exit"))
    until("exit: interpreter shutdown", ended_at)
    return Timeline(phases, in_steps, spans)


@dataclass
class Pair:
    """One repetition: the ceiling and the import, measured back to back."""

    ceiling: ceiling.CeilingResult
    wall_s: float
    timeline: Timeline
    peak_rss_mb: float
    cpu_s: float
    calls: int
    emulator_cpu_s: float
    ok: bool
    # Per phase: CPU seconds of the import process and peak RSS bytes of its tree.
    usage: dict[str, tuple[float, int]] = field(default_factory=dict)
    # First to last write of the month (the run's `write_seconds`), inside the loading phase.
    write_window_s: float | None = None

    @property
    def ratio(self) -> float:
        return self.wall_s / self.ceiling.seconds

    @property
    def read_back_s(self) -> float:
        return self.timeline.phases["finish (read-back)"]


def measure_ceiling(month: Month) -> ceiling.CeilingResult:
    with emulator(month) as (server, names, _):
        pid = emulator_pid(server.port)
        payloads = ceiling.prepare(names, month.period, month.files)
        return ceiling.run(names, payloads, emulator_cpu=lambda: cpu_seconds(pid))


def measure_import(
    month: Month, counter: CallCounter
) -> tuple[measuring.Materialized, Timeline, int, float]:
    with emulator(month) as (server, _, _), tempfile.TemporaryDirectory() as tmp:
        pid = emulator_pid(server.port)
        marks_file = Path(tmp, "marks")
        env = {
            **counter.env(),
            "PYTHONPATH": os.pathsep.join(
                [str(MARKS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "STATEMENT_PROFILE_MARKS": str(marks_file),
        }
        counter.take()
        cpu = cpu_seconds(pid)
        result = measuring.materialize(month.period, {}, env)
        emulator_cpu = cpu_seconds(pid) - cpu
        calls = sum(counter.take().values())
        marks = read_marks(marks_file)
    if result.returncode != 0:
        print("materialize failed:\n" + result.tail(), file=sys.stderr)
    line = timeline(
        started_at=result.started_at,
        ended_at=result.ended_at,
        marks=marks,
        steps=result.run.steps,
        run_end=result.run.run_end or result.ended_at,
    )
    return result, line, calls, emulator_cpu


def measure_pair(month: Month, counter: CallCounter) -> Pair:
    top = measure_ceiling(month)
    result, line, calls, emulator_cpu = measure_import(month, counter)
    written = result.run.materializations.get("loaded_statements", {}).get("write_seconds")
    pair = Pair(
        write_window_s=float(written) if isinstance(written, int | float) else None,
        ceiling=top,
        wall_s=result.wall_s,
        timeline=line,
        peak_rss_mb=result.peak_rss_bytes / 2**20,
        cpu_s=result.cpu_s,
        calls=calls,
        emulator_cpu_s=emulator_cpu,
        ok=result.ok and top.ok,
        usage=line.usage(result.samples),
    )
    print(
        f"  {month.records:>7,} statements: import {pair.wall_s:6.2f}s "
        f"({pair.peak_rss_mb:.0f} MB, {calls} calls), {ceiling.describe(top)}: "
        f"{pair.ratio:.2f}x" + ("" if pair.ok else "  FAILED"),
        flush=True,
    )
    return pair


# --- reporting ---------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def profile_table(records: int, pairs: Sequence[Pair]) -> list[str]:
    """The phases of the import (median and min of the repetitions) beside the ceiling's."""
    walls = [p.wall_s for p in pairs]
    lines = [
        f"{records:,} statements, {len(pairs)} repetition(s), median (min):",
        "",
        "| phase | import s | share | in steps s | CPU s | peak RSS MB | ceiling s "
        "| ceiling CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for phase in PHASES:
        values = [p.timeline.phases[phase] for p in pairs]
        steps = [p.timeline.in_steps.get(phase) for p in pairs]
        stages = CEILING_OF.get(phase, ())
        top = [sum(p.ceiling.stages[s] for s in stages) for p in pairs]
        top_cpu = [sum(p.ceiling.client_cpu[s] for s in stages) for p in pairs]
        cpu = [p.usage.get(phase, (0.0, 0))[0] for p in pairs]
        rss = [p.usage.get(phase, (0.0, 0))[1] / 2**20 for p in pairs]
        lines.append(
            f"| {phase} | {_median(values):.2f} ({min(values):.2f}) | "
            f"{_median(values) / _median(walls):.0%} | "
            + (f"{_median([s or 0.0 for s in steps]):.2f}" if steps[0] is not None else "-")
            + f" | {_median(cpu):.2f} | {max(rss):.0f} | "
            + (
                f"{_median(top):.2f} ({' + '.join(stages)}) | {_median(top_cpu):.2f}"
                if stages
                else "- | -"
            )
            + " |"
        )
    tops = [p.ceiling.seconds for p in pairs]
    lines.append(
        f"| **whole process** | **{_median(walls):.2f}** ({min(walls):.2f}) | 100% | - | "
        f"{_median([p.cpu_s for p in pairs]):.2f} | {max(p.peak_rss_mb for p in pairs):.0f} | "
        f"**{_median(tops):.2f}** ({min(tops):.2f}) | "
        f"{_median([sum(p.ceiling.client_cpu.values()) for p in pairs]):.2f} |"
    )
    return lines


def summary(records: int, pairs: Sequence[Pair]) -> list[str]:
    def per_1000(calls: Sequence[int]) -> float:
        return 1000 * _median(calls) / records

    ratios = [p.ratio for p in pairs]
    without = [
        (p.wall_s - p.read_back_s) / (p.ceiling.seconds - p.ceiling.stages["read"]) for p in pairs
    ]
    shares = [p.read_back_s / p.wall_s for p in pairs]
    outside = [p.timeline.phases["loading"] - (p.write_window_s or 0.0) for p in pairs]
    rss = [p.peak_rss_mb for p in pairs]
    return [
        f"- import / ceiling: median {_median(ratios):.2f}, min {min(ratios):.2f} "
        f"(each pair measured back to back)",
        f"- the read-back (finish step): {_median(shares):.0%} of the import; without it on "
        f"both sides, import / ceiling median {_median(without):.2f}, min {min(without):.2f}",
        f"- loading phase minus the month's write window (first to last write): median "
        f"{_median(outside):.2f} s",
        f"- calls per 1,000 records: import {per_1000([p.calls for p in pairs]):.1f}, "
        f"ceiling {per_1000([sum(p.ceiling.calls.values()) for p in pairs]):.1f}",
        f"- peak RSS of the process tree: median {_median(rss):.0f} MB (min {min(rss):.0f}, "
        f"max {max(rss):.0f}); CPU of the import process {_median([p.cpu_s for p in pairs]):.1f} s",
        f"- emulator CPU: import {_median([p.emulator_cpu_s for p in pairs]):.1f} s, ceiling "
        f"{_median([p.ceiling.emulator_cpu_s or 0.0 for p in pairs]):.1f} s",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="pairs per month size")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--data-seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.data_seed if args.data_seed is not None else random.randrange(1 << 30)
    print(
        f"profile of `dagster asset materialize` of {MONTH}, messy {args.files}-file months, "
        f"sample data seed {seed}, {os.cpu_count()} CPUs",
        flush=True,
    )
    counter = CallCounter()
    results: dict[int, list[Pair]] = {}
    try:
        for records in args.records:
            month = make_month(records, args.files, seed, quirks=True)
            results[records] = [measure_pair(month, counter) for _ in range(max(1, args.repeat))]
    finally:
        counter.close()
    for records, pairs in results.items():
        print()
        print("\n".join(profile_table(records, pairs)))
        print()
        print("\n".join(summary(records, pairs)))
    if len(results) > 1:
        small, *_, big = sorted(results)
        walls = {n: _median([p.wall_s for p in results[n]]) for n in (small, big)}
        rss = {n: _median([p.peak_rss_mb for p in results[n]]) for n in (small, big)}
        print()
        print(
            f"{big:,} / {small:,}: time {walls[big] / walls[small]:.2f}x, "
            f"peak RSS {rss[big] / rss[small]:.2f}x (medians)"
        )
    return 0 if all(p.ok for pairs in results.values() for p in pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
