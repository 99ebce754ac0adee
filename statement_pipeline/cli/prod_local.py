"""`statement-pipeline prod-local`: the production shape on one machine, in one command.

Behind `make prod-local`. PostgreSQL holds the Dagster instance, Redis is the Celery broker, a
code server serves the definitions, two Celery workers stand in for two machines, the daemon
launches queued runs, the webserver serves the UI, and the embedded local AWS stands in for
S3, SQS, DynamoDB and SNS (op outputs included). A service that exits is started again; the
stack stops on Ctrl-C or SIGTERM, or when one service keeps dying.

Everything lives in the state folder (`.prod_local/`, `--state`), kept across a stop and a
start: the instance's database (runs, sensor cursors, schedule ticks), the local AWS's contents
(saved when it stops), the logs. `--fresh` (`make prod-local-reset`) starts empty.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ENV_FILE = "local-aws.env"
LOCAL_AWS_STATE = "local-aws.state"
PYTHON_PACKAGES = ("dagster_celery", "dagster_postgres", "celery", "redis")


def missing_python_packages() -> str | None:
    """One line naming the missing Python packages and how to install them, or None."""
    missing = [name for name in PYTHON_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"Python packages missing ({', '.join(missing)}): pip install -e '.[prod]'"


def _wait_for_ui(url: str, stack: Any, timeout: float = 180.0) -> bool:
    """True once the webserver answers; False if it keeps dying or takes too long."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stack.supervisor.failed.is_set():
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):  # noqa: S310 - loopback
                return True
        except (OSError, urllib.error.URLError):
            time.sleep(1)
    return False


class _Terminated(KeyboardInterrupt):
    """SIGTERM, unwound like Ctrl-C so that every service is stopped."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws import clients
    from statement_pipeline.aws.bootstrap import bootstrap_from_environment
    from statement_pipeline.cli.dev import _cli_path, env_file_text
    from statement_pipeline.cli.local_servers import MissingServer, missing_servers
    from statement_pipeline.cli.prod_stack import IO_BUCKET, ProdStack
    from statement_pipeline.local_aws.alert_inbox import subscribed_inbox
    from statement_pipeline.local_aws.server import LOCAL_ENV, LocalAws
    from statement_pipeline.rules.alerts import ENV_ALERT_TOPIC as ALERT_TOPIC_ENV
    from statement_pipeline.rules.alerts import ENV_UI_URL as UI_URL_ENV
    from statement_pipeline.rules.names import Names
    from statement_pipeline.supervision.service import port_is_free

    for problem in (missing_python_packages(), missing_servers()):
        if problem:
            print(f"prod-local: {problem}", file=sys.stderr)
            return 2
    if not port_is_free(args.host, args.port):
        print(f"port {args.port} is taken: pass --port to serve the UI elsewhere", file=sys.stderr)
        return 2
    state = Path(args.state).resolve()
    if args.fresh and state.exists():
        shutil.rmtree(state)
        print(f"--fresh: {os.path.relpath(state)} emptied")
    kept = (state / "postgres").exists()
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    local_aws = LocalAws(state_file=state / LOCAL_AWS_STATE, log=logs / "local-aws.log")
    aws_env = {**LOCAL_ENV, "AWS_ENDPOINT_URL": local_aws.endpoint}
    url = f"http://{args.host}:{args.port}"
    stack: ProdStack | None = None
    try:
        local_aws.start()
        os.environ.update(aws_env)
        os.environ.pop("AWS_PROFILE", None)
        names = Names.from_env()
        print(f"local AWS at {local_aws.endpoint}")
        for line in bootstrap_from_environment(names).lines():
            print(f"  bootstrap: {line}")
        clients.client("s3").create_bucket(Bucket=IO_BUCKET)
        print(f"  op outputs: s3://{IO_BUCKET}/ (S3PickleIOManager)")
        inbox = subscribed_inbox()
        print(f"  alerts: SNS {inbox.topic_arn} -> SQS {inbox.queue_url}")
        alerts = {ALERT_TOPIC_ENV: inbox.topic_arn, UI_URL_ENV: url}
        stack = ProdStack(
            state, aws_env, webserver=(args.host, args.port), extra_env=alerts, report=_report
        )
        stack.start()
        stack.supervisor.watch(local_aws.service)
        stack.services["local-aws"] = local_aws.service
        assert stack.postgres is not None
        assert stack.redis is not None
        print(
            f"PostgreSQL (Dagster instance) at 127.0.0.1:{stack.postgres.port}, "
            f"{'kept from the last start' if kept else 'new'}"
        )
        print(f"Redis (Celery broker) at 127.0.0.1:{stack.redis.port}")
        print("code server; Celery workers worker-a, worker-b; dagster-daemon; dagster-webserver")
        drop, drop_month = _upload_samples(args, names, state)
        (state / ENV_FILE).write_text(env_file_text(aws_env))
        if not _wait_for_ui(url, stack):
            print(f"the webserver did not come up:\n{stack.services['webserver'].output()}")
            return 1
        rel = os.path.relpath(state)
        print(
            f"\nDagster UI: {url} (the sensor imports the sample months over the Celery workers)"
            f"\nState (instance, local AWS contents) and logs: {rel}/ (kept across starts; "
            "--fresh starts empty)\nDrop a new file, which the sensor then imports on its own:\n"
            f"  . {rel}/{ENV_FILE} && {_cli_path()} upload {os.path.relpath(drop)} "
            f"--month {drop_month}\nA failed month's alert lands in the SQS queue "
            f"{inbox.queue_url}\nA service that exits is started again; Ctrl-C stops "
            "everything.\n",
            flush=True,
        )
        while not stack.supervisor.failed.wait(1.0):
            pass
        print(f"prod-local: {stack.supervisor.failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except MissingServer as missing:
        print(f"prod-local: {missing}", file=sys.stderr)
        return 2
    finally:
        # Even a second Ctrl-C must not leave a server running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stack is not None:
            stack.stop()
        local_aws.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
        print(
            "stopped: PostgreSQL, Redis, code server, workers, daemon, webserver and local AWS"
            f" (state kept in {os.path.relpath(state)}/)"
        )


def _report(line: str) -> None:
    """A supervisor event, timestamped, on the terminal (and so in whatever keeps its output)."""
    print(f"{datetime.now(UTC):%H:%M:%S} prod-local: {line}", flush=True)


def _upload_samples(args: argparse.Namespace, names: Any, state: Path) -> tuple[Path, str]:
    """Sample months not in the bucket yet (a kept state has them), and the file to drop."""
    from statement_pipeline.aws import clients
    from statement_pipeline.aws.s3_files import list_month_files, upload_files
    from statement_pipeline.cli.dev import SampleMonth, month_files, month_shift, sample_plan

    now = datetime.now(UTC)
    for month in sample_plan(now, args.months, args.records):
        listing = list_month_files(clients.client("s3"), names.bucket, names.prefix, month.period)
        if listing.files:
            print(f"  {month.period}: in s3://{names.bucket}/{names.prefix} already")
            continue
        keys = upload_files(names, month.period, month_files(month, args.files))
        print(f"  {month.period}: {len(keys)} files in s3://{names.bucket}/{names.prefix}")
    drop_month = month_shift(now, 0)
    drop = state / "samples" / f"statements-{drop_month}.csv"
    drop.parent.mkdir(exist_ok=True)
    drop.write_bytes(month_files(SampleMonth(drop_month, 500, seed=99), 1)[0][1])
    return drop, drop_month


def register(sub: Any) -> None:
    p = sub.add_parser(
        "prod-local",
        help=(
            "the production shape on one machine: Postgres instance, Redis, two Celery "
            "workers, daemon, webserver and local AWS (Ctrl-C stops everything)"
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="Dagster UI host")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    p.add_argument("--months", type=int, default=3, help="closed months of sample files")
    p.add_argument("--records", type=int, default=2_000, help="statements per sample month")
    p.add_argument("--files", type=int, default=2, help="files per sample month")
    p.add_argument(
        "--state",
        default=".prod_local",
        help="folder of the instance's database, the local AWS's contents and the logs, kept "
        "across starts",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="empty the state folder first: no runs, sensor cursors or local AWS contents",
    )
    p.set_defaults(func=run)
