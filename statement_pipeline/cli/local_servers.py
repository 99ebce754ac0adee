"""PostgreSQL and Redis on loopback, from the system's packages: `prod-local` and its tests.

Each server runs on a port of its own and stops with its context; only its log is kept.
PostgreSQL refuses to run as root, so under root its data folder (a fresh temporary one,
which that user can reach) belongs to the `postgres` user Debian's package creates, and it
is started through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

POSTGRES_USER = "postgres"
DB_USER = "dagster"
DB_NAME = "dagster"
INSTALL_HINT = "apt-get install -y postgresql redis-server"


class MissingServer(RuntimeError):
    """A server binary is not installed; the message says how to install it, in one line."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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


def wait_port(port: int, timeout: float, what: str, log: Path) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.settimeout(1.0)
            sock.connect(("127.0.0.1", port))
            return
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start on port {port}:\n{tail}")
        time.sleep(0.2)


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user it accepts."""
    return ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []


class Postgres:
    """A fresh PostgreSQL cluster: `initdb` on first start, then start/stop/restart keep it.

    The context manager starts it and, on exit, stops it and deletes its data.
    """

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.bin = postgres_bin_dir()
        # A temporary folder: a test's or a checkout's folder may not be reachable by the
        # postgres user (a home of mode 700), and the stack starts from nothing anyway.
        self.root = Path(tempfile.mkdtemp(prefix="statement-pipeline-pg-"))
        self.data = self.root / "data"
        self.port = port or free_port()
        self.log = log_dir / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The connection URL of the Dagster database (loopback, trust authentication)."""
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres installs
        # psycopg2, so the driver is named.
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def _initdb(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, POSTGRES_USER)
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
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
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
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
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
        """A fast shutdown (SIGINT): connections are closed, the data is kept."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # runuser forwards the signal to postgres; the group is the server's alone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Postgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A redis-server in memory only (no snapshots), the Celery broker and result backend."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.bin = redis_server_bin()
        self.root = log_dir
        self.port = port or free_port()
        self.log = log_dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def __enter__(self) -> Redis:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    self.bin,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port(self.port, 30, "Redis", self.log)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
