"""Restart a service that exits, with backoff; give up on one that keeps dying.

A stack on one machine (`prod-local`) stands in for several: a worker or the daemon that exits
is what a process manager (systemd `Restart=on-failure`, an ECS service, a Kubernetes
Deployment) restarts in production, and the rest of the stack keeps running meanwhile. Only a
service that keeps dying (`RestartPolicy.max_restarts` exits within `window_seconds`) stops
the stack, since restarting it again would only hide the fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from statement_pipeline.supervision.service import Service


@dataclass(frozen=True)
class RestartPolicy:
    """When a service that exited is started again, and when the stack gives up on it."""

    # More exits than this within the window: the service keeps dying, and the stack stops.
    max_restarts: int = 5
    window_seconds: float = 300.0
    # The first restart waits this long, each one within the window twice as long as the one
    # before, up to max_delay: a crash loop does not spin the CPU, a single exit is quick.
    first_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, recent_exits: int) -> float:
        """Seconds to wait before restarting a service that exited `recent_exits` times."""
        return min(self.max_delay, self.first_delay * 2 ** max(0, recent_exits - 1))

    def gives_up(self, recent_exits: int) -> bool:
        return recent_exits > self.max_restarts


class ServiceKeepsDying(RuntimeError):
    """A service exited more often than the restart policy allows."""

    def __init__(self, service: Service, exits: int, window: float) -> None:
        self.service = service
        lines = "\n".join(f"  {line}" for line in service.last_lines(20))
        super().__init__(
            f"{service.name} exited {exits} times within {window:.0f}s (last exit code "
            f"{service.exit_code}); giving up. Last lines of {service.log}:\n{lines}"
        )


@dataclass
class _Watch:
    service: Service
    exits: list[float] = field(default_factory=list)
    restart_at: float | None = None
    # Being restarted on purpose (`Supervisor.restart`): not an exit to count or act on.
    paused: bool = False


class Supervisor:
    """Watches services; `check()` restarts the dead ones when their backoff has passed.

    `report` receives one line per event (an exit, a restart). `check()` raises
    `ServiceKeepsDying` when one exits too often; `run_in_background` does the same from a
    thread and sets `failed` instead.
    """

    def __init__(
        self,
        policy: RestartPolicy | None = None,
        report: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self._report = report
        self._clock = clock
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed = threading.Event()
        self.failure: ServiceKeepsDying | None = None

    def watch(self, service: Service) -> Service:
        with self._lock:
            self._watches[service.name] = _Watch(service)
        return service

    def forget(self, name: str) -> None:
        """Stop watching a service (before stopping it on purpose)."""
        with self._lock:
            self._watches.pop(name, None)

    @property
    def services(self) -> list[Service]:
        with self._lock:
            return [w.service for w in self._watches.values()]

    def exits(self, name: str) -> int:
        """How many times the service has exited while watched."""
        with self._lock:
            return len(self._watches[name].exits)

    def restart(self, name: str) -> Service:
        """Stop a service and start it again on purpose (an operator's restart)."""
        with self._lock:
            watch = self._watches[name]
            watch.paused = True
        try:
            watch.service.stop()
            watch.service.start()
            self._report(f"{name} restarted on request (pid {watch.service.pid})")
        finally:
            with self._lock:
                watch.paused = False
        return watch.service

    def check(self) -> None:
        """One pass over the services: note exits, restart what is due, or give up."""
        with self._lock:
            watches = [w for w in self._watches.values() if not w.paused]
        for watch in watches:
            self._check_one(watch)

    def _check_one(self, watch: _Watch) -> None:
        service = watch.service
        if service.alive() or watch.paused:
            return
        now = self._clock()
        if watch.restart_at is None:
            watch.exits.append(now)
            recent = [t for t in watch.exits if now - t <= self.policy.window_seconds]
            if self.policy.gives_up(len(recent)):
                raise ServiceKeepsDying(service, len(recent), self.policy.window_seconds)
            delay = self.policy.delay(len(recent))
            watch.restart_at = now + delay
            self._report(
                f"{service.name} exited (code {service.exit_code}); restarting in {delay:.0f}s "
                f"({len(recent)} exit(s) within {self.policy.window_seconds:.0f}s)"
            )
        if now >= watch.restart_at:
            watch.restart_at = None
            service.start()
            self._report(f"{service.name} restarted (pid {service.pid})")

    def run_in_background(self, interval: float = 1.0) -> Supervisor:
        """Check every `interval` s from a thread until `halt()` or a service keeps dying."""

        def loop() -> None:
            while not self._halt.wait(interval):
                try:
                    self.check()
                except ServiceKeepsDying as dying:
                    self.failure = dying
                    self.failed.set()
                    return

        self._thread = threading.Thread(target=loop, name="supervisor", daemon=True)
        self._thread.start()
        return self

    def halt(self) -> None:
        """Stop watching (before the services are stopped on purpose)."""
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


def stop_all(services: Iterable[Service]) -> None:
    """Stop services in the order given (last started first, as a rule)."""
    for service in services:
        service.stop()
