"""`statement-pipeline demo`: a sample month imported end to end on the embedded local AWS."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import bootstrap_from_environment
from statement_pipeline.aws.table import count_month
from statement_pipeline.cli.arguments import (
    DEFAULT_LOG_LEVEL,
    add_log_level,
    instance_log_level,
    month_arg,
)
from statement_pipeline.cli.job_runner import (
    RunReport,
    loader_totals,
    run_import,
    tuning_run_config,
)
from statement_pipeline.cli.progress import Bars
from statement_pipeline.local_aws.environment import local_aws_env
from statement_pipeline.rules.names import Names
from statement_pipeline.rules.progress import Progress, listening
from statement_pipeline.rules.s3_layout import closed_month
from statement_samples.upload import upload_sample_month

# The demo's bars move every 2 s; each is also a line in the run's log.
DEMO_PROGRESS_SECONDS = 2.0


def _show(bars: Bars) -> Callable[[Progress], None]:
    """Draw the import's progress snapshots (validating, enqueuing, loading) as bars."""
    return lambda p: bars.update(p.what, p.done, p.total, f"{p.what}: {p.counts}")


def _row(label: str, value: object) -> str:
    return f"  {label:<34} {value}"


def summary(report: RunReport, expected: int, wall: float) -> list[str]:
    sched = report.materializations.get("scheduled_statements", {})
    load = report.materializations.get("loaded_statements", {})
    items = int(load.get("written_in_import", 0) or 0)
    loader_calls = loader_totals(load).get("api_calls", 0)
    calls = int(sched.get("send_calls", 0) or 0) + loader_calls
    lines = [
        "",
        "statement_pipeline demo: summary",
        f"  {sched.get('summary', '-')}",
        f"  {load.get('summary', '-')}",
        _row("files", sched.get("files", "-")),
        _row("rows read", sched.get("rows", "-")),
        _row("valid statements", sched.get("valid", "-")),
        _row("rejected rows", sched.get("rejected", "-")),
        _row("SQS messages", sched.get("messages", "-")),
        _row("scheduling seconds", sched.get("seconds", "-")),
        _row("items written", items),
        _row("loading seconds", load.get("load_seconds", "-")),
        _row("write seconds (first to last)", load.get("write_seconds", "-")),
        _row("records/second written", load.get("records_per_second", "-")),
        _row("API calls per 1,000 records", f"{1000 * calls / max(expected, 1):.1f}"),
        _row("whole run seconds", f"{wall:.1f}"),
        "",
        "asset checks",
    ]
    for check in report.checks:
        verdict = "PASS" if check.passed else "FAIL"
        lines.append(f"  {verdict}  {check.name:<32} {check.description}")
    if report.failure:
        lines.append(f"run failed: {report.failure}")
    return lines


def run_demo(
    records: int = 23_300,
    files: int = 4,
    loaders: int = 4,
    month: str | None = None,
    log_level: str = DEFAULT_LOG_LEVEL,
) -> int:
    """Start local AWS, write a sample month, import it, print a summary; 0 iff all checks pass."""
    period = month or closed_month(datetime.now(UTC))
    names = Names.from_env()
    print(f"starting the embedded local AWS ({records:,} statements of {period} in {files} files)")
    with local_aws_env() as server, tempfile.TemporaryDirectory(prefix="dagster-demo-") as home:
        print(f"local AWS at {server.endpoint}")
        for line in bootstrap_from_environment(names).lines():
            print(f"  bootstrap: {line}")
        keys = upload_sample_month(names, period, records, files)
        print(f"uploaded {len(keys)} files to s3://{names.bucket}/{names.prefix}{period}/")
        print("importing with the Dagster definitions...")
        started = time.monotonic()
        config = tuning_run_config(loaders=loaders, progress_seconds=DEMO_PROGRESS_SECONDS)
        with (
            dg.DagsterInstance.local_temp(home, overrides=instance_log_level(log_level)) as inst,
            Bars() as bars,
            listening(_show(bars)),
        ):
            report = run_import(period, inst, config)
        wall = time.monotonic() - started
        in_table = count_month(clients.client("dynamodb"), names.table, period)
    for line in summary(report, records, wall):
        print(line)
    ok = report.success and report.all_checks_passed and in_table == records
    print(f"\n{in_table:,} statements of {period} in the table; " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    return run_demo(args.records, args.files, args.loaders, args.month, args.log_level)


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="import a sample month end to end on the local AWS")
    p.add_argument("--records", type=int, default=23_300)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--loaders", type=int, default=4)
    p.add_argument("--month", type=month_arg, default=None, help="YYYY-MM (default: last month)")
    add_log_level(p)
    p.set_defaults(func=run)
