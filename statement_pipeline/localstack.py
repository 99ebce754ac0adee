"""Helpers shared by `demo`, `dev` and the benchmarks: local AWS, bootstrap, sample months."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from statement_pipeline import aws
from statement_pipeline.core import sample
from statement_pipeline.core.layout import month_prefix
from statement_pipeline.core.settings import Names
from statement_pipeline.infra.bootstrap import BootstrapReport, TableSettings, bootstrap
from statement_pipeline.infra.localaws import LOCAL_ENV, LocalAws


@contextmanager
def local_aws_env(port: int | None = None, speedups: bool = True) -> Iterator[LocalAws]:
    """Start the embedded local AWS and point this process (and its children) at it."""
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


def bootstrap_here(names: Names, table: TableSettings | None = None) -> BootstrapReport:
    """Bootstrap the configured names in whatever AWS the environment points at."""
    return bootstrap(
        names,
        s3=aws.client("s3"),
        sqs=aws.client("sqs"),
        dynamodb=aws.client("dynamodb"),
        region=aws.region() or "us-east-1",
        table=table or TableSettings(),
    )


def upload_month(names: Names, period: str, files: Sequence[tuple[str, bytes]]) -> list[str]:
    """Put a month's files into its folder; returns their keys."""
    s3 = aws.client("s3")
    keys = []
    for name, content in files:
        key = f"{month_prefix(names.prefix, period)}{name}"
        s3.put_object(Bucket=names.bucket, Key=key, Body=content, ContentType="text/csv")
        keys.append(key)
    return keys


def upload_sample_month(
    names: Names, period: str, records: int, files: int, seed: int = 0, quirks: bool = False
) -> list[str]:
    """Generate and upload a sample month."""
    return upload_month(names, period, sample.write_month(period, records, files, seed, quirks))
