"""`statement-pipeline demo`: a sample month imported end to end on the embedded local AWS."""

import argparse
from typing import Any

from statement_pipeline.commands._common import month_arg


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.demo import run_demo

    return run_demo(args.records, args.files, args.loaders, args.month)


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="import a sample month end to end on the local AWS")
    p.add_argument("--records", type=int, default=23_300)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--loaders", type=int, default=4)
    p.add_argument("--month", type=month_arg, default=None, help="YYYY-MM (default: last month)")
    p.set_defaults(func=run)
