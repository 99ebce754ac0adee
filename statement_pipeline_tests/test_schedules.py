"""monthly_statement_schedule: when it fires, and which month it imports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

from statement_pipeline.definitions import defs
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
