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
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from statement_pipeline.cli.arguments import DEFAULT_LOG_LEVEL, add_log_level, instance_log_level

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


def find_dagster_config(start: Path) -> Path:
    """The shipped dev/dagster.yaml: in the working directory, else in the source checkout."""
    for root in (start, Path(__file__).resolve().parents[2]):
        candidate = root / DAGSTER_CONFIG
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{DAGSTER_CONFIG} not found: run `make dev` from the repository")


def prepare_home(home: Path, config: Path, log_level: str = DEFAULT_LOG_LEVEL) -> None:
    """A fresh Dagster instance in `home` with the shipped dagster.yaml, its tables created.

    Its runs log at `log_level` (the shipped file says INFO; another level is written in).
    """
    import dagster as dg
    import yaml

    home.mkdir(parents=True, exist_ok=True)
    for name in INSTANCE_DIRS:
        shutil.rmtree(home / name, ignore_errors=True)
    shutil.copyfile(config, home / "dagster.yaml")
    if log_level != DEFAULT_LOG_LEVEL:
        settings = yaml.safe_load(config.read_text()) or {}
        settings.update(instance_log_level(log_level))
        (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    # Created here, once: the daemon and the code server that open a fresh SQLite instance at
    # the same moment both stamp its schema version ("more than one head present").
    with dg.DagsterInstance.from_config(str(home)):
        pass


def env_file_text(env: dict[str, str]) -> str:
    """Shell lines that point a terminal at the local AWS (placeholder credentials only)."""
    return "".join(f"export {key}={value}\n" for key, value in sorted(env.items()))


# Seconds `dg dev` gets to stop its webserver, daemon and code servers after the SIGINT; what
# is left of its process group then gets 2 s after a SIGTERM, before a SIGKILL. `dg dev` stops
# in about 5 s (benchmarks/dev_stop_benchmark.py), but on a busy machine it took more than 6 s
# and was killed before its services had shut down: a graceful stop is worth the wait.
STOP_GRACE = 30.0


def run(args: argparse.Namespace) -> int:
    # SIGTERM and SIGHUP unwind like Ctrl-C from the first line on, so that a stop during the
    # setup still stops the local AWS. SIGINT raises even where the shell that started us
    # ignores it (a background job): Dagster stops its own processes on SIGINT.
    handlers = {
        signal.SIGTERM: _raise_terminated,
        signal.SIGHUP: _raise_terminated,
        signal.SIGINT: signal.default_int_handler,
    }
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        return _run(args)
    except _Terminated:
        return 128 + signal.SIGTERM
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws.bootstrap import bootstrap_from_environment
    from statement_pipeline.aws.s3_files import upload_files
    from statement_pipeline.local_aws.environment import local_aws_env
    from statement_pipeline.local_aws.server import DEFAULT_PORT, LOCAL_ENV
    from statement_pipeline.rules.names import Names
    from statement_pipeline.supervision.service import free_port, port_is_free

    if not port_is_free(args.host, args.port):
        print(f"port {args.port} is taken: pass --port to serve the UI elsewhere", file=sys.stderr)
        return 2
    aws_port = args.aws_port
    if aws_port is None:
        aws_port = DEFAULT_PORT if port_is_free("127.0.0.1", DEFAULT_PORT) else free_port()
    home = Path(args.home).resolve()
    config = find_dagster_config(Path.cwd())
    prepare_home(home, config, args.log_level)
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
        return _run_dg_dev(args.host, args.port, home, project_root(config), args.log_level)


def project_root(config: Path) -> Path:
    """The checkout holding dev/dagster.yaml: its pyproject.toml says where `dg` finds the code."""
    return config.resolve().parents[len(DAGSTER_CONFIG.parts) - 1]


def dg_dev_command(host: str, port: int, log_level: str = DEFAULT_LOG_LEVEL) -> list[str]:
    """`dg dev` for the project in the working directory (`[tool.dg]` in its pyproject.toml)."""
    command = [sys.executable, "-m", "dagster_dg_cli.cli", "dev", "-h", host, "-p", str(port)]
    return [*command, "--log-level", log_level]


def _cli_path() -> str:
    """How to call this CLI from the working directory (`.venv/bin/...` under `make dev`)."""
    script = Path(sys.executable).parent / "statement-pipeline"
    return os.path.relpath(script) if script.exists() else "statement-pipeline"


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, unwound like Ctrl-C so that `dg dev` and the local AWS are stopped."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _run_dg_dev(host: str, port: int, home: Path, root: Path, log_level: str) -> int:
    """`dg dev` in the foreground until it exits, Ctrl-C, SIGTERM or SIGHUP; then stop it all."""
    from statement_pipeline.supervision.service import Service

    env = {**os.environ, "DAGSTER_HOME": str(home)}
    if sys.prefix != sys.base_prefix:
        # The environment dg runs in, as if activated: `make dev` runs .venv/bin/... without
        # activating it, and dg would warn that the project's .venv is not the active one.
        env["VIRTUAL_ENV"] = sys.prefix
    # A group of its own holds everything it starts (webserver, daemon, code servers, run
    # workers), so nothing of it outlives this command; in our session still, so that whoever
    # stops our session finds it. SIGINT is the stop `dg dev` handles, to it alone (code
    # servers interrupted at the same time answer its shutdown call late): it shuts down its
    # webserver, daemon and code servers, and what is left of its group is ended after that.
    dg_dev = Service(
        "dg dev",
        dg_dev_command(host, port, log_level),
        env,
        cwd=root,
        stop_signal=signal.SIGINT,
        signal_group=False,
        stop_timeout=STOP_GRACE,
        new_session=False,
    )
    dg_dev.start()
    assert dg_dev.proc is not None
    try:
        dg_dev.proc.wait()
    except KeyboardInterrupt:
        pass  # Ctrl-C, SIGTERM or SIGHUP: stopped below, like an exit of its own.
    finally:
        dg_dev.stop()
    return dg_dev.exit_code or 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dev",
        help="local AWS with sample months, then the Dagster UI (`dg dev`) with the sensor on",
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
    add_log_level(p)
    p.set_defaults(func=run)
