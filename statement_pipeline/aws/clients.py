"""The one boto3 client factory: resources, CLI and tooling all build their clients here.

Retries are configured once, in botocore's standard mode: every call is tried at most
`max_attempts` times (throttling, 5xx and dropped connections are retried with jittered
exponential backoff, at most 20 s between attempts). Nothing else in the project retries a
whole call, with two exceptions, BatchWriteItem (`BATCH_WRITE_ATTEMPTS`) and the month
reader's Query (`READ_ATTEMPTS`): the writer re-sends what a batch left unwritten, refused in
part or whole, paced by the write budget; the reader asks again for a refused page, paced by
the read budget. The SQS
batch loops only re-send entries a successful response reports as failed.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from statement_pipeline.rules.s3_links import AWS_DEFAULT

DEFAULT_MAX_ATTEMPTS = 5
# BatchWriteItem's own client makes one attempt: a batch refused in part (UnprocessedItems) or
# whole (throttled, 5xx) is what the write budget follows, and the writer's loop re-sends it
# at the budget's pace. botocore retrying it too would sleep up to 20 s per attempt, unseen by
# the budget, while the table had capacity again.
BATCH_WRITE_ATTEMPTS = 1
# The same client checks no request against the service model before sending it: a month's
# BatchWriteItem calls carry items the loader built itself (rules/items.py), and checking
# every attribute of 25 items per call was a quarter of the loaders' CPU (docs/benchmarks.md).
# DynamoDB still validates each request, and refuses a malformed one with ValidationException.
BATCH_WRITE_VALIDATION = False
# The month reader's client, likewise: a Query refused (throttled, 5xx) is what the read
# budget follows, and the reader asks again for the page at the budget's pace.
READ_ATTEMPTS = 1
# Loops of the loaders and checks wait on these; a hung connection must not hang a month.
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)


def region(session: boto3.session.Session | None = None) -> str | None:
    """AWS_REGION, then AWS_DEFAULT_REGION / the profile (botocore reads only the latter)."""
    return os.environ.get("AWS_REGION") or (session or boto3.session.Session()).region_name


def configured_endpoint(service: str) -> str | None:
    """The endpoint the environment gives `service` (an emulator), None for AWS's own.

    `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, as boto3 reads them (and not at all
    with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`). An `endpoint_url` in a shared config
    file's `services` section is left to boto3 and not shown here.
    """
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() == "true":
        return None
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
    return specific or os.environ.get("AWS_ENDPOINT_URL") or None


def setting(value: Any) -> Any:
    """A client argument as boto3 takes it: "AWS default" (what a resource shows) is unset."""
    return None if value == AWS_DEFAULT else value


def client_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS, *, validate: bool = True) -> Config:
    """The retry and timeout settings every client of the project uses."""
    return Config(
        parameter_validation=validate,
        # total_max_attempts counts the first call too (max_attempts would count retries).
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=32,
    )


# Service models (JSON files of several MB) parsed once per process, not once per client: a
# month's import makes a few dozen clients, and parsing their models was most of its CPU time.
# Each client still gets a session of its own, so credentials and settings are read from the
# environment when the client is made.
_MODELS = botocore.loaders.create_loader()
_MODELS_LOCK = threading.Lock()


def _session(profile_name: str | None) -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    with _MODELS_LOCK:
        session = boto3.session.Session(botocore_session=core, profile_name=profile_name)
        # boto3 appends its own data folder to the loader's search path for every session.
        paths = _MODELS.search_paths
        paths[:] = list(dict.fromkeys(paths))
    return session


def client(
    service: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    validate: bool = True,
    profile_name: str | None = None,
    **overrides: Any,
) -> Any:
    """A client for `service`; unset overrides fall back to boto3's standard chain.

    AWS_ENDPOINT_URL(_<SERVICE>) point it at an emulator; `overrides` are boto3 client
    arguments (region_name, endpoint_url, credentials, use_ssl, verify) that are set, neither
    None nor "AWS default".
    """
    session = _session(profile_name)
    kwargs = {key: value for key, value in overrides.items() if setting(value) is not None}
    kwargs.setdefault("region_name", region(session))
    return session.client(service, config=client_config(max_attempts, validate=validate), **kwargs)


def batch_write_client(**overrides: Any) -> Any:
    """The loaders' DynamoDB client: one attempt per call, requests not checked client-side."""
    return client(
        "dynamodb",
        max_attempts=BATCH_WRITE_ATTEMPTS,
        validate=BATCH_WRITE_VALIDATION,
        **overrides,
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


def partition_limited(exc: BaseException) -> bool:
    """A throttle DynamoDB attributes to a partition's or a key's limit (`ThrottlingReasons`
    `...KeyRangeThroughputExceeded`), not to the table's capacity: its burst may remain."""
    if not isinstance(exc, ClientError):
        return False
    response: dict[str, Any] = dict(exc.response)
    reasons = response.get("ThrottlingReasons") or response.get("throttlingReasons") or []
    return any("KeyRange" in str(r.get("reason", "")) for r in reasons if isinstance(r, dict))


def refused_whole(exc: BaseException) -> bool:
    """A batch that wrote nothing and may be sent again as it is: throttled, 5xx, cut off."""
    if isinstance(exc, ConnectionClosedError | EndpointConnectionError | ReadTimeoutError):
        return True
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return is_throttling(exc) or status >= 500
