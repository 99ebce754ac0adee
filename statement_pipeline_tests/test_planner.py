"""The capacity planner: DynamoDB's arithmetic, the published limits, the `plan` command."""

from __future__ import annotations

import pytest

from statement_pipeline.cli import main
from statement_pipeline.rules import capacity_plan as planner
from statement_pipeline.rules.capacity_plan import Table
from statement_pipeline.rules.items import item_size, to_item
from statement_samples import generate_rows

FAST = 1_000.0  # items/s per loader: 4 loaders outrun every table below


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
    assert abs(measured - item_size(item)) <= 8
    assert 200 < measured < 1024
    assert planner.plan_import(23_300, Table(160)).item_bytes == measured


def test_partitions_follow_the_provisioned_capacity() -> None:
    assert Table(160, 160).partitions == 1
    assert Table(2_500, 160).partitions == 3
    assert Table(160, 7_000).partitions == 3
    assert Table(None).partitions == 4
    assert Table(160, 160, keys_per_month=1).write_ceiling == 1_000
    assert Table(None, keys_per_month=1).write_ceiling == 1_000
    assert Table(None).write_ceiling == 4_000


@pytest.mark.parametrize(
    ("records", "table", "shortest"),
    [
        # The shared facts' table of physical limits (1 WCU per item, idle table).
        (23_300, Table(20, 20), 865.0),
        (23_300, Table(80, 80), 23.3),
        (23_300, Table(160, 160), 23.3),
        (23_300, Table(None, keys_per_month=1), 23.3),
        (23_300, Table(None), 5.825),
        (233_000, Table(20, 20), 11_350.0),
        (233_000, Table(80, 80), 2_612.5),
        (233_000, Table(160, 160), 1_156.25),
        (233_000, Table(None, keys_per_month=1), 233.0),
        (233_000, Table(None), 58.25),
    ],
)
def test_the_plan_never_beats_the_physical_limit_and_stays_near_it(
    records: int, table: Table, shortest: float
) -> None:
    p = planner.plan_import(records, table, item_bytes=300, loader_rate=FAST)
    assert p.write.seconds >= shortest * 0.999
    # The adaptive budget follows a limit at about 90% of it; the burst-spent tail is exact.
    assert p.write.seconds <= shortest / planner.ADAPTIVE_EFFICIENCY + 1


def test_a_spent_burst_leaves_the_provisioned_rate() -> None:
    idle = planner.plan_import(23_300, Table(160, 160, "idle"), item_bytes=300)
    spent = planner.plan_import(23_300, Table(160, 160, "spent"), item_bytes=300)
    assert idle.write.throttled_units == 0
    assert spent.write.seconds == pytest.approx(23_300 / 160)
    # No read burst either: the month is read back at 80% of 160 RCU.
    assert spent.read_seconds == pytest.approx(idle.read_units / (0.8 * 160))


def test_the_seed_design_is_replayed_under_one_key() -> None:
    p = planner.plan_import(23_300, Table(160, 160), item_bytes=300)
    # The seed's 4 per-record loaders never left the burst: 44 s published.
    assert p.seed.seconds == pytest.approx(23_300 / (4 * planner.SEED_LOADER_RATE))
    assert 40 < p.seed.seconds < 46
    one = planner.plan_import(23_300, Table(160, 160), item_bytes=300, loaders=1)
    assert one.seed.seconds == pytest.approx(168.0)


def test_large_items_cost_a_unit_per_started_kilobyte_and_reads_per_4_kb() -> None:
    p = planner.plan_import(1_000, Table(100, 100), item_bytes=2_049)
    assert p.units_per_item == 3
    assert p.units == 3_000
    # Read back once, strongly consistent (the count check reuses the finish step's read).
    assert p.read_units == pytest.approx(1_000 * 2_049 / 4096)


def test_the_read_back_spends_the_read_burst_then_paces_at_the_read_share() -> None:
    """233,000 items of 400 bytes on 20 RCU: 22,754 units; 6,000 saved, read at one
    partition's 3,000 units/s while they last, the rest at 80% of 20 = 16 units/s."""
    p = planner.plan_import(233_000, Table(20, 20, "idle"), item_bytes=400)
    assert p.read_units == pytest.approx(233_000 * 400 / 4096)
    in_burst_s = 6_000 / (3_000 - 20)  # the bucket drains at 3,000 read, 20 refilled
    rest = p.read_units - 3_000 * in_burst_s
    assert p.read_seconds == pytest.approx(in_burst_s + rest / 16)
    shared = planner.plan_import(233_000, Table(20, 20, "idle"), item_bytes=400, read_share=0.5)
    assert shared.read_seconds == pytest.approx(in_burst_s + rest / 10)


def test_slow_loaders_are_the_limit() -> None:
    p = planner.plan_import(10_000, Table(None), item_bytes=300, loaders=2, loader_rate=500)
    assert p.write.rate == pytest.approx(1_000)
    assert p.write.seconds == pytest.approx(10.0)
    assert p.write.limited_by == "the loaders' own speed"


def test_the_read_back_never_dominates_with_bootstraps_default_reads() -> None:
    """bootstrap provisions as many read units as write units: the read-back stays small."""
    for records in (23_300, 233_000):
        for wcu in (20, 80, 160):
            for burst in ("idle", "spent"):
                p = planner.plan_import(records, Table(wcu, wcu, burst), item_bytes=338)
                assert p.read_seconds < 0.2 * p.write.seconds, (records, wcu, burst)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"records": 0, "table": Table(10)}, "records"),
        ({"records": 10, "table": Table(0)}, "wcu"),
        ({"records": 10, "table": Table(10), "loaders": 0}, "loaders"),
        ({"records": 10, "table": Table(10), "loader_rate": 0}, "rate"),
        ({"records": 10, "table": Table(10), "read_share": 0}, "read share"),
    ],
)
def test_nonsense_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        planner.plan_import(**kwargs)


def test_plan_command_shows_the_arithmetic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--records", "23300", "--wcu", "20"]) == 0
    out = capsys.readouterr().out
    measured = planner.sample_item_bytes()
    assert f"{measured:,} bytes (a sample item" in out
    assert "23,300 write units" in out
    assert "32 partition-key values per month over 1 partition(s)" in out
    assert "while the burst lasts" in out
    assert "at the 20 provisioned units/s: 865 s" in out
    assert "read-back       1 x 23,300 x" in out
    assert "then 80% of 20 RCU = 16 units/s" in out
    assert "re-run          of an unchanged month: nothing written" in out
    assert "seed's design" in out


def test_plan_command_on_demand_and_spent_burst(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--records", "233000"]) == 0
    assert "on demand (a new table)" in capsys.readouterr().out
    assert main(["plan", "--records", "23300", "--wcu", "160", "--burst", "spent"]) == 0
    assert "146 s (2.4 min)" in capsys.readouterr().out


def test_plan_command_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--records", "0", "--wcu", "160"])
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--records", "10", "--burst", "warm"])
