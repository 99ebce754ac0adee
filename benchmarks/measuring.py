"""Measuring an import from outside: the real command, its process tree and its run records.

Shared by `import_benchmark.py` (the unlimited emulator) and `capacity_benchmark.py` (the
capacity model). Nothing here imports the pipeline's code location: the import runs as
operators run it, `dagster asset materialize` in a subprocess, and is read back from the
Dagster instance it wrote to.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from statement_pipeline.cli.job_runner import plain

# --- API calls -------------------------------------------------------------------------------


class CallCounter:
    """Counts AWS API calls reported by botocore's client-side monitoring over UDP."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def env(self) -> dict[str, str]:
        """Environment that makes every botocore client in a process report its calls here."""
        return {
            "AWS_CSM_ENABLED": "true",
            "AWS_CSM_HOST": "127.0.0.1",
            "AWS_CSM_PORT": str(self.port),
        }

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                continue
            event = json.loads(data)
            # One ApiCallAttempt per HTTP request the emulator answers (retries included).
            if event.get("Type") == "ApiCallAttempt":
                with self._lock:
                    self._calls[f"{event.get('Service')}.{event.get('Api')}"] += 1

    def take(self) -> Counter[str]:
        """Calls counted since the last take (waits briefly for datagrams still in flight)."""
        time.sleep(0.5)
        with self._lock:
            calls, self._calls = self._calls, Counter()
        return calls

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


# --- processes -------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all of its descendants, summed."""
    kids = _children()
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        stack.extend(kids.get(pid, []))
    return total


class PeakRss:
    """Polls a process tree's summed RSS (psutil is not a dependency) and keeps the peak.

    Each poll is also kept as a sample (epoch seconds, tree RSS bytes, CPU seconds of the
    root process), so a profile can tell which phase of the run used the memory and the CPU.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.peak = 0
        self.samples: list[tuple[float, int, float]] = []
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            rss = tree_rss_bytes(self._pid)
            try:
                cpu = cpu_seconds(self._pid)
            except (OSError, IndexError, ValueError):
                continue
            self.peak = max(self.peak, rss)
            self.samples.append((time.time(), rss, cpu))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def emulator_pid(port: int) -> int:
    """The moto server process listening on `port` (a child of this script)."""
    for pid in _children().get(os.getpid(), []):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-p" in args and str(port).encode() in args:
            return pid
    raise RuntimeError(f"no moto server process found for port {port}")


# --- the command and its run records --------------------------------------------------------


@dataclass
class RunRecord:
    """What the Dagster instance recorded of the run."""

    found: bool = False
    run_s: float | None = None
    check_s: float | None = None
    # Epoch seconds of the run's start and end events, and of each step's start and end.
    run_start: float | None = None
    run_end: float | None = None
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, passed in self.checks.items() if not passed]


@dataclass
class Materialized:
    """One `dagster asset materialize` measured from outside, and its run's records."""

    returncode: int
    output: str
    wall_s: float
    peak_rss_bytes: int
    run: RunRecord
    # Epoch seconds when the command was started and when it had exited (reaped).
    started_at: float = 0.0
    ended_at: float = 0.0
    # User + system CPU seconds of the command and the processes it waited for.
    cpu_s: float = 0.0
    # PeakRss's samples: (epoch seconds, tree RSS bytes, CPU seconds of the command).
    samples: list[tuple[float, int, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.run.found and not self.run.failed_checks

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def dagster_executable() -> str:
    beside = Path(sys.executable).with_name("dagster")
    return str(beside) if beside.exists() else (shutil.which("dagster") or "dagster")


def materialize_command(period: str, config: Mapping[str, Any]) -> list[str]:
    """The command operators run to import a month, with run config."""
    return [
        dagster_executable(), "asset", "materialize", "-m", "statement_pipeline",
        "--select", "*", "--partition", period, "--config-json", json.dumps(config),
    ]  # fmt: skip


def read_run(home: str) -> RunRecord:
    """The newest run of the instance in `home`: timings, materialization metadata, checks."""
    record = RunRecord()
    with dg.DagsterInstance.from_config(home) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return record
        record.found = True
        run_id = runs[0].run_id
        stats = instance.get_run_stats(run_id)
        if stats.start_time and stats.end_time:
            record.run_s = round(stats.end_time - stats.start_time, 2)
            record.run_start, record.run_end = stats.start_time, stats.end_time
        for step in instance.get_run_step_stats(run_id):
            if step.start_time and step.end_time:
                record.steps[step.step_key] = (step.start_time, step.end_time)
            if step.step_key == "statement_checks" and step.start_time and step.end_time:
                record.check_s = round(step.end_time - step.start_time, 2)
        kinds = {
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        }
        for entry in instance.all_logs(run_id, of_type=kinds):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                mat = entry.asset_materialization
                if mat is not None:
                    record.materializations[mat.asset_key.to_user_string()] = {
                        k: plain(v) for k, v in mat.metadata.items()
                    }
            else:
                evaluation = event.event_specific_data
                name = str(getattr(evaluation, "check_name", "?"))
                record.checks[name] = bool(getattr(evaluation, "passed", False))
    return record


def materialize(period: str, config: Mapping[str, Any], env: Mapping[str, str]) -> Materialized:
    """Run the import of `period` in a subprocess with a fresh Dagster instance.

    `env` is added to this process's environment (endpoints, call counting). Wall time and
    the peak RSS of the whole process tree are measured from outside.
    """
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        started_at = time.time()
        started = time.monotonic()
        proc = subprocess.Popen(
            materialize_command(period, config),
            env={**os.environ, **env, "DAGSTER_HOME": home},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        rss = PeakRss(proc.pid)
        assert proc.stdout is not None
        output = proc.stdout.read()
        proc.stdout.close()
        # wait4, not wait: the kernel's CPU accounting of the command comes with its exit.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        ended_at = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = rss.stop()
        return Materialized(
            proc.returncode,
            output.decode(errors="replace"),
            wall,
            peak,
            read_run(home),
            started_at=started_at,
            ended_at=ended_at,
            cpu_s=usage.ru_utime + usage.ru_stime,
            samples=rss.samples,
        )


def own_read_seconds(run: RunRecord) -> float:
    """Seconds of the finish step's own read of the month (0 when it made none)."""
    rows = run.materializations.get("loaded_statements", {}).get("month_read") or []
    return sum(float(r["seconds"]) for r in rows if r.get("read") == "finish_load")


def metadata_float(run: RunRecord, asset: str, name: str) -> float | None:
    """A numeric metadata value of an asset's materialization (None when absent)."""
    value = run.materializations.get(asset, {}).get(name)
    return float(value) if isinstance(value, int | float) else None
