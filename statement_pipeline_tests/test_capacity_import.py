"""The import against a model of DynamoDB's capacity (a proxy in front of moto).

moto grants unlimited capacity; `CapacityProxy` throttles as DynamoDB does (provisioned rate,
300 s of burst, 1,000 units a second per partition and per key value), compressed in time by
`K` so that minutes on AWS take seconds here. No assertion here is about this machine's
time; the key-limit test measures a rate on the model's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.scenarios import (
    assert_month_exact,
    put_files,
    run_in_process,
    setup_aws,
)
from statement_harness.spent_burst import SpentAtFirstWrite
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.cli.job_runner import RunReport, loader_totals, tuning_run_config
from statement_pipeline.rules import capacity_plan
from statement_pipeline.rules.capacity_plan import Table
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import shard_of
from statement_samples import generate_rows, render_csv

MONTH = "2026-04"
# 2 WCU at 50x: 100 units a second sustained, 600 units of burst (300 s x 2 WCU).
K = 50.0
SMALL = TableSettings("PROVISIONED", 2, 2)


@pytest.fixture
def model(
    request: pytest.FixtureRequest, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CapacityProxy]:
    """DynamoDB through the capacity model (S3 and SQS straight to moto).

    `@pytest.mark.capacity(k=..., burst="full"|"empty")` sets its time compression and
    whether tables start with their burst saved up (idle) or spent.
    """
    marker = request.node.get_closest_marker("capacity")
    options = {"k": K, "burst": "full", **(marker.kwargs if marker else {})}
    with CapacityProxy(moto_endpoint, **options) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        yield proxy


def _month(period: str, records: int, seed: int = 1) -> list[tuple[str, ...]]:
    rows = list(generate_rows(period, records, seed=seed))
    half = len(rows) // 2
    put_files(
        period,
        [("a.csv", render_csv(COLUMNS, rows[:half])), ("b.csv", render_csv(COLUMNS, rows[half:]))],
    )
    return rows


def _import(period: str, home: Path) -> RunReport:
    report = run_in_process(period, home, tuning_run_config(records_per_message=100))
    assert report.success, report.failure
    assert all(c.passed for c in report.checks), report.checks
    return report


def test_throttled_mid_month_the_table_ends_exact(model: CapacityProxy, tmp_path: Path) -> None:
    """600 units of burst, 1,000 statements: the burst runs out mid-month."""
    setup_aws(SMALL)
    rows = _month(MONTH, 1_000)

    report = _import(MONTH, tmp_path / "dagster")

    assert_month_exact(MONTH, rows)
    stats = model.stats()
    loaded = report.materializations["loaded_statements"]
    loaders = loader_totals(loaded)
    # botocore retries a call refused whole: the model may count one call more than we do.
    assert 0 < loaders["throttled_calls"] <= stats.throttled_write_calls
    # The month's own figure, read from its items: every refused attempt was counted on them.
    assert loaded["throttled_writes"] >= loaders["throttled_calls"]
    assert loaded["written_in_import"] == len(rows)
    # The throttled items were written on a later call: never lost, never doubled.
    assert stats.items_accepted == len(rows)
    # Settled at the provisioned rate once the burst was gone.
    assert loaders["settled"] == 1


@pytest.mark.parametrize("spent", [False, True], ids=["idle", "spent"])
def test_an_idle_table_lends_its_burst_a_spent_one_does_not(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spent: bool
) -> None:
    """400 statements: within an idle table's 600 saved units, or not at all."""
    proxy_class = SpentAtFirstWrite if spent else CapacityProxy
    with proxy_class(moto_endpoint, k=K) as model:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", model.endpoint)
        setup_aws(SMALL)
        rows = _month(MONTH, 400)

        report = _import(MONTH, tmp_path / "dagster")

        assert_month_exact(MONTH, rows)
        loaded = report.materializations["loaded_statements"]
        if spent:
            assert model.stats().throttled_write_calls > 0
            # The budget reacted: it cut its rate (and settles once it sees the WCU granted).
            assert loader_totals(loaded)["rate_cuts"] >= 1
        else:
            assert model.stats().throttled_write_calls == 0
            assert loader_totals(loaded)["settled"] == 0


@pytest.mark.capacity(k=0.25)
def test_a_month_under_one_key_value_follows_the_key_limit(
    model: CapacityProxy, tmp_path: Path
) -> None:
    """Every statement in one shard: 1,000 units/s per key value binds, not the table.

    Time runs 4x slower here (k = 0.25), so the key's limit is below the loaders' speed. About
    2,000 one-unit statements: the key value's first 1,000 units are its saved-up capacity,
    the rest can go no faster than 1,000 a second (one AWS second, 4 s here).
    """
    setup_aws(TableSettings("PROVISIONED", 4_000, 4_000))
    rows = [row for row in generate_rows(MONTH, 64_000, seed=3) if shard_of(row[0]) == 0]
    put_files(MONTH, [("one-key.csv", render_csv(COLUMNS, rows))])

    report = _import(MONTH, tmp_path / "dagster")

    assert_month_exact(MONTH, rows)
    stats = model.stats()
    ((table_keys),) = stats.key_units.values()
    assert list(table_keys) == [f"{MONTH}#00"]
    # The limit was met: the key refused writes, and the loaders saw it and cut their rate.
    assert stats.items_rejected > 0
    assert stats.throttled_write_calls > 0
    loaded = report.materializations["loaded_statements"]
    totals = loader_totals(loaded)
    assert totals["throttled_calls"] > 0
    assert totals["rate_cuts"] >= 1
    # ... and followed it: past its saved-up 1,000 units, the key took the rest at close to
    # 1,000 units a second (on the model's clock), never above.
    after_burst = stats.units_accepted - 1_000
    assert after_burst > 500
    rate = after_burst / stats.aws_write_seconds
    assert 500 <= rate <= 1_000 * 1.01, (rate, stats)
    print(f"one key value: {after_burst:.0f} units past its burst at {rate:.0f} units/s")


@pytest.mark.capacity(burst="empty")
def test_two_runs_sharing_the_table_both_end_exact(model: CapacityProxy, tmp_path: Path) -> None:
    """Two months at once on a spent table: each run's budget gives way to the other."""
    setup_aws(SMALL)
    months = {"2026-04": _month("2026-04", 300, seed=4), "2026-05": _month("2026-05", 300, 5)}
    reports: dict[str, RunReport] = {}

    def run(period: str) -> None:
        reports[period] = run_in_process(period, tmp_path / period, None)

    threads = [threading.Thread(target=run, args=(period,)) for period in months]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for period, rows in months.items():
        assert reports[period].success, reports[period].failure
        assert_month_exact(period, rows)
    assert model.stats().items_accepted >= 600


def test_a_spent_table_takes_the_units_the_planner_counts_and_ends_exact(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A spent table: the import writes one unit per statement, as the planner counts.

    How close the planner's time comes to the measured one is a benchmark
    (`benchmarks/capacity_benchmark.py --cases spent` prints both), not a bound here.
    """
    with SpentAtFirstWrite(moto_endpoint, k=K) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        setup_aws(SMALL)
        rows = _month(MONTH, 300)

        report = _import(MONTH, tmp_path / "dagster")

        assert_month_exact(MONTH, rows)
        assert proxy.stats().units_accepted == 300
    assert report.materializations["loaded_statements"]["consumed_wcu"] == 300
    plan = capacity_plan.plan_import(len(rows), Table(2, 2, "spent"), item_bytes=400)
    # 300 one-unit items at the 2 units a second a spent 2-WCU table grants: 150 s.
    assert (plan.units, plan.write.seconds) == (300, 150.0)
