"""`statement-pipeline diff --month YYYY-MM`: the dry run of re-importing a month."""

import argparse
import json
import os
import sys
from typing import Any

from statement_pipeline.cli.arguments import month_arg


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws import clients
    from statement_pipeline.aws.dry_run import NothingToImport, diff_month
    from statement_pipeline.aws.s3_files import FileChanged
    from statement_pipeline.rules.csv_records import FileFormatError
    from statement_pipeline.rules.month_diff import as_json, describe
    from statement_pipeline.rules.names import Names

    names = Names.from_env()
    try:
        diff = diff_month(
            s3=clients.client("s3"),
            bucket=names.bucket,
            prefix=names.prefix,
            period=args.month,
            dynamodb=clients.client("dynamodb"),
            table=names.table,
        )
    except (FileFormatError, NothingToImport) as exc:
        # The import itself would fail on this month: say so, like the import would.
        print(f"{args.month}: the import would fail: {exc}", file=sys.stderr)
        return 1
    except FileChanged as exc:
        print(f"{args.month}: {exc}; run the dry run again", file=sys.stderr)
        return 1
    calls = capacity_calls(diff)
    if args.json:
        print(json.dumps({**as_json(diff), "capacity_calls": calls}, indent=2))
    else:
        for line in [*describe(diff, limit=args.limit or None), *calls]:
            print(line)
    return 0


def capacity_calls(diff: Any) -> list[str]:
    """The capacity calls the import of the month would make under STATEMENT_CAPACITY_POLICY,
    sized for the rows it would write."""
    from statement_pipeline.aws import clients, import_window
    from statement_pipeline.resources import ImportTuning
    from statement_pipeline.rules.capacity_plan import sample_item_bytes
    from statement_pipeline.rules.names import CapacitySettings, Names

    writes = sum(d.rows for d in diff.decisions if d.write)
    load = import_window.month_load(
        writes, sample_item_bytes(), import_window.writer_rate(ImportTuning().loaders)
    )
    settings = CapacitySettings.from_env(os.environ)
    ddb = clients.client("dynamodb")
    aas = clients.client("application-autoscaling")
    return import_window.planned_calls(ddb, Names.from_env().table, settings, load, aas)


def _limit(text: str) -> int:
    """argparse type for a non-negative count."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="dry run: what re-importing a month would add, change and remove (writes nothing)",
    )
    p.add_argument("--month", type=month_arg, required=True, help="YYYY-MM")
    p.add_argument(
        "--limit", type=_limit, default=100, help="file:line entries listed per kind (0: all)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)
