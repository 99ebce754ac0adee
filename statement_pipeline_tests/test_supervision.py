"""Services and their supervisor, with real processes: start, stop, kill, restart, give up."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import psutil
import pytest

from statement_pipeline.supervision.service import Service, end_group, group_alive, port_is_free
from statement_pipeline.supervision.supervisor import RestartPolicy, ServiceKeepsDying, Supervisor
from statement_pipeline_tests.processes import wait_for

SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
# A parent with a child that ignores SIGTERM: a stop must still end the whole group.
STUBBORN_FAMILY = [
    sys.executable,
    "-c",
    "import signal, subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', "
    "'import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
    'print("child up", flush=True)\\nwhile True: time.sleep(1)\'])\n'
    "while True: time.sleep(1)",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_restart_delay_doubles_within_the_window_up_to_its_cap() -> None:
    policy = RestartPolicy(max_restarts=5, first_delay=1, max_delay=8)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert not policy.gives_up(5)
    assert policy.gives_up(6)


def test_a_service_that_exits_is_started_again_after_its_backoff(tmp_path: Path) -> None:
    clock = FakeClock()
    events: list[str] = []
    supervisor = Supervisor(RestartPolicy(first_delay=2), events.append, clock)
    service = supervisor.watch(Service("sleeper", SLEEPER, log=tmp_path / "s.log").start())
    first = service.pid
    try:
        supervisor.check()
        assert events == []
        service.kill()
        supervisor.check()
        assert not service.alive()
        assert events == ["sleeper exited (code -9); restarting in 2s (1 exit(s) within 300s)"]
        clock.now += 1.9
        supervisor.check()
        assert not service.alive()
        clock.now += 0.2
        supervisor.check()
        assert service.alive()
        assert service.pid != first
        assert events[-1] == f"sleeper restarted (pid {service.pid})"
        assert supervisor.exits("sleeper") == 1
    finally:
        service.stop()


def test_a_service_that_keeps_dying_stops_the_watch_naming_it_with_its_last_lines(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    crash = [sys.executable, "-c", "import sys\nprint('cannot bind port 3000')\nsys.exit(3)"]
    service = Service("daemon", crash, log=tmp_path / "daemon.log")
    policy = RestartPolicy(max_restarts=2, window_seconds=60, first_delay=0)
    supervisor = Supervisor(policy, lambda line: None, clock)
    supervisor.watch(service.start())

    def crash_and_check() -> None:
        wait_for(lambda: not service.alive(), 30, "the crash", interval=0.05)
        clock.now += 1
        supervisor.check()

    for _ in range(2):
        crash_and_check()
    with pytest.raises(ServiceKeepsDying) as dying:
        crash_and_check()
    message = str(dying.value)
    assert message.startswith("daemon exited 3 times within 60s (last exit code 3)")
    assert "cannot bind port 3000" in message
    assert dying.value.service is service


def test_exits_outside_the_window_do_not_count(tmp_path: Path) -> None:
    clock = FakeClock()
    policy = RestartPolicy(max_restarts=1, window_seconds=60, first_delay=0)
    supervisor = Supervisor(policy, lambda line: None, clock)
    service = supervisor.watch(Service("sleeper", SLEEPER, log=tmp_path / "s.log").start())
    try:
        for _ in range(3):
            service.kill()
            supervisor.check()
            assert service.alive()
            clock.now += 61
        assert supervisor.exits("sleeper") == 3
    finally:
        service.stop()


def test_a_restart_on_purpose_is_not_counted_as_an_exit(tmp_path: Path) -> None:
    supervisor = Supervisor(report=lambda line: None)
    service = supervisor.watch(Service("sleeper", SLEEPER, log=tmp_path / "s.log").start())
    first = service.pid
    try:
        supervisor.restart("sleeper")
        supervisor.check()
        assert service.alive()
        assert service.pid != first
        assert supervisor.exits("sleeper") == 0
    finally:
        service.stop()


def test_the_background_watch_restarts_and_reports_giving_up(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys\nsys.exit(1)"]
    policy = RestartPolicy(max_restarts=1, first_delay=0)
    supervisor = Supervisor(policy, lambda line: None)
    supervisor.watch(Service("crash", crash, log=tmp_path / "c.log").start())
    supervisor.run_in_background(interval=0.05)
    try:
        assert supervisor.failed.wait(30)
        assert isinstance(supervisor.failure, ServiceKeepsDying)
        assert supervisor.exits("crash") == 2
    finally:
        supervisor.halt()


def test_stop_ends_the_whole_group_even_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    service = Service("family", STUBBORN_FAMILY, log=tmp_path / "f.log", stop_timeout=1.0)
    service.start()
    wait_for(lambda: "child up" in service.output(), 30, "the child", interval=0.1)
    members = [psutil.Process(service.pid), *psutil.Process(service.pid).children()]
    assert len(members) == 2
    service.stop()
    assert not group_alive(service.pid)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in members)


def test_kill_takes_the_whole_group_at_once(tmp_path: Path) -> None:
    service = Service("family", STUBBORN_FAMILY, log=tmp_path / "f.log").start()
    wait_for(lambda: "child up" in service.output(), 30, "the child", interval=0.1)
    service.kill()
    assert service.exit_code == -signal.SIGKILL
    wait_for(lambda: not group_alive(service.pid), 10, "the group to be gone", interval=0.05)
    end_group(service.pid, 0.0)  # nothing left: a no-op


def test_a_port_left_in_time_wait_counts_as_free(tmp_path: Path) -> None:
    # A server that answered a client and stopped leaves the connection in TIME_WAIT for 60 s
    # on its side; a restart must not take that as "port taken".
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.listen()
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    with socket.socket() as plain, pytest.raises(OSError, match="in use"):
        plain.bind(("127.0.0.1", port))  # the old check: "taken" for 60 s after a stop
    assert port_is_free("127.0.0.1", port)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert not port_is_free("127.0.0.1", port)
