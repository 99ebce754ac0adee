"""One long-running command in a process group of its own, its output appended to a log file.

A group of its own means a terminal's Ctrl-C reaches only the command that started it (which
then stops its services in order), and that a stop or a kill reaches everything the service
started: code servers, run workers, a Celery worker's pool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType


def group_alive(pgid: int) -> bool:
    """True while any process of the group `pgid` exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_group(pgid: int, grace: float, first: signal.Signals = signal.SIGTERM) -> None:
    """Signal the group `pgid` with `first`, then SIGKILL whatever of it outlives `grace` s."""
    for sig, wait in ((first, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.05)


def port_is_free(host: str, port: int) -> bool:
    """True when a server could listen on `host:port` now.

    SO_REUSEADDR, as every server sets it: connections of the previous server left in
    TIME_WAIT (60 s on Linux) do not keep the port from a new listener.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float, what: str, log: Path | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.settimeout(1.0)
            sock.connect(("127.0.0.1", port))
            return
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not start on port {port}:\n{tail}")
        time.sleep(0.2)


class Service:
    """A command that runs until stopped, in its own process group, logging to `log`.

    `stop_signal` is what asks it to stop (SIGTERM by default; `dg dev` and PostgreSQL stop
    cleanly on SIGINT); `signal_group` sends it to the whole group, or to the command alone
    when the command stops its own children (`dg dev`). After `stop_timeout` s whatever is
    left of the group is killed. Without `log`, its output goes where this process's goes.
    `new_session=False` keeps it in this process's session (a group of its own still), so
    that whoever watches our session sees its processes too.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        *,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        signal_group: bool = True,
        stop_timeout: float = 20.0,
        new_session: bool = True,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        self.log = log
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.signal_group = signal_group
        self.stop_timeout = stop_timeout
        self.new_session = new_session
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Service:
        """Start the command (again, after it exited or was stopped)."""
        if self.alive():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab") if self.log is not None else None
        try:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                stdin=subprocess.DEVNULL,
                start_new_session=self.new_session,
                process_group=None if self.new_session else 0,
            )
        finally:
            if out is not None:
                out.close()
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        """The command's process id: also its process group and session id."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit status once it has exited (negative: killed by that signal), else None."""
        return None if self.proc is None else self.proc.poll()

    def output(self, tail: int = 6000) -> str:
        """The end of its log."""
        if self.log is None or not self.log.exists():
            return ""
        with self.log.open("rb") as f:
            f.seek(max(0, self.log.stat().st_size - tail))
            return f.read().decode(errors="replace")

    def last_lines(self, count: int = 20) -> list[str]:
        return self.output(tail=max(4000, count * 400)).splitlines()[-count:]

    def stop(self, timeout: float | None = None) -> None:
        """Ask it to stop; kill what is left of its group after the timeout. Idempotent."""
        proc = self.proc
        if proc is None:
            return
        grace = self.stop_timeout if timeout is None else timeout
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.signal_group:
                    os.killpg(proc.pid, self.stop_signal)
                else:
                    proc.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # The leader may be gone and some of its group still running: none may keep running.
        end_group(proc.pid, 0.0 if proc.poll() is None else min(grace, 2.0), signal.SIGTERM)
        proc.wait()

    def kill(self) -> None:
        """SIGKILL its whole group at once, as when the machine running it dies."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
