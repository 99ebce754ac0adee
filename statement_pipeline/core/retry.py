"""Retrying AWS calls beyond botocore's own retries: exponential backoff with full jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "LimitExceededException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",
    }
)
_NETWORK_ERRORS = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and dropped connections are worth another try; not bugs or denials."""
    if isinstance(exc, _NETWORK_ERRORS):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code in THROTTLING_CODES or code in TRANSIENT_CODES or status >= 500


@dataclass
class Backoff:
    """Exponential backoff with full jitter (the AWS Architecture Blog's recommendation)."""

    base: float = 0.05
    cap: float = 5.0
    max_attempts: int = 12
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** (attempt - 1))))

    def pause(self, attempt: int) -> float:
        seconds = self.delay(attempt)
        self.sleep(seconds)
        return seconds


class RetriesExhausted(RuntimeError):
    """A call kept failing with retryable errors until the attempts ran out."""


def call_with_retry(
    fn: Callable[[], T],
    backoff: Backoff,
    *,
    on_retry: Callable[[BaseException, int], None] | None = None,
) -> T:
    """Call `fn`, retrying retryable AWS errors with backoff; other errors propagate at once."""
    attempt = 0
    while True:
        try:
            return fn()
        except (ClientError, *_NETWORK_ERRORS) as exc:
            if not is_retryable(exc):
                raise
            attempt += 1
            if attempt >= backoff.max_attempts:
                raise RetriesExhausted(
                    f"gave up after {attempt} attempts: {error_code(exc) or type(exc).__name__}"
                ) from exc
            if on_retry is not None:
                on_retry(exc, attempt)
            backoff.pause(attempt)
