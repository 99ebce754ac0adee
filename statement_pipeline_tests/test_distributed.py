"""The production shape, run for real: Postgres instance, run queue, Celery workers, S3 outputs.

One stack per module (`distributed_stack.py`): PostgreSQL holds the instance, Redis is the
broker, two Celery workers stand in for two machines, the daemon launches queued runs, and
op outputs go to the moto server's S3 through dagster-aws's S3PickleIOManager.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

import statement_samples as sample
from statement_harness import scenarios
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.aws.table import count_month
from statement_pipeline.cli.job_runner import tuning_run_config
from statement_pipeline.cli.prod_stack import IO_BUCKET, WORKERS, ProdStack
from statement_pipeline.definitions import IO_PREFIX
from statement_pipeline.local_aws.server import LocalAws
from statement_pipeline_tests.distributed_stack import (
    LOADER_PREFIX,
    SENSOR,
    TARGET,
    celery_workers,
    dagster_cli,
    instance_of,
    loader_outputs,
    max_overlap,
    point_at,
    running_stack,
    setup_aws,
    stop_sensor,
    worker_of_pid,
)
from statement_pipeline_tests.processes import describe_runs, finished_runs, month_runs, wait_for
from statement_pipeline_tests.test_backfill import loader_intervals
from statement_pipeline_tests.test_daemon import sensor_ticked

POOL = "statement_table_writes"
WCU = 300


@pytest.fixture(scope="module")
def prod_stack(
    local_aws_server: LocalAws, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProdStack]:
    """One stack for the module's tests (start-up and initdb once)."""
    with running_stack(local_aws_server, tmp_path_factory) as stack:
        yield stack


@pytest.fixture
def stack(prod_stack: ProdStack, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> ProdStack:
    return point_at(prod_stack, moto_endpoint, monkeypatch)


def all_finished(instance: dg.DagsterInstance, months: list[str]) -> list[dg.DagsterRun] | None:
    runs = [run for month in months for run in month_runs(instance, month)]
    return runs if len(runs) >= len(months) and all(r.is_finished for r in runs) else None


def stack_output(stack: ProdStack) -> str:
    return "\n".join(f"--- {name}\n{s.output(2500)}" for name, s in stack.services.items())


def test_a_three_month_backfill_spreads_loaders_over_both_workers_and_shares_the_budget(
    stack: ProdStack,
) -> None:
    names = setup_aws(TableSettings("PROVISIONED", read_capacity=WCU, write_capacity=WCU))
    months = {"2026-04": 300, "2026-05": 240, "2026-06": 360}
    for seed, (month, records) in enumerate(months.items()):
        sample_files = sample.write_month(month, records, 2, seed=seed)
        scenarios.put_files(month, sample_files)
    with instance_of(stack) as instance:
        # An explicit pool limit in Postgres, unlike the yaml's default of 2: loader ops that
        # divide the table's rate by 3 read it from the shared instance, wherever they run.
        instance.event_log_storage.set_concurrency_slots(POOL, 3)
        try:
            dagster_cli(
                stack,
                "job",
                "backfill",
                *TARGET,
                "-j",
                "import_statements_job",
                "--partitions",
                ",".join(months),
                "--noprompt",
            )
            runs = wait_for(
                lambda: all_finished(instance, list(months)),
                300,
                "the backfill's runs",
                lambda: describe_runs(instance) + "\n" + stack_output(stack),
            )
            assert len(runs) == len(months)
            assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), describe_runs(
                instance
            )
            assert all(r.tags.get("dagster/backfill") for r in runs)
            # The queued coordinator started every run (RUN_ENQUEUED), on Postgres storage.
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert "postgres" in type(instance.run_storage).__module__
            for run in runs:
                assert instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)

            outputs = [m for r in runs for m in loader_outputs(instance, r.run_id).values()]
            workers = [
                worker
                for r in runs
                for key, worker in celery_workers(instance, r.run_id).items()
                if key.startswith(LOADER_PREFIX)
            ]
            intervals = [i for r in runs for i in loader_intervals(instance, r.run_id)]
        finally:
            instance.event_log_storage.set_concurrency_slots(POOL, 2)

    # Two loader ops per run (STATEMENT_LOADER_OPS=2), in both Celery workers.
    assert len(outputs) == 2 * len(months)
    assert len(workers) == len(outputs)
    assert {w.split("@")[0] for w in workers} == set(WORKERS), workers
    pids = {int(meta["pid"]) for meta in outputs}  # type: ignore[call-overload]
    assert len(pids) >= 2
    # Each loader process belongs to one of the two worker processes (its process group).
    assert {worker_of_pid(stack, pid) for pid in pids} == set(WORKERS)
    assert os.getpid() not in pids
    # The write budget holds across workers: every op took 1/3 of the table (the limit in
    # Postgres), and no more than 3 loader ops of any run wrote at once.
    assert {meta["pool_slots"] for meta in outputs} == {3}
    assert {meta["floor_units_per_second"] for meta in outputs} == {WCU / 3}
    assert max_overlap(intervals) <= 3

    for seed, (month, records) in enumerate(months.items()):
        scenarios.assert_month_exact(month, sample.generate_rows(month, records, seed=seed))
    # What the run measured (shown with `pytest -rP`).
    print(
        f"{len(runs)} runs; {len(outputs)} loader ops in {len(pids)} processes "
        f"{sorted(pids)} of workers {sorted(set(workers))}; items per op "
        f"{[meta['items_written'] for meta in outputs]}; at most {max_overlap(intervals)} "
        "writing at once"
    )
    queue, dlq = scenarios.queue_urls()
    assert (scenarios.queue_depth(queue), scenarios.queue_depth(dlq)) == (0, 0)
    # Op outputs went to S3, not to a worker's disk.
    listed = clients.client("s3").list_objects_v2(Bucket=IO_BUCKET, Prefix=f"{IO_PREFIX}/")
    assert listed.get("KeyCount", 0) > 0
    assert count_month(clients.client("dynamodb"), names.table, "2026-05") == 240


KILL_MONTH = "2025-07"
KILL_TOTAL = 1_200
VISIBILITY = 10
# Slow enough to kill midway: paced at the share of a 100 WCU table (50 units/s per loader op,
# moto never throttles), small messages and receives, and a short visibility timeout so what
# the killed loader held comes back soon. Run config for import_tuning replaces the values the
# definitions configured (STATEMENT_LOADER_OPS), so it names the two loader ops again.
KILL_CONFIG = tuning_run_config(
    loaders=4,
    loader_ops=2,
    records_per_message=50,
    messages_per_receive=2,
    visibility_timeout_seconds=VISIBILITY,
    target_utilisation=1.0,
)


def launch(stack: ProdStack, month: str, config: Path) -> None:
    """Submit a run of the month to the run queue, as the UI's launchpad does."""
    dagster_cli(
        stack,
        "job",
        "launch",
        *TARGET,
        "-j",
        "import_statements_job",
        "--config",
        str(config),
        "--tags",
        json.dumps({"dagster/partition": month}),
    )


def running_loaders(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """Step key -> pid of the run's loader ops that have started and not finished."""
    started: dict[str, int] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        key = record.step_key or ""
        if event is None or not key.startswith(LOADER_PREFIX):
            continue
        if event.event_type == dg.DagsterEventType.STEP_START and event.pid:
            started[key] = event.pid
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            started.pop(key, None)
    return started


def failure_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """The messages and errors of a run's failure events."""
    lines = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is not None and event.is_failure:
            error = getattr(event.event_specific_data, "error", None)
            lines += [event.message or "", error.to_string() if error else ""]
    return "\n".join(lines)


def test_sigkill_of_a_worker_mid_load_fails_the_run_clearly_and_a_rerun_converges(
    stack: ProdStack, tmp_path: Path
) -> None:
    names = setup_aws(TableSettings("PROVISIONED", read_capacity=100, write_capacity=100))
    rows = list(sample.generate_rows(KILL_MONTH, KILL_TOTAL, seed=61))
    scenarios.put_files(
        KILL_MONTH,
        [
            ("part-1.csv", sample.render_csv(sample.COLUMNS, rows[:600])),
            ("part-2.csv", sample.render_csv(sample.COLUMNS, rows[600:])),
        ],
    )
    config = scenarios.write_config(tmp_path / "run.yaml", KILL_CONFIG)
    dynamodb = clients.client("dynamodb")
    with instance_of(stack) as instance:
        launch(stack, KILL_MONTH, config)
        run = wait_for(
            lambda: next(iter(month_runs(instance, KILL_MONTH)), None),
            60,
            "the run",
            lambda: stack_output(stack),
        )

        def writing() -> dict[str, int] | None:
            loaders = running_loaders(instance, run.run_id)
            written = count_month(dynamodb, names.table, KILL_MONTH)
            return loaders if len(loaders) == 2 and written >= 100 else None

        loaders = wait_for(writing, 240, "both loader ops writing", lambda: describe_runs(instance))
        # The month's two loader ops write at once, one in each worker.
        assert {worker_of_pid(stack, pid) for pid in loaders.values()} == set(WORKERS)
        killed_step, pid = sorted(loaders.items())[0]
        killed_worker = worker_of_pid(stack, pid)
        written = count_month(dynamodb, names.table, KILL_MONTH)
        os.kill(pid, signal.SIGKILL)
        assert written < KILL_TOTAL, "the month was loaded before the kill"

        (failed,) = wait_for(
            lambda: finished_runs(instance, KILL_MONTH),
            300,
            "the killed run to end",
            lambda: describe_runs(instance) + "\n" + stack_output(stack),
        )
        assert failed.status == dg.DagsterRunStatus.FAILURE, describe_runs(instance)
        # dagster-celery reports the lost worker process in the run's failure.
        failure = failure_text(instance, failed.run_id)
        assert "WorkerLostError" in failure, failure
        assert "SIGKILL" in failure, failure
        # The other worker's loader op went on and finished its work.
        survivors = loader_outputs(instance, failed.run_id)
        assert killed_step not in survivors
        assert len(survivors) == 1
        assert all(int(meta["items_written"]) > 0 for meta in survivors.values())  # type: ignore[call-overload]
        print(
            f"killed {killed_step} (pid {pid} of {killed_worker}) at "
            f"{written} of {KILL_TOTAL} items; the other op wrote "
            f"{[meta['items_written'] for meta in survivors.values()]}"
        )

        # One re-run, as an operator would launch it: the month converges.
        launch(stack, KILL_MONTH, config)
        runs = wait_for(
            lambda: (r := finished_runs(instance, KILL_MONTH)) and len(r) == 2 and r,
            300,
            "the re-run",
            lambda: describe_runs(instance) + "\n" + stack_output(stack),
        )
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS, describe_runs(instance)
    scenarios.assert_month_exact(KILL_MONTH, rows)
    # What the dead loader held comes back after the visibility timeout; loading it again, as
    # a later run would, changes nothing, and then the queue is empty.
    scenarios.replay_queue(VISIBILITY)
    scenarios.assert_month_exact(KILL_MONTH, rows)
    queue, dlq = scenarios.queue_urls()
    assert (scenarios.queue_depth(queue), scenarios.queue_depth(dlq)) == (0, 0)


def sensor_cursor(instance: dg.DagsterInstance) -> str | None:
    for state in instance.all_instigator_state():
        if state.name == SENSOR:
            return getattr(state.instigator_data, "cursor", None)
    return None


def test_sensor_cursor_and_run_history_survive_a_postgres_restart(stack: ProdStack) -> None:
    assert stack.postgres is not None
    setup_aws()
    first, second = "2026-01", "2026-02"
    scenarios.put_files(first, sample.write_month(first, 200, 1, seed=5))
    dagster_cli(stack, "sensor", "start", SENSOR, *TARGET)
    try:
        with instance_of(stack) as instance:
            (run,) = wait_for(
                lambda: finished_runs(instance, first),
                240,
                f"the sensor's import of {first}",
                lambda: describe_runs(instance) + "\n" + stack_output(stack),
            )
            assert run.status == dg.DagsterRunStatus.SUCCESS, describe_runs(instance)
            cursor = sensor_cursor(instance)
            assert cursor
            history = {r.run_id for r in instance.get_runs()}

        stack.postgres.restart()

        with instance_of(stack) as instance:
            assert sensor_cursor(instance) == cursor
            assert {r.run_id for r in instance.get_runs()} == history
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
            # The daemon lives on: a new file is imported, and the first month, whose files
            # the kept cursor already holds, is not imported again.
            scenarios.put_files(second, sample.write_month(second, 150, 1, seed=6))
            (again,) = wait_for(
                lambda: finished_runs(instance, second),
                240,
                f"the sensor's import of {second} after the restart",
                lambda: describe_runs(instance) + "\n" + stack_output(stack),
            )
            assert again.status == dg.DagsterRunStatus.SUCCESS, describe_runs(instance)
            assert len(month_runs(instance, first)) == 1
            assert sensor_ticked(instance)
    finally:
        stop_sensor(stack)
    scenarios.assert_month_exact(first, sample.generate_rows(first, 200, seed=5))
    scenarios.assert_month_exact(second, sample.generate_rows(second, 150, seed=6))
