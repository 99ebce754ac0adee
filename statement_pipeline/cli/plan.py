"""`statement-pipeline plan --records N --wcu W`: a month's load time before anything runs."""

import argparse
from typing import Any


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.rules.capacity_plan import Table, explain, plan_import

    if args.wcu is None:
        table = Table(None, burst=args.burst)
    else:
        table = Table(args.wcu, args.rcu if args.rcu is not None else args.wcu, args.burst)
    plan = plan_import(
        args.records,
        table,
        item_bytes=args.item_bytes,
        loaders=args.loaders,
        loader_rate=args.loader_rate,
        read_share=args.read_share,
    )
    for line in explain(plan, item_bytes_measured=args.item_bytes is None):
        print(line)
    if table.wcu is not None:
        _print_policies(args, plan, table)
    return 0


def _print_policies(args: argparse.Namespace, plan: Any, table: Any) -> None:
    """keep / raise / on_demand for this month: time, window with UPDATING, costs."""
    from statement_pipeline.rules import capacity_window as cw

    load = cw.MonthLoad(plan.units, plan.read_units, plan.loaders * plan.loader_rate)
    current = cw.Current.idle(table.wcu, table.rcu or table.wcu)
    if table.burst == "spent":
        current = cw.Current(table.wcu, table.rcu or table.wcu, 0.0, 0.0)
    comparison = cw.compare_policies(
        load,
        current,
        target_seconds=args.capacity_target,
        max_wcu=args.max_wcu,
        updating_seconds=args.updating_seconds,
        read_share=args.read_share,
    )
    for line in cw.explain_policies(comparison, args.capacity_target):
        print(line)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="estimate a month's import time from the table's capacity, burst and partitions",
    )
    p.add_argument("--records", type=_positive_int, required=True, help="statements to load")
    p.add_argument(
        "--wcu",
        type=_positive_int,
        default=None,
        help="the table's provisioned write units (omit for an on-demand table)",
    )
    p.add_argument(
        "--rcu", type=_positive_int, default=None, help="provisioned read units (default: --wcu)"
    )
    p.add_argument(
        "--burst",
        choices=("idle", "spent"),
        default="idle",
        help="idle: the table saved 300 s of capacity; spent: another writer just used it",
    )
    p.add_argument(
        "--item-bytes",
        type=_positive_int,
        default=None,
        help="item size in bytes (default: measured from a sample item)",
    )
    p.add_argument("--loaders", type=_positive_int, default=4, help="loader workers (default 4)")
    p.add_argument(
        "--loader-rate",
        type=_positive_float,
        default=None,
        help="items per second one loader writes unthrottled (default: 25 per BatchWriteItem "
        "at 25 ms a call)",
    )
    p.add_argument(
        "--read-share",
        type=_positive_float,
        default=0.8,
        help="share of the table's read rate the import's read-back settles at once its read "
        "burst is spent (import_tuning.read_share; default 0.8)",
    )
    p.add_argument(
        "--capacity-target",
        type=_positive_int,
        default=60,
        help="STATEMENT_CAPACITY_TARGET_SECONDS for the raise column (default 60)",
    )
    p.add_argument(
        "--max-wcu",
        type=_positive_int,
        default=4000,
        help="STATEMENT_CAPACITY_MAX_WCU for the raise column (default 4000)",
    )
    p.add_argument(
        "--updating-seconds",
        type=_positive_float,
        default=180.0,
        help="how long one UpdateTable stays UPDATING (default 180: 'several minutes')",
    )
    p.set_defaults(func=run)
