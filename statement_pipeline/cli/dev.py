"""`statement-pipeline dev`: local AWS with sample months, then the Dagster UI with the sensor on.

Behind `make dev`. The local AWS lives in memory, so every start begins from an empty one and
from a fresh Dagster instance in .dagster_home/ (a kept instance would remember files and
runs the new local AWS never had, and its sensor cursor would hide the new sample months).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DAGSTER_CONFIG = Path("dev") / "dagster.yaml"
# What a local Dagster instance writes under DAGSTER_HOME (runs, event logs, sensor cursors).
INSTANCE_DIRS = ("history", "storage", "schedules", "logs")
ENV_FILE = "local-aws.env"


def month_shift(moment: datetime, months: int) -> str:
    """The `YYYY-MM` month `months` before (negative: after) the month of `moment`."""
    index = moment.year * 12 + moment.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class SampleMonth:
    period: str
    records: int
    seed: int
    quirks: bool = False
    with_bad_rows: bool = False


def sample_plan(now: datetime, months: int, records: int) -> list[SampleMonth]:
    """The closed months before `now`, oldest first, of varied sizes so the UI's plots differ.

    The middle one uses every format variation the contract allows; the newest one also gets
    a file of broken rows, which shows rejects objects and a warning check in the UI.
    """
    plan = []
    for offset in range(months, 0, -1):
        index = months - offset
        plan.append(
            SampleMonth(
                period=month_shift(now, offset),
                records=max(1, records * (8 + 2 * index) // 10),
                seed=index + 1,
                quirks=index == 1,
                with_bad_rows=offset == 1,
            )
        )
    return plan


def month_files(month: SampleMonth, files: int) -> list[tuple[str, bytes]]:
    """The sample month's CSV files (name, content)."""
    import statement_samples as sample

    content = sample.write_month(month.period, month.records, files, month.seed, month.quirks)
    if month.with_bad_rows:
        bad = [row for _, row in sample.bad_rows_corpus(month.period)]
        content.append(("corrections.csv", sample.render_csv(sample.COLUMNS, bad)))
    return content


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_dagster_config(start: Path) -> Path:
    """The shipped dev/dagster.yaml: in the working directory, else in the source checkout."""
    for root in (start, Path(__file__).resolve().parents[2]):
        candidate = root / DAGSTER_CONFIG
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{DAGSTER_CONFIG} not found: run `make dev` from the repository")


def prepare_home(home: Path, config: Path) -> None:
    """A fresh Dagster instance in `home` with the shipped dagster.yaml."""
    home.mkdir(parents=True, exist_ok=True)
    for name in INSTANCE_DIRS:
        shutil.rmtree(home / name, ignore_errors=True)
    shutil.copyfile(config, home / "dagster.yaml")


def env_file_text(env: dict[str, str]) -> str:
    """Shell lines that point a terminal at the local AWS (placeholder credentials only)."""
    return "".join(f"export {key}={value}\n" for key, value in sorted(env.items()))


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws.bootstrap import bootstrap_from_environment
    from statement_pipeline.aws.s3_files import upload_files
    from statement_pipeline.local_aws.environment import local_aws_env
    from statement_pipeline.local_aws.server import DEFAULT_PORT, LOCAL_ENV, free_port
    from statement_pipeline.rules.names import Names

    if not port_is_free(args.host, args.port):
        print(f"port {args.port} is taken: pass --port to serve the UI elsewhere", file=sys.stderr)
        return 2
    aws_port = args.aws_port
    if aws_port is None:
        aws_port = DEFAULT_PORT if port_is_free("127.0.0.1", DEFAULT_PORT) else free_port()
    home = Path(args.home).resolve()
    prepare_home(home, find_dagster_config(Path.cwd()))
    names = Names.from_env()
    now = datetime.now(UTC)
    with local_aws_env(aws_port) as server:
        print(f"local AWS at {server.endpoint}")
        for line in bootstrap_from_environment(names).lines():
            print(f"  bootstrap: {line}")
        for month in sample_plan(now, args.months, args.records):
            keys = upload_files(names, month.period, month_files(month, args.files))
            print(f"  {month.period}: {len(keys)} files in s3://{names.bucket}/{names.prefix}")
        drop_month = month_shift(now, 0)
        drop = home / "samples" / f"statements-{drop_month}.csv"
        drop.parent.mkdir(exist_ok=True)
        month = SampleMonth(drop_month, max(1, args.records // 2), seed=99)
        drop.write_bytes(month_files(month, 1)[0][1])
        local_env = {**LOCAL_ENV, "AWS_ENDPOINT_URL": server.endpoint}
        (home / ENV_FILE).write_text(env_file_text(local_env))
        rel_home = os.path.relpath(home)
        print(
            f"\nDagster UI: http://{args.host}:{args.port} (the sensor imports the sample months "
            "on its first tick)\nDrop a new file, which the sensor then imports on its own:\n"
            f"  . {rel_home}/{ENV_FILE} && {_cli_path()} upload "
            f"{os.path.relpath(drop)} --month {drop_month}\n",
            flush=True,
        )
        return _run_dagster_dev(args.host, args.port, home)


def _cli_path() -> str:
    """How to call this CLI from the working directory (`.venv/bin/...` under `make dev`)."""
    script = Path(sys.executable).parent / "statement-pipeline"
    return os.path.relpath(script) if script.exists() else "statement-pipeline"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, unwound like Ctrl-C so that `dagster dev` and the local AWS are stopped."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _run_dagster_dev(host: str, port: int, home: Path) -> int:
    """`dagster dev` in the foreground until it exits, Ctrl-C or SIGTERM; then shut it down."""
    command = [sys.executable, "-m", "dagster", "dev", "-m", "statement_pipeline"]
    command += ["-h", host, "-p", str(port)]
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    proc = subprocess.Popen(command, env={**os.environ, "DAGSTER_HOME": str(home)})
    try:
        return proc.wait()
    except KeyboardInterrupt as interrupt:
        # Ctrl-C in the terminal reached `dagster dev` too; a SIGTERM sent to us alone did not.
        if isinstance(interrupt, _Terminated):
            proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dev",
        help="local AWS with sample months, then the Dagster UI (`dagster dev`) with the sensor on",
    )
    p.add_argument("--host", default="127.0.0.1", help="Dagster UI host")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    p.add_argument(
        "--aws-port", type=int, default=None, help="local AWS port (default 5005, if free)"
    )
    p.add_argument("--months", type=int, default=3, help="closed months of sample files")
    p.add_argument("--records", type=int, default=5_000, help="statements per sample month")
    p.add_argument("--files", type=int, default=2, help="files per sample month")
    p.add_argument("--home", default=".dagster_home", help="DAGSTER_HOME of the dev instance")
    p.set_defaults(func=run)
