"""`statement-pipeline bootstrap`: create (or check) bucket, queue + DLQ and table."""

import argparse
import sys
from typing import Any

from statement_pipeline.cli.progress import Bars
from statement_pipeline.rules.names import Names


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws.bootstrap import TableSettings, bootstrap_from_environment

    rcu = args.rcu if args.rcu is not None else args.wcu
    table = TableSettings("PROVISIONED", rcu, args.wcu) if args.wcu else TableSettings()
    with Bars() as bars:

        def waiting(what: str, seconds: float) -> None:
            bars.update(what, seconds, None, f"waiting for {what} ({seconds:.0f} s)")

        report = bootstrap_from_environment(Names.from_env(), table, waiting)
    for line in report.lines():
        print(line)
    if report.has_drift:
        print("existing resources differ from the safe defaults (left unchanged)", file=sys.stderr)
        return 1
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bootstrap",
        help="create bucket, queue + DLQ and table in the configured AWS (safe to rerun)",
    )
    p.add_argument("--wcu", type=int, default=0, help="provisioned write units (0: on demand)")
    p.add_argument(
        "--rcu", type=int, default=None, help="provisioned read units (default: as many as --wcu)"
    )
    p.set_defaults(func=run)
