"""`statement-pipeline capacity status|restore`: the table's capacity and any raise in force."""

import argparse
from typing import Any


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws import capacity, clients, scaler
    from statement_pipeline.rules.names import Names

    table = Names.from_env().table
    ddb = clients.client("dynamodb")
    if args.action == "status":
        for line in capacity.describe_raise(ddb, table) + scaler.describe_scaler_raise(ddb, table):
            print(line)
        return 0
    # restore: every holder is treated as gone (the operator says so), unless --expired-only.
    outcome = capacity.reconcile(
        ddb,
        table,
        lambda _run: args.expired_only,
        wait=lambda: capacity.wait_active(ddb, table),
    )
    # A table under Application Auto Scaling: its scalable-target raise has tags of its own.
    outcome = outcome or scaler.reconcile(
        ddb, clients.client("application-autoscaling"), table, lambda _run: args.expired_only
    )
    if outcome is None:
        print(f"{table}: nothing to restore")
        return 0
    print(outcome.message)
    return 1 if outcome.deferred_until is not None else 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "capacity",
        help="the table's capacity, a raise in force and the decreases left; restore a raise",
    )
    p.add_argument("action", choices=("status", "restore"))
    p.add_argument(
        "--expired-only",
        action="store_true",
        help="restore: only a raise whose expiry passed (default: any raise, its runs are over)",
    )
    p.set_defaults(func=run)
