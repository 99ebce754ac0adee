"""Pure rules: no AWS calls, no Dagster; CSV records, items, messages, months, capacity."""
