"""A task for the lease tests, on the workers' own app: it holds a worker for a while."""

from __future__ import annotations

import os
import time
from pathlib import Path

from statement_pipeline.celery_worker import app


@app.task(name="probe.hold")
def hold(journal: str, seconds: float) -> int:
    """Note the start and the end in `journal`, holding the worker `seconds` in between."""
    path = Path(journal)
    with path.open("a") as out:
        out.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with path.open("a") as out:
        out.write(f"end {os.getpid()}\n")
    return os.getpid()
