"""The import window's capacity rules: what a raise asks for, the policies' times and costs.

Every expected figure is worked by hand in the comment beside it.
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.capacity_window import (
    PRICES,
    Current,
    MonthLoad,
    compare_policies,
    on_demand_cost,
    parse_policy,
    plan_raise,
    provisioned_cost,
)

# The experiment's month: 23,300 statements of one write unit, read back as 2,300 read units.
MONTH = MonthLoad(write_units=23_300, read_units=2_300, writer_rate=4_000)
TABLE_20 = Current.idle(20, 20)  # 6,000 write and 6,000 read units of burst saved


def test_the_experiments_month_on_20_wcu_asks_for_289() -> None:
    plan = plan_raise(MONTH, TABLE_20, target_seconds=60, max_wcu=4_000)
    # (23,300 - 6,000 burst) / 60 s = 288.3 -> 289 WCU; reads fit in their burst: no RCU raise.
    assert (plan.wcu, plan.rcu, plan.capped) == (289, 20, False)
    assert (plan.partitions_before, plan.partitions_after) == (1, 1)
    assert plan.notes == ()
    # Loaders at 4,000 units/s held to 0.9 x 1,000 (one partition): the 6,000 saved units
    # last 6,000 / (900 - 289) = 9.820 s, writing 8,838; the other 14,462 at 289/s = 50.04 s.
    assert plan.write_seconds == pytest.approx(59.862, abs=0.01)
    assert plan.write_seconds <= 60


def test_a_raise_never_goes_above_the_maximum_and_says_it_splits_partitions() -> None:
    big = MonthLoad(write_units=233_000, read_units=0, writer_rate=40_000)
    plan = plan_raise(big, TABLE_20, target_seconds=60, max_wcu=2_000)
    # (233,000 - 6,000) / 60 = 3,783.3 -> 3,784 wanted, held to 2,000.
    assert (plan.wcu, plan.capped) == (2_000, True)
    assert (plan.partitions_before, plan.partitions_after) == (1, 2)
    assert any("3,784 WCU" in note for note in plan.notes)
    assert any("partition boundary: 1 -> 2" in note for note in plan.notes)


def test_a_raise_asks_no_more_than_the_months_key_values_take() -> None:
    two_keys = MonthLoad(write_units=500_000, read_units=0, writer_rate=40_000, keys=2)
    plan = plan_raise(two_keys, TABLE_20, target_seconds=60, max_wcu=40_000)
    # (500,000 - 6,000) / 60 = 8,234 wanted; 2 key values x 1,000 units/s = 2,000.
    assert plan.wcu == 2_000
    assert not plan.capped


def test_the_read_back_raises_read_capacity_only_when_it_needs_it() -> None:
    heavy = MonthLoad(write_units=23_300, read_units=100_000, writer_rate=4_000)
    plan = plan_raise(heavy, TABLE_20, target_seconds=60, max_wcu=4_000)
    # 100,000 read units in 60 s at 0.8 of the RCU: 100,000 / 48 = 2,083.3 -> 2,084 RCU.
    assert (plan.wcu, plan.rcu) == (289, 2_084)


def test_a_month_within_the_burst_needs_no_raise() -> None:
    small = MonthLoad(write_units=5_000, read_units=500, writer_rate=4_000)
    plan = plan_raise(small, TABLE_20, target_seconds=60, max_wcu=4_000)
    assert (plan.wcu, plan.rcu) == (20, 20)
    assert not plan.raises(TABLE_20)


def test_prices_come_from_one_list_with_its_region_and_date() -> None:
    assert (PRICES.region, PRICES.listed) == ("us-east-1", "2026")
    # shared/dynamodb-capacity.md: 2,000 WCU for 15 minutes is $0.325; 160 WCU a month $74.88.
    assert provisioned_cost(2_000, 0, 15 * 60) == pytest.approx(0.325)
    assert provisioned_cost(160, 0, 720 * 3600) == pytest.approx(74.88)
    # 23,300 write request units at $0.625 a million.
    assert on_demand_cost(23_300, 0) == pytest.approx(0.0145625)


def test_the_three_policies_timed_and_priced() -> None:
    c = compare_policies(MONTH, TABLE_20, target_seconds=60, max_wcu=4_000, updating_seconds=180)
    keep, raised, demand = c.windows
    # 20 WCU + 20 RCU all month: (0.013 + 0.0026) $/h x 720 h = $11.232.
    assert c.keep_all_month == pytest.approx(11.232)
    assert (keep.policy, keep.updating_seconds, keep.monthly_cost) == ("keep", 0, c.keep_all_month)
    # (23,300 - 6,000) / 20 = 865 s with the burst spent at 900/s first: 6,000/880 s = 6.82 s
    # writing 6,136; then 17,164 / 20 = 858.2 s: 865.0 s.
    assert keep.write_seconds == pytest.approx(865.0, abs=0.1)
    # raise: 180 s UPDATING + 59.862 s writes + 2,300 / 3,000 = 0.767 s read-back.
    assert raised.window_seconds == pytest.approx(240.628, abs=0.01)
    # Held 180 + 60.628 + 180 (the restore's UPDATING) = 420.628 s at 289 WCU + 20 RCU
    # ($0.19045/h): $0.022252.
    assert raised.window_cost == pytest.approx(0.022252, abs=1e-6)
    # The month: $11.232 - the 20/20 those 420.628 s replaced ($0.001823) + $0.022252.
    assert raised.monthly_cost == pytest.approx(11.252429, abs=1e-6)
    # 289 WCU + 20 RCU kept all month: $0.19045/h x 720 = $137.124.
    assert c.raised_all_month == pytest.approx(137.124)
    # on_demand: 23,300 at 4,000/s = 5.825 s, 2,300 read units at 12,000/s = 0.192 s.
    assert demand.window_seconds == pytest.approx(180 + 5.825 + 0.19167, abs=1e-3)
    # 23,300 x $0.625 + 2,300 x $0.125 a million = $0.01485.
    assert demand.window_cost == pytest.approx(0.01485)
    # $11.232 - 20/20 for 366.017 s ($0.001586) + $0.01485.
    assert demand.monthly_cost == pytest.approx(11.245264, abs=1e-6)


@pytest.mark.parametrize("text", ["keep", " Raise ", "ON_DEMAND"])
def test_policy_names_are_the_contracts(text: str) -> None:
    assert parse_policy(text) == text.strip().lower()


def test_an_unknown_policy_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="keep, raise, on_demand"):
        parse_policy("max")
