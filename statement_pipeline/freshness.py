"""When the month just closed must be loaded: a freshness policy on `loaded_statements`."""

from datetime import timedelta

import dagster as dg

from statement_pipeline.rules.names import int_setting

# Read when the definitions load (as the STATEMENT_* names are), never at import.
LOADED_BY_DAY_VARIABLE = "STATEMENT_LOADED_BY_DAY"
# The schedule imports the closed month at 03:00 UTC on the 1st: by 00:00 UTC on the 2nd
# it has had a day, retries and late drops included.
DEFAULT_LOADED_BY_DAY = 2
# Day 1 leaves no window; past the 28th some months have no such day.
FIRST_DAY, LAST_DAY = 2, 28


def loaded_by_policy(day: int) -> dg.FreshnessPolicy:
    """The month just closed is overdue when not loaded between the 1st and `day` (00:00 UTC).

    Dagster's cron policy looks at the window before each deadline tick: a load between the
    1st, 00:00 UTC, and the deadline passes; none there, and the asset is overdue from the
    deadline until the next load. The monthly schedule re-imports the closed month on the 1st,
    so a month loaded early by the sensor passes too.
    """
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            f"{LOADED_BY_DAY_VARIABLE} must be a day from {FIRST_DAY} to {LAST_DAY}, got {day}"
        )
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"0 0 {day} * *",
        lower_bound_delta=timedelta(days=day - 1),
        timezone="UTC",
    )


def loaded_by_day_from_env() -> int:
    """The deadline day from the environment, or the default."""
    return int_setting(LOADED_BY_DAY_VARIABLE, DEFAULT_LOADED_BY_DAY, FIRST_DAY, LAST_DAY)
