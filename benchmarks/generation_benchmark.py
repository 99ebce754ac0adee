"""How fast the sample generator makes months (a bound once asserted in test_sample.py).

    .venv/bin/python benchmarks/generation_benchmark.py [--repeat 3]

Times `generate_rows` (the rows only) and `write_month` (rows rendered to CSV files, quirks
on) for the seed's month and ten times it, and prints a table of the median seconds and rows
a second over the repeats. The target: ten seed months (233,000 rows) in well under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from statement_samples import generate_rows, write_month

PERIOD = "2026-10"


def _seconds(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Print the generation table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="median of this many runs")
    repeat = parser.parse_args().repeat
    cases: list[tuple[str, int, Callable[[int], object]]] = [
        ("generate_rows", 23_300, lambda n: sum(1 for _ in generate_rows(PERIOD, n))),
        ("generate_rows", 233_000, lambda n: sum(1 for _ in generate_rows(PERIOD, n))),
        ("write_month 4 files, quirks", 23_300, lambda n: write_month(PERIOD, n, 4, quirks=True)),
        ("write_month 4 files, quirks", 233_000, lambda n: write_month(PERIOD, n, 4, quirks=True)),
    ]
    print(f"{'what':<30} {'rows':>8} {'median s':>9} {'rows/s':>10}  (median of {repeat})")
    for what, rows, work in cases:
        seconds = _seconds(lambda work=work, rows=rows: work(rows), repeat)
        print(f"{what:<30} {rows:>8,} {seconds:>9.2f} {rows / seconds:>10,.0f}")


if __name__ == "__main__":
    main()
