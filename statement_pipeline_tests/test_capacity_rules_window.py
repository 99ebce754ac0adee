"""The import window's edges: a raise at its limits, every policy's figures, the policy table.

Pure units; every expected figure is a literal worked by hand (the arithmetic beside it).
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.capacity_window import (
    Current,
    MonthLoad,
    PriceList,
    compare_policies,
    explain_policies,
    partitions,
    plan_raise,
)

# The experiment's month (test_capacity_window.py): 23,300 write and 2,300 read units.
MONTH = MonthLoad(write_units=23_300, read_units=2_300, writer_rate=4_000)
TABLE_20 = Current.idle(20, 20)
# 100,000 read units on 100 RCU: far more than the 30,000 units its read burst saves.
READ_HEAVY = MonthLoad(write_units=100, read_units=100_000, writer_rate=2_000)


def test_an_idle_table_has_300_seconds_of_each_capacity_saved() -> None:
    assert Current.idle(20, 30) == Current(20, 30, 6_000, 9_000)


@pytest.mark.parametrize(
    ("wcu", "rcu", "count"),
    [(0, 0, 1), (1_000, 3_000, 1), (1_001, 0, 2), (0, 3_001, 2), (2_500, 9_001, 4)],
)
def test_partitions_for_a_throughput(wcu: int, rcu: int, count: int) -> None:
    assert partitions(wcu, rcu) == count


def _exact(write_units: int, keys: int, max_wcu: int) -> tuple:
    load = MonthLoad(write_units=write_units, read_units=0, writer_rate=1_000, keys=keys)
    plan = plan_raise(load, TABLE_20, target_seconds=60, max_wcu=max_wcu)
    return plan.wcu, plan.capped, plan.notes


def test_a_raise_exactly_at_the_key_limit_the_maximum_and_the_loaders_says_nothing() -> None:
    # (66,000 - 6,000 saved) / 60 s = 1,000 WCU: one key's 1,000, the maximum, the loaders'.
    assert _exact(66_000, keys=1, max_wcu=1_000) == (1_000, False, ())


def test_a_raise_one_unit_past_each_limit_says_which() -> None:
    # (66,001 - 6,000) / 60 = 1,000.02 -> 1,001 WCU.
    assert _exact(66_001, keys=1, max_wcu=4_000) == (
        1_000,
        False,
        ("1 partition-key values take at most 1,000 units/s: asking for 1,000, not 1,001",),
    )
    assert _exact(66_001, keys=2, max_wcu=1_000) == (
        1_000,
        True,
        ("the target needs 1,001 WCU; STATEMENT_CAPACITY_MAX_WCU is 1,000",),
    )
    assert _exact(66_001, keys=2, max_wcu=4_000) == (
        1_001,
        False,
        (
            "crosses a partition boundary: 1 -> 2 partitions, which never merge; after the "
            "restore each gets 1/2 of the table's rate",
            "the loaders write about 1,000 units/s: they, not the table, will set the time",
        ),
    )


def test_a_raise_never_asks_for_less_than_the_table_has() -> None:
    plan = plan_raise(MONTH, Current.idle(500, 700), target_seconds=60, max_wcu=4_000)
    assert (plan.wcu, plan.rcu, plan.notes) == (500, 700, ())


def test_a_read_back_exactly_at_the_target_needs_no_more_read_capacity() -> None:
    # 1,000 RCU: 450,000 read units from the burst at 3,000/s = exactly 150 s.
    load = MonthLoad(write_units=0, read_units=450_000, writer_rate=100)
    current = Current(100, 1_000, 0.0, 0.0)
    plan = plan_raise(load, current, target_seconds=150, max_wcu=4_000, read_share=0.5)
    assert (plan.wcu, plan.rcu, plan.read_seconds, plan.notes) == (100, 1_000, 150.0, ())
    # A second less: 450,000 / (149 x 0.5) = 6,040.3 -> 6,041 RCU, 3 partitions (9,000/s).
    plan = plan_raise(load, current, target_seconds=149, max_wcu=4_000, read_share=0.5)
    assert (plan.rcu, plan.partitions_after, plan.read_seconds) == (6_041, 3, 50.0)
    assert plan.notes[0] == "the read-back needs 6,041 RCU to stay within the target"


def test_read_capacity_is_raised_for_the_read_share() -> None:
    # 100,000 / (60 s x 0.5) = 3,333.3 -> 3,334 RCU: 2 partitions, 6,000/s from the burst.
    plan = plan_raise(
        READ_HEAVY, Current.idle(100, 100), target_seconds=60, max_wcu=4_000, read_share=0.5
    )
    assert (plan.wcu, plan.rcu, plan.partitions_after) == (100, 3_334, 2)
    # The 2 partitions take the loaders' 2,000/s (one would hold them to 900/s): 100 write
    # units from the 30,000 saved in 0.05 s.
    assert (plan.write_seconds, plan.read_seconds) == pytest.approx((0.05, 16.6667), abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_seconds": 0, "max_wcu": 10}, "the target must be positive"),
        ({"target_seconds": 60, "max_wcu": 0}, "the maximum WCU must be at least 1"),
    ],
)
def test_a_raise_out_of_range_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        plan_raise(MONTH, TABLE_20, **kwargs)


def test_the_smallest_raise_settings_are_accepted() -> None:
    # max 1 WCU: held to the table's own 20; a target of 0.5 s still plans.
    plan = plan_raise(MONTH, TABLE_20, target_seconds=0.5, max_wcu=1)
    assert (plan.wcu, plan.capped) == (20, True)


def _figures(window) -> tuple:
    return (
        window.policy,
        window.wcu,
        window.rcu,
        window.updating_seconds,
        window.write_seconds,
        window.read_seconds,
        window.window_cost,
        window.monthly_cost,
    )


def test_no_raise_keeps_the_table_and_waits_for_nothing_at_the_given_prices() -> None:
    prices = PriceList(
        "test",
        "1999",
        wcu_hour=1.0,
        rcu_hour=2.0,
        write_request_million=3.0,
        read_request_million=5.0,
    )
    load = MonthLoad(write_units=3_000, read_units=1_500, writer_rate=500, keys=2)
    c = compare_policies(
        load, Current.idle(100, 100), target_seconds=60, max_wcu=4_000, prices=prices
    )
    # 100 WCU + 100 RCU: $300 an hour, $216,000 a month of 720 h.
    assert (c.keep_all_month, c.raised_all_month) == (216_000.0, 216_000.0)
    assert [w.notes for w in c.windows] == [(), (), ()]
    keep, raised, demand = (_figures(w) for w in c.windows)
    # Writes at 500/s from the 30,000 saved: 6 s; 1,500 read units from the burst at 3,000/s:
    # 0.5 s; 6.5 s of $300/h = $0.5417, which the month pays anyway.
    assert keep == pytest.approx(("keep", 100, 100, 0.0, 6.0, 0.5, 0.541667, 216_000.0), abs=1e-6)
    # The month fits the saved burst: no raise, no UPDATING, the keep window again.
    assert raised == pytest.approx(
        ("raise", 100, 100, 0.0, 6.0, 0.5, 0.541667, 216_000.0), abs=1e-6
    )
    # On demand, 2 key values: 2,000 writes/s (500 is the loaders'), reads at 6,000/s = 0.25 s,
    # after the default 180 s UPDATING. Billed 3,000 x $3 + 1,500 x $5 a million = $0.0165;
    # held 186.25 + 180 s replaces $30.520833 of the provisioned month.
    assert demand == pytest.approx(
        ("on_demand", None, None, 180.0, 6.0, 0.25, 0.0165, 215_969.495667), abs=1e-6
    )


def test_every_policy_writes_and_reads_to_the_months_key_values() -> None:
    load = MonthLoad(write_units=9_000, read_units=6_000, writer_rate=3_000, keys=1)
    c = compare_policies(
        load,
        Current.idle(2_000, 100),
        target_seconds=60,
        max_wcu=4_000,
        updating_seconds=100,
        read_share=0.5,
    )
    keep, raised, demand = c.windows
    # One key: one partition's 1,000 writes/s (0.9 x = 900/s): 9,000 / 900 = 10 s; reads at
    # its 3,000/s: 2 s. Both on 2,000 WCU (2 partitions) and on demand.
    assert (keep.write_seconds, keep.read_seconds) == pytest.approx((10.0, 2.0))
    assert (raised.wcu, raised.updating_seconds, raised.window_seconds) == (2_000, 0.0, 12.0)
    assert (demand.updating_seconds, demand.window_seconds) == pytest.approx((100, 112))
    # 2,000 + 100 x 0.2 = $1.313/h: $945.36 a month; 12 s of it is $0.0043767; on demand bills
    # 9,000 x $0.625 + 6,000 x $0.125 a million = $0.006375, replacing 212 s ($0.0773167).
    assert keep.window_cost == pytest.approx(0.0043767, abs=1e-7)
    assert (c.keep_all_month, demand.monthly_cost) == pytest.approx((945.36, 945.289054))


def test_a_read_heavy_month_is_read_at_the_read_share() -> None:
    c = compare_policies(
        READ_HEAVY, Current.idle(100, 100), target_seconds=60, max_wcu=4_000, read_share=0.5
    )
    keep, raised, _ = c.windows
    # 30,000 saved over 3,000 - 100: 31,034.5 read at 3,000/s (10.34 s), 68,965.5 at 50/s.
    assert keep.read_seconds == pytest.approx(1_389.655, abs=1e-3)
    # Raised to 3,334 RCU: 180 s UPDATING + 0.05 s writes + 16.667 s reads.
    assert (raised.rcu, raised.window_seconds) == pytest.approx((3_334, 196.7167), abs=1e-4)


def test_the_policies_side_by_side() -> None:
    c = compare_policies(MONTH, TABLE_20, target_seconds=60, max_wcu=4_000)
    # Figures of test_capacity_window.py: keep 865.0 s + 0.77 s read at $0.0156/h = $0.0038.
    assert explain_policies(c, 60) == [
        "",
        "capacity policies, target 60 s (prices: us-east-1, 2026 list; 720 h month)",
        "policy           capacity     writes     window   window $    month $",
        "keep                20/20     865.0s     865.8s     0.0038      11.23",
        "raise              289/20      59.9s     240.6s     0.0223      11.25",
        "on_demand       on demand       5.8s     186.0s     0.0149      11.25",
        "the raised capacity provisioned all month instead: $137.12 (keep: $11.23)",
    ]


def test_the_raises_notes_follow_the_policy_table() -> None:
    c = compare_policies(READ_HEAVY, Current.idle(100, 100), target_seconds=90.5, max_wcu=4_000)
    lines = explain_policies(c, 90.5)
    assert lines[1].startswith("capacity policies, target 90.5 s (")
    # 100,000 / (90.5 x 0.8) = 1,381.2 -> 1,382 RCU: 1 partition still.
    assert lines[7:] == ["note: the read-back needs 1,382 RCU to stay within the target"]


def test_keep_writes_with_what_the_table_saved_over_all_its_partitions() -> None:
    load = MonthLoad(write_units=100_000, read_units=0, writer_rate=2_000)
    # 6,000 RCU make 2 partitions: writers at 2,000/s are not held; with nothing saved they
    # get the 1,000 WCU: 100,000 / 1,000 = 100 s.
    spent = compare_policies(load, Current(1_000, 6_000, 0.0, 0.0), target_seconds=600, max_wcu=1)
    assert spent.windows[0].write_seconds == 100.0
    # 300,000 saved last 300,000 / (2,000 - 1,000) = 300 s: all 100,000 at 2,000/s = 50 s.
    idle = compare_policies(load, Current.idle(1_000, 6_000), target_seconds=600, max_wcu=1)
    assert idle.windows[0].write_seconds == 50.0


def test_a_month_within_the_saved_burst_asks_for_nothing_even_at_a_subsecond_target() -> None:
    # 1 WCU idle: 300 units saved, more than the month's 100: nothing left for a raise to carry.
    small = MonthLoad(write_units=100, read_units=0, writer_rate=1_000)
    plan = plan_raise(small, Current.idle(1, 1), target_seconds=0.5, max_wcu=4_000)
    assert (plan.wcu, plan.rcu, plan.notes) == (1, 1, ())
