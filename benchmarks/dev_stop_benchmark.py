"""How long `statement-pipeline dev` takes to stop on SIGTERM (once a bound in test_dev_stop.py).

    .venv/bin/python benchmarks/dev_stop_benchmark.py [--repeat 3]

Starts `statement-pipeline dev --months 0` on free ports in a temporary folder, waits for the
UI with the code location loaded, records its process tree (local AWS, webserver, daemon,
code servers), sends SIGTERM to the command alone (what a process manager does) and times
until every process of the tree is gone. Prints one row per run and the median. The target:
within 15 s, inside a process manager's usual grace period. test_dev_stop.py proves that
everything stops; this measures how fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

# The process helpers live with the tests (they are not part of the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statement_pipeline.local_aws.server import free_port
from statement_pipeline_tests.processes import BIN, background, ui_locations, wait_for

TARGET_SECONDS = 15.0
GIVE_UP_SECONDS = 120.0


def _one_stop(folder: Path) -> tuple[int, float, int]:
    """Processes started, seconds from SIGTERM until all are gone, and how many outlived it."""
    ui_port, aws_port = free_port(), free_port()
    command = [str(BIN / "statement-pipeline"), "dev", "--months", "0", "--port", str(ui_port)]
    command += ["--aws-port", str(aws_port), "--home", str(folder / "dagster_home")]
    dev = background(command, dict(os.environ), folder / "dev.log")
    with dev:
        wait_for(lambda: ui_locations(f"http://127.0.0.1:{ui_port}"), 180, "the UI", dev.output)
        leader = psutil.Process(dev.pid)
        started = [leader, *leader.children(recursive=True)]
        sent = time.monotonic()
        os.kill(dev.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(started, timeout=GIVE_UP_SECONDS)
        return len(started), time.monotonic() - sent, len(alive)


def main() -> None:
    """Print the stop-time table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="how many starts and stops")
    repeat = parser.parse_args().repeat
    print(f"{'run':>3} {'processes':>9} {'stop s':>7} {'left':>5}  (target {TARGET_SECONDS:.0f} s)")
    times = []
    for run in range(1, repeat + 1):
        with tempfile.TemporaryDirectory() as folder:
            processes, seconds, left = _one_stop(Path(folder))
        times.append(seconds)
        print(f"{run:>3} {processes:>9} {seconds:>7.1f} {left:>5}")
    median = statistics.median(times)
    verdict = "within" if median <= TARGET_SECONDS else "OVER"
    print(f"median {median:.1f} s: {verdict} the {TARGET_SECONDS:.0f} s target")


if __name__ == "__main__":
    main()
