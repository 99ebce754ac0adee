"""The capacity rules' edges: the lead's clock, the capacity settings, the planner's boundaries.

Pure units; every expected figure is a literal worked by hand (the arithmetic beside it).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from statement_pipeline.rules.capacity_lead import (
    estimated_rows,
    is_lead_holder,
    lead_due,
    lead_holder,
    next_monthly_tick,
)
from statement_pipeline.rules.names import CapacitySettings, Names, int_setting

PLUS_2 = timezone(timedelta(hours=2))
OCT_TICK = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "tick"),
    [
        (datetime(2026, 10, 1, 2, 59, 59, 999_999, tzinfo=UTC), OCT_TICK),
        (OCT_TICK, OCT_TICK),  # the tick itself is still this month's
        (datetime(2026, 10, 1, 3, 0, 0, 1, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC)),
        (datetime(2026, 9, 17, 17, 42, 13, 5, tzinfo=UTC), OCT_TICK),
        (datetime(2026, 12, 15, 9, 30, tzinfo=UTC), datetime(2027, 1, 1, 3, tzinfo=UTC)),
        (datetime(2026, 1, 31, 23, 59, tzinfo=UTC), datetime(2026, 2, 1, 3, tzinfo=UTC)),
        # 04:30 at +02:00 is 02:30 UTC: before the 03:00 UTC tick of the same day.
        (datetime(2026, 10, 1, 4, 30, tzinfo=PLUS_2), OCT_TICK),
        # 00:30 on the 1st at +02:00 is still 22:30 UTC on the 31st.
        (datetime(2026, 11, 1, 0, 30, tzinfo=PLUS_2), datetime(2026, 11, 1, 3, tzinfo=UTC)),
    ],
)
def test_the_monthly_tick_is_0300_utc_on_the_first(moment: datetime, tick: datetime) -> None:
    got = next_monthly_tick(moment)
    assert got == tick
    assert (got.tzinfo, got.minute, got.second, got.microsecond) == (UTC, 0, 0, 0)


def test_the_monthly_tick_ignores_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "JST-9")  # POSIX form: needs no zone database
    time.tzset()
    try:
        got = next_monthly_tick(datetime(2026, 9, 30, 20, tzinfo=UTC))
        assert (got, got.tzinfo) == (OCT_TICK, UTC)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("moment", "minutes", "due"),
    [
        (OCT_TICK - timedelta(minutes=10), 0, None),  # 0: no lead
        (OCT_TICK - timedelta(minutes=10), -5, None),
        (OCT_TICK - timedelta(seconds=30), 1, OCT_TICK),
        (OCT_TICK - timedelta(minutes=60), 60, OCT_TICK),  # exactly the lead: due
        (OCT_TICK - timedelta(minutes=60, microseconds=1), 60, None),  # not yet
        (OCT_TICK, 60, None),  # the tick itself is the import's
        (OCT_TICK - timedelta(days=1), 24 * 60, OCT_TICK),
        (datetime(2026, 10, 1, 4, 30, tzinfo=PLUS_2), 60, OCT_TICK),  # 30 min before, at +02:00
    ],
)
def test_the_lead_falls_within_its_minutes_before_the_tick(
    moment: datetime, minutes: int, due: datetime | None
) -> None:
    assert lead_due(moment, minutes) == due


def test_a_lead_raise_is_held_under_lead_and_the_month() -> None:
    assert lead_holder("2026-10") == "lead-2026-10"
    assert is_lead_holder("lead-2026-10")
    assert not is_lead_holder("import-2026-10")
    assert not is_lead_holder("2026-10-lead-")


@pytest.mark.parametrize(
    ("total_bytes", "rows"),
    [(0, 0), (1, 1), (80, 1), (81, 2), (160, 2), (2_118_641, 26_484)],  # 2,118,641 / 80 = 26,483.01
)
def test_rows_are_estimated_at_80_bytes_each_rounded_up(total_bytes: int, rows: int) -> None:
    assert estimated_rows(total_bytes) == rows


def _settings(settings: CapacitySettings) -> tuple:
    return (settings.policy, settings.target_seconds, settings.max_wcu, settings.lead_minutes)


def test_capacity_settings_default_to_the_contract() -> None:
    assert _settings(CapacitySettings.from_env({})) == ("keep", 60, 4_000, 0)
    blank = {
        "STATEMENT_CAPACITY_POLICY": "",
        "STATEMENT_CAPACITY_TARGET_SECONDS": " ",
        "STATEMENT_CAPACITY_MAX_WCU": "",
        "STATEMENT_CAPACITY_LEAD_MINUTES": "  ",
    }
    assert _settings(CapacitySettings.from_env(blank)) == ("keep", 60, 4_000, 0)


def test_capacity_settings_come_from_the_environment() -> None:
    env = {
        "STATEMENT_CAPACITY_POLICY": " On_Demand ",
        "STATEMENT_CAPACITY_TARGET_SECONDS": " 90 ",
        "STATEMENT_CAPACITY_MAX_WCU": "1",  # the least allowed
        "STATEMENT_CAPACITY_LEAD_MINUTES": "1440",  # the most allowed: a day
    }
    assert _settings(CapacitySettings.from_env(env)) == ("on_demand", 90, 1, 1_440)
    env = {"STATEMENT_CAPACITY_TARGET_SECONDS": "1", "STATEMENT_CAPACITY_MAX_WCU": "2500"}
    assert _settings(CapacitySettings.from_env(env)) == ("keep", 1, 2_500, 0)
    env = {"STATEMENT_CAPACITY_POLICY": "raise", "STATEMENT_CAPACITY_LEAD_MINUTES": "0"}
    assert _settings(CapacitySettings.from_env(env)) == ("raise", 60, 4_000, 0)


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("STATEMENT_CAPACITY_TARGET_SECONDS", "0", "a whole number of at least 1, got '0'"),
        ("STATEMENT_CAPACITY_TARGET_SECONDS", "1.5", "a whole number of at least 1, got '1.5'"),
        ("STATEMENT_CAPACITY_MAX_WCU", "-3", "a whole number of at least 1, got '-3'"),
        ("STATEMENT_CAPACITY_MAX_WCU", "lots", "a whole number of at least 1, got 'lots'"),
        ("STATEMENT_CAPACITY_LEAD_MINUTES", "1441", "a whole number from 0 to 1440, got '1441'"),
        ("STATEMENT_CAPACITY_LEAD_MINUTES", "-1", "a whole number from 0 to 1440, got '-1'"),
    ],
)
def test_bad_capacity_settings_are_refused_naming_the_variable(
    variable: str, raw: str, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(f'{variable} must be {message}')}$"):
        CapacitySettings.from_env({variable: raw})


@pytest.mark.parametrize(("raw", "value"), [("", 5), ("2", 2), ("9", 9), (" 07 ", 7)])
def test_a_whole_setting_is_taken_within_its_bounds(raw: str, value: int) -> None:
    assert int_setting("STATEMENT_X", 5, 2, 9, {"STATEMENT_X": raw}) == value


@pytest.mark.parametrize("raw", ["1", "10", "x", "3.0"])
def test_a_whole_setting_outside_its_bounds_is_refused(raw: str) -> None:
    message = f"STATEMENT_X must be a whole number from 2 to 9, got {raw!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        int_setting("STATEMENT_X", 5, 2, 9, {"STATEMENT_X": raw})


def test_a_whole_setting_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATEMENT_TEST_WHOLE", "7")
    assert int_setting("STATEMENT_TEST_WHOLE", 5, 2, 9) == 7
    monkeypatch.delenv("STATEMENT_TEST_WHOLE")
    assert int_setting("STATEMENT_TEST_WHOLE", 5, 2, 9) == 5


def test_names_are_read_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("STATEMENT_BUCKET", "STATEMENT_PREFIX", "STATEMENT_QUEUE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("STATEMENT_TABLE", "statements-test")
    names = Names.from_env()
    assert (names.bucket, names.prefix, names.queue, names.table) == (
        "statements",
        "statements/",
        "statement-records",
        "statements-test",
    )
