"""What an operator reads: the month's figures, detail tables, links, progress lines, levels."""

from __future__ import annotations

import argparse
import io
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from statement_pipeline.aws import bootstrap as bootstrap_module
from statement_pipeline.aws import clients
from statement_pipeline.aws.import_window import WindowReport
from statement_pipeline.aws.load_report import (
    MAX_NUMERIC_FIGURES,
    RESERVED_FIGURES,
    capacity_metadata,
    loader_rows,
    loading_metadata,
    month_summary,
)
from statement_pipeline.aws.loading import LoadedMonth, LoaderResult
from statement_pipeline.aws.queue_drainer import LoadStats
from statement_pipeline.aws.s3_files import object_links
from statement_pipeline.aws.table import Capacity
from statement_pipeline.cli.arguments import instance_log_level, log_level_arg
from statement_pipeline.cli.dev import dg_dev_command, find_dagster_config, prepare_home
from statement_pipeline.cli.progress import Bars
from statement_pipeline.metadata import LOADER_COLUMNS, table
from statement_pipeline.resources import (
    DynamoDBResource,
    SQSResource,
    StatementFilesResource,
    StatementS3Resource,
    aws_location,
)
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.month_figures import MonthFigures
from statement_pipeline.rules.month_plan import (
    FileRef,
    decide_writes,
    file_figures,
    plan_month,
    scan_file,
)
from statement_pipeline.rules.progress import Progress, listening, reporting
from statement_pipeline.rules.s3_links import console_url, is_aws_endpoint
from statement_pipeline.rules.write_budget import BudgetState
from statement_samples import generate_rows, render_csv

MONTH = "2026-10"


def _loaded(*, written: int, write_capacity: int | None, expected: int = 23_300) -> LoadedMonth:
    stats = LoadStats(workers=4, items=23_300, calls=940, throttled_calls=12)
    stats.bump(units_granted=23_300, units_reported=932.0)
    stats.wrote(MONTH, 20_000)
    stats.wrote("2026-11", 3_300)
    figures = MonthFigures(current=expected)
    if written:
        figures = MonthFigures(
            current=expected,
            written=written,
            first_write=1_000.0,
            last_write=1_020.0,
            throttled_writes=57,
            write_units=written,
        )
    return LoadedMonth(
        period=MONTH,
        expected=expected,
        rows=expected + 40,
        rejected=40,
        sources={},
        in_table=expected,
        stale_removed=3,
        seconds=25.0,
        billing_mode="PROVISIONED" if write_capacity else "PAY_PER_REQUEST",
        write_capacity=write_capacity,
        stats=stats,
        figures=figures,
    )


def _numeric(metadata: dict[str, object]) -> dict[str, object]:
    return {
        k: v for k, v in metadata.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def test_the_months_figures_are_few_and_leave_room_for_the_capacity_cost() -> None:
    metadata = loading_metadata(_loaded(written=23_300, write_capacity=160))
    assert _numeric(metadata) == {
        "statements": 23_300,
        "rejected": 40,
        "written_in_import": 23_300,
        "stale_removed": 3,
        "write_seconds": 20.0,
        "records_per_second": 1165.0,
        "throttled_writes": 57,
        "consumed_wcu": 23_300,
        "provisioned_wcu": 160,
        "load_seconds": 25.0,
        "consumed_rcu": 0.0,
    }
    # The capacity window adds one number, its cost; its other facts are text.
    raised = Capacity("PROVISIONED", 289, 20)
    window = WindowReport("raise", Capacity("PROVISIONED", 20, 20), raised, 3.0, opened_at=0.0)
    capacity = _numeric(capacity_metadata(window, 3600.0, None))
    # 289 WCU + 20 RCU for an hour: $0.18785 + $0.0026.
    assert capacity == {"capacity_cost_usd": 0.19045}
    assert RESERVED_FIGURES == 0
    assert len(_numeric({**metadata, **capacity})) <= MAX_NUMERIC_FIGURES == 12
    assert metadata["first_write"] == "1970-01-01T00:16:40.000+00:00"
    assert metadata["summary"] == (
        "2026-10: 23,300 statements in the table; 23,300 written by this import in 20.0 s "
        "(1,165/s), 57 throttled attempts, 23,300 write units; 3 statements no current file "
        "holds removed; 40 of 23,340 rows rejected (see the rejects objects)"
    )


def test_figures_that_do_not_apply_are_absent_not_zero() -> None:
    metadata = loading_metadata(_loaded(written=0, write_capacity=None))
    # Nothing written: no write window, rate or cost; on demand: no provisioned units.
    for absent in (
        "write_seconds",
        "records_per_second",
        "throttled_writes",
        "consumed_wcu",
        "provisioned_wcu",
        "first_write",
    ):
        assert absent not in metadata
    assert metadata["written_in_import"] == 0
    assert "nothing written: the table already held every file as current" in metadata["summary"]


def test_a_month_whose_rows_were_all_rejected_says_so() -> None:
    loaded = _loaded(written=0, write_capacity=None, expected=0)
    assert month_summary(loaded) == (
        "2026-10: nothing to load, all 40 rows rejected; no statement of the month in the table"
    )


def test_the_loaders_are_one_table_row_per_op_with_other_months_apart() -> None:
    stats = LoadStats(workers=2, items=500, calls=21, throttled_calls=3)
    stats.wrote(MONTH, 300)
    stats.wrote("2026-09", 200)
    result = LoaderResult(stats, BudgetState(120.0, True, 2, 3, 1.5), 4.2, host="h1", pid=7)
    rows = loader_rows([result], [1], MONTH)
    assert rows == [
        {
            "op": 1,
            "host": "h1",
            "pid": 7,
            "workers": 2,
            "seconds": 4.2,
            "items": 500,
            "items_this_month": 300,
            "items_other_months": 200,
            "other_months": "2026-09: 200",
            "messages": 0,
            "write_calls": 21,
            "throttled_calls": 3,
            "units_reported": 0.0,
            "rate_cuts": 2,
            "settled": True,
            "ending_rate": "120 units/s (settled)",
            "poison": 0,
            "superseded": 0,
            "failed_messages": 0,
            "api_calls": 21,
        }
    ]
    assert len(table(rows, LOADER_COLUMNS).records) == 1
    with pytest.raises(ValueError, match="columns"):
        table([{"op": 1}], LOADER_COLUMNS)


def _scan(name: str, rows: list) -> object:
    content = render_csv(COLUMNS, rows)
    ref = FileRef(f"statements/{MONTH}/{name}", f'"{name}"', len(content))
    return scan_file(ref, io.BytesIO(content), MONTH)


def test_a_file_whose_rows_were_all_rejected_is_described_with_the_count() -> None:
    good = list(generate_rows(MONTH, 5, seed=1))
    bad = [list(r) for r in generate_rows(MONTH, 7, seed=2)]
    for row in bad:
        row[4] = "eur"  # not an ISO 4217 code in upper case
    plan = plan_month(MONTH, [_scan("a.csv", good), _scan("b.csv", bad), _scan("c.csv", [])])
    decisions = {d.key.rsplit("/", 1)[1]: d for d in decide_writes(plan, {})}
    assert (decisions["a.csv"].write, decisions["a.csv"].reason) == (True, "new file")
    assert (decisions["b.csv"].write, decisions["b.csv"].reason) == (
        False,
        "nothing to load: all 7 rows rejected",
    )
    assert decisions["c.csv"].reason == "nothing to load: the file has no data rows"
    figures = {f.key.rsplit("/", 1)[1]: f for f in file_figures(plan)}
    assert (figures["b.csv"].rows, figures["b.csv"].loaded, figures["b.csv"].rejected) == (7, 0, 7)
    # Stored items of such a file never make it "current": nothing of it is ever stored.
    again = decide_writes(plan, {(f"statements/{MONTH}/b.csv", '"b.csv"'): 0})
    assert [d.reason for d in again if d.key.endswith("b.csv")] == [
        "nothing to load: all 7 rows rejected"
    ]


def test_links_open_the_s3_console_on_aws_and_a_presigned_object_on_an_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "rejects/2026-10/part 1.rejects.csv"
    on_aws = clients.client("s3", region_name="eu-west-1")
    assert object_links(on_aws, {"a": f"s3://acme/{key}"}) == {
        "a": "https://eu-west-1.console.aws.amazon.com/s3/object/acme?region=eu-west-1"
        "&bucketType=general&prefix=rejects/2026-10/part%201.rejects.csv"
    }
    assert console_url("cn-north-1", "acme", "a.csv").startswith(
        "https://cn-north-1.console.amazonaws.cn/s3/object/acme?region=cn-north-1"
    )
    assert is_aws_endpoint("https://s3.dualstack.eu-west-1.amazonaws.com")
    assert not is_aws_endpoint("http://127.0.0.1:5005")
    # Whatever credentials the environment holds, a link never carries them.
    key_id, token = "FAKEKEYID" + secrets.token_hex(6).upper(), secrets.token_urlsafe(40)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    local = clients.client("s3", endpoint_url="http://127.0.0.1:5005")
    link = urlsplit(object_links(local, {"a": f"s3://acme/{key}"})["a"])
    assert (link.scheme, link.netloc) == ("http", "127.0.0.1:5005")
    assert link.path == "/acme/rejects/2026-10/part%201.rejects.csv"
    assert "Signature" in link.query
    assert key_id not in link.query
    assert token not in link.query


def test_a_progress_line_has_done_total_rate_throttled_share_and_time_left() -> None:
    line = Progress(
        "loading 2026-10",
        "statements",
        12_000,
        23_300,
        4.0,
        refused=3,
        attempts=200,
        attempts_label="write calls",
    ).line()
    assert line == (
        "loading 2026-10: 12,000/23,300 statements (52%), 3,000 statements/s, "
        "1.5% of write calls throttled, about 4 s left"
    )
    assert Progress("validating 2026-10", "MB", 0.0, 3.5, 1.0, decimals=1).line() == (
        "validating 2026-10: 0.0/3.5 MB (0%), 0.0 MB/s, time left unknown"
    )


def test_listeners_hear_the_last_snapshot_once_the_step_is_done() -> None:
    heard: list[Progress] = []
    done = Progress("loading 2026-10", "statements", 10, 10, 1.0)
    with listening(heard.append), reporting(None, 3600, lambda: done):
        pass
    assert heard == [done]


def test_without_a_terminal_a_bar_is_a_few_plain_lines(capsys: pytest.CaptureFixture) -> None:
    with Bars(terminal=False, plain_every=3600) as bars:
        for done in (1, 2, 3, 4):
            bars.update("upload", done, 4, f"uploading: {done}/4")
        bars.update("upload", 4, 4, "uploading: 4/4 again")
    assert capsys.readouterr().out.splitlines() == ["uploading: 1/4", "uploading: 4/4"]


def test_resources_say_what_they_point_at(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5005")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    assert aws_location("s3") == {
        "region_name": "eu-west-1",
        "endpoint_url": "http://127.0.0.1:5005",
    }
    table_location = aws_location("dynamodb")
    assert table_location["endpoint_url"] == "http://127.0.0.1:8000"
    resource = DynamoDBResource(table_name="acme", **table_location)
    assert resource.get_client().meta.endpoint_url == "http://127.0.0.1:8000"
    assert resource.points_at() == (
        "table: acme (DynamoDB, region eu-west-1, endpoint http://127.0.0.1:8000)"
    )
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    assert aws_location("sqs")["endpoint_url"] == "AWS default"
    assert SQSResource().points_at() == (
        "queue: statement-records, DLQ statement-records-dlq "
        "(SQS, region eu-west-1, endpoint AWS default)"
    )
    assert StatementFilesResource(s3=StatementS3Resource(), prefix="in").points_at() == (
        "statement files: s3://statements/in/<YYYY-MM>/*.csv "
        "(S3, region eu-west-1, endpoint AWS default)"
    )


def test_the_log_level_is_info_unless_asked(tmp_path: Path) -> None:
    assert log_level_arg("DEBUG") == "debug"
    with pytest.raises(argparse.ArgumentTypeError):
        log_level_arg("loud")
    assert instance_log_level("debug") == {"python_logs": {"python_log_level": "DEBUG"}}
    assert dg_dev_command("127.0.0.1", 3000)[-2:] == ["--log-level", "info"]
    shipped = find_dagster_config(tmp_path)
    assert "python_log_level: INFO" in shipped.read_text()
    home = tmp_path / "home"
    prepare_home(home, shipped, "debug")
    assert "python_log_level: DEBUG" in (home / "dagster.yaml").read_text()


class _CreatingTable:
    """DescribeTable answers CREATING twice, then ACTIVE (as DynamoDB does for a new table)."""

    def __init__(self) -> None:
        self.statuses = ["CREATING", "CREATING", "ACTIVE"]

    def describe_table(self, TableName: str) -> dict:
        return {"Table": {"TableName": TableName, "TableStatus": self.statuses.pop(0)}}


def test_bootstrap_says_what_it_waits_for_while_a_new_table_is_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bootstrap_module, "_sleep", lambda _seconds: None)
    heard: list[str] = []
    bootstrap_module._wait_active(
        _CreatingTable(), "statements", lambda what, _seconds: heard.append(what)
    )
    assert heard == ["table statements: CREATING", "table statements: CREATING"]
