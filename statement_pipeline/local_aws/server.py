"""The embedded local AWS: moto in server mode, in its own process, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from statement_pipeline.local_aws import moto_receive
from statement_pipeline.supervision.service import Service, free_port

DEFAULT_HOST = "127.0.0.1"
MOTO_SERVER_SCRIPT = os.path.join(os.path.dirname(__file__), "moto_speedups.py")
DEFAULT_PORT = 5005
# moto needs *some* region and credentials to sign against; these are placeholders, never real.
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Run the moto server in the foreground until interrupted."""
    from statement_pipeline.local_aws import moto_speedups

    moto_speedups.main(["-H", host, "-p", str(port)])


def _request(url: str, method: str = "GET", timeout: float = 2.0) -> bytes:
    req = urllib.request.Request(  # noqa: S310 - loopback only
        url, method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.read()


def is_up(endpoint: str) -> bool:
    """True when a moto server answers at `endpoint`."""
    try:
        _request(f"{endpoint}/moto-api/data.json")
    except (OSError, urllib.error.URLError):
        return False
    return True


class LocalAws:
    """A moto server in a child process; a context manager that starts and stops it.

    With `state_file`, the server keeps its contents there across a stop and a start
    (`persistence.py`); with `log`, its output goes there.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        env: dict[str, str] | None = None,
        speedups: bool = True,
        state_file: Path | None = None,
        log: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        # Without the speedups, moto's Query and ReceiveMessage cost grows with the square of
        # the data (see moto_speedups.py and moto_pages.py); `speedups=False` runs moto's own
        # code but for its SQS receive race (moto_receive.py), and cannot keep a state file.
        only = [] if speedups else ["--only", moto_receive.NAME]
        server = [MOTO_SERVER_SCRIPT, *only]
        keep = ["--state-file", str(state_file)] if state_file is not None and speedups else []
        self.service = Service(
            "local-aws",
            [sys.executable, *server, "-H", self.host, "-p", str(self.port), *keep],
            {**os.environ, **LOCAL_ENV, **(env or {})},
            log or Path(os.devnull),
            # Saving a state file of a big month takes seconds; without one there is nothing
            # to save, and a server slow to stop is killed.
            stop_timeout=60.0 if keep else 5.0,
        )

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalAws:
        self.service.start()
        self.wait_until_up(timeout)
        return self

    def wait_until_up(self, timeout: float = 30.0) -> None:
        """Wait for the server to answer; fail with its output if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.service.alive():
                raise RuntimeError(
                    f"local AWS exited early with code {self.service.exit_code}:\n"
                    f"{self.service.output(2000)}"
                )
            if is_up(self.endpoint):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"local AWS did not answer on {self.endpoint} within {timeout:.0f}s")

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        _request(f"{self.endpoint}/moto-api/reset", method="POST")

    def _reset_auth(self, value: str) -> str:
        # moto's reset-auth takes the bare number as text/plain (a form body answers 500).
        req = urllib.request.Request(  # noqa: S310 - loopback only
            f"{self.endpoint}/moto-api/reset-auth",
            data=value.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
            return str(json.loads(resp.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])

    def enable_iam_enforcement(self, free_calls: int = 0) -> str:
        """Enforce IAM after `free_calls` unauthenticated calls; returns the previous setting."""
        return self._reset_auth(str(free_calls))

    def disable_iam_enforcement(self, previous: str = "inf") -> None:
        """Stop enforcing IAM (or restore the setting `enable_iam_enforcement` returned)."""
        self._reset_auth(previous)

    def stop(self) -> None:
        self.service.stop()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
