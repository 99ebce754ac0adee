"""The dry run (`statement-pipeline diff`) prints the capacity calls the import would make."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from statement_harness.scenarios import put_files, setup_aws
from statement_pipeline.aws import capacity
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.cli import main
from statement_pipeline.rules.csv_records import COLUMNS
from statement_samples import generate_rows, render_csv

MONTH = "2026-04"
TABLE = "statements"


@pytest.fixture
def month(moto_endpoint: str) -> None:
    """A 2 / 2 table and 2,400 statements: 600 burst units, then 1,800 to write in 10 s."""
    setup_aws(TableSettings("PROVISIONED", 2, 2))
    put_files(MONTH, [("part-1.csv", render_csv(COLUMNS, generate_rows(MONTH, 2_400, seed=3)))])


def _dry_run(capsys: Any) -> str:
    assert main(["diff", "--month", MONTH]) == 0
    return str(capsys.readouterr().out)


def _unchanged() -> None:
    ddb = boto3.client("dynamodb")
    assert describe_capacity(ddb, TABLE) == capacity.Capacity("PROVISIONED", 2, 2)
    assert capacity.read_raise(ddb, capacity.table_arn(ddb, TABLE)) is None


def test_the_dry_run_under_keep_makes_no_capacity_call(month: None, capsys: Any) -> None:
    out = _dry_run(capsys)

    assert "capacity policy keep: no UpdateTable, no tag call" in out
    _unchanged()


def test_the_dry_run_under_raise_prints_the_raise_and_the_restore(
    month: None, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    monkeypatch.setenv("STATEMENT_CAPACITY_TARGET_SECONDS", "10")

    out = _dry_run(capsys)

    # (2,400 - 600 burst units) / 10 s = 180 WCU.
    assert re.search(r"UpdateTable statements: PROVISIONED 2 2 -> PROVISIONED 180 \d+,", out)
    assert re.search(
        r"TagResource statements: original PROVISIONED 2 2, raised PROVISIONED 180", out
    )
    assert "after the month's writes: UpdateTable statements -> PROVISIONED 2 2" in out
    _unchanged()


def test_the_dry_run_under_on_demand_prints_the_switch_and_its_fallback(
    month: None, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "on_demand")
    monkeypatch.setenv("STATEMENT_CAPACITY_TARGET_SECONDS", "10")

    out = _dry_run(capsys)

    assert "UpdateTable statements: PROVISIONED 2 2 -> PAY_PER_REQUEST" in out
    assert re.search(
        r"are spent \(LimitExceededException\): UpdateTable statements -> PROVISIONED 180", out
    )
    _unchanged()
