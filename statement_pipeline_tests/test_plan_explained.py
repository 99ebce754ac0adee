"""What `statement-pipeline plan` prints, and the planner's refusals: literals, checked by hand.

Each number below was recomputed by hand from the shared capacity facts (1 write unit per
started KB, one read unit per 4 KB strongly consistent, 1,000 write units/s per partition,
4,000/s for a new on-demand table) before it was written here.
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules import capacity_plan as cp


def test_a_provisioned_idle_table_is_explained_line_by_line() -> None:
    plan = cp.plan_import(23_300, cp.Table(160, 160, "idle"), item_bytes=400)
    # 23,300 units at 900 units/s (90% of one partition's 1,000): 25.9 s; one read-back:
    # 23,300 x 400 / 4,096 = 2,275 units from the read burst, at one partition's 3,000/s:
    # 0.76 s; 25.89 + 0.76 = 26.6 s.
    assert cp.explain(plan, item_bytes_measured=False) == [
        "capacity plan: 23,300 statements into a table of 160 WCU / 160 RCU, burst idle",
        "",
        "item size       400 bytes (given); 1 write unit per started KB -> 1 unit(s) per item; "
        "23,300 write units",
        "key spread      32 partition-key values per month over 1 partition(s): at most 1,000 "
        "write units/s",
        "loaders         4 x 1,000 items/s = 4,000 units/s when nothing holds them",
        "writes          23,300 units at 900 units/s (set by 1 partition(s) x 1,000 units/s) "
        "= 25.9 s",
        "read-back       1 x 23,300 x 400 bytes / 4 KB = 2,275 read units, strongly consistent "
        "(the finish step; the count check reuses it), the read burst (idle), then 80% of 160 RCU "
        "= 128 units/s: 0.8 s",
        "import          26.6 s of table time",
        "re-run          of an unchanged month: nothing written, the same read once, before "
        "writing: 0.8 s",
        "seed's design   4 per-record loaders under one key per month: 42.0 s",
    ]


def test_a_new_on_demand_table_is_explained_with_minutes() -> None:
    plan = cp.plan_import(233_000, cp.Table(None, None, "idle"), item_bytes=1_500, loaders=4)
    # 1,500 bytes: 2 units an item, 466,000 units at 3,600/s (90% of 4,000): 129.4 s; one
    # read-back: 233,000 x 1,500 / 4,096 = 85,327 units at 12,000/s: 7.1 s; 136.5 s.
    assert cp.explain(plan, item_bytes_measured=True) == [
        "capacity plan: 233,000 statements into a table of on demand (a new table)",
        "",
        "item size       1,500 bytes (a sample item built like the loader's); 1 write unit per "
        "started KB -> 2 unit(s) per item; 466,000 write units",
        "key spread      32 partition-key values per month over 4 partition(s): at most 4,000 "
        "write units/s",
        "loaders         4 x 1,000 items/s = 8,000 units/s when nothing holds them",
        "writes          466,000 units at 3,600 units/s (set by the on-demand table's 4,000 "
        "units/s) = 129 s (2.2 min)",
        "read-back       1 x 233,000 x 1500 bytes / 4 KB = 85,327 read units, strongly "
        "consistent (the finish step; the count check reuses it), at the table's read ceiling: "
        "7.1 s",
        "import          137 s (2.3 min) of table time",
        "re-run          of an unchanged month: nothing written, the same read once, before "
        "writing: 7.1 s",
        "seed's design   4 per-record loaders under one key per month: 518 s (8.6 min)",
    ]


def test_the_sample_item_is_sized_by_dynamodbs_rules() -> None:
    # By hand: attribute names 183 bytes, string values 149, numbers 22 (two digits a byte
    # plus one: 1520.35 -> 4, 2310.00 -> 3, 1984.12 -> 4, 1846.23 -> 4, 27 -> 2, line
    # 1234 -> 3, attempts 1 -> 2).
    assert cp.sample_item_bytes() == 354


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cp.plan_import(0, cp.Table(1, 1, "idle")), "records must be at least 1"),
        (lambda: cp.plan_import(1, cp.Table(0, 1, "idle")), "wcu must be at least 1"),
        (
            lambda: cp.plan_import(1, cp.Table(1, 1, "idle"), loaders=0),
            "loaders must be at least 1",
        ),
        (
            lambda: cp.plan_import(1, cp.Table(1, 1, "idle"), item_bytes=0),
            "item bytes must be at least 1",
        ),
        (
            lambda: cp.plan_import(1, cp.Table(1, 1, "idle"), loader_rate=0),
            "loader rate must be positive",
        ),
    ],
)
def test_impossible_plans_are_refused_saying_why(call, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()


def test_one_statement_is_a_plan() -> None:
    assert cp.plan_import(1, cp.Table(1, 1, "idle"), item_bytes=100).units == 1


def test_a_provisioned_table_given_no_rcu_is_explained_and_read_at_dynamodbs_minimum() -> None:
    plan = cp.plan_import(3_000, cp.Table(100, None, "spent"), item_bytes=4_096)
    # 3,000 items of one 4 KB read unit each, no burst left, 80% of DynamoDB's minimum of
    # 1 RCU: 3,000 / 0.8 = 3,750 s.
    assert plan.read_seconds == pytest.approx(3_750)
    lines = cp.explain(plan, item_bytes_measured=False)
    assert (
        lines[0] == "capacity plan: 3,000 statements into a table of 100 WCU / 1 RCU, burst spent"
    )
    assert ", the read burst (spent), then 80% of 1 RCU = 1 units/s: " in lines[6]
