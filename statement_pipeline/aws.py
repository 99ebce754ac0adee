"""Plain boto3 clients for the CLI and tools, built the standard way (env, profiles, endpoints)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config


def region() -> str | None:
    """AWS_REGION, then AWS_DEFAULT_REGION / the profile (botocore reads only the latter)."""
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name


def client(service: str, max_attempts: int = 5) -> Any:
    """A client for `service`; AWS_ENDPOINT_URL(_<SERVICE>) point it at an emulator."""
    return boto3.session.Session().client(
        service,
        region_name=region(),
        config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
    )
