"""Argument helpers shared by the subcommands."""

import argparse
import os
from typing import Any

from statement_pipeline.rules.s3_layout import require_month

# The log level of the Dagster runs and services a command starts: `--log-level`, else this
# variable, else INFO (Dagster's run loggers would otherwise print every DEBUG event).
LOG_LEVEL_ENV = "STATEMENT_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_LOG_LEVEL = "info"


def month_arg(text: str) -> str:
    """argparse type for a `YYYY-MM` month."""
    try:
        return require_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def log_level_arg(text: str) -> str:
    """argparse type for a log level, any case."""
    level = text.strip().lower()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"log level must be one of {', '.join(LOG_LEVELS)}, got {text!r}"
        )
    return level


def add_log_level(parser: Any) -> None:
    """`--log-level`, defaulting to STATEMENT_LOG_LEVEL or INFO (argparse checks either)."""
    parser.add_argument(
        "--log-level",
        type=log_level_arg,
        default=os.environ.get(LOG_LEVEL_ENV) or DEFAULT_LOG_LEVEL,
        help=f"Dagster log level ({', '.join(LOG_LEVELS)}; default ${LOG_LEVEL_ENV} or info)",
    )


def instance_log_level(level: str) -> dict[str, Any]:
    """Dagster instance settings that make runs log at `level` (their console's threshold)."""
    return {"python_logs": {"python_log_level": level.upper()}}
