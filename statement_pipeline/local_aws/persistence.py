"""The local AWS's contents kept in a file across restarts (`prod-local`'s state folder).

moto keeps everything in memory. `prod-local` keeps its Dagster instance (runs, sensor cursors,
schedule ticks) across a stop and a start, so the local AWS must keep its buckets, queues,
table and topics too: a kept sensor cursor over an emptied bucket would be a lie. The server
saves its backends when it stops (SIGTERM, Ctrl-C) and loads them when it starts. A server that
is killed outright starts from the last save, as a disk that was not synced would.

The file is a pickle of moto's own objects, so it is read only by the moto release that wrote
it (pinned in pyproject.toml); on any mismatch the server says so and starts empty. It holds
whatever the local AWS held, and only ever local, placeholder data.
"""

from __future__ import annotations

import copyreg
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

# The services the project uses, S3 (files, rejects, op outputs), SQS, DynamoDB and SNS (alerts).
SERVICES = ("s3", "sqs", "dynamodb", "sns")
_FORMAT = 1

# moto's backends hold locks, which pickle refuses; a loaded backend gets fresh, free ones.
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))


def _backends() -> dict[str, Any]:
    from moto.backends import get_backend

    return {name: get_backend(name) for name in SERVICES}  # type: ignore[call-overload]


def save(path: Path) -> None:
    """Write every backend to `path`, atomically (a crash mid-save keeps the previous file)."""
    import moto

    state = {"format": _FORMAT, "moto": moto.__version__, "backends": _backends()}
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


def load(path: Path) -> bool:
    """Fill the backends from `path` if it holds a state this moto can read; say why not."""
    import moto

    if not path.exists():
        return False
    try:
        with path.open("rb") as f:
            # The file is the server's own, written by `save` in a folder of the user's.
            state = pickle.load(f)  # noqa: S301
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        print(f"local AWS: cannot read {path} ({exc}); starting empty", file=sys.stderr)
        return False
    if state.get("format") != _FORMAT or state.get("moto") != moto.__version__:
        print(
            f"local AWS: {path} was written by moto {state.get('moto')}, this is "
            f"{moto.__version__}; starting empty",
            file=sys.stderr,
        )
        return False
    for name, saved in state["backends"].items():
        if name in SERVICES:
            _backends()[name].update(saved)
    return True
