"""`statement-pipeline prod-local`: the production shape on one machine, in one command.

Behind `make prod-local`. PostgreSQL holds the Dagster instance, Redis is the Celery broker,
two Celery workers stand in for two machines, the daemon launches queued runs, the webserver
serves the UI, and the embedded local AWS stands in for S3, SQS and DynamoDB (op outputs
included). Logs of every process go to `.prod_local/logs/`; Ctrl-C stops everything. Like
`make dev`, every start begins from nothing: the local AWS lives in memory, so a kept
instance would remember runs and a sensor cursor the new local AWS never had.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ENV_FILE = "local-aws.env"
PYTHON_PACKAGES = ("dagster_celery", "dagster_postgres", "celery", "redis")


def missing_python_packages() -> str | None:
    """One line naming the missing Python packages and how to install them, or None."""
    missing = [name for name in PYTHON_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"Python packages missing ({', '.join(missing)}): pip install -e '.[prod]'"


def _wait_for_aws(endpoint: str, service: Any, timeout: float = 30.0) -> None:
    from statement_pipeline.local_aws.server import is_up

    deadline = time.monotonic() + timeout
    while not is_up(endpoint):
        if not service.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"local AWS did not start on {endpoint}:\n{service.output()}")
        time.sleep(0.2)


def _wait_for_ui(url: str, stack: Any, timeout: float = 180.0) -> bool:
    """True once the webserver answers GraphQL; False if it died or took too long."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not stack.services["webserver"].alive():
            return False
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
    from statement_pipeline.aws.s3_files import upload_files
    from statement_pipeline.cli.dev import (
        SampleMonth,
        _cli_path,
        env_file_text,
        month_files,
        month_shift,
        port_is_free,
        sample_plan,
    )
    from statement_pipeline.cli.local_servers import missing_servers
    from statement_pipeline.cli.prod_stack import IO_BUCKET, ProdStack, Service
    from statement_pipeline.local_aws.server import LOCAL_ENV, MOTO_SERVER_SCRIPT, free_port
    from statement_pipeline.rules.names import Names

    for problem in (missing_python_packages(), missing_servers()):
        if problem:
            print(f"prod-local: {problem}", file=sys.stderr)
            return 2
    if not port_is_free(args.host, args.port):
        print(f"port {args.port} is taken: pass --port to serve the UI elsewhere", file=sys.stderr)
        return 2
    state = Path(args.state).resolve()
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    aws_port = free_port()
    endpoint = f"http://127.0.0.1:{aws_port}"
    aws_env = {**LOCAL_ENV, "AWS_ENDPOINT_URL": endpoint}
    local_aws = Service(
        "local-aws",
        [sys.executable, MOTO_SERVER_SCRIPT, "-H", "127.0.0.1", "-p", str(aws_port)],
        {**os.environ, **aws_env},
        logs / "local-aws.log",
    )
    stack = ProdStack(state, aws_env, webserver=(args.host, args.port))
    try:
        local_aws.start()
        _wait_for_aws(endpoint, local_aws)
        os.environ.update(aws_env)
        os.environ.pop("AWS_PROFILE", None)
        names = Names.from_env()
        print(f"local AWS at {endpoint}")
        for line in bootstrap_from_environment(names).lines():
            print(f"  bootstrap: {line}")
        clients.client("s3").create_bucket(Bucket=IO_BUCKET)
        print(f"  op outputs: s3://{IO_BUCKET}/ (S3PickleIOManager)")
        stack.start()
        assert stack.postgres is not None
        assert stack.redis is not None
        print(f"PostgreSQL (Dagster instance) at 127.0.0.1:{stack.postgres.port}")
        print(f"Redis (Celery broker) at 127.0.0.1:{stack.redis.port}")
        print("Celery workers worker-a, worker-b; dagster-daemon; dagster-webserver")
        now = datetime.now(UTC)
        for month in sample_plan(now, args.months, args.records):
            keys = upload_files(names, month.period, month_files(month, args.files))
            print(f"  {month.period}: {len(keys)} files in s3://{names.bucket}/{names.prefix}")
        drop_month = month_shift(now, 0)
        drop = state / "samples" / f"statements-{drop_month}.csv"
        drop.parent.mkdir(exist_ok=True)
        drop.write_bytes(month_files(SampleMonth(drop_month, 500, seed=99), 1)[0][1])
        (state / ENV_FILE).write_text(env_file_text(aws_env))
        url = f"http://{args.host}:{args.port}"
        if not _wait_for_ui(url, stack):
            print(f"the webserver did not come up:\n{stack.services['webserver'].output()}")
            return 1
        rel = os.path.relpath(state)
        print(
            f"\nDagster UI: {url} (the sensor imports the sample months over the Celery workers)"
            f"\nLogs: {rel}/logs/\nDrop a new file, which the sensor then imports on its own:\n"
            f"  . {rel}/{ENV_FILE} && {_cli_path()} upload {os.path.relpath(drop)} "
            f"--month {drop_month}\nCtrl-C stops everything.\n",
            flush=True,
        )
        while True:
            dead = [name for name, s in stack.services.items() if not s.alive()]
            if dead or not local_aws.alive():
                print(f"stopped: {', '.join(dead) or 'local-aws'} exited; see {rel}/logs/")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        # Even a second Ctrl-C must not leave a server running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        local_aws.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
        print("stopped: PostgreSQL, Redis, workers, daemon, webserver and local AWS")


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
    p.add_argument("--state", default=".prod_local", help="folder of the logs and instance")
    p.set_defaults(func=run)
