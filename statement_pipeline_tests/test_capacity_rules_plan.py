"""The planner's boundaries: partitions, ceilings, the write burst's end, the read burst, refusals.

Pure units; every expected figure is a literal worked by hand (the arithmetic beside it).
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules import capacity_plan as cp
from statement_pipeline.rules.capacity_plan import Phase, Table


@pytest.mark.parametrize(
    ("table", "partitions"),
    [
        (Table(None), 4),  # a new on-demand table: 4,000 writes/s over 1,000 each
        (Table(1, None), 1),
        (Table(1_000, 3_000), 1),
        (Table(1_001), 2),
        (Table(100, 3_001), 2),
        (Table(100, 6_001), 3),
        (Table(2_500, 100), 3),
    ],
)
def test_partitions_count_from_both_capacities(table: Table, partitions: int) -> None:
    assert table.partitions == partitions


@pytest.mark.parametrize(
    ("table", "write", "read"),
    [
        (Table(None), 4_000.0, 12_000.0),  # 4 partitions: 4,000 and 12,000, the new table's
        (Table(None, keys_per_month=2), 2_000.0, 6_000.0),  # 2 keys x 1,000 / 3,000
        (Table(None, keys_per_month=1), 1_000.0, 3_000.0),
        (Table(100), 1_000.0, 3_000.0),  # one partition
        (Table(2_500, 100), 3_000.0, 9_000.0),  # 3 partitions, 32 keys
        (Table(2_500, 100, keys_per_month=2), 2_000.0, 6_000.0),  # 2 of the 3 partitions
    ],
)
def test_a_months_ceilings_are_its_partitions_or_key_values(
    table: Table, write: float, read: float
) -> None:
    assert (table.write_ceiling, table.read_ceiling) == (write, read)


def test_writers_exactly_at_the_ceiling_and_the_wcu_keep_their_own_speed() -> None:
    # 2,000 WCU: 2 partitions, a 2,000 units/s ceiling; writers at 2,000/s are not held back
    # and never outrun the provisioned rate: 10,000 / 2,000 = 5 s, no burst spent.
    phase = cp.write_phase(10_000, Table(2_000, 100), 2_000)
    assert phase == Phase(2_000.0, 5.0, 0.0, 0.0, "the loaders' own speed")


def test_writers_above_one_partition_are_held_to_90_percent_of_it() -> None:
    # 1,000 WCU, one partition: 0.9 x 1,000 = 900/s, within the WCU: 9,000 / 900 = 10 s.
    phase = cp.write_phase(9_000, Table(1_000, 100), 4_000)
    assert phase.limited_by == "1 partition(s) x 1,000 units/s"
    assert (phase.rate, phase.seconds, phase.throttled_units) == pytest.approx((900, 10, 0))


def test_a_burst_that_ends_exactly_with_the_units_throttles_nothing_and_one_more_waits() -> None:
    # 100 WCU idle: 30,000 units saved, spent at 200 - 100 = 100/s: 300 s, writing 60,000.
    phase = cp.write_phase(60_000, Table(100, 100), 200)
    assert phase == Phase(200.0, 300.0, 300.0, 0.0, "the loaders' own speed")
    # One unit more is throttled: it waits for the provisioned 100/s, 0.01 s.
    phase = cp.write_phase(60_001, Table(100, 100), 200)
    assert phase == Phase(200.0, 300.01, 300.0, 1.0, "100 provisioned WCU")


def test_units_beyond_the_burst_go_at_the_provisioned_wcu() -> None:
    # 1,500 WCU: 2 partitions, writers held to 0.9 x 2,000 = 1,800/s; the 450,000 saved units
    # last 450,000 / 300 = 1,500 s writing 2,700,000; 300,000 more at 1,500/s = 200 s.
    phase = cp.write_phase(3_000_000, Table(1_500, 100), 4_000)
    assert phase.limited_by == "1,500 provisioned WCU"
    assert (phase.rate, phase.seconds, phase.burst_seconds, phase.throttled_units) == (
        pytest.approx((1_800, 1_700, 1_500, 300_000))
    )


def test_a_spent_burst_or_a_given_one_is_what_the_writers_get() -> None:
    # Spent: nothing saved, all 1,000 units at 100/s = 10 s.
    spent = cp.write_phase(1_000, Table(100, 100, "spent"), 200)
    assert spent == Phase(200.0, 10.0, 0.0, 1_000.0, "100 provisioned WCU")
    # 1,000 units given: they last 1,000 / 100 = 10 s writing 2,000; 1,000 more at 100/s.
    given = cp.write_phase(3_000, Table(100, 100), 200, burst_units=1_000)
    assert given == Phase(200.0, 20.0, 10.0, 1_000.0, "100 provisioned WCU")


@pytest.mark.parametrize(
    ("table", "writer", "rate", "limit"),
    [
        # 32 keys over 4 partitions: exactly 4,000, the new table's own limit; 0.9 x 4,000.
        (Table(None), 5_000, 3_600, "the on-demand table's 4,000 units/s"),
        (Table(None, keys_per_month=2), 5_000, 1_800, "2 partition(s) x 1,000 units/s"),
        (Table(None), 4_000, 4_000, "the loaders' own speed"),
    ],
)
def test_an_on_demand_table_names_what_holds_the_writers(
    table: Table, writer: float, rate: float, limit: str
) -> None:
    phase = cp.write_phase(36_000, table, writer)
    assert (phase.rate, phase.seconds, phase.limited_by) == (
        pytest.approx(rate),
        36_000 / rate,
        limit,
    )
    assert (phase.burst_seconds, phase.throttled_units) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("units", "table", "share", "seconds"),
    [
        (24_000, Table(None), 0.8, 2.0),  # 24,000 at 12,000/s
        (24_000, Table(None, keys_per_month=2), 0.8, 4.0),  # at 6,000/s
        # 1,000 RCU: 300,000 saved; at 3,000/s the burst covers 3,000 / (3,000 - 1,000) of it.
        (300_000, Table(100, 1_000), 0.5, 100.0),  # 300,000 x 2/3 = 200,000 <= 300,000
        (450_000, Table(100, 1_000), 0.5, 150.0),  # exactly the burst's 450,000 units
        # 450,000 in 150 s from the burst, then 550,000 at 0.5 x 1,000/s: 1,100 s.
        (1_000_000, Table(100, 1_000), 0.5, 1_250.0),
        (1_000_000, Table(100, 1_000), 0.8, 837.5),  # 150 + 550,000 / 800
        (3_000, Table(100, 1_000, "spent"), 0.5, 6.0),  # nothing saved: 3,000 / 500
        # Share 1 of 3,000 RCU is the ceiling itself: 6,000 / 3,000.
        (6_000, Table(100, 3_000, "spent"), 1.0, 2.0),
        # No RCU given: 1, 300 saved; 300 / 2,999 x 3,000 = 300.1 in the burst, the rest at 0.8.
        (3_000, Table(100), 0.8, 3_374.975),
    ],
)
def test_the_read_back_spends_its_burst_at_the_ceiling_then_paces(
    units: float, table: Table, share: float, seconds: float
) -> None:
    assert cp.read_seconds(units, table, share) == pytest.approx(seconds, abs=1e-3)


def test_the_smallest_plan_the_planner_accepts() -> None:
    p = cp.plan_import(1, Table(1, 1), item_bytes=1, loaders=1, loader_rate=0.5, read_share=1)
    assert (p.records, p.item_bytes, p.units_per_item, p.units, p.loaders) == (1, 1, 1, 1, 1)
    assert (p.loader_rate, p.read_share) == (0.5, 1)
    # 1 unit at 0.5/s, within the 1 WCU: 2 s; 1 byte is 1/4,096 of a read unit.
    assert (p.write.seconds, p.read_units) == (2.0, 1 / 4_096)


def test_the_default_loader_writes_25_items_per_25_ms_call() -> None:
    p = cp.plan_import(4_096, Table(None), item_bytes=1_000, loaders=3)
    # 25 items / 0.025 s = 1,000 items/s; 3 loaders of 1-unit items: 3,000 units/s.
    assert p.loader_rate == 1_000.0
    assert (p.write.rate, p.write.seconds) == pytest.approx((3_000, 4_096 / 3_000))
    # 4,096 x 1,000 bytes / 4,096 = 1,000 read units at 12,000/s.
    assert (p.read_units, p.read_seconds) == pytest.approx((1_000, 1_000 / 12_000))


def test_the_loaders_speed_counts_every_unit_of_an_item() -> None:
    p = cp.plan_import(1_000, Table(None), item_bytes=2_000, loaders=3, loader_rate=100)
    # 2,000 bytes: 2 units an item; 3 x 100 items/s x 2 = 600 units/s; 2,000 / 600.
    assert (p.units, p.write.rate) == (2_000, 600)
    assert p.write.seconds == pytest.approx(3.3333, abs=1e-4)


def test_the_seed_replay_keeps_the_tables_burst() -> None:
    p = cp.plan_import(23_300, Table(160, 160, "spent"), item_bytes=300, loaders=2)
    # 2 x 23,300/168 = 277.4 units/s over 160 WCU with nothing saved: 23,300 / 160.
    assert (p.seed.seconds, p.seed.limited_by) == (145.625, "160 provisioned WCU")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loader_rate": -1.0}, "loader rate must be positive"),
        ({"read_share": 0}, r"read share must be in \(0, 1\]"),
        ({"read_share": 1.01}, r"read share must be in \(0, 1\]"),
        ({"item_bytes": -5}, "item bytes must be at least 1"),
    ],
)
def test_a_plan_out_of_range_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        cp.plan_import(10, Table(10, 10), **kwargs)


def test_a_write_of_exactly_two_minutes_is_shown_in_minutes() -> None:
    # 480,000 one-unit items, 4 loaders x 1,000/s = 4,000/s, exactly the new on-demand table's
    # limit: 120 s. Read back 480,000 x 100 / 4,096 = 11,719 units at 12,000/s = 0.98 s.
    # The seed: 4 x 23,300/168 = 554.76/s under one key (1,000/s): 480,000 / 554.76 = 865 s.
    p = cp.plan_import(480_000, Table(None), item_bytes=100)
    lines = cp.explain(p, item_bytes_measured=False)
    assert lines[5:] == [
        "writes          480,000 units at 4,000 units/s (set by the loaders' own speed) "
        "= 120 s (2.0 min)",
        "read-back       1 x 480,000 x 100 bytes / 4 KB = 11,719 read units, strongly consistent "
        "(the finish step; the count check reuses it), at the table's read ceiling: 1.0 s",
        "import          121 s (2.0 min) of table time",
        "re-run          of an unchanged month: nothing written, the same read once, before "
        "writing: 1.0 s",
        "seed's design   4 per-record loaders under one key per month: 865 s (14.4 min)",
    ]


def test_writes_past_the_burst_are_explained_with_the_provisioned_rate() -> None:
    # 1,500 WCU spent: writers held to 1,800/s with nothing saved, 300,000 units at 1,500/s =
    # 200 s. Read back 300,000 x 100 / 4,096 = 7,324 units at 0.8 x 100 = 80/s: 91.6 s.
    p = cp.plan_import(300_000, Table(1_500, 100, "spent"), item_bytes=100)
    lines = cp.explain(p, item_bytes_measured=False)
    assert lines[0] == (
        "capacity plan: 300,000 statements into a table of 1,500 WCU / 100 RCU, burst spent"
    )
    assert lines[5:8] == [
        "writes          1,800 units/s while the burst lasts (0.0 s), then 300,000 units at the "
        "1,500 provisioned units/s: 200 s (3.3 min)",
        "read-back       1 x 300,000 x 100 bytes / 4 KB = 7,324 read units, strongly consistent "
        "(the finish step; the count check reuses it), the read burst (spent), then 80% of 100 "
        "RCU = 80 units/s: 91.6 s",
        "import          292 s (4.9 min) of table time",
    ]


def test_even_one_throttled_unit_is_explained_at_the_provisioned_rate() -> None:
    # One 1-unit item from a loader at 200/s on 100 WCU with nothing saved: 1 / 100 = 0.01 s.
    p = cp.plan_import(1, Table(100, 100, "spent"), item_bytes=100, loaders=1, loader_rate=200)
    assert cp.explain(p, item_bytes_measured=False)[5] == (
        "writes          200 units/s while the burst lasts (0.0 s), then 1 units at the "
        "100 provisioned units/s: 0.0 s"
    )
