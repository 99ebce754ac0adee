"""Uploading generated sample months to whatever AWS the environment points at."""

from __future__ import annotations

from statement_pipeline.aws.s3_files import upload_files
from statement_pipeline.rules.names import Names
from statement_samples.generator import write_month


def upload_sample_month(
    names: Names, period: str, records: int, files: int, seed: int = 0, quirks: bool = False
) -> list[str]:
    """Generate and upload a sample month."""
    return upload_files(names, period, write_month(period, records, files, seed, quirks))
