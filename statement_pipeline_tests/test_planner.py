"""The capacity planner: DynamoDB's arithmetic, the seed's runs explained, the `plan` command."""

from __future__ import annotations

import pytest

from statement_pipeline.cli import main
from statement_pipeline.core import planner
from statement_pipeline.core.items import item_size, to_item
from statement_pipeline.core.sample import generate_rows


def test_default_item_size_is_measured_from_an_item_the_loader_would_write() -> None:
    values = next(generate_rows("2026-10", 1, start=1234))
    item = to_item(
        values,
        source_key="statements/2026-10/part-1.csv",
        source_etag='"' + "0" * 32 + '"',
        line=1234,
        loaded_at="2026-10-05T06:00:00+00:00",
    )
    measured = planner.sample_item_bytes()
    assert measured == item_size(item)
    assert 200 < measured < 1024
    assert planner.plan_load(23_300, 160).item_bytes == measured


def test_seed_month_at_160_wcu() -> None:
    p = planner.plan_load(23_300, 160, item_bytes=300)
    assert p.units_per_item == 1
    assert p.units == 23_300
    assert p.budget == pytest.approx(128.0)
    # 23,300 units at 80% of 160 WCU.
    assert p.paced_seconds == pytest.approx(23_300 / 128)
    assert p.loaders_needed == 1
    assert p.burst_capacity == 48_000
    assert p.burst_covers
    # The seed's 4 per-record loaders outran 160 WCU but never left the burst: 44 s published.
    assert p.seed.covered_by_burst
    assert p.seed.seconds == pytest.approx(23_300 / (4 * planner.SEED_LOADER_RATE))
    assert 40 < p.seed.seconds < 46


def test_seed_month_at_20_wcu_cannot_finish_in_minutes() -> None:
    p = planner.plan_load(23_300, 20, item_bytes=300)
    assert p.paced_seconds == pytest.approx(23_300 / 16)
    assert p.burst_capacity == 6_000
    assert not p.burst_covers
    seed = p.seed
    assert not seed.covered_by_burst
    demand = 4 * planner.SEED_LOADER_RATE
    lasts = 6_000 / (demand - 20)
    assert seed.burst_seconds == pytest.approx(lasts)
    assert seed.burst_units == pytest.approx(demand * lasts)
    assert seed.seconds == pytest.approx(lasts + (23_300 - demand * lasts) / 20)
    # About a quarter of an hour even if every throttled retry landed at exactly 20/s.
    assert 14 * 60 < seed.seconds < 15 * 60


def test_one_seed_loader_at_160_wcu_is_never_throttled() -> None:
    p = planner.plan_load(23_300, 160, item_bytes=300, loaders=1)
    assert p.seed.demand < 160
    assert p.seed.seconds == pytest.approx(168.0)


def test_large_items_cost_a_unit_per_started_kilobyte() -> None:
    p = planner.plan_load(1_000, 100, item_bytes=2_049, target_utilisation=0.5)
    assert p.units_per_item == 3
    assert p.units == 3_000
    assert p.paced_seconds == pytest.approx(3_000 / 50)


def test_few_slow_loaders_are_the_limit() -> None:
    p = planner.plan_load(10_000, 4_000, item_bytes=300, loaders=2, loader_rate=500)
    # 2 loaders x 500 items/s is below the 3,200 units/s budget: they set the pace.
    assert p.paced_rate == pytest.approx(1_000)
    assert p.paced_seconds == pytest.approx(10.0)
    assert p.loaders_needed == 7  # ceil(3,200 / 500)
    assert p.over_partition_limit is False
    assert planner.plan_load(10_000, 4_000, item_bytes=300).over_partition_limit


def test_unpaced_load_arithmetic() -> None:
    within = planner.unpaced_load(1_000, wcu=100, demand=50)
    assert within.seconds == pytest.approx(20.0)
    assert within.covered_by_burst
    throttled = planner.unpaced_load(100_000, wcu=100, demand=600)
    assert throttled.burst_seconds == pytest.approx(30_000 / 500)
    assert throttled.throttled_units == pytest.approx(100_000 - 600 * 60)
    assert throttled.seconds == pytest.approx(60 + (100_000 - 36_000) / 100)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"records": 0, "wcu": 10}, "records"),
        ({"records": 10, "wcu": 0}, "wcu"),
        ({"records": 10, "wcu": 10, "target_utilisation": 0}, "utilisation"),
        ({"records": 10, "wcu": 10, "loaders": 0}, "loaders"),
        ({"records": 10, "wcu": 10, "loader_rate": 0}, "rate"),
    ],
)
def test_nonsense_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        planner.plan_load(**kwargs)


def test_plan_command_shows_the_arithmetic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--records", "23300", "--wcu", "20"]) == 0
    out = capsys.readouterr().out
    measured = planner.sample_item_bytes()
    assert f"{measured:,} bytes (a sample item" in out
    assert "23,300 items x 1 = 23,300 units" in out
    assert "20 WCU x 80% target utilisation = 16.0 units/s" in out
    assert "23,300 / 16.0 = 1,456 s (24.3 min)" in out
    assert "300 s x 20 WCU = 6,000 units" in out
    assert "do not fit in it" in out
    assert "seed's design" in out
    assert "throttled to 20/s" in out


def test_plan_command_with_item_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--records", "23300", "--wcu", "160", "--item-bytes", "2000"]) == 0
    out = capsys.readouterr().out
    assert "2,000 bytes (given)" in out
    assert "23,300 items x 2 = 46,600 units" in out
    assert "46,600 units fit in it" in out


def test_plan_command_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--records", "0", "--wcu", "160"])
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--records", "10", "--wcu", "160", "--target-utilisation", "1.5"])
