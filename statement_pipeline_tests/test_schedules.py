"""monthly_statement_schedule: when it fires, and which month it imports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

from statement_pipeline.definitions import defs
from statement_pipeline.freshness import (
    DEFAULT_LOADED_BY_DAY,
    LOADED_BY_DAY_VARIABLE,
    loaded_by_day_from_env,
    loaded_by_policy,
)
from statement_pipeline.partitions import monthly_partitions
from statement_pipeline.schedules import closed_month, monthly_statement_schedule


def evaluate(moment: datetime) -> dg.RunRequest:
    context = dg.build_schedule_context(scheduled_execution_time=moment)
    request = monthly_statement_schedule(context)
    assert isinstance(request, dg.RunRequest)
    return request


def test_late_december_2026_imports_november() -> None:
    request = evaluate(datetime(2026, 12, 28, 15, 0, tzinfo=UTC))
    assert request.partition_key == "2026-11"


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        (datetime(2026, 12, 1, 3, 0, tzinfo=UTC), "2026-11"),
        (datetime(2027, 1, 1, 3, 0, tzinfo=UTC), "2026-12"),
        (datetime(2026, 3, 1, 3, 0, tzinfo=UTC), "2026-02"),
        # 23:30 on 31 December in New York is already January in UTC, like the partitions.
        (datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "2026-12"),
    ],
)
def test_the_month_before_the_scheduled_time_in_utc(moment: datetime, month: str) -> None:
    assert closed_month(moment) == month
    assert evaluate(moment).partition_key == month


def test_the_requested_month_is_a_partition_when_the_schedule_fires() -> None:
    moment = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    with dg.partition_loading_context(effective_dt=moment):
        assert monthly_partitions.has_partition_key(evaluate(moment).partition_key or "")


def test_one_run_key_per_month_so_a_repeated_tick_launches_once() -> None:
    first = evaluate(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    again = evaluate(datetime(2026, 12, 1, 3, 0, 40, tzinfo=UTC))
    later = evaluate(datetime(2027, 1, 1, 3, 0, tzinfo=UTC))
    assert first.run_key == again.run_key
    assert first.run_key != later.run_key


def test_fires_early_on_the_first_of_each_month_in_utc() -> None:
    schedule = defs().resolve_schedule_def("monthly_statement_schedule")
    assert schedule.job_name == "import_statements_job"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    minute, hour, day, month, weekday = str(schedule.cron_schedule).split()
    assert (minute, hour, day, month, weekday) == ("0", "3", "1", "*", "*")


def _policy_of_loaded(definitions: dg.Definitions) -> dg.FreshnessPolicy | None:
    return definitions.resolve_asset_graph().get(dg.AssetKey("loaded_statements")).freshness_policy


def test_the_closed_month_is_overdue_unless_loaded_from_the_first_to_the_deadline_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LOADED_BY_DAY_VARIABLE, raising=False)
    # The window before each deadline tick opens at 00:00 UTC on the 1st.
    assert _policy_of_loaded(defs()) == dg.FreshnessPolicy.cron(
        deadline_cron="0 0 2 * *", lower_bound_delta=timedelta(days=1), timezone="UTC"
    )
    assert loaded_by_policy(DEFAULT_LOADED_BY_DAY) == _policy_of_loaded(defs())

    monkeypatch.setenv(LOADED_BY_DAY_VARIABLE, "5")
    assert _policy_of_loaded(defs()) == dg.FreshnessPolicy.cron(
        deadline_cron="0 0 5 * *", lower_bound_delta=timedelta(days=4), timezone="UTC"
    )
    # Only the loading asset carries it: scheduling a month is not what the API waits for.
    graph = defs().resolve_asset_graph()
    assert graph.get(dg.AssetKey("scheduled_statements")).freshness_policy is None


@pytest.mark.parametrize("value", ["1", "29", "soon", "-3"])
def test_a_deadline_day_without_a_window_in_every_month_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(LOADED_BY_DAY_VARIABLE, value)
    with pytest.raises(ValueError, match="from 2 to 28"):
        loaded_by_policy(loaded_by_day_from_env())
