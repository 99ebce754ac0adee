"""The production-shaped stack on one machine: what `prod-local` and the distributed tests run.

PostgreSQL holds the Dagster instance, Redis is the Celery broker, a code server serves the
definitions (and launches the runs), two Celery workers stand in for two machines, the daemon
launches queued runs, and (for `prod-local`) the webserver serves the UI. Every process gets
the same environment, so each loads the same definitions: the Celery executor, op outputs in
S3, two loader ops per run. A supervisor restarts whichever service exits; logs go to one
folder.

The state folder:

    <state>/logs/           every service's log
    <state>/postgres/       the Dagster instance's database (runs, event logs, schedule ticks,
                            sensor cursors); kept across starts unless `temporary_postgres`
    <state>/dagster_home/   DAGSTER_HOME: the shipped dagster.yaml, copied in at every start
    <state>/redis/          Redis's append-only file, emptied at every start: the tasks of a
                            stack that stopped belong to runs that ended with it
    <state>/celery.yaml, <state>/workspace.yaml   written at every start
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import yaml

from statement_pipeline.celery_settings import celery_settings, visibility_timeout_from_env
from statement_pipeline.cli.local_servers import Postgres, Redis
from statement_pipeline.supervision.service import Service, free_port, wait_port
from statement_pipeline.supervision.supervisor import RestartPolicy, Supervisor

PROD_CONFIG = Path("deploy") / "prod-local" / "dagster.yaml"
IO_BUCKET = "dagster-io"
WORKERS = ("worker-a", "worker-b")
LOADER_OPS = len(WORKERS)
LOCATION = "statement_pipeline"
BIN = Path(sys.executable).parent


def find_prod_config(start: Path) -> Path:
    """The shipped deploy/prod-local/dagster.yaml: in `start`, else in the source checkout."""
    for root in (start, Path(__file__).resolve().parents[2]):
        if (root / PROD_CONFIG).is_file():
            return root / PROD_CONFIG
    raise FileNotFoundError(f"{PROD_CONFIG} not found: run prod-local from the repository")


class ProdStack:
    """Postgres, Redis, a code server, two Celery workers and the daemon (and the webserver)."""

    def __init__(
        self,
        state: Path,
        aws_env: Mapping[str, str],
        webserver: tuple[str, int] | None = None,
        config: Path | None = None,
        before_daemon: Callable[[ProdStack], None] | None = None,
        temporary_postgres: bool = False,
        extra_env: Mapping[str, str] | None = None,
        policy: RestartPolicy | None = None,
        report: Callable[[str], None] = print,
    ) -> None:
        self.state = state
        self.logs = state / "logs"
        self.home = state / "dagster_home"
        self.aws_env = dict(aws_env)
        self.extra_env = dict(extra_env or {})
        self.webserver = webserver
        self.config = config or find_prod_config(Path.cwd())
        self.before_daemon = before_daemon
        self.temporary_postgres = temporary_postgres
        self.supervisor = Supervisor(policy, report)
        self.services: dict[str, Service] = {}
        self.postgres: Postgres | None = None
        self.redis: Redis | None = None
        self.code_server_port = free_port()

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
            **self.extra_env,
        }

    @property
    def workspace(self) -> Path:
        return self.state / "workspace.yaml"

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.config, self.home / "dagster.yaml")
        # The workers' side of the executor's config: the same broker, backend and settings
        # as the runs' (executor.py), from the same function and the same environment.
        settings = celery_settings(visibility_timeout_from_env(self.env))
        execution = {
            "broker": {"env": "STATEMENT_CELERY_BROKER"},
            "backend": {"env": "STATEMENT_CELERY_BACKEND"},
            "config_source": settings,
        }
        (self.state / "celery.yaml").write_text(
            yaml.safe_dump({"execution": {"config": execution}}, sort_keys=False)
        )
        # The daemon and the webserver load the definitions from the code server, which also
        # launches the runs: a daemon that dies takes no run with it.
        server = {"host": "127.0.0.1", "port": self.code_server_port, "location_name": LOCATION}
        self.workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": server}]}))

    def _create_schema(self) -> None:
        """Create (or upgrade) Dagster's tables once, before any process opens the instance.

        Processes that open a fresh database at the same moment all try to create the tables
        and collide (UniqueViolation on pg_type): the workers, daemon and CLI calls did.
        """
        subprocess.run(
            [str(BIN / "dagster"), "instance", "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=180,
        )

    def _service(self, name: str, command: Sequence[str]) -> Service:
        service = Service(name, command, self.env, self.logs / f"{name}.log").start()
        self.services[name] = self.supervisor.watch(service)
        return service

    def worker_command(self, name: str) -> list[str]:
        """A Celery worker the documented way; one step at a time, like one small machine."""
        return [
            str(BIN / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "statement_pipeline.celery_worker",
            "-y",
            str(self.state / "celery.yaml"),
            "-n",
            name,
            "--",
            "--concurrency=1",
        ]

    def start(self) -> ProdStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        data = None if self.temporary_postgres else self.state / "postgres"
        self.postgres = Postgres(self.logs, data_dir=data)
        self.postgres.start()
        self.services["postgres"] = self.supervisor.watch(self.postgres.service)
        shutil.rmtree(self.state / "redis", ignore_errors=True)
        self.redis = Redis(self.logs, self.state / "redis")
        self.redis.start()
        self.services["redis"] = self.supervisor.watch(self.redis.service)
        self._write_config()
        self._create_schema()
        location = ["-m", "statement_pipeline", "--location-name", LOCATION]
        port = ["-h", "127.0.0.1", "-p", str(self.code_server_port)]
        self._service(
            "code-server", [str(BIN / "dagster"), "code-server", "start", *location, *port]
        )
        wait_port(self.code_server_port, 120, "the code server", self.logs / "code-server.log")
        for name in WORKERS:
            self._service(name, self.worker_command(name))
        if self.before_daemon is not None:
            self.before_daemon(self)
        workspace = ["-w", str(self.workspace)]
        self._service("daemon", [str(BIN / "dagster-daemon"), "run", *workspace])
        if self.webserver is not None:
            host, port = self.webserver
            command = [str(BIN / "dagster-webserver"), *workspace, "-h", host, "-p", str(port)]
            self._service("webserver", command)
        self.supervisor.run_in_background()

    def stop(self) -> None:
        """Everything stops, last started first; the Postgres data stays unless temporary."""
        self.supervisor.halt()
        for name in reversed(list(self.services)):
            if name not in ("postgres", "redis"):
                self.services[name].stop()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.close()

    def __enter__(self) -> ProdStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
