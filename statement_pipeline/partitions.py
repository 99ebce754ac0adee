"""Monthly statement partitions, keyed `YYYY-MM` like the S3 month folders."""

import dagster as dg

FIRST_MONTH = "2020-01"

# end_offset=1 keeps the running month available: its files may land before it closes,
# and the sensor must be able to import them.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH, fmt="%Y-%m", timezone="UTC", end_offset=1
)
