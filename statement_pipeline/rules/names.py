"""The contract's configuration names and their defaults (CONTRACT.md section 4)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from statement_pipeline.rules.capacity_window import (
    DEFAULT_MAX_WCU,
    DEFAULT_POLICY,
    DEFAULT_TARGET_SECONDS,
    Policy,
    parse_policy,
)
from statement_pipeline.rules.s3_layout import REJECTS_ROOT

DEFAULT_BUCKET = "statements"
DEFAULT_PREFIX = "statements/"
DEFAULT_QUEUE = "statement-records"
DEFAULT_TABLE = "statements"

ENV_BUCKET = "STATEMENT_BUCKET"
ENV_PREFIX = "STATEMENT_PREFIX"
ENV_QUEUE = "STATEMENT_QUEUE"
ENV_TABLE = "STATEMENT_TABLE"


def normalize_prefix(prefix: str) -> str:
    """The prefix with its implied trailing slash ('' stays '': months at the bucket root)."""
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


def dlq_name(queue: str) -> str:
    """The dead-letter queue that belongs to a statement queue."""
    return f"{queue}-dlq"


@dataclass(frozen=True)
class Names:
    """Names of the AWS resources one deployment of the pipeline uses."""

    bucket: str = DEFAULT_BUCKET
    prefix: str = DEFAULT_PREFIX
    queue: str = DEFAULT_QUEUE
    table: str = DEFAULT_TABLE

    def __post_init__(self) -> None:
        prefix = normalize_prefix(self.prefix)
        if prefix.startswith(REJECTS_ROOT):
            # Rejects would then sit inside month folders and be read back as statements.
            raise ValueError(f"STATEMENT_PREFIX must not start with {REJECTS_ROOT!r}")
        object.__setattr__(self, "prefix", prefix)

    @property
    def dlq(self) -> str:
        return dlq_name(self.queue)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Names:
        """Read the names from the environment (called at run time, never at import time)."""
        env = os.environ if environ is None else environ
        return cls(
            bucket=env.get(ENV_BUCKET) or DEFAULT_BUCKET,
            prefix=env.get(ENV_PREFIX, DEFAULT_PREFIX),
            queue=env.get(ENV_QUEUE) or DEFAULT_QUEUE,
            table=env.get(ENV_TABLE) or DEFAULT_TABLE,
        )


def int_setting(
    variable: str,
    default: int,
    low: int,
    high: int,
    environ: Mapping[str, str] | None = None,
) -> int:
    """A whole-number setting from the environment, from `low` to `high` (unset: `default`)."""
    raw = (os.environ if environ is None else environ).get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{variable} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


ENV_POLICY = "STATEMENT_CAPACITY_POLICY"
ENV_TARGET = "STATEMENT_CAPACITY_TARGET_SECONDS"
ENV_MAX_WCU = "STATEMENT_CAPACITY_MAX_WCU"
# Not in the contract (yet): minutes ahead of the monthly schedule's import that a schedule
# starts the raise, so its UPDATING falls outside the window. 0 (the default): no lead.
ENV_LEAD = "STATEMENT_CAPACITY_LEAD_MINUTES"
MAX_LEAD_MINUTES = 24 * 60  # the lead schedule ticks from the 28th: a day ahead always fits
CAPACITY_VARIABLES = (ENV_POLICY, ENV_TARGET, ENV_MAX_WCU, ENV_LEAD)


@dataclass(frozen=True)
class CapacitySettings:
    """The contract's capacity settings (read when the definitions load, never at import)."""

    policy: Policy = DEFAULT_POLICY
    target_seconds: int = DEFAULT_TARGET_SECONDS
    max_wcu: int = DEFAULT_MAX_WCU
    lead_minutes: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CapacitySettings:
        policy = parse_policy(environ.get(ENV_POLICY) or DEFAULT_POLICY)
        return cls(
            policy,
            _whole(environ, ENV_TARGET, DEFAULT_TARGET_SECONDS),
            _whole(environ, ENV_MAX_WCU, DEFAULT_MAX_WCU),
            int_setting(ENV_LEAD, 0, 0, MAX_LEAD_MINUTES, environ),
        )


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)
