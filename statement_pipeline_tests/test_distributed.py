"""The production shape, run for real: Postgres instance, run queue, Celery workers, S3 outputs.

One stack per module (`distributed_stack.py`): PostgreSQL holds the instance, Redis is the
broker, two Celery workers stand in for two machines, the daemon launches queued runs, and
op outputs go to the moto server's S3 through dagster-aws's S3PickleIOManager.
"""

from __future__ import annotations

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
    RECOVERY_DEADLINE,
    SENSOR,
    TARGET,
    TOTAL,
    WORKLOAD,
    assert_converged,
    celery_workers,
    dagster_cli,
    drop_month,
    instance_of,
    kill_machine,
    launch,
    loader_outputs,
    max_overlap,
    point_at,
    running_stack,
    setup_aws,
    stack_output,
    start_loading,
    step_starts,
    stop_sensor,
    worker_of_pid,
)
from statement_pipeline_tests.processes import (
    describe_runs,
    finished_runs,
    month_runs,
    ui_run_ids,
    wait_for,
)
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


# The pool-process kill is about Celery giving the step back, not about SQS: the messages the
# killed process held come back after 20 s rather than the loaders' default 300 s.
KILL_WORKLOAD = tuning_run_config(
    **WORKLOAD["resources"]["import_tuning"]["config"] | {"visibility_timeout_seconds": 20}
)


SLOW_WORKLOAD = tuning_run_config(
    **WORKLOAD["resources"]["import_tuning"]["config"] | {"target_utilisation": 0.2}
)


def test_sigkill_of_a_pool_process_mid_load_puts_its_step_back_and_the_run_succeeds(
    stack: ProdStack, tmp_path: Path
) -> None:
    setup_aws(TableSettings("PROVISIONED", read_capacity=100, write_capacity=100))
    month = "2025-07"
    rows, config = drop_month(month, 61, tmp_path, KILL_WORKLOAD)
    with instance_of(stack) as instance:
        _, loaders = start_loading(stack, instance, month, config)
        # The month's two loader ops write at once, one in each worker.
        assert {worker_of_pid(stack, pid) for pid in loaders.values()} == set(WORKERS)
        killed_step, pid = sorted(loaders.items())[0]
        killed_worker = worker_of_pid(stack, pid)
        assert killed_worker is not None
        # The pool process alone (an out-of-memory kill, say): its worker lives on.
        os.kill(pid, signal.SIGKILL)
        (done,) = wait_for(
            lambda: finished_runs(instance, month),
            RECOVERY_DEADLINE,
            "the run to end",
            lambda: describe_runs(instance) + "\n" + stack_output(stack),
        )
        # The worker put the step back at once (task_reject_on_worker_lost); it ran again and
        # the run went on, with no re-run by anyone.
        assert_converged(instance, done, month, rows)
        assert step_starts(instance, done.run_id)[killed_step] == 2
    # Only the pool process died, and Celery replaced it: the worker never exited.
    assert stack.supervisor.exits(killed_worker) == 0
    print(f"killed the pool process of {killed_step} (pid {pid} of {killed_worker}): run SUCCESS")


def test_the_daemon_killed_with_a_run_queued_comes_back_and_launches_it_once(
    stack: ProdStack, tmp_path: Path
) -> None:
    setup_aws(TableSettings("PROVISIONED", read_capacity=100, write_capacity=100))
    month = "2025-05"
    # Slower than the other fault tests (10 units/s per loader op: about a minute of loading),
    # so that the first run is still loading while the second is submitted and the daemon dies.
    rows, config = drop_month(month, 73, tmp_path, SLOW_WORKLOAD)
    with instance_of(stack) as instance:
        first, _ = start_loading(stack, instance, month, config)
        # One run per month at a time: the second waits in the queue behind the first.
        launch(stack, month, config)
        queued = wait_for(
            lambda: [r for r in month_runs(instance, month) if r.run_id != first.run_id],
            60,
            "the second run",
        )[0]
        assert queued.status == dg.DagsterRunStatus.QUEUED
        assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.STARTED
        exits_before = stack.supervisor.exits("daemon")
        kill_machine(stack.services["daemon"])
        runs = wait_for(
            lambda: (r := finished_runs(instance, month)) and len(r) == 2 and r,
            RECOVERY_DEADLINE,
            "both runs to end after the daemon came back",
            lambda: describe_runs(instance) + "\n" + stack_output(stack),
        )
        # The first run never depended on the daemon: the code server launched it. The second
        # finds the month unchanged and writes nothing.
        for run in runs:
            written = TOTAL if run.run_id == first.run_id else 0
            assert_converged(instance, run, month, rows, written)
            launched = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_STARTING)
            assert len(launched) == 1, describe_runs(instance)
            assert len(instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)) == 1
    assert stack.supervisor.exits("daemon") == exits_before + 1
    assert stack.services["daemon"].alive()


def sensor_cursor(instance: dg.DagsterInstance) -> str | None:
    for state in instance.all_instigator_state():
        if state.name == SENSOR:
            return getattr(state.instigator_data, "cursor", None)
    return None


def test_a_postgres_restart_leaves_the_daemon_and_webserver_running_with_their_history(
    stack: ProdStack,
) -> None:
    assert stack.webserver is not None
    url = "http://{}:{}".format(*stack.webserver)
    pids = {name: stack.services[name].pid for name in ("daemon", "webserver")}
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

        # While the daemon and the webserver are up and idle (the sensor ticking).
        stack.supervisor.restart("postgres")

        # The webserver answers from the restarted database, with the whole history.
        answered = wait_for(
            lambda: (ids := ui_run_ids(url)) is not None and set(ids) == history and ids,
            120,
            "the webserver's run list after the restart",
            lambda: stack_output(stack),
        )
        assert run.run_id in answered
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
    # Neither was restarted: they carried on over the restart by themselves.
    assert {name: stack.services[name].pid for name in pids} == pids
    assert all(stack.services[name].alive() for name in pids)
    scenarios.assert_month_exact(first, sample.generate_rows(first, 200, seed=5))
    scenarios.assert_month_exact(second, sample.generate_rows(second, 150, seed=6))
