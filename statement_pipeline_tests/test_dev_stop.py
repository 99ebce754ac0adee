"""SIGTERM stops `statement-pipeline dev` and `make dev`, and everything they started.

A process manager (systemd, a container runtime, CI) sends SIGTERM to the command it started
and to nothing else; whatever is still running after its grace period is killed or leaks. So
the test signals the command alone, then finds none of its processes left, nor anything else
in its session (run workers or code servers started after the tree was recorded). How long
that takes is measured in benchmarks/dev_stop_benchmark.py; here the wait is only a
liveness deadline, generous so that a busy machine cannot fail it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from statement_pipeline.local_aws.server import free_port
from statement_pipeline_tests.processes import BIN, background, ui_locations, wait_for

# Not a bound on the stop time (a benchmark measures it): only how long to wait for a hang.
STOP_DEADLINE = 120.0


def _statement_pipeline_dev(args: list[str]) -> list[str]:
    return [str(BIN / "statement-pipeline"), "dev", *args]


def _make_dev(args: list[str]) -> list[str]:
    # The recipe as shipped, with this environment's scripts; -o: never reinstall .venv here.
    return ["make", "-o", ".venv/.installed", f"BIN={BIN}", "dev", f"DEV_ARGS={shlex.join(args)}"]


COMMANDS: dict[str, Callable[[list[str]], list[str]]] = {
    "statement-pipeline dev": _statement_pipeline_dev,
    "make dev": _make_dev,
}


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _in_session(sid: int) -> list[psutil.Process]:
    """Processes still running in the session `sid` (the command's, from start_new_session)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid and _running(proc):
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def _describe(procs: list[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        try:
            lines.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
        except psutil.NoSuchProcess:
            continue
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_sigterm_stops_the_dev_command_and_everything_it_started(name: str, tmp_path: Path) -> None:
    if name == "make dev" and shutil.which("make") is None:
        pytest.skip("make is not installed")
    ui_port, aws_port = free_port(), free_port()
    args = ["--months", "0", "--port", str(ui_port), "--aws-port", str(aws_port)]
    args += ["--home", str(tmp_path / "dagster_home")]
    dev = background(COMMANDS[name](args), dict(os.environ), tmp_path / "dev.log")
    with dev:
        wait_for(
            lambda: ui_locations(f"http://127.0.0.1:{ui_port}"),
            120,
            f"the Dagster UI of `{name}` with the code location loaded",
            dev.output,
        )
        leader = psutil.Process(dev.pid)
        started = [leader, *leader.children(recursive=True)]
        tree = _describe(started)
        for part in ("moto", "dagster_webserver", "dagster._daemon", "code-server"):
            assert part in tree, f"{part} is not running under `{name}`:\n{tree}"

        os.kill(dev.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(started, timeout=STOP_DEADLINE)
        assert not [p for p in alive if _running(p)], (
            f"left {STOP_DEADLINE:.0f}s after SIGTERM:\n{_describe(alive)}\n{dev.output()}"
        )
        assert not _in_session(dev.pid), _describe(_in_session(dev.pid))
    output = dev.output(tail=200_000)
    assert "superseded" not in output.lower(), output
    assert "Dagster services shut down" in output, output
