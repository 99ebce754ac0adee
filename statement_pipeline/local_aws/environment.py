"""Pointing this process (and its children) at the embedded local AWS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from statement_pipeline.local_aws.server import LOCAL_ENV, LocalAws


@contextmanager
def local_aws_env(port: int | None = None, speedups: bool = True) -> Iterator[LocalAws]:
    """Start the embedded local AWS and point this process's environment at it."""
    with LocalAws(port=port, speedups=speedups) as server:
        saved = {k: os.environ.get(k) for k in (*LOCAL_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE")}
        os.environ.update(LOCAL_ENV)
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint
        os.environ.pop("AWS_PROFILE", None)
        try:
            yield server
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
