"""The raise ahead of the monthly import: when the lead starts, and the month it is sized for.

With STATEMENT_CAPACITY_LEAD_MINUTES (not in the contract; 0, the default, is off) a schedule
starts the raise that many minutes before the monthly schedule's 03:00 UTC tick on the 1st, so
the UPDATING minutes (several, developer guide) are over when the import starts. The month's
files are in S3 by then; their rows are estimated from their bytes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

# The monthly schedule's tick (schedules.MONTHLY_CRON, "0 3 1 * *"): 03:00 UTC on the 1st.
MONTHLY_HOUR = 3
# Bytes of one CSV row for the estimate: the sample generator's month (statement_samples,
# 23,300 rows in 2,118,641 bytes) averages 91; 80 errs on the high side (a few more rows, a
# slightly larger raise), which the import then adopts rather than raising again.
BYTES_PER_ROW = 80
# The holder id a lead raise is recorded under on the table: "lead-<YYYY-MM>".
LEAD_PREFIX = "lead-"


def lead_holder(month: str) -> str:
    """The holder id of the raise a lead makes for `month`, which that month's import adopts."""
    return f"{LEAD_PREFIX}{month}"


def is_lead_holder(holder: str) -> bool:
    return holder.startswith(LEAD_PREFIX)


def next_monthly_tick(moment: datetime) -> datetime:
    """The monthly schedule's next tick at or after `moment` (03:00 UTC on a 1st)."""
    moment = moment.astimezone(UTC)
    this_month = moment.replace(day=1, hour=MONTHLY_HOUR, minute=0, second=0, microsecond=0)
    if moment <= this_month:
        return this_month
    following = (this_month + timedelta(days=32)).replace(day=1)
    return following


def lead_due(moment: datetime, lead_minutes: int) -> datetime | None:
    """The monthly tick whose lead `moment` falls in (within `lead_minutes` before it, not at
    it: the tick itself is the import's), or None (no lead, or not yet)."""
    if lead_minutes <= 0:
        return None
    tick = next_monthly_tick(moment)
    if moment.astimezone(UTC) >= tick or tick - moment > timedelta(minutes=lead_minutes):
        return None
    return tick


def estimated_rows(total_bytes: int) -> int:
    """The rows `total_bytes` of the month's CSV files hold, at BYTES_PER_ROW."""
    return math.ceil(total_bytes / BYTES_PER_ROW)
