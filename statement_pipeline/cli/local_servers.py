"""PostgreSQL and Redis on loopback, from the system's packages: `prod-local` and its tests.

Each server is a `Service` (its own process group and log) on a port of its own, so the
stack's supervisor restarts it like any other service. PostgreSQL keeps its data in the folder
it is given (`prod-local`'s state folder: runs and sensor cursors survive a stop), or in a
temporary one deleted with it (the tests). It refuses to run as root, so under root its folder
belongs to the `postgres` user Debian's package creates, and it is started through `runuser`.
Redis keeps an append-only file, so a restarted Redis still holds the queued Celery tasks and
their results.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from statement_pipeline.supervision.service import Service, free_port, wait_port

POSTGRES_USER = "postgres"
DB_USER = "dagster"
DB_NAME = "dagster"
INSTALL_HINT = "apt-get install -y postgresql redis-server"


class MissingServer(RuntimeError):
    """A server binary is not installed; the message says how to install it, in one line."""


def postgres_bin_dir() -> Path:
    """Where initdb and postgres are: PATH, else Debian's /usr/lib/postgresql/<ver>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).resolve().parent
    # Debian's package keeps the server binaries off PATH; take the newest version.
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    raise MissingServer(f"PostgreSQL server (initdb, postgres) not found: {INSTALL_HINT}")


def redis_server_bin() -> str:
    """The redis-server binary."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if not found:
        raise MissingServer(f"redis-server not found: {INSTALL_HINT}")
    return found


def missing_servers() -> str | None:
    """One line naming what is missing and how to install it, or None when all is there."""
    try:
        postgres_bin_dir()
        redis_server_bin()
    except MissingServer as missing:
        return str(missing)
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "runuser not found (PostgreSQL refuses root): apt-get install -y util-linux"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            return (
                f"no user {POSTGRES_USER!r} to run PostgreSQL as (root is refused): {INSTALL_HINT}"
            )
    return None


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user it accepts."""
    return ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user it accepts."""
    return ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []


class Postgres:
    """A PostgreSQL cluster in `data_dir` (a temporary folder if None), created on first start.

    As a context manager it starts the server and stops it on exit; a temporary cluster is
    then deleted, a kept one stays for the next start.
    """

    def __init__(
        self, log_dir: Path, data_dir: Path | None = None, port: int | None = None
    ) -> None:
        self.bin = postgres_bin_dir()
        self.temporary = data_dir is None
        # A temporary folder by default: a test's folder may not be reachable by the postgres
        # user (a home of mode 700).
        self.root = (
            Path(tempfile.mkdtemp(prefix="statement-pipeline-pg-"))
            if data_dir is None
            else data_dir
        )
        self.data = self.root / "data"
        self.port = port or free_port()
        self.log = log_dir / "postgres.log"
        self.service = Service(
            "postgres",
            [
                *_as_server_user(),
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.data),
                "-c",
                "max_connections=200",
            ],
            log=self.log,
            # SIGINT is PostgreSQL's fast shutdown: connections are closed, the data is kept.
            # runuser forwards it; the group is the server's alone.
            stop_signal=signal.SIGINT,
            stop_timeout=60.0,
        )

    @property
    def url(self) -> str:
        """The connection URL of the Dagster database (loopback, trust authentication)."""
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres installs
        # psycopg2, so the driver is named.
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, POSTGRES_USER)
            reach = subprocess.run([*_as_server_user(), "test", "-w", str(self.root)], check=False)
            if reach.returncode != 0:
                raise MissingServer(
                    f"PostgreSQL runs as {POSTGRES_USER!r}, which cannot reach {self.root}: "
                    "keep the state folder where that user can (e.g. --state /var/tmp/...)"
                )
        subprocess.run(
            [
                *_as_server_user(),
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                DB_USER,
                # Loopback only, on a machine's own test or demo stack: no password to leak.
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        """Start the server (creating the cluster and database the first time)."""
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        # A server killed outright leaves its pid file; PostgreSQL itself checks that the pid
        # is not a live postmaster before it starts over.
        self.service.start()
        wait_port(self.port, 60, "PostgreSQL", self.log)
        if fresh:
            self._create_database()

    def _create_database(self) -> None:
        import psycopg2  # installed with dagster-postgres

        # The server accepts TCP before it accepts logins; retry the first connection briefly.
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=DB_USER, dbname="postgres"
                )
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DB_NAME}")
        finally:
            conn.close()

    def stop(self) -> None:
        """A fast shutdown: connections are closed, the data is kept."""
        self.service.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Postgres:
        self.start()
        return self

    def close(self) -> None:
        """Stop it, and delete a temporary cluster."""
        self.stop()
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Redis:
    """A redis-server, the Celery broker and result backend, persisted in `data_dir`.

    The append-only file (fsync every second) is what lets a restarted Redis give the workers
    back the tasks still queued or unacknowledged, and the runs their results.
    """

    def __init__(self, log_dir: Path, data_dir: Path, port: int | None = None) -> None:
        self.bin = redis_server_bin()
        self.data = data_dir
        self.port = port or free_port()
        self.log = log_dir / "redis.log"
        self.service = Service(
            "redis",
            [
                self.bin,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ],
            log=self.log,
        )

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.service.start()
        wait_port(self.port, 30, "Redis", self.log)

    def stop(self) -> None:
        self.service.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Redis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
