"""The production-shaped stack for the distributed tests: one per test module, real servers.

PostgreSQL and Redis from the system's packages, two Celery workers and the daemon, all on
loopback, pointed at the session's moto server. A machine without PostgreSQL or Redis skips
these tests and says why (`.ci/run` installs both, so CI never skips them).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings, bootstrap_from_environment
from statement_pipeline.cli.local_servers import missing_servers
from statement_pipeline.cli.prod_stack import BIN, IO_BUCKET, ProdStack
from statement_pipeline.local_aws.server import LocalAws
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.conftest import REGION, fake_aws_settings

REQUIRED_ENV = "STATEMENT_PIPELINE_DISTRIBUTED"
SENSOR = "statement_file_sensor"
TARGET = ["-m", "statement_pipeline"]
LOADER_PREFIX = "loaded_statements.load_statements["


def fake_aws_env(endpoint: str, base: Path) -> dict[str, str]:
    """The autouse fixture's fake credentials, for processes that outlive one test."""
    return {**fake_aws_settings(base / "no-aws-config"), "AWS_ENDPOINT_URL": endpoint}


def dagster_cli(stack: ProdStack, *args: str, check: bool = True) -> str:
    """A `dagster` command against the stack's instance; its output."""
    done = subprocess.run(
        [str(BIN / "dagster"), *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"dagster {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


@contextmanager
def running_stack(
    local_aws_server: LocalAws, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProdStack]:
    """Postgres, Redis, two Celery workers and the daemon; the sensor starts stopped."""
    missing = missing_servers()
    if missing:
        reason = f"distributed tests need PostgreSQL and Redis on this machine: {missing}"
        # .ci/run installs both and sets this: there the tests must run, never skip.
        if os.environ.get(REQUIRED_ENV) == "required":
            pytest.fail(reason)
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("prod-stack")
    aws_env = fake_aws_env(local_aws_server.endpoint, state)
    # The tests start the sensor when they want it: stopped before the daemon's first tick.
    with ProdStack(state, aws_env, before_daemon=stop_sensor) as stack:
        yield stack


def stop_sensor(stack: ProdStack) -> None:
    dagster_cli(stack, "sensor", "stop", SENSOR, *TARGET)


def point_at(
    prod_stack: ProdStack, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> ProdStack:
    """The stack over a freshly reset moto, this process pointed at the stack's instance."""
    assert moto_endpoint == prod_stack.aws_env["AWS_ENDPOINT_URL"]
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL"):
        monkeypatch.setenv(name, prod_stack.env[name])
    return prod_stack


def setup_aws(table: TableSettings | None = None) -> Names:
    """The statement resources and the op-output bucket, in the reset moto."""
    names = Names()
    bootstrap_from_environment(names, table)
    clients.client("s3").create_bucket(
        Bucket=IO_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return names


def instance_of(stack: ProdStack) -> dg.DagsterInstance:
    """A connection to the stack's Postgres-backed instance, as any process would open it."""
    return dg.DagsterInstance.from_config(str(stack.home))


def loader_outputs(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, object]]:
    """Step key -> the output metadata of each loader op of a run (host, pid, slots, ...)."""
    out = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        event = record.dagster_event
        if event is not None and (record.step_key or "").startswith(LOADER_PREFIX):
            metadata = event.step_output_data.metadata
            out[record.step_key or ""] = {k: v.value for k, v in metadata.items()}
    return out


def celery_workers(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Step key -> the Celery worker (node name) that ran it, from dagster-celery's events."""
    out = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        metadata = event.engine_event_data.metadata if event is not None else {}
        worker = metadata.get("Celery worker")
        if worker is not None and record.step_key:
            out[record.step_key] = str(worker.value)
    return out


def worker_of_pid(stack: ProdStack, pid: int) -> str | None:
    """Which of the stack's Celery workers a live process belongs to (its process group)."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None
    for name, service in stack.services.items():
        if name.startswith("worker-") and service.alive() and service.pid == group:
            return name
    return None


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak
