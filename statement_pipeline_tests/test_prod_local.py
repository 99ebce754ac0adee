"""`statement-pipeline prod-local` as a person runs it: supervised, kept, stopped, started again.

The real command, in a state folder of its own: it imports its sample month; a service killed
outright is started again while the rest runs on; SIGTERM stops everything it started; a start
right after the stop comes up on the same port with the runs, the sensor's cursor and the
table as they were; `--fresh` starts empty; a service that keeps dying stops the stack with
its name and its last lines.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from statement_harness import scenarios
from statement_pipeline.aws import clients
from statement_pipeline.aws.table import count_month
from statement_pipeline.cli.dev import month_shift
from statement_pipeline.local_aws.alert_inbox import fields_of, subscribed_inbox
from statement_pipeline.supervision.service import Service, free_port
from statement_pipeline_tests.distributed_stack import kill_tree, require_servers
from statement_pipeline_tests.processes import BIN, ui_run_ids, ui_run_statuses, wait_for

MONTH_RECORDS = 200
STOP_WITHIN = 90


@pytest.fixture
def state() -> Iterator[Path]:
    """A state folder PostgreSQL's own user can reach when the tests run as root."""
    require_servers("the prod-local tests")
    root = Path(tempfile.mkdtemp(prefix="statement-prod-local-"))
    root.chmod(0o755)
    yield root / "state"
    shutil.rmtree(root, ignore_errors=True)


def prod_local(state: Path, port: int, log: Path, *extra: str) -> Service:
    command = [str(BIN / "statement-pipeline"), "prod-local", "--state", str(state)]
    command += ["--port", str(port), "--months", "1", "--records", str(MONTH_RECORDS), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return Service("prod-local", command, env, log, stop_timeout=STOP_WITHIN).start()


def tree_of(service: Service) -> list[psutil.Process]:
    leader = psutil.Process(service.pid)
    return [leader, *leader.children(recursive=True)]


def succeeded_runs(url: str) -> list[str] | None:
    """The runs the UI lists once there is one and none is in progress."""
    statuses = ui_run_statuses(url)
    if not statuses or any(s not in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses.values()):
        return None
    assert set(statuses.values()) == {"SUCCESS"}, statuses
    return sorted(statuses)


def stop(service: Service) -> None:
    """SIGTERM to the command alone, as a process manager sends it; everything must end."""
    started = tree_of(service)
    os.kill(service.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(started, timeout=STOP_WITHIN)
    assert not [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], (
        service.output()
    )
    assert service.exit_code == 0, service.output()


def point_at_local_aws(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's AWS clients at prod-local's local AWS, through the env file it writes."""
    for line in (state / "local-aws.env").read_text().splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        monkeypatch.setenv(name, value)


def month_in_table(state: Path, month: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """Items of the month in the local AWS."""
    point_at_local_aws(state, monkeypatch)
    return count_month(clients.client("dynamodb"), "statements", month)


def processes_named(service: Service, part: str) -> list[psutil.Process]:
    found = []
    for proc in tree_of(service):
        with suppress(psutil.NoSuchProcess):
            if part in " ".join(proc.cmdline()):
                found.append(proc)
    return found


def test_prod_local_restarts_what_exits_keeps_its_state_and_starts_again_at_once(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    month = month_shift(datetime.now(UTC), 1)
    first = prod_local(state, port, tmp_path / "first.log")
    try:
        runs = wait_for(lambda: succeeded_runs(url), 300, "the sample month's import", first.output)
        # A service killed outright (its machine gone) is started again; the rest runs on.
        (daemon,) = [
            p for p in processes_named(first, "dagster-daemon") if os.getpgid(p.pid) == p.pid
        ]
        kill_tree(daemon.pid)
        wait_for(lambda: "daemon restarted (pid" in first.output(), 60, "the restart", first.output)
        assert "daemon exited (code -9); restarting in 1s" in first.output()
        assert first.alive()
        wait_for(lambda: ui_run_ids(url) == runs, 60, "the UI after the restart")
        in_table = month_in_table(state, month, monkeypatch)
        assert in_table > 0
    finally:
        stop(first)

    # At once, on the same port: nothing of the first start holds it.
    daemon_log = state / "logs" / "daemon.log"
    seen = daemon_log.stat().st_size
    again = prod_local(state, port, tmp_path / "again.log")
    try:
        wait_for(lambda: ui_run_ids(url) is not None, 300, "the UI", again.output)
        assert "kept from the last start" in again.output()
        assert f"{month}: in s3://statements/statements/ already" in again.output()
        # The history, and the sensor's cursor: its ticks find nothing new to import.
        wait_for(
            lambda: b"no new or changed statement files" in daemon_log.read_bytes()[seen:],
            120,
            "a sensor tick after the start",
        )
        assert succeeded_runs(url) == runs
        assert month_in_table(state, month, monkeypatch) == in_table
    finally:
        stop(again)

    fresh = prod_local(state, port, tmp_path / "fresh.log", "--fresh")
    try:
        wait_for(lambda: ui_run_ids(url) is not None, 300, "the UI", fresh.output)
        assert "new" in fresh.output().split("PostgreSQL (Dagster instance)")[1].splitlines()[0]
        assert not set(ui_run_ids(url) or []) & set(runs)
        # A failed month is announced on the alert topic prod-local created, with its link.
        wait_for(lambda: succeeded_runs(url), 300, "the sample month's import", fresh.output)
        point_at_local_aws(state, monkeypatch)
        broken = month_shift(datetime.now(UTC), 3)
        scenarios.put_files(broken, [("unreadable.csv", b"statement_id,period\n\xff\xfe\n")])
        inbox = subscribed_inbox()
        (alert,) = wait_for(inbox.messages, 300, "the failed month's alert", fresh.output)
        fields = fields_of(alert)
        assert fields["month"] == broken
        assert fields["link"].startswith(f"{url}/runs/")
        # A service that keeps dying stops the stack, naming it, with its last lines.
        for _ in range(12):
            if not fresh.alive():
                break
            restarts = fresh.output(tail=200_000).count("webserver restarted")
            for proc in processes_named(fresh, "dagster-webserver"):
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            wait_for(
                lambda n=restarts: (
                    not fresh.alive() or fresh.output(tail=200_000).count("webserver restarted") > n
                ),
                60,
                "the webserver's restart",
                fresh.output,
                interval=0.2,
            )
        wait_for(lambda: not fresh.alive(), STOP_WITHIN, "prod-local to give up", fresh.output)
        output = fresh.output(tail=20_000)
        assert fresh.exit_code == 1, output
        assert "webserver exited 6 times within 300s" in output, output
        assert "Last lines of" in output, output
        assert "webserver.log" in output, output
    finally:
        fresh.stop()
