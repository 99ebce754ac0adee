"""Argument helpers shared by the subcommands."""

import argparse

from statement_pipeline.rules.s3_layout import require_month


def month_arg(text: str) -> str:
    """argparse type for a `YYYY-MM` month."""
    try:
        return require_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
