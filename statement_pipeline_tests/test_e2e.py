"""End to end, the way users run it: the CLI and `dagster asset materialize` over HTTP."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from statement_harness import scenarios
from statement_pipeline.aws import clients
from statement_pipeline.rules.csv_records import COLUMNS, NUMBER_COLUMNS
from statement_pipeline_tests.oracles import rows_as_written
from statement_samples import write_month

MONTH = "2026-10"
NAMES = {
    "STATEMENT_BUCKET": "e2e-statements",
    "STATEMENT_PREFIX": "incoming/monthly",
    "STATEMENT_QUEUE": "e2e-records",
    "STATEMENT_TABLE": "e2e-statements",
}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("statement-pipeline"))
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _materialize(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scenarios.cli_command(MONTH),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _month_items(table: str) -> dict[str, dict]:
    ddb = clients.client("dynamodb")
    items: dict[str, dict] = {}
    kwargs = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        for item in page["Items"]:
            items[f"{item['period']['S']}/{item['statement_id']['S']}"] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _assert_item(item: dict, values: tuple[str, ...]) -> None:
    """Every column under its own name, strings as S, numbers as N with the exact value."""
    for column, value in zip(COLUMNS, values, strict=True):
        if column in NUMBER_COLUMNS:
            ((kind, stored),) = item[column].items()
            assert kind == "N"
            assert Decimal(stored) == Decimal(value)
        else:
            assert item[column] == {"S": value}


@pytest.fixture
def env(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in NAMES.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    return {**os.environ, "DAGSTER_HOME": str(home)}


def test_bootstrap_then_materialize_a_quirky_month_exactly_once(env: dict[str, str]) -> None:
    first = _cli("bootstrap", env=env)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    second = _cli("bootstrap", env=env)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout

    s3 = clients.client("s3")
    files = write_month(MONTH, 1_000, 4, seed=11, quirks=True)
    expected: dict[str, tuple[str, ...]] = {}
    for name, content in files:
        s3.put_object(
            Bucket=NAMES["STATEMENT_BUCKET"], Key=f"incoming/monthly/{MONTH}/{name}", Body=content
        )
        for values in rows_as_written(content):
            expected[f"{MONTH}/{values[0]}"] = values
    assert len(expected) == 1_000
    # A neighbouring month and a bad folder must not leak into this month's import.
    s3.put_object(
        Bucket=NAMES["STATEMENT_BUCKET"],
        Key="incoming/monthly/2026-09/part-1.csv",
        Body=write_month("2026-09", 10, 1)[0][1],
    )
    s3.put_object(
        Bucket=NAMES["STATEMENT_BUCKET"], Key="incoming/monthly/latest/x.csv", Body=b"junk"
    )

    run = _materialize(env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "RUN_SUCCESS" in run.stderr + run.stdout
    items = _month_items(NAMES["STATEMENT_TABLE"])
    assert items.keys() == expected.keys()
    for key, item in items.items():
        _assert_item(item, expected[key])
    assert "ASSET_CHECK_EVALUATION" in run.stderr + run.stdout
    assert "did not pass" not in run.stderr + run.stdout

    again = _materialize(env)
    assert again.returncode == 0, again.stderr[-3000:]
    after = _month_items(NAMES["STATEMENT_TABLE"])
    assert after.keys() == items.keys()
    for key, item in after.items():
        assert {k: v for k, v in item.items() if k != "loaded_at"} == {
            k: v for k, v in items[key].items() if k != "loaded_at"
        }
