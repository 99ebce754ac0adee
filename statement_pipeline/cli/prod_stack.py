"""The production-shaped stack on one machine: what `prod-local` and the distributed tests run.

PostgreSQL holds the Dagster instance, Redis is the Celery broker, two Celery workers stand in
for two machines, the daemon launches queued runs, and (for `prod-local`) the webserver serves
the UI. Every process gets the same environment, so each loads the same definitions: the
Celery executor, op outputs in S3, two loader ops per run. Logs go to one folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from statement_pipeline.cli.local_servers import Postgres, Redis
from statement_pipeline.cli.process_group import stop_group

PROD_CONFIG = Path("deploy") / "prod-local" / "dagster.yaml"
IO_BUCKET = "dagster-io"
WORKERS = ("worker-a", "worker-b")
LOADER_OPS = len(WORKERS)
BIN = Path(sys.executable).parent


def find_prod_config(start: Path) -> Path:
    """The shipped deploy/prod-local/dagster.yaml: in `start`, else in the source checkout."""
    for root in (start, Path(__file__).resolve().parents[2]):
        if (root / PROD_CONFIG).is_file():
            return root / PROD_CONFIG
    raise FileNotFoundError(f"{PROD_CONFIG} not found: run prod-local from the repository")


class Service:
    """One long-running command in its own process group, its output in a log file."""

    def __init__(
        self, name: str, command: Sequence[str], env: Mapping[str, str], log: Path
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own group: Ctrl-C reaches only prod-local, which stops the services in
                # order, and a stop reaches everything the service started (code servers, runs).
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole group at once: a machine that dies."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group, SIGKILL what is left after `timeout` s."""
        if self.proc is not None:
            stop_group(self.proc, timeout)


class ProdStack:
    """Postgres, Redis, two Celery workers and the daemon (and the webserver if asked)."""

    def __init__(
        self,
        state: Path,
        aws_env: Mapping[str, str],
        webserver: tuple[str, int] | None = None,
        config: Path | None = None,
        before_daemon: Callable[[ProdStack], None] | None = None,
    ) -> None:
        self.state = state
        self.logs = state / "logs"
        self.home = state / "dagster_home"
        self.aws_env = dict(aws_env)
        self.webserver = webserver
        self.config = config or find_prod_config(Path.cwd())
        self.before_daemon = before_daemon
        self.services: dict[str, Service] = {}
        self.postgres: Postgres | None = None
        self.redis: Redis | None = None
        self._stack = ExitStack()

    @property
    def env(self) -> dict[str, str]:
        """The environment of every Dagster process of the stack."""
        assert self.postgres is not None
        assert self.redis is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DAGSTER_"))}
        return {
            **env,
            **self.aws_env,
            # `dagster-celery worker start` runs `celery` from PATH: this Python's scripts.
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_URL": self.postgres.url,
            "STATEMENT_EXECUTOR": "celery",
            "STATEMENT_CELERY_BROKER": self.redis.url(0),
            "STATEMENT_CELERY_BACKEND": self.redis.url(1),
            "STATEMENT_IO_BUCKET": IO_BUCKET,
            "STATEMENT_LOADER_OPS": str(LOADER_OPS),
        }

    def _prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        shutil.copyfile(self.config, self.home / "dagster.yaml")
        assert self.redis is not None
        # The workers' side of the executor config: the same broker and backend as the runs.
        (self.state / "celery.yaml").write_text(
            "execution:\n  config:\n"
            f"    broker: {self.redis.url(0)}\n    backend: {self.redis.url(1)}\n"
        )

    def _create_schema(self) -> None:
        """Create Dagster's tables once, before any process opens the instance.

        Processes that open a fresh database at the same moment all try to create the tables
        and collide (UniqueViolation on pg_type): the workers, daemon and CLI calls did.
        """
        subprocess.run(
            [str(BIN / "dagster"), "instance", "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def _service(self, name: str, command: Sequence[str]) -> Service:
        service = Service(name, command, self.env, self.logs / f"{name}.log").start()
        self.services[name] = service
        self._stack.callback(service.stop)
        return service

    def worker_command(self, name: str) -> list[str]:
        """A Celery worker the documented way; one step at a time, like one small machine."""
        return [
            str(BIN / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(self.state / "celery.yaml"),
            "-n",
            name,
            "--",
            "--concurrency=1",
        ]

    def start(self) -> ProdStack:
        try:
            self.postgres = self._stack.enter_context(Postgres(self.logs))
            self.redis = self._stack.enter_context(Redis(self.logs))
            self._prepare()
            self._create_schema()
            for name in WORKERS:
                self._service(name, self.worker_command(name))
            if self.before_daemon is not None:
                self.before_daemon(self)
            target = ["-m", "statement_pipeline"]
            self._service("daemon", [str(BIN / "dagster-daemon"), "run", *target])
            if self.webserver is not None:
                host, port = self.webserver
                command = [str(BIN / "dagster-webserver"), *target, "-h", host, "-p", str(port)]
                self._service("webserver", command)
        except BaseException:
            self.stop()
            raise
        return self

    def restart_worker(self, name: str) -> None:
        """Start a worker again under its name (after `kill`)."""
        self.services[name] = self._service(name, self.worker_command(name))

    def stop(self) -> None:
        """Everything stops, last started first; the Postgres data is deleted."""
        self._stack.close()

    def __enter__(self) -> ProdStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
