"""The production stack converges by itself after its faults: real processes, really killed.

One stack for the module (`distributed_stack.py`), run with prod-local's defaults: the Celery
settings of `celery_settings.py`, the instance of deploy/prod-local/dagster.yaml, the loaders'
own SQS visibility timeout, and the same supervisor that restarts whatever exits. Each month
only chooses its workload: slow enough to be caught mid-load (50 units/s per loader op, the
share of a 100 WCU table: moto never throttles), in small messages spread over both workers.
Nobody acts between the fault and the end: no re-run, no restart by hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.cli.prod_stack import WORKERS, ProdStack
from statement_pipeline.local_aws.server import LocalAws
from statement_pipeline_tests.distributed_stack import (
    RECOVERY_DEADLINE,
    assert_converged,
    drop_month,
    instance_of,
    kill_machine,
    point_at,
    running_stack,
    setup_aws,
    stack_output,
    start_loading,
    step_starts,
    worker_of_pid,
)
from statement_pipeline_tests.processes import (
    describe_runs,
    finished_runs,
    wait_for,
)


@pytest.fixture(scope="module")
def prod_stack(
    local_aws_server: LocalAws, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProdStack]:
    with running_stack(local_aws_server, tmp_path_factory) as stack:
        yield stack


@pytest.fixture
def stack(prod_stack: ProdStack, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> ProdStack:
    return point_at(prod_stack, moto_endpoint, monkeypatch)


def test_a_whole_worker_lost_mid_load_is_survived_with_no_human_action(
    stack: ProdStack, tmp_path: Path
) -> None:
    setup_aws(TableSettings("PROVISIONED", read_capacity=100, write_capacity=100))
    month = "2025-03"
    rows, config = drop_month(month, 71, tmp_path)
    with instance_of(stack) as instance:
        run, loaders = start_loading(stack, instance, month, config)
        assert {worker_of_pid(stack, pid) for pid in loaders.values()} == set(WORKERS)
        step, pid = sorted(loaders.items())[0]
        victim = worker_of_pid(stack, pid)
        assert victim is not None
        exits_before = stack.supervisor.exits(victim)
        killed = kill_machine(stack.services[victim])
        killed_at = time.monotonic()
        assert pid in killed
        assert len(killed) >= 3, killed  # the CLI, the worker's main process, its pool
        (run,) = wait_for(
            lambda: finished_runs(instance, month),
            RECOVERY_DEADLINE,
            "the run to end after the kill",
            lambda: describe_runs(instance) + "\n" + stack_output(stack),
        )
        recovered = time.monotonic() - killed_at
        assert_converged(instance, run, month, rows)
        starts = step_starts(instance, run.run_id)
        # The lost step ran again, once; no other step ran twice (the leases held).
        assert starts[step] == 2, starts
        assert all(count == 1 for key, count in starts.items() if key != step), starts
    # The supervisor started the lost worker again, as it does for any service that exits.
    assert stack.supervisor.exits(victim) == exits_before + 1
    assert stack.services[victim].alive()
    print(f"{victim} killed ({len(killed)} processes) mid-load; run SUCCESS {recovered:.0f}s later")


def test_a_redis_restart_mid_run_is_survived_with_no_human_action(
    stack: ProdStack, tmp_path: Path
) -> None:
    setup_aws(TableSettings("PROVISIONED", read_capacity=100, write_capacity=100))
    month = "2025-04"
    rows, config = drop_month(month, 72, tmp_path)
    with instance_of(stack) as instance:
        run, _ = start_loading(stack, instance, month, config)
        stack.supervisor.restart("redis")
        (run,) = wait_for(
            lambda: finished_runs(instance, month),
            RECOVERY_DEADLINE,
            "the run to end after Redis restarted",
            lambda: describe_runs(instance) + "\n" + stack_output(stack),
        )
        assert_converged(instance, run, month, rows)
