"""The `statement-pipeline` command; its subcommands live in `statement_pipeline.commands`."""

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from statement_pipeline import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statement-pipeline",
        description="Monthly statements: S3 -> SQS -> DynamoDB, orchestrated by Dagster.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
