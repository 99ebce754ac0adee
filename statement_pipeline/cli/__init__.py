"""The `statement-pipeline` command: one module per subcommand in this package."""

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = (
    "bootstrap",
    "capacity",
    "demo",
    "dev",
    "diff",
    "iam_policy",
    "local_aws",
    "plan",
    "prod_local",
    "upload",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statement-pipeline",
        description="Monthly statements: S3 -> SQS -> DynamoDB, orchestrated by Dagster.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
